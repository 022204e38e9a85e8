"""Concurrent ledger writers (issue 15): wall time and retries per record at 5, 10 and 20
processes, each in its own clone, each writing 25 records through the real publish path
(plumbing commit, push, rebuild on the new tip and back off when rejected) to one bare
origin; then `fleet ledger check`'s comparison of the index with the records.

The floor is one writer writing the same total alone, measured in the same run: the
ratio is what contention costs (the origin takes one commit at a time whatever the
number of writers, so the ideal is ~1x).

Run: python benchmarks/bench_writers.py [--writers 5 10 20] [--records 25]
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parents[1]))
from runner.gitrepo import Git
from runner.ledger_admin import check
from runner.state import ATTEMPTS, StateStore
from tests.test_ledger_writers import Writers, distribution, run_writers


def _round(writers: int, records: int) -> Writers:
    with tempfile.TemporaryDirectory() as tmp:
        origin = Path(tmp) / "origin.git"
        subprocess.run(["git", "init", "-q", "--bare", str(origin)], check=True)
        got = run_writers(origin, Path(tmp), writers, records)
        report = check(StateStore(Git(Path(tmp) / "w00")))
        total = writers * records
        assert report.ok and report.records == total, (report.records, report.lines())
        return got


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--writers", type=int, nargs="+", default=[5, 10, 20])
    parser.add_argument("--records", type=int, default=25)
    args = parser.parse_args()
    print(
        f"attempts per write: {ATTEMPTS}; every record landed once, index consistent; "
        f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores"
    )
    print(
        f"{'writers':>7} {'records':>7} {'wall':>7} {'floor':>7} {'ratio':>6} "
        f"{'backoff':>8}  retries per record (median, p90, max; retries:records)"
    )
    for writers in args.writers:
        total = writers * args.records
        floor = _round(1, total).wall_s
        got = _round(writers, args.records)
        print(
            f"{writers:>7} {total:>7} {got.wall_s:>6.1f}s {floor:>6.1f}s "
            f"{got.wall_s / floor:>5.2f}x {got.waited_s / writers:>7.1f}s  "
            f"{distribution(got.retries)}  (load {os.getloadavg()[0]:.1f})"
        )


if __name__ == "__main__":
    main()
