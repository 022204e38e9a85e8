"""`fleet plan` and `fleet sync ROLE` on a large repository, against git's own floor.

Builds (with `git fast-import`) a repository of N commits whose first commit holds the
example fleet plus 10,000 tasks, and a `fleet-state` ledger of 5,000 runs. The role's
checkpoint is 200 commits back. The floor is `git log --name-only` over the same range.
Targets (issue 4): plan under 2 s; sync within 3x of the floor; neither grows with the
length of history (compare --commits 10000 with --commits 100000).

Run: python benchmarks/bench_sync_plan.py [--commits N ...] [--runs N]
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from common import median_time, synthetic_fleet

from runner import sync
from runner.gitrepo import Git
from runner.load import load
from runner.state import Checkpoint

TASKS = 10_000
RUNS = 5_000
DELTA = 200


def _blob(data: bytes) -> bytes:
    return b"data %d\n" % len(data) + data + b"\n"


def build(root: Path, commits: int) -> None:
    """A repo whose history has `commits` commits; the fleet is in the first one."""
    work = root.parent / "seed"
    synthetic_fleet(work, TASKS)
    files = sorted(p for p in work.rglob("*") if p.is_file())
    subprocess.run(["git", "init", "-q", "-b", "main", str(root)], check=True)
    stream = bytearray()
    when = 1_700_000_000

    def header(ref: str, mark: int, message: str, who: str, parent: int | None) -> None:
        nonlocal stream
        stream += f"commit {ref}\nmark :{mark}\n".encode()
        stream += f"committer {who} <{who.lower()}@example.com> {when + mark} +0000\n".encode()
        stream += _blob(message.encode())
        if parent:
            stream += f"from :{parent}\n".encode()

    header("refs/heads/main", 1, "Fleet", "Ana", None)
    for p in files:
        stream += f"M 100644 inline {p.relative_to(work).as_posix()}\n".encode()
        stream += _blob(p.read_bytes())
    for i in range(2, commits + 1):
        who = ("Ana", "Ben", "Cto")[i % 3]
        header("refs/heads/main", i, f"Change {i}", who, i - 1)
        path = f"app/module_{i % 500}.py" if i % 7 else f"docs/note_{i % 300}.md"
        stream += f"M 100644 inline {path}\n".encode() + _blob(f"v = {i}\n".encode())
    # ledger: 5,000 runs on an orphan fleet-state branch
    header("refs/heads/fleet-state", commits + 1, "ledger", "fleet-runner", None)
    roles = ("ceo", "cto", "fullstack", "marketing", "research")
    for i in range(RUNS):
        day = f"2026-{1 + i % 11:02d}-{1 + i % 28:02d}"
        record = {
            "run_id": f"run-{i}",
            "role": roles[i % 5],
            "task": f"b-{i % TASKS:05d}",
            "started": f"{day}T10:00:00Z",
            "outcome": "done",
            "cost_usd": 0.01,
        }
        stream += f"M 100644 inline runs/{day}/run-{i}.json\n".encode()
        stream += _blob(json.dumps(record).encode())
    subprocess.run(["git", "fast-import", "--quiet"], cwd=root, input=bytes(stream), check=True)
    subprocess.run(["git", "checkout", "-q", "main"], cwd=root, check=True)


def measure(commits: int, runs: int) -> dict[str, float]:
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp) / "repo"
        build(root, commits)
        git = Git(root)
        base = git.rev(f"main~{DELTA}")
        assert base
        floor = median_time(
            lambda: git.run("log", "--name-only", "--format=%H %s", f"{base}..main"), runs
        )
        fleet = load(root, tasks=False).fleet
        cp = Checkpoint("fullstack", base, None, "2026-11-24T00:00:00Z")
        compute = median_time(
            lambda: sync.compute(git, fleet, "fullstack", "main", checkpoint=cp), runs
        )
        delta = sync.compute(git, fleet, "fullstack", "main", checkpoint=cp)
        assert len(delta.commits) == DELTA, len(delta.commits)
        fleet_cmd = [sys.executable, "-m", "runner", "-C", str(root)]
        sync_cli = median_time(
            lambda: subprocess.run(
                [*fleet_cmd, "sync", "fullstack", "--since", base], check=True, capture_output=True
            ),
            runs,
        )
        plan_cli = median_time(
            lambda: subprocess.run(
                [*fleet_cmd, "plan", "--format", "json"],
                check=True,
                capture_output=True,
                env={"FLEET_NOW": "2026-11-24T10:30:00Z", "PATH": "/usr/bin:/bin"},
            ),
            runs,
        )
    return {"floor": floor, "compute": compute, "sync_cli": sync_cli, "plan_cli": plan_cli}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--commits", type=int, nargs="+", default=[10_000, 100_000])
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    print(f"{TASKS} tasks, {RUNS} ledger runs, delta of {DELTA} commits; medians of {args.runs}")
    print(
        f"{'commits':>8} {'git floor':>10} {'sync core':>10} {'ratio':>6} "
        f"{'fleet sync':>11} {'fleet plan':>11}"
    )
    for commits in args.commits:
        m = measure(commits, args.runs)
        print(
            f"{commits:>8} {m['floor']:>9.3f}s {m['compute']:>9.3f}s "
            f"{m['compute'] / m['floor']:>5.2f}x {m['sync_cli']:>10.3f}s {m['plan_cli']:>10.3f}s"
        )


if __name__ == "__main__":
    main()
