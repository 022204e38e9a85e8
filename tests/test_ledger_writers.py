"""Many writers: concurrent processes, each in its own clone, write run records through the
real publish path (plumbing commit, push, rebuild on the new tip when rejected, back off)
to one bare origin. Nothing is lost, nothing lands twice, retries stay within the store's
default bound and the index stays consistent with the records."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

import pytest

from runner import state
from runner.gitrepo import Git
from runner.ledger_admin import check
from runner.state import Ledger, StateStore
from tests.conftest import git

ROOT = Path(__file__).parents[1]
# One writer: the store's defaults (attempts, backoff), really sleeping; it reports the
# rejected publishes of each of its records.
WRITER = """
import json, sys, time
from pathlib import Path
from runner.gitrepo import Git
from runner.records import RunRecord
from runner.state import Ledger, StateStore
root, name, count = Path(sys.argv[1]), sys.argv[2], int(sys.argv[3])
waits = []
def sleep(s):
    waits.append(s)
    time.sleep(s)
store = StateStore(Git(root), sleep=sleep)
ledger = Ledger(store)
retries = []
for i in range(count):
    before = store.rejected
    day, role = 10 + i % 15, ("cto", "ceo", "devops")[i % 3]
    ledger.start(RunRecord(run_id=f"{name}-{i:03d}", role=role, task=f"t-{1 + i % 12:03d}",
                           started=f"2026-11-{day}T10:{i % 60:02d}:00Z", outcome="done",
                           cost_usd=0.25))
    retries.append(store.rejected - before)
print(json.dumps({"retries": retries, "waited_s": sum(waits)}))
"""


@dataclass
class Writers:
    wall_s: float
    retries: list[int]  # one per record: rejected publishes before it landed
    waited_s: float  # backoff and yield sleeps, summed over the writers


def run_writers(origin: Path, work: Path, writers: int, records: int) -> Writers:
    """`writers` processes, each in its own clone of `origin`, write `records` each."""
    clones = []
    for n in range(writers):
        clone = work / f"w{n:02d}"
        git(work, "clone", "-q", str(origin), str(clone))
        clones.append(clone)
    env = {"PATH": "/usr/bin:/bin", "HOME": str(work), "PYTHONPATH": str(ROOT)}
    start = time.perf_counter()
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", WRITER, str(c), f"w{n:02d}", str(records)],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            env=env,
        )
        for n, c in enumerate(clones)
    ]
    retries: list[int] = []
    waited = 0.0
    for p in procs:
        out, err = p.communicate(timeout=1200)
        assert p.returncode == 0, err.decode()
        got = json.loads(out)
        retries += got["retries"]
        waited += got["waited_s"]
    return Writers(time.perf_counter() - start, retries, waited)


def distribution(retries: list[int]) -> str:
    """Median, p90 and max retries per record, then `retries:records` for each count."""
    counts = Counter(retries)
    ordered = sorted(retries)
    return (
        f"median {ordered[len(ordered) // 2]}, p90 {ordered[int(len(ordered) * 0.9)]}, "
        f"max {ordered[-1]}; " + " ".join(f"{k}:{counts[k]}" for k in sorted(counts))
    )


@pytest.mark.slow
def test_twenty_writers_lose_nothing_and_keep_the_index_consistent(
    repo: Path, tmp_path: Path
) -> None:
    origin = repo.parent / "origin.git"
    got = run_writers(origin, tmp_path, 20, 25)
    print(f"20 writers x 25 records: {got.wall_s:.1f}s, retries {distribution(got.retries)}")
    store = StateStore(Git(repo))
    assert len(store.list("runs/")) == 500  # exactly once each: one file per run id
    ids = {r.run_id for r in Ledger(store).runs()}
    assert ids == {f"w{n:02d}-{i:03d}" for n in range(20) for i in range(25)}
    assert len(got.retries) == 500 and max(got.retries) < state.ATTEMPTS
    report = check(store)
    assert report.ok, report.lines()
    assert report.records == 500


def test_backoff_doubles_its_window_up_to_the_cap_and_draws_from_all_of_it() -> None:
    """Full jitter: the wait is drawn from [0, window], the window doubling per attempt."""
    windows = [state.backoff(a, lambda lo, hi: hi) for a in range(1, 12)]
    assert windows[:4] == [state.BACKOFF_BASE_S * 2**k for k in range(4)]
    assert max(windows) == windows[-1] == state.BACKOFF_CAP_S
    assert all(state.backoff(a, lambda lo, hi: lo) == 0 for a in range(1, 12))
    worst = sum(state.backoff(a, lambda lo, hi: hi) for a in range(1, state.ATTEMPTS))
    assert worst < 400  # one write never waits more than about six minutes in all
