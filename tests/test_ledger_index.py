"""The ledger's index: maintained on each write, equal to a rebuild from the records, read
in place of every record, and migrated, checked and repaired by `fleet ledger`."""

from __future__ import annotations

import json
import random
from pathlib import Path

import pytest

from runner import ledger_index as li
from runner.gitrepo import Git
from runner.records import RunRecord
from runner.state import Ledger, StateStore
from tests.conftest import git

pytestmark = pytest.mark.slow  # end-to-end (git, fake servers, whole runs): CI runs it


NOW = "2026-11-24T12:00:00Z"
ROLES = ("ceo", "cto", "fullstack", "devops", "research")
OUTCOMES = ("done", "failed", "escalated", "budget", "error", "dry_run", "running")


def _records(seed: int, count: int) -> list[RunRecord]:
    """Runs over the 15 days before NOW, on the example's tasks, each as it ends."""
    rnd = random.Random(seed)
    out = []
    for i in range(count):
        day = 10 + rnd.randrange(15)
        hour = rnd.randrange(12 if day == 24 else 24)
        role = rnd.choice(ROLES)
        out.append(
            RunRecord(
                run_id=f"2026{day:02d}-{role}-{i:03d}",
                role=role,
                task=f"t-{1 + rnd.randrange(12):03d}" if i % 9 else None,
                started=f"2026-11-{day:02d}T{hour:02d}:{rnd.randrange(60):02d}:00Z",
                outcome=rnd.choice(OUTCOMES),
                reason="why" if i % 3 else "",
                cost_usd=round(rnd.random(), 4),
                usage={"input_tokens": rnd.randrange(5000), "output_tokens": rnd.randrange(900)},
                delegated=["x"] * (i % 2),
            )
        )
    return out


def _started(r: RunRecord) -> RunRecord:
    return RunRecord(run_id=r.run_id, role=r.role, task=r.task, started=r.started)


def test_each_write_folded_in_any_order_equals_a_rebuild() -> None:
    """Writers land in any order, each run twice (start, then end): the index they leave
    is the one built from the final records."""
    records = _records(1, 120)
    events = [(None, _started(r)) for r in records] + [(_started(r), r) for r in records]
    random.Random(2).shuffle(events)
    seen: dict[str, RunRecord] = {}
    docs: li.Docs = {}
    for _, new in events:
        li.update(docs, seen.get(new.run_id), new)
        seen[new.run_id] = new
    assert docs == li.build(seen.values())


def _old_write(store: StateStore, records: list[RunRecord]) -> None:
    """What the runner wrote before indexes: the record files alone."""
    files = {f"runs/{r.date}/{r.run_id}.json": li.dump(r.to_dict()) for r in records}
    store._land(lambda base: store._commit(base, files, "old runner"))


def _outputs(fleet_cli) -> dict[str, object]:
    out = {}
    for name, args in {
        "status": ("status", "--format", "json", "--since", "7d"),
        "status30": ("status", "--format", "json", "--since", "30d"),
        "plan": ("plan", "--format", "json"),
        "sync": ("sync", "cto", "--format", "json"),
    }.items():
        result = fleet_cli("-C", ".", *args)
        assert result.exit_code == 0, result.output
        out[name] = json.loads(result.output)
    return out


@pytest.fixture
def at_now(repo: Path, monkeypatch) -> Path:
    monkeypatch.chdir(repo)
    monkeypatch.setenv("FLEET_NOW", NOW)
    monkeypatch.setenv("FLEET_FORGE", "local")
    for task in ("t-002", "t-003", "t-004"):  # in progress: states show their first run
        role = next(
            line[6:]
            for line in (repo / f"tasks/{task}.yaml").read_text().splitlines()
            if line.startswith("role: ")
        )
        git(repo, "branch", f"fleet/{role}/{task}")
    return repo


def test_migration_from_the_old_layout_keeps_every_output(at_now: Path, fleet_cli) -> None:
    store = StateStore(Git(at_now))
    _old_write(store, _records(3, 90))
    before = _outputs(fleet_cli)
    tip = store.tip()
    assert tip and li.read(store.git, tip, li.Scope(today="2026-11-24", tasks=True)) is None
    result = fleet_cli("-C", ".", "ledger", "check")
    assert result.exit_code == 1 and "not migrated" in result.output

    result = fleet_cli("-C", ".", "ledger", "migrate")
    assert result.exit_code == 0 and "ledger migrated: 90 run record(s)" in result.output
    assert fleet_cli("-C", ".", "ledger", "check").exit_code == 0
    store = StateStore(Git(at_now))
    tip = store.tip()
    assert tip and li.read(store.git, tip, li.Scope(today="2026-11-24", tasks=True)) is not None
    assert _outputs(fleet_cli) == before

    result = fleet_cli("-C", ".", "ledger", "migrate")  # idempotent: no second commit
    assert "already migrated" in result.output
    assert StateStore(Git(at_now)).tip() == tip


def test_new_writes_keep_the_index_equal_to_reading_every_record(at_now: Path, fleet_cli) -> None:
    ledger = Ledger(StateStore(Git(at_now)))
    for r in _records(4, 60):
        ledger.start(_started(r))
        if r.outcome != "running":
            ledger.finish(r)
    assert fleet_cli("-C", ".", "ledger", "check").exit_code == 0
    indexed = _outputs(fleet_cli)
    # the same ledger without its index: every command reads every record
    ledger.store.write(dict.fromkeys(ledger.store.list("ledger/")), "drop the index")
    assert _outputs(fleet_cli) == indexed


def test_check_catches_a_hand_corrupted_index_and_repair_fixes_it(at_now: Path, fleet_cli) -> None:
    ledger = Ledger(StateStore(Git(at_now)))
    records = _records(5, 30)
    for r in records:
        ledger.finish(r)
    shard = li.task_path("t-002")
    doc = ledger.store.read_json(shard)
    doc["t-002"]["last"]["outcome"] = "done" if doc["t-002"]["last"]["outcome"] != "done" else "x"
    day = li.day_path(records[0].date)
    _old_write_files(ledger.store, {shard: li.dump(doc), day: None})

    result = fleet_cli("-C", ".", "ledger", "check")
    assert result.exit_code == 1
    assert f"wrong: {shard}" in result.output and f"missing: {day}" in result.output
    assert "fleet ledger repair" in result.output

    result = fleet_cli("-C", ".", "ledger", "repair")
    assert result.exit_code == 0 and "2 index file(s)" in result.output, result.output
    assert fleet_cli("-C", ".", "ledger", "check").exit_code == 0


def _old_write_files(store: StateStore, files: dict[str, bytes | None]) -> None:
    store._land(lambda base: store._commit(base, files, "hand edit"))


def test_an_older_runners_write_today_is_seen_by_reading_every_record(
    at_now: Path, fleet_cli
) -> None:
    """An unindexed record (an older runner wrote) makes today's count disagree with its
    roll-up: readers fall back to every record, so the spend is still counted."""
    ledger = Ledger(StateStore(Git(at_now)))
    ledger.finish(RunRecord("r1", "cto", "t-002", "2026-11-20T10:00:00Z", outcome="done"))
    late = RunRecord("r2", "cto", "t-002", "2026-11-24T10:00:00Z", outcome="done", cost_usd=1.5)
    _old_write(ledger.store, [late])
    result = fleet_cli("-C", ".", "plan", "--format", "json")
    assert json.loads(result.output)["spent_today_usd"] == {"cto": 1.5}
    assert fleet_cli("-C", ".", "ledger", "check").exit_code == 1
    assert fleet_cli("-C", ".", "ledger", "repair").exit_code == 0
    assert json.loads(fleet_cli("-C", ".", "plan", "--format", "json").output)[
        "spent_today_usd"
    ] == {"cto": 1.5}


def test_sync_reads_the_roles_index_not_every_record(at_now: Path) -> None:
    ledger = Ledger(StateStore(Git(at_now)))
    for i in range(30):
        role = ("cto", "ceo")[i % 2]
        ledger.finish(RunRecord(f"r{i:02d}", role, "t-002", f"2026-11-{1 + i // 2:02d}T10:00:00Z"))
    tip = ledger.store.tip()
    assert tip
    got = li.read(ledger.store.git, tip, li.Scope(recent=("cto",)))
    assert got is not None
    assert [r.run_id for r in got] == [f"r{i:02d}" for i in range(0, 30, 2)]
    assert git(at_now, "ls-tree", "--name-only", "fleet-state", "ledger/").split() == [
        "ledger/days",
        "ledger/layout.json",
        "ledger/roles",
        "ledger/tasks",
    ]


def _dead_run(ledger: Ledger, role: str, task: str, started: str) -> RunRecord:
    """A `running` record from an earlier day with fields no index summary carries."""
    dead = RunRecord(
        "r-dead",
        role,
        task,
        started,
        outcome="running",
        usage={"input_tokens": 1234},
        links={"branch": f"fleet/{role}/{task}"},
        sync={"base": "a" * 40, "head": "b" * 40, "summary": "2 commits"},
    )
    ledger.start(dead)
    return dead


def test_reaping_a_run_known_by_its_summary_keeps_its_full_record(at_now: Path) -> None:
    """The planning scope returns an older run as its index summary; closing it as killed
    must rewrite the record on the tip, not the summary, and keep the index consistent."""
    from runner import stops
    from runner.workspace import open_workspace

    ledger = Ledger(StateStore(Git(at_now)))
    dead = _dead_run(ledger, "cto", "t-002", "2026-11-20T09:00:00Z")
    ws = open_workspace(at_now)
    runs = ws.runs()
    summary = next(r for r in runs if r.run_id == "r-dead")
    assert summary.usage == {} and summary.outcome == "running"  # a summary, not the record

    assert [r.run_id for r in stops.reap(ws.ledger, runs, ws.now)] == ["r-dead"]
    closed = ws.ledger.record("runs/2026-11-20/r-dead.json")
    assert closed is not None and closed.outcome == "error" and "killed" in closed.reason
    assert (closed.usage, closed.links, closed.sync) == (dead.usage, dead.links, dead.sync)
    from runner.ledger_admin import check

    assert check(ws.ledger.store).ok


def test_taking_over_a_dead_lease_closes_the_holders_full_record(agent_repo: Path) -> None:
    """A run whose task's lease expired closes the holder's record in its start commit,
    read in full: the run's scope (its role's latest runs) misses a holder of another role
    (the task was reassigned) and holds only summaries of older runs."""
    from runner.lease import lease_path
    from tests.agent.test_engine import _run
    from tests.fakes.anthropic_server import FakeAnthropic, reply, tool

    store = StateStore(Git(agent_repo))
    dead = _dead_run(Ledger(store), "ceo", "t-100", "2026-11-21T09:00:00Z")
    lease = {
        "task": "t-100",
        "role": "ceo",
        "run_id": "r-dead",
        "run_record": "runs/2026-11-21/r-dead.json",
        "renewed": "2026-11-21T09:00:00Z",
        "expires": "2026-11-21T09:10:00Z",
        "heartbeat": True,
    }
    store.write_json(lease_path("t-100"), lease, "a dead run's lease")
    script = [reply(tool("finish", summary="nothing to do"))]
    with FakeAnthropic(script) as fake:
        outcome, ws, _ = _run(agent_repo, fake)
    assert not outcome.skipped
    closed = ws.ledger.record("runs/2026-11-21/r-dead.json")
    assert closed is not None and closed.outcome == "error" and "took over" in closed.reason
    assert (closed.usage, closed.links, closed.sync) == (dead.usage, dead.links, dead.sync)
    from runner.ledger_admin import check

    assert check(ws.ledger.store).ok


def test_summaries_with_fields_this_runner_does_not_know_still_read() -> None:
    """A newer runner's summary (an extra field) reads; one missing a required field is
    skipped, so the record is read in full instead."""
    found: dict = {}
    li._put(found, {"run_id": "a", "role": "cto", "task": "t-1", "started": "2026-11-24"})
    li._put(found, {"run_id": "b", "role": "cto", "task": None, "started": "x", "new": 1})
    li._put(found, {"run_id": "c", "role": "cto"})
    assert sorted(found) == ["a", "b"] and found["b"].started == "x"


def test_reading_by_blob_id_gives_what_reading_by_path_gives(at_now: Path) -> None:
    """The index read looks records up by the blob ids its listing gave (a path lookup
    walks the runs/ tree per file); both give the same bytes, missing paths included."""
    ledger = Ledger(StateStore(Git(at_now)))
    for i, day in enumerate(("2026-11-01", "2026-11-02", "2026-11-02")):
        ledger.start(RunRecord(f"r{i}", "cto", f"t-{i}", f"{day}T10:00:00Z"))
    tip = ledger.store.tip()
    git = ledger.store.git
    assert tip
    listed = li._ls(git, tip, ["runs/", li.ROLES])
    paths = [*listed, "runs/2026-11-03/nope.json"]
    by_id = li.read_at(git, tip, paths, listed)
    by_path = li.read_at(git, tip, paths, {})
    assert by_id == by_path and by_id["runs/2026-11-03/nope.json"] is None
    assert sum(1 for p in by_id if li.is_run_path(p) and by_id[p]) == 3
