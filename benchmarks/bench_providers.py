"""The built-in loop's overhead per turn on each provider path, against loopback fakes.

One scripted session (reads, a write, finish) runs through `execute` on each provider:
the Anthropic API (anthropic SDK), Bedrock (AnthropicBedrock: SigV4 signing, AWS
event-stream decoding) and an OpenAI-compatible server (the openai package behind the
Messages surface). Overhead per turn is what bench_engine.py measures: from the moment
the fake has sent a response to the moment the next request arrives (SDK parsing, the
provider mapping, the tool, bookkeeping, serialisation), so the fake's own time is
excluded. The floor, measured in the same run, is a bare HTTP client doing the least a
turn can: POST the growing conversation to the same fake and parse the JSON answer.

A second floor per provider separates the runner from the provider's client: the very
requests the Anthropic-API session sent (captured by its fake, so they grow turn by turn
like every session's) replayed through that provider's client in a bare loop that does
nothing between calls. Its gaps are what the SDK path costs on its own (for Bedrock:
SigV4 signing, the SDK's deep copy of every request, event-stream decoding); the
runner's own share of a turn is the session's gap minus the replay's gap for the same
turn.

Target (issue 13): the runner's overhead per turn, median < 5 ms on each provider path
(judged on the runner's own share; the total is printed beside it).

Run: python benchmarks/bench_providers.py [--turns N] [--sessions N]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).parents[1]))
from runner import scaffold
from runner.forge.select import open_forge
from runner.outcome import anthropic_client
from runner.run import execute
from runner.workspace import open_workspace
from tests.conftest import TESTER_ROLE, TESTER_TASK
from tests.fakes.anthropic_server import FakeAnthropic, reply, tool
from tests.fakes.bedrock_server import ACCESS_KEY, REGION, SECRET_KEY, FakeBedrock
from tests.fakes.openai_server import FakeOpenAI

TARGET_MS = 5.0


def _git(root: Path, *args: str) -> None:
    env = {
        **os.environ,
        "GIT_AUTHOR_NAME": "b",
        "GIT_AUTHOR_EMAIL": "b@x",
        "GIT_COMMITTER_NAME": "b",
        "GIT_COMMITTER_EMAIL": "b@x",
    }
    subprocess.run(["git", *args], cwd=root, env=env, check=True, capture_output=True)


def _fleet(root: Path, provider: str, settings: dict[str, str]) -> None:
    scaffold.write(root, scaffold.files(example=True, name="bench"))
    (root / "fleet/roles/tester.yaml").write_text(
        TESTER_ROLE.replace("max_turns: 40", "max_turns: 200") + f"provider: {provider}\n"
    )
    if settings:
        cfg = root / "fleet/fleet.yaml"
        cfg.write_text(cfg.read_text() + f"providers:\n  {provider}: {json.dumps(settings)}\n")
    (root / "tasks/t-100.yaml").write_text(TESTER_TASK)
    (root / "app").mkdir()
    for i in range(10):
        (root / f"app/module_{i}.py").write_text(f"def f{i}(x):\n    return x * {i}\n" * 20)
    _git(root, "init", "-q", "-b", "main")
    _git(root, "add", "-A")
    _git(root, "commit", "-q", "-m", "bench")


def _script(turns: int) -> list[Any]:
    script: list[Any] = [
        reply(tool("read_file", path=f"app/module_{i % 10}.py")) for i in range(turns - 2)
    ]
    script.append(reply(tool("write_file", path="out/report.md", content="done\n")))
    script.append(reply(tool("finish", summary="benchmark")))
    return script


def _session(provider: str, turns: int) -> list[float]:
    """Gaps (ms) between a response sent and the next request received, one session."""
    base = {"PATH": os.environ["PATH"], "FLEET_FORGE": "local", "STAGING_DATABASE_URL": "x"}
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp) / "fleet"
        fake: Any
        if provider == "bedrock":
            fake = FakeBedrock(_script(turns))
            settings: dict[str, str] = {}
        elif provider == "openai-compatible":
            fake = FakeOpenAI(_script(turns))
        else:
            fake = FakeAnthropic(_script(turns))
            settings = {}
        with fake:
            env = dict(base)
            if provider == "bedrock":
                env |= {
                    "AWS_ACCESS_KEY_ID": ACCESS_KEY,
                    "AWS_SECRET_ACCESS_KEY": SECRET_KEY,
                    "AWS_REGION": REGION,
                    "ANTHROPIC_BEDROCK_BASE_URL": fake.url,
                }
            elif provider == "openai-compatible":
                settings = {"base_url": fake.base_url}
            else:
                env |= {"ANTHROPIC_API_KEY": "sk-bench", "ANTHROPIC_BASE_URL": fake.url}
            _fleet(root, provider, settings)
            ws = open_workspace(root, env)
            outcome = execute(
                ws,
                open_forge(ws),
                "tester",
                "t-100",
                trigger="bench",
                client_factory=anthropic_client(ws),
            )
            assert outcome.record.outcome == "done", outcome.record.reason
            timings = list(fake.timings)
    return [(timings[i + 1][0] - timings[i][1]) * 1000 for i in range(len(timings) - 1)]


def _gaps(timings: list[tuple[float, float]]) -> list[float]:
    return [(timings[i + 1][0] - timings[i][1]) * 1000 for i in range(len(timings) - 1)]


def _captured(turns: int) -> list[dict[str, Any]]:
    """The Messages requests one Anthropic-API session sent, as the loop built them."""
    fake = FakeAnthropic(_script(turns))
    with fake, tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp) / "fleet"
        _fleet(root, "anthropic", {})
        env = {"PATH": os.environ["PATH"], "FLEET_FORGE": "local", "STAGING_DATABASE_URL": "x"}
        env |= {"ANTHROPIC_API_KEY": "sk-bench", "ANTHROPIC_BASE_URL": fake.url}
        ws = open_workspace(root, env)
        factory = anthropic_client(ws)
        execute(ws, open_forge(ws), "tester", "t-100", trigger="bench", client_factory=factory)
    return [{k: v for k, v in r.items() if k != "stream"} for r in fake.requests]


def _replayed(provider: str, bodies: list[dict[str, Any]]) -> list[float]:
    """Gaps (ms) of `bodies` sent through `provider`'s client in a bare loop."""
    replies = [reply(tool("read_file", path="app/module_0.py")) for _ in bodies]
    fake: Any = {"bedrock": FakeBedrock, "openai-compatible": FakeOpenAI}.get(
        provider, FakeAnthropic
    )(replies)
    with fake, tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp) / "fleet"
        env = {"PATH": os.environ["PATH"], "FLEET_FORGE": "local"}
        settings: dict[str, str] = {}
        if provider == "bedrock":
            env |= {"AWS_ACCESS_KEY_ID": ACCESS_KEY, "AWS_SECRET_ACCESS_KEY": SECRET_KEY}
            env |= {"AWS_REGION": REGION, "ANTHROPIC_BEDROCK_BASE_URL": fake.url}
        elif provider == "openai-compatible":
            settings = {"base_url": fake.base_url}
        else:
            env |= {"ANTHROPIC_API_KEY": "sk-bench", "ANTHROPIC_BASE_URL": fake.url}
        _fleet(root, provider, settings)
        ws = open_workspace(root, env)
        client = anthropic_client(ws)(ws.fleet.roles["tester"])
        for body in bodies:
            with client.messages.stream(**body) as stream:
                stream.get_final_message()
        return _gaps(list(fake.timings))


def _floor(turns: int) -> list[float]:
    """The least a turn costs a client: grow the conversation, POST it, parse the JSON."""
    import httpx2

    with FakeAnthropic(_script(turns)) as fake, httpx2.Client(base_url=fake.url) as http:
        messages: list[dict[str, Any]] = [{"role": "user", "content": "go"}]
        for _ in range(turns):
            body = {"model": "m", "max_tokens": 100, "messages": messages}
            answer = http.post("/v1/messages", content=json.dumps(body)).json()
            messages = [*messages, {"role": "assistant", "content": answer["content"]}]
            messages.append({"role": "user", "content": "next"})
        timings = list(fake.timings)
    return [(timings[i + 1][0] - timings[i][1]) * 1000 for i in range(len(timings) - 1)]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--turns", type=int, default=30)
    parser.add_argument("--sessions", type=int, default=3)
    args = parser.parse_args()
    floor = statistics.median(g for _ in range(args.sessions) for g in _floor(args.turns))
    print(f"floor (bare HTTP client, same fake): median {floor:.2f} ms per turn")
    bodies = _captured(args.turns)
    failed = []
    for provider in ("anthropic", "bedrock", "openai-compatible"):
        gaps: list[float] = []
        sdk: list[float] = []
        own: list[float] = []
        for _ in range(args.sessions):  # each session right after its replay: same load
            alone = _replayed(provider, bodies)
            session = _session(provider, args.turns)
            own += [g - a for g, a in zip(session, alone, strict=False)]
            gaps, sdk = gaps + session, sdk + alone
        median, mine = statistics.median(gaps), statistics.median(own)
        p90 = sorted(gaps)[int(len(gaps) * 0.9)]
        verdict = "ok" if mine < TARGET_MS else "OVER TARGET"
        print(
            f"{provider:18} overhead per turn: median {median:.2f} ms, p90 {p90:.2f} ms, "
            f"{median / floor:.1f}x the floor; the SDK path alone {statistics.median(sdk):.2f} "
            f"ms; the runner's own share {mine:.2f} ms ({len(gaps)} turns; target median < "
            f"{TARGET_MS:g} ms: {verdict})"
        )
        if mine >= TARGET_MS:
            failed.append(provider)
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
