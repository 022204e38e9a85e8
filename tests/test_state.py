from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from runner.gitrepo import Git
from runner.publish import claimed
from runner.records import RunRecord
from runner.state import Checkpoint, Ledger, StateStore
from runner.workspace import open_workspace
from tests.conftest import git


def _record(run_id: str, role: str = "cto", outcome: str = "running") -> RunRecord:
    return RunRecord(
        run_id=run_id, role=role, task="t-005", started="2026-11-24T10:00:00Z", outcome=outcome
    )


def test_start_then_finish_without_touching_the_work_tree(repo: Path) -> None:
    status_before = git(repo, "status", "--porcelain")
    head_before = git(repo, "rev-parse", "HEAD")
    ledger = Ledger(StateStore(Git(repo)))
    ledger.start(_record("r1"))
    assert [r.outcome for r in ledger.runs()] == ["running"]
    ledger.finish(
        _record("r1", outcome="done"), Checkpoint("cto", "abc", None, "2026-11-24T10:05:00Z", "r1")
    )
    assert [r.outcome for r in ledger.runs()] == ["done"]
    assert ledger.checkpoint("cto").sha == "abc"
    assert git(repo, "status", "--porcelain") == status_before
    assert git(repo, "rev-parse", "HEAD") == head_before
    # published to origin, as an orphan branch unrelated to main
    origin = repo.parent / "origin.git"
    assert "runs/2026-11-24/r1.json" in git(origin, "ls-tree", "-r", "--name-only", "fleet-state")


def test_state_branch_is_an_orphan(repo: Path) -> None:
    Ledger(StateStore(Git(repo))).start(_record("r1"))
    roots = git(repo, "rev-list", "--max-parents=0", "fleet-state").split()
    assert git(repo, "rev-parse", "main").strip() not in roots
    assert len(git(repo, "rev-list", "fleet-state").split()) == 1


def test_second_clone_sees_records_and_builds_on_them(repo: Path, tmp_path: Path) -> None:
    Ledger(StateStore(Git(repo))).start(_record("r1"))
    clone = tmp_path / "clone"
    git(tmp_path, "clone", "-q", "--depth", "1", str(repo.parent / "origin.git"), str(clone))
    other = Ledger(StateStore(Git(clone)))
    assert [r.run_id for r in other.runs()] == ["r1"]
    other.start(_record("r2"))
    assert [r.run_id for r in Ledger(StateStore(Git(repo))).runs()] == ["r1", "r2"]


def test_stale_local_clone_retries_on_top_of_new_tip(repo: Path, tmp_path: Path) -> None:
    a = Ledger(StateStore(Git(repo)))
    a.start(_record("r1"))
    clone = tmp_path / "clone"
    git(tmp_path, "clone", "-q", str(repo.parent / "origin.git"), str(clone))
    b_store = StateStore(Git(clone))
    b_store.tip()  # b has now fetched r1 only
    a.start(_record("r2"))  # origin moves on behind b's back
    Ledger(b_store).start(_record("r3"))  # rejected once, rebuilt, lands
    fresh = Ledger(StateStore(Git(repo)))
    assert {r.run_id for r in fresh.runs()} == {"r1", "r2", "r3"}


WRITER = """
import sys
from pathlib import Path
from runner.gitrepo import Git
from runner.records import RunRecord
from runner.state import Ledger, StateStore
root, name, count = Path(sys.argv[1]), sys.argv[2], int(sys.argv[3])
ledger = Ledger(StateStore(Git(root), attempts=50))
for i in range(count):
    ledger.start(RunRecord(run_id=f"{name}-{i}", role="cto", task="t-005",
                           started="2026-11-24T10:00:00Z"))
"""


def test_concurrent_writers_in_separate_processes_all_land(repo: Path, tmp_path: Path) -> None:
    origin = repo.parent / "origin.git"
    clones = []
    for name in ("a", "b", "c"):
        clone = tmp_path / name
        git(tmp_path, "clone", "-q", str(origin), str(clone))
        clones.append((name, clone))
    procs = [
        subprocess.Popen([sys.executable, "-c", WRITER, str(clone), name, "4"])
        for name, clone in clones
    ]
    assert [p.wait(timeout=120) for p in procs] == [0, 0, 0]
    ids = {r.run_id for r in Ledger(StateStore(Git(repo))).runs()}
    assert ids == {f"{n}-{i}" for n in "abc" for i in range(4)}


def test_local_only_repository_without_remote(tmp_path: Path) -> None:
    git(tmp_path, "init", "-q", "-b", "main")
    ledger = Ledger(StateStore(Git(tmp_path)))
    ledger.start(_record("r1"))
    assert [r.run_id for r in ledger.runs()] == ["r1"]


def test_unreadable_records_are_skipped(repo: Path) -> None:
    store = StateStore(Git(repo))
    store.write({"runs/2026-11-24/bad.json": b"{not json", "runs/2026-11-24/x.json": b"{}"}, "x")
    ledger = Ledger(store)
    ledger.start(_record("r1"))
    assert [r.run_id for r in ledger.runs()] == ["r1"]


def test_a_newer_runners_records_are_read_ignoring_what_this_runner_does_not_know(
    repo: Path, fleet_cli, monkeypatch
) -> None:
    """Old and new runners share one ledger: unknown keys (top level and nested) and
    unknown outcomes must not make a record unreadable or a command crash."""
    store = StateStore(Git(repo))
    newer_run = {
        "run_id": "r9",
        "role": "cto",
        "task": "t-005",
        "started": "2026-11-24T10:00:00Z",
        "outcome": "running",
        "lease": {"holder": "job-7", "expires": "2026-11-24T10:05:00Z"},
        "usage": {"input_tokens": 10, "cache_creation_1h_tokens": 3},
        "links": {"branch": "fleet/cto/t-005", "check_run": "https://example.test/1"},
    }
    later_outcome = {**newer_run, "run_id": "r8", "started": "2026-11-24T09:00:00Z"}
    later_outcome["outcome"] = "push_failed"
    wrong_type = {**newer_run, "run_id": "r7", "turns": "many"}  # a known field, broken
    newer_checkpoint = {
        "role": "cto",
        "sha": "abc",
        "events_since": None,
        "updated": "2026-11-24T09:30:00Z",
        "run_id": "r8",
        "lease_generation": 4,
    }
    store.write(
        {
            "runs/2026-11-24/r9.json": json.dumps(newer_run).encode(),
            "runs/2026-11-24/r8.json": json.dumps(later_outcome).encode(),
            "runs/2026-11-24/r7.json": json.dumps(wrong_type).encode(),
            "checkpoints/cto.json": json.dumps(newer_checkpoint).encode(),
            "leases/t-005.json": json.dumps(  # r9 is live: it holds its task's lease
                {"task": "t-005", "run_id": "r9", "expires": "2026-11-24T11:00:00Z"}
            ).encode(),
        },
        "a newer runner wrote these",
    )
    ledger = Ledger(store)
    runs = ledger.runs()
    assert [(r.run_id, r.outcome) for r in runs] == [("r8", "push_failed"), ("r9", "running")]
    assert runs[1].usage["input_tokens"] == 10
    ws = open_workspace(repo, {"FLEET_NOW": "2026-11-24T10:30:00Z"})
    claim = claimed(ws, "r9")  # the apply phase reads its claim from the ledger too
    assert claim is not None and claim.links["branch"] == "fleet/cto/t-005"
    checkpoint = ledger.checkpoint("cto")
    assert checkpoint is not None and (checkpoint.sha, checkpoint.run_id) == ("abc", "r8")
    monkeypatch.setenv("FLEET_NOW", "2026-11-24T10:30:00Z")
    for args in (["status"], ["plan"], ["sync", "cto"], ["status", "--format", "json"]):
        result = fleet_cli("-C", str(repo), *args)
        assert result.exit_code == 0, (args, result.output)
    plan = json.loads(fleet_cli("-C", str(repo), "plan", "--format", "json").stdout)
    reasons = {d["task"]: d["reason"] for d in plan["decisions"] if d["task"]}
    assert "already running (run r9)" in reasons["t-005"]  # the newer runner's live run counts


def test_a_lone_writer_never_waits_and_a_contended_one_makes_way(
    repo: Path, tmp_path: Path
) -> None:
    """The yield that breaks the 20-writer capture effect must not tax a lone run: its
    start, progress and finish come a moment apart and used to sleep each time."""
    slept: list[float] = []
    store = StateStore(Git(repo), sleep=slept.append)
    for n in range(4):
        store.write_json(f"notes/{n}.json", {"n": n}, f"note {n}")
    assert slept == []

    other = tmp_path / "other"
    git(tmp_path, "clone", "-q", str(repo.parent / "origin.git"), str(other))
    StateStore(Git(other)).write_json("notes/other.json", {}, "another writer")
    store.write_json("notes/4.json", {}, "lands on the other writer's tip")
    store.write_json("notes/5.json", {}, "right after a contended write")
    assert len(slept) == 1
