"""The anthropic engine over a scripted 30-turn session against the loopback Messages API.

Measures the share of input tokens read from the prompt cache, and the runner's own
overhead per turn: from the moment the server has sent a response to the moment the
next request arrives (SDK parsing, tool execution, bookkeeping, serialisation), which
excludes the server's time. Targets (issue 5): cache share >= 80%, overhead < 20 ms median.

Run: python benchmarks/bench_engine.py [--turns N]
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parents[1]))
from runner import scaffold
from runner.commands.run import anthropic_client
from runner.forge.select import open_forge
from runner.run import execute
from runner.workspace import open_workspace
from tests.conftest import TESTER_ROLE, TESTER_TASK
from tests.fakes.anthropic_server import FakeAnthropic, reply, tool


def _git(root: Path, *args: str) -> None:
    env = {
        **os.environ,
        "GIT_AUTHOR_NAME": "b",
        "GIT_AUTHOR_EMAIL": "b@x",
        "GIT_COMMITTER_NAME": "b",
        "GIT_COMMITTER_EMAIL": "b@x",
    }
    subprocess.run(["git", *args], cwd=root, env=env, check=True, capture_output=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--turns", type=int, default=30)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp) / "fleet"
        scaffold.write(root, scaffold.files(example=True, name="bench"))
        (root / "fleet/roles/tester.yaml").write_text(
            TESTER_ROLE.replace("max_turns: 40", "max_turns: 100")
        )
        (root / "tasks/t-100.yaml").write_text(TESTER_TASK)
        (root / "app").mkdir()
        for i in range(10):
            (root / f"app/module_{i}.py").write_text(f"def f{i}(x):\n    return x * {i}\n" * 20)
        _git(root, "init", "-q", "-b", "main")
        _git(root, "add", "-A")
        _git(root, "commit", "-q", "-m", "bench")
        script = []
        for i in range(args.turns - 2):
            script.append(reply(tool("read_file", path=f"app/module_{i % 10}.py")))
        script.append(reply(tool("write_file", path="out/report.md", content="done\n")))
        script.append(reply(tool("finish", summary="benchmark")))
        with FakeAnthropic(script) as fake:
            env = {
                "PATH": os.environ["PATH"],
                "FLEET_FORGE": "local",
                "ANTHROPIC_API_KEY": "sk-bench",
                "ANTHROPIC_BASE_URL": fake.url,
                "STAGING_DATABASE_URL": "x",
            }
            ws = open_workspace(root, env)
            outcome = execute(
                ws,
                open_forge(ws),
                "tester",
                "t-100",
                trigger="bench",
                client_factory=anthropic_client(ws),
            )
            timings = list(fake.timings)
    usage = outcome.record.usage
    prompt = (
        usage["input_tokens"]
        + usage["cache_read_input_tokens"]
        + usage["cache_creation_input_tokens"]
    )
    share = usage["cache_read_input_tokens"] / prompt
    gaps = [(timings[i + 1][0] - timings[i][1]) * 1000 for i in range(len(timings) - 1)]
    print(f"turns: {outcome.record.turns}, outcome: {outcome.record.outcome}")
    print(
        f"prompt tokens: {prompt:,} (cache read {usage['cache_read_input_tokens']:,}, "
        f"cache write {usage['cache_creation_input_tokens']:,}, "
        f"uncached {usage['input_tokens']:,})"
    )
    print(f"cache share of input tokens: {share:.1%} (target >= 80%)")
    print(
        f"runner overhead per turn: median {statistics.median(gaps):.1f} ms, "
        f"p90 {sorted(gaps)[int(len(gaps) * 0.9)]:.1f} ms (target median < 20 ms)"
    )
    server = [(r - q) * 1000 for q, r in timings]
    print(f"server time per request (excluded): median {statistics.median(server):.1f} ms")


if __name__ == "__main__":
    main()
