"""How long `fleet demo` takes (the first command a new user runs), before and after.

Runs `python -m runner demo` from this checkout and, as the floor, from another commit
(`--before REF`, default: the commit before the replayed demo landed) in a temporary git
worktree, interleaved so that both see the same machine load. Prints the median wall
time of each and the ratio, and where the replayed demo's time goes (its runs, the
model calls through the SDK to the replay, the ledger writes and the ledger's yield
sleeps, from one instrumented run).

    python benchmarks/bench_demo.py [--runs 5] [--before 8c5c85f]
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
INSTRUMENTED = """
import sys, time
from runner import run as R, state as S
from runner.commands import demo as D
from runner.agent import loop as L
spent = {"runs": 0.0, "writes": 0.0, "sleeps": 0.0, "n_writes": 0, "calls": 0.0, "n_calls": 0}
execute, land, init, call = R.execute, S.StateStore._land, S.StateStore.__init__, L._call
def timed_call(*a, **k):
    t = time.perf_counter()
    try:
        return call(*a, **k)
    finally:
        spent["calls"] += time.perf_counter() - t
        spent["n_calls"] += 1
def timed_execute(*a, **k):
    t = time.perf_counter()
    try:
        return execute(*a, **k)
    finally:
        spent["runs"] += time.perf_counter() - t
def timed_land(self, build):
    t = time.perf_counter()
    try:
        return land(self, build)
    finally:
        spent["writes"] += time.perf_counter() - t
        spent["n_writes"] += 1
def counting_init(self, *a, **k):
    init(self, *a, **k)
    real = self.sleep
    def sleep(s):
        spent["sleeps"] += s
        real(s)
    self.sleep = sleep
D.execute, S.StateStore._land, S.StateStore.__init__ = timed_execute, timed_land, counting_init
L._call = timed_call
t = time.perf_counter()
D.run(None)
total = time.perf_counter() - t
print(f"{total:.3f} {spent['runs']:.3f} {spent['writes']:.3f} {spent['n_writes']} "
      f"{spent['sleeps']:.3f} {spent['n_calls']} {spent['calls']:.3f}", file=sys.stderr)
"""


def timed(cwd: Path, env: dict[str, str]) -> float:
    start = time.perf_counter()
    subprocess.run(
        [sys.executable, "-m", "runner", "demo"],
        cwd=cwd,
        env={**env, "PYTHONPATH": str(cwd)},
        check=True,
        stdout=subprocess.DEVNULL,
    )
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--before", default="8c5c85f", help="the floor's commit")
    args = parser.parse_args()
    scratch = Path(tempfile.mkdtemp(prefix="bench-demo-"))
    (scratch / "home").mkdir()
    env = {**os.environ, "HOME": str(scratch / "home"), "GIT_CONFIG_GLOBAL": os.devnull}
    base = scratch / "tree"
    subprocess.run(
        ["git", "worktree", "add", "-q", "--detach", str(base), args.before],
        cwd=ROOT,
        check=True,
    )
    try:
        before, after = [], []
        for _ in range(args.runs):
            before.append(timed(base, env))
            after.append(timed(ROOT, env))
        done = subprocess.run(
            [sys.executable, "-c", INSTRUMENTED],
            cwd=ROOT,
            env={**env, "PYTHONPATH": str(ROOT)},
            check=True,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
        )
    finally:
        subprocess.run(["git", "worktree", "remove", "--force", str(base)], cwd=ROOT, check=False)
        shutil.rmtree(scratch, ignore_errors=True)
    b, a = statistics.median(before), statistics.median(after)
    print(f"fleet demo, {args.runs} runs each, interleaved (load {os.getloadavg()[0]:.1f})")
    print(f"  before ({args.before}, model roles as dry runs): median {b:.2f}s")
    print(f"  after (the cto replayed: 2 model runs + the answer): median {a:.2f}s")
    print(f"  ratio after / before: {a / b:.2f}x")
    total, runs, writes, n, sleeps, calls, in_calls = done.stderr.strip().splitlines()[-1].split()
    print(
        f"  one instrumented run: {float(total):.2f}s in the demo, {float(runs):.2f}s in "
        f"runs; {calls} model calls (the SDK and the replay server) took {float(in_calls):.3f}s; "
        f"{n} ledger writes took {float(writes):.2f}s, of which {float(sleeps):.2f}s were "
        "the store's yield/backoff sleeps"
    )


if __name__ == "__main__":
    main()
