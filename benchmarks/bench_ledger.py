"""`fleet plan`, `fleet sync ROLE` and `fleet status --since 7d` against the size of the
ledger (issue 15).

The repository is `bench_sync_plan.build`'s (10,000 commits by default, 10,000 tasks);
its `fleet-state` branch is then replaced, with `git fast-import` (one commit, no
per-record commits), by a ledger of N runs written at ~170 a day up to the bench's
clock, with the index a runner keeps (`ledger_index.build`), or without it (`--old`:
the layout before issue 15, which every command reads in full). fullstack's checkpoint
is 200 commits back. The floor for sync is `git log --name-only` over the same range
plus the interpreter's start (`python -c pass`).

Commands run with a file cache (runner/taskcache.py) in the bench's temporary directory,
warmed by one untimed run, as on a developer's machine or a self-hosted runner; the
"plan, no cache" column is `fleet plan` with FLEET_CACHE_DIR=off, what a fresh Actions
runner pays (every file parsed and validated). One repository per size; the sizes are
measured round-robin, so load from elsewhere (the machine is shared) falls on each size
alike; wall time and CPU time (user + system, git's included) are both printed, with
the load average at the start and the end.

Targets: each command within 1.3x between 5,000 and 200,000 runs; sync within 3x of
its floor.

Run: python benchmarks/bench_ledger.py [--sizes 5000 50000 200000] [--runs 5] [--old]
"""

from __future__ import annotations

import argparse
import json
import os
import random
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from bench_sync_plan import DELTA, TASKS, _blob, build
from common import ROLES

from runner import ledger_index as li
from runner.gitrepo import Git
from runner.records import RunRecord

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


COMMANDS = {
    "sync": ("sync", "fullstack"),
    "plan": ("plan", "--format", "json"),
    "status": ("status", "--format", "json", "--since", "7d"),
    "plan_cold": ("plan", "--format", "json"),  # with FLEET_CACHE_DIR=off
}


def timed(argv: list[str], env: dict[str, str]) -> tuple[float, float]:
    """(wall, CPU) seconds of one command; CPU is user + system of it and every process it
    waited for (git included): less sensitive than wall time to other load."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    subprocess.run(argv, check=True, capture_output=True, env=env)
    wall = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    return wall, after.ru_utime - before.ru_utime + after.ru_stime - before.ru_stime


def measure(roots: dict[int, Path], base: str, runs: int) -> dict[int, dict[str, float]]:
    """Every command on every ledger size, round-robin `runs` times (so a burst of load
    from elsewhere hits every size alike); medians of wall and CPU time per cell."""
    env = {
        "FLEET_NOW": NOW.strftime("%Y-%m-%dT%H:%M:%SZ"),
        "FLEET_FORGE": "local",
        "PATH": "/usr/bin:/bin",
    }
    samples: dict[tuple[int, str], list[tuple[float, float]]] = {}
    for size, root in roots.items():
        env_size = {**env, "FLEET_CACHE_DIR": str(root.parent / f"cache-{size}")}
        fleet = [sys.executable, "-m", "runner", "-C", str(root)]
        shown = subprocess.run([*fleet, "sync", "fullstack", "--format", "json"], check=True,
                             capture_output=True, env=env_size).stdout  # fmt: skip
        assert len(json.loads(shown)["commits"]) == DELTA
        subprocess.run([*fleet, *COMMANDS["plan"]], check=True, capture_output=True, env=env_size)
    for _ in range(runs):
        for size, root in roots.items():
            log = ["git", "-C", str(root), "log", "--name-only", "--format=%H %s", f"{base}..main"]
            floor = [timed(log, {**env}), timed([sys.executable, "-c", "pass"], env)]
            samples.setdefault((size, "floor"), []).append(
                (floor[0][0] + floor[1][0], floor[0][1] + floor[1][1])
            )
            for name, args in COMMANDS.items():
                cache = "off" if name == "plan_cold" else str(root.parent / f"cache-{size}")
                argv = [sys.executable, "-m", "runner", "-C", str(root), *args]
                got = timed(argv, {**env, "FLEET_CACHE_DIR": cache})
                samples.setdefault((size, name), []).append(got)
    out: dict[int, dict[str, float]] = {}
    for (size, name), values in samples.items():
        cell = out.setdefault(size, {})
        cell[name] = statistics.median(v[0] for v in values)
        cell[f"{name}_cpu"] = statistics.median(v[1] for v in values)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--sizes", type=int, nargs="+", default=[5_000, 50_000, 200_000])
    parser.add_argument("--commits", type=int, default=10_000)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--old", action="store_true", help="the ledger without its index")
    args = parser.parse_args()
    layout = "old layout, no index" if args.old else "indexed"
    print(
        f"{TASKS} tasks, {args.commits} commits, ledger {layout}, ~{PER_DAY} runs/day; "
        f"medians of {args.runs} rounds over the sizes; load average "
        f"{os.getloadavg()[0]:.1f} on {os.cpu_count()} cores"
    )
    with tempfile.TemporaryDirectory() as tmp:
        seed = Path(tmp) / "repo"
        build(seed, args.commits)
        base = Git(seed).rev(f"main~{DELTA}")
        assert base
        roots = {}
        for size in args.sizes:
            roots[size] = Path(tmp) / f"repo-{size}"
            shutil.copytree(seed, roots[size], symlinks=True)
            write_ledger(roots[size], size, indexed=not args.old, checkpoint=base)
        m = measure(roots, base, args.runs)
        print(f"load average at the end: {os.getloadavg()[0]:.1f}")
    for unit, suffix in (("wall time", ""), ("CPU time (user+sys, with git)", "_cpu")):
        print(f"\n{unit}")
        print(
            f"{'runs':>8} {'sync floor':>10} {'fleet sync':>10} {'/floor':>7} "
            f"{'fleet plan':>10} {'status 7d':>10} {'plan, no cache':>14}"
        )
        for size in args.sizes:
            c = {k[: len(k) - len(suffix)]: v for k, v in m[size].items() if k.endswith(suffix)}
            if not suffix:
                c = {k: v for k, v in m[size].items() if not k.endswith("_cpu")}
            print(
                f"{size:>8} {c['floor']:>9.3f}s {c['sync']:>9.3f}s {c['sync'] / c['floor']:>6.2f}x "
                f"{c['plan']:>9.3f}s {c['status']:>9.3f}s {c['plan_cold']:>13.3f}s"
            )
        lo, hi = m[args.sizes[0]], m[args.sizes[-1]]
        ratios = ", ".join(
            f"{name} {hi[name + suffix] / lo[name + suffix]:.2f}x"
            for name in ("sync", "plan", "status", "plan_cold")
        )
        print(f"ratio {args.sizes[-1]} / {args.sizes[0]} runs: {ratios} (target <= 1.3x)")


if __name__ == "__main__":
    main()
