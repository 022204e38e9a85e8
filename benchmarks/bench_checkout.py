"""Checkout cost of the workflow jobs before and after issue 15: a repository of 100,000
commits (10,000 tasks) whose `fleet-state` holds a 50,000-run ledger written one commit per
run, plus work branches, served from a bare repository over file:// (`uploadpack.
allowFilter` on, `protocol.file.allow=always`), so git negotiates and packs as it does with
GitHub.

    before   every job: actions/checkout with `fetch-depth: 0` (every branch, all history,
             the ledger's included)
    plan     after: `fetch-depth: 1` (main's tip), then what the runner fetches itself:
             the ledger's tip (`--depth=1`) and the work branches' names (`ls-remote`)
    run      after: plan's, then main deepened from its tip until the role's checkpoint
             (200 commits back) is in (sync.ensure_history)
    apply    after: `fetch-depth: 0` with `filter: blob:none` (it reviews bundles against
             any branch; contents come when read)
    validate (issue 14) before: `fetch-depth: 0` of a PR's merge ref; after: the merge
             ref at `--depth=2`, then main's tip and the ledger's tip (`--depth=1`) and
             the branch names (`ls-remote`), as changes.changed_tasks and the ledger fetch
    intake   (issue 14) after: `fetch-depth: 1` and the ledger's tip, as plan

The floor is the tip's files alone (`git archive main | tar -x`), measured in the same run.

Run: python benchmarks/bench_checkout.py [--commits 100000] [--ledger 50000] [--runs 3]
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from bench_ledger import records
from bench_sync_plan import DELTA, _blob, build
from common import median_time

from runner import ledger_index as li

GIT = ["git", "-c", "protocol.file.allow=always"]


def _git(cwd: Path, *args: str) -> str:
    out = subprocess.run([*GIT, *args], cwd=cwd, check=True, capture_output=True, text=True)
    return out.stdout


def write_history(root: Path, runs: int) -> None:
    """Replace fleet-state by `runs` commits, one record each, the index in the last."""
    recs = records(runs)
    stream = bytearray(b"reset refs/heads/fleet-state\n")
    for n, r in enumerate(recs, 1):
        stream += f"commit refs/heads/fleet-state\nmark :{n}\n".encode()
        stream += f"committer fleet-runner <f@example.com> {1_700_000_000 + n} +0000\n".encode()
        stream += _blob(f"run {r.run_id}: {r.outcome}".encode())
        if n > 1:
            stream += f"from :{n - 1}\n".encode()
        stream += f"M 100644 inline runs/{r.date}/{r.run_id}.json\n".encode()
        stream += _blob(li.dump(r.to_dict()))
    stream += b"commit refs/heads/fleet-state\n"
    stream += b"committer fleet-runner <f@example.com> 1800000000 +0000\n" + _blob(b"index")
    stream += f"from :{len(recs)}\n".encode()
    for path, doc in li.build(recs).items():
        stream += f"M 100644 inline {path}\n".encode() + _blob(li.dump(doc))
    argv = ["git", "fast-import", "--quiet", "--force"]
    subprocess.run(argv, cwd=root, input=bytes(stream), check=True)


def serve(root: Path, bare: Path) -> str:
    """A bare copy of `root` (main, fleet-state, five work branches) as a file:// URL."""
    for n in range(5):
        _git(root, "branch", "-f", f"fleet/cto/b-{n:05d}", f"main~{n * 3}")
    _git(root.parent, "clone", "-q", "--bare", "--no-local", str(root), str(bare))
    _git(bare, "config", "uploadpack.allowFilter", "true")
    # GitHub's merge ref of a pull request: a task branch merged into main
    _git(root, "checkout", "-q", "-b", "pr", "main~1")
    (root / "tasks" / "t-pr.yaml").write_text("id: t-pr\n")
    _git(root, "add", "tasks/t-pr.yaml")
    _git(root, "commit", "-q", "-m", "a task")
    _git(root, "checkout", "-q", "main")
    _git(root, "merge", "-q", "--no-ff", "-m", "Merge pr", "pr")
    _git(root, "push", "-q", str(bare), "HEAD:refs/pull/1/merge")
    _git(root, "reset", "-q", "--hard", "HEAD^1")
    _git(bare, "gc", "-q")
    return f"file://{bare}"


def _init(work: Path, url: str) -> Path:
    if work.exists():
        shutil.rmtree(work)
    work.mkdir()
    _git(work, "init", "-q")
    _git(work, "remote", "add", "origin", url)
    return work


def before(work: Path, url: str) -> None:
    _init(work, url)
    _git(work, "fetch", "-q", "--no-tags", "origin", "+refs/heads/*:refs/remotes/origin/*")
    _git(work, "checkout", "-q", "-b", "main", "origin/main")


def plan_after(work: Path, url: str) -> None:
    _init(work, url)
    _git(work, "fetch", "-q", "--no-tags", "--depth=1", "origin", "+main:refs/remotes/origin/main")
    _git(work, "checkout", "-q", "-b", "main", "origin/main")
    state = "+refs/heads/fleet-state:refs/remotes/origin/fleet-state"
    _git(work, "fetch", "-q", "--no-tags", "--depth=1", "origin", state)
    _git(work, "ls-remote", "--heads", "origin")


def run_after(work: Path, url: str, checkpoint: str) -> None:
    plan_after(work, url)
    for depth in (50, 200, 1000, 5000):  # sync.ensure_history
        spec = "+refs/heads/main:refs/remotes/origin/main"
        _git(work, "fetch", "-q", "--no-tags", f"--depth={depth}", "origin", spec)
        if subprocess.run(["git", "cat-file", "-e", checkpoint], cwd=work).returncode == 0:
            return
    raise AssertionError("checkpoint not reached")


def apply_after(work: Path, url: str) -> None:
    _init(work, url)
    spec = "+refs/heads/*:refs/remotes/origin/*"
    _git(work, "fetch", "-q", "--no-tags", "--filter=blob:none", "origin", spec)
    _git(work, "checkout", "-q", "-b", "main", "origin/main")


MERGE = "+refs/pull/1/merge:refs/remotes/pull/1/merge"


def validate_before(work: Path, url: str) -> None:
    _init(work, url)
    spec = "+refs/heads/*:refs/remotes/origin/*"
    _git(work, "fetch", "-q", "--no-tags", "origin", spec, MERGE)
    _git(work, "checkout", "-q", "--detach", "refs/remotes/pull/1/merge")


def validate_after(work: Path, url: str) -> None:
    _init(work, url)
    _git(work, "fetch", "-q", "--no-tags", "--depth=2", "origin", MERGE)
    _git(work, "checkout", "-q", "--detach", "refs/remotes/pull/1/merge")
    for spec in ("+main:refs/remotes/origin/main", "+fleet-state:refs/remotes/origin/fleet-state"):
        _git(work, "fetch", "-q", "--no-tags", "--depth=1", "origin", spec)
    _git(work, "ls-remote", "--heads", "origin")


def floor(work: Path, bare: Path) -> None:
    if work.exists():
        shutil.rmtree(work)
    work.mkdir()
    archive = subprocess.run(["git", "archive", "main"], cwd=bare, check=True, capture_output=True)
    subprocess.run(["tar", "-x"], cwd=work, input=archive.stdout, check=True)


def _size(path: Path) -> float:
    return sum(p.stat().st_size for p in (path / ".git").rglob("*") if p.is_file()) / 1e6


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--commits", type=int, default=100_000)
    parser.add_argument("--ledger", type=int, default=50_000)
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        root, bare, work = Path(tmp) / "repo", Path(tmp) / "origin.git", Path(tmp) / "job"
        build(root, args.commits)
        write_history(root, args.ledger)
        checkpoint = _git(root, "rev-parse", f"main~{DELTA}").strip()
        url = serve(root, bare)
        print(
            f"{args.commits} commits on main, {args.ledger} ledger commits on fleet-state, "
            f"5 work branches; file:// clone, medians of {args.runs}; load average "
            f"{os.getloadavg()[0]:.1f} on {os.cpu_count()} cores"
        )
        base = median_time(lambda: floor(work, bare), args.runs)
        print(f"{'job':<8} {'checkout':<18} {'time':>8} {'/floor':>7} {'.git MB':>8}")
        print(f"{'floor':<8} {'tip files only':<18} {base:>7.2f}s {1:>6.1f}x {0:>8.1f}")
        cases: list[tuple[str, str, Callable[[], None]]] = [
            ("plan", "before: depth 0", lambda: before(work, url)),
            ("plan", "after: depth 1", lambda: plan_after(work, url)),
            ("run", "before: depth 0", lambda: before(work, url)),
            ("run", "after: depth 1+", lambda: run_after(work, url, checkpoint)),
            ("apply", "before: depth 0", lambda: before(work, url)),
            ("apply", "after: blob:none", lambda: apply_after(work, url)),
            ("validate", "before: depth 0", lambda: validate_before(work, url)),
            ("validate", "after: depth 2", lambda: validate_after(work, url)),
            ("intake", "before: depth 0", lambda: before(work, url)),
            ("intake", "after: depth 1", lambda: plan_after(work, url)),
        ]
        for job, how, fn in cases:
            t = median_time(fn, args.runs)
            print(
                f"{job:<8} {how:<18} {t:>7.2f}s {t / base:>6.1f}x {_size(work):>8.1f}"
                f"  (load {os.getloadavg()[0]:.1f})"
            )


if __name__ == "__main__":
    main()
