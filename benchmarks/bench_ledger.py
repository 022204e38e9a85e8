"""`fleet plan`, `fleet sync ROLE` and `fleet status --since 7d` against the size of the
ledger (issue 15).

The repository is `bench_sync_plan.build`'s (10,000 commits by default, 10,000 tasks);
its `fleet-state` branch is then replaced, with `git fast-import` (one commit, no
per-record commits), by a ledger of N runs written at ~170 a day up to the bench's
clock, with the index a runner keeps (`ledger_index.build`), or without it (`--old`:
the layout before issue 15, which every command reads in full). fullstack's checkpoint
is 200 commits back. The floor for sync is `git log --name-only` over the same range
plus the interpreter's start (`python -c pass`).

Targets: each command within 1.3x between 5,000 and 200,000 runs; sync within 3x of
its floor.

Run: python benchmarks/bench_ledger.py [--sizes 5000 50000 200000] [--runs 3] [--old]
"""

from __future__ import annotations

import argparse
import json
import random
import subprocess
import sys
import tempfile
from datetime import UTC, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from bench_sync_plan import DELTA, TASKS, _blob, build
from common import ROLES, median_time

from runner import ledger_index as li
from runner.gitrepo import Git
from runner.model import RunRecord

NOW = datetime(2026, 11, 24, 10, 30, tzinfo=UTC)
PER_DAY = 170
OUTCOMES = ("done",) * 6 + ("failed", "escalated", "budget", "max_turns")


def records(count: int) -> list[RunRecord]:
    rnd = random.Random(count)
    step = timedelta(days=1) / PER_DAY
    out = []
    for i in range(count):
        started = NOW - step * (count - i)
        role = ROLES[i % len(ROLES)]
        out.append(
            RunRecord(
                run_id=f"{started:%Y%m%dT%H%M%SZ}-{role}-{i:06x}",
                role=role,
                task=f"b-{rnd.randrange(TASKS):05d}",
                started=started.strftime("%Y-%m-%dT%H:%M:%SZ"),
                ended=(started + step / 2).strftime("%Y-%m-%dT%H:%M:%SZ"),
                outcome=rnd.choice(OUTCOMES),
                trigger="schedule",
                engine="anthropic",
                cost_usd=round(rnd.random() / 5, 4),
                turns=rnd.randrange(40),
                usage={"input_tokens": rnd.randrange(90_000), "output_tokens": 2000},
                sync={"base": "a" * 40, "head": "b" * 40, "summary": "3 commit(s)"},
            )
        )
    return out


def write_ledger(root: Path, count: int, *, indexed: bool, checkpoint: str) -> None:
    """Replace fleet-state by one commit holding `count` records (and their index)."""
    runs = records(count)
    files = {f"runs/{r.date}/{r.run_id}.json": li.dump(r.to_dict()) for r in runs}
    if indexed:
        files.update({p: li.dump(doc) for p, doc in li.build(runs).items()})
    cp = {"role": "fullstack", "sha": checkpoint, "events_since": None, "run_id": "x"}
    cp["updated"] = "2026-11-24T00:00:00Z"
    files["checkpoints/fullstack.json"] = li.dump(cp)
    stream = bytearray(b"reset refs/heads/fleet-state\ncommit refs/heads/fleet-state\n")
    stream += b"committer fleet-runner <f@example.com> 1700000000 +0000\n" + _blob(b"ledger")
    for path, data in files.items():
        stream += f"M 100644 inline {path}\n".encode() + _blob(data)
    argv = ["git", "fast-import", "--quiet", "--force"]
    subprocess.run(argv, cwd=root, input=bytes(stream), check=True)


def measure(root: Path, base: str, runs: int) -> dict[str, float]:
    git = Git(root)
    env = {
        "FLEET_NOW": NOW.strftime("%Y-%m-%dT%H:%M:%SZ"),
        "FLEET_FORGE": "local",
        "PATH": "/usr/bin:/bin",
    }
    fleet = [sys.executable, "-m", "runner", "-C", str(root)]

    def cli(*args: str) -> object:
        return subprocess.run([*fleet, *args], check=True, capture_output=True, env=env)

    log = median_time(lambda: git.run("log", "--name-only", "--format=%H %s", f"{base}..main"))
    start = median_time(lambda: subprocess.run([sys.executable, "-c", "pass"], check=True))
    out = json.loads(cli("sync", "fullstack", "--format", "json").stdout)  # type: ignore[attr-defined]
    assert len(out["commits"]) == DELTA, len(out["commits"])
    return {
        "floor": log + start,
        "sync": median_time(lambda: cli("sync", "fullstack"), runs),
        "plan": median_time(lambda: cli("plan", "--format", "json"), runs),
        "status": median_time(lambda: cli("status", "--format", "json", "--since", "7d"), runs),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--sizes", type=int, nargs="+", default=[5_000, 50_000, 200_000])
    parser.add_argument("--commits", type=int, default=10_000)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--old", action="store_true", help="the ledger without its index")
    args = parser.parse_args()
    layout = "old layout, no index" if args.old else "indexed"
    print(
        f"{TASKS} tasks, {args.commits} commits, ledger {layout}, ~{PER_DAY} runs/day; "
        f"medians of {args.runs}"
    )
    print(
        f"{'runs':>8} {'sync floor':>10} {'fleet sync':>10} {'/floor':>7} "
        f"{'fleet plan':>10} {'status 7d':>10}"
    )
    first: dict[str, float] = {}
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp) / "repo"
        build(root, args.commits)
        base = Git(root).rev(f"main~{DELTA}")
        assert base
        for size in args.sizes:
            write_ledger(root, size, indexed=not args.old, checkpoint=base)
            m = measure(root, base, args.runs)
            first = first or m
            print(
                f"{size:>8} {m['floor']:>9.3f}s {m['sync']:>9.3f}s {m['sync'] / m['floor']:>6.2f}x "
                f"{m['plan']:>9.3f}s {m['status']:>9.3f}s"
            )
        print(
            f"ratio {args.sizes[-1]} / {args.sizes[0]} runs: sync "
            f"{m['sync'] / first['sync']:.2f}x, plan {m['plan'] / first['plan']:.2f}x, "
            f"status {m['status'] / first['status']:.2f}x (target <= 1.3x)"
        )


if __name__ == "__main__":
    main()
