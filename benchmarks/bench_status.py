"""`fleet status` for 7 roles, 500 tasks and 5,000 runs, in every format.

Measures the status computation plus rendering in all four formats (in process, from
gathered data), the gathering itself (ledger, git, forge records), and the whole
`fleet status` command in a new process. Target (issue 8): all formats under 1 s.

Run: python benchmarks/bench_status.py [--runs N]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from bench_sync_plan import _blob
from common import median_time, synthetic_fleet

from runner.forge.select import open_forge
from runner.report import html, render
from runner.report.collect import gather, parse_since
from runner.report.status import compute
from runner.workspace import open_workspace

TASKS, RUNS = 500, 5_000
ENV = {"FLEET_FORGE": "local", "FLEET_NOW": "2026-11-24T12:00:00Z", "PATH": os.environ["PATH"]}


def build(root: Path) -> None:
    synthetic_fleet(root, TASKS - 12)  # plus the example's 12
    env = {
        **os.environ,
        "GIT_AUTHOR_NAME": "b",
        "GIT_AUTHOR_EMAIL": "b@x",
        "GIT_COMMITTER_NAME": "b",
        "GIT_COMMITTER_EMAIL": "b@x",
    }
    subprocess.run(["git", "init", "-q", "-b", "main"], cwd=root, check=True)
    subprocess.run(["git", "add", "-A"], cwd=root, check=True)
    subprocess.run(["git", "commit", "-q", "-m", "fleet"], cwd=root, check=True, env=env)
    roles = ("ceo", "cto", "fullstack", "marketing", "research")
    stream = bytearray(
        b"commit refs/heads/fleet-state\nmark :1\n"
        b"committer b <b@x> 1700000000 +0000\n" + _blob(b"ledger")
    )
    for i in range(RUNS):
        day = f"2026-11-{1 + i % 24:02d}"
        record = {
            "run_id": f"run-{i}",
            "role": roles[i % 5],
            "task": f"b-{i % 400:05d}",
            "started": f"{day}T{i % 24:02d}:00:00Z",
            "outcome": "done",
            "cost_usd": 0.01 * (i % 7),
            "usage": {
                "input_tokens": 100,
                "output_tokens": 50,
                "cache_read_input_tokens": 900,
                "cache_creation_input_tokens": 100,
            },
        }
        stream += f"M 100644 inline runs/{day}/run-{i}.json\n".encode()
        stream += _blob(json.dumps(record).encode())
    subprocess.run(["git", "fast-import", "--quiet"], cwd=root, input=bytes(stream), check=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp) / "fleet"
        build(root)
        ws = open_workspace(root, ENV)
        forge = open_forge(ws)
        since = parse_since("7d", ws.now)
        got = gather(ws, forge, since)

        def all_formats() -> None:
            s = compute(
                ws.fleet,
                got.states,
                got.runs,
                got.items,
                [],
                got.plan,
                ws.now,
                since,
            )
            json.dumps(s.to_dict())
            render.render(s, markdown=False)
            render.render(s, markdown=True)
            html.render(s)

        core = median_time(all_formats, args.runs)
        gathering = median_time(lambda: gather(ws, forge, since), args.runs)
        cli = {
            fmt: median_time(
                lambda fmt=fmt: subprocess.run(
                    [sys.executable, "-m", "runner", "-C", str(root), "status", "--format", fmt],
                    check=True,
                    capture_output=True,
                    env={**os.environ, **ENV},
                ),
                args.runs,
            )
            for fmt in ("text", "markdown", "json", "html")
        }
    print(
        f"{len(ws.fleet.roles)} roles, {len(ws.fleet.tasks)} tasks, {len(got.runs)} runs; "
        f"medians of {args.runs}"
    )
    print(f"compute + render in all 4 formats (in process): {core:.3f} s (target < 1 s)")
    print(f"gather (ledger, git, forge, plan):              {gathering:.3f} s")
    for fmt, t in cli.items():
        print(f"fleet status --format {fmt:<9} (new process):  {t:.3f} s")


if __name__ == "__main__":
    main()
