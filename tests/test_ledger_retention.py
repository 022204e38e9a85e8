"""Retention: records older than `ledger.keep_days` become monthly roll-ups; status and
plan say the same as before, the index stays consistent, and nothing a run needs to
resume is dropped."""

from __future__ import annotations

import json
import random
from pathlib import Path

import pytest

from runner import ledger_index as li
from runner.gitrepo import Git
from runner.records import RunRecord
from runner.state import Ledger, StateStore, run_path

pytestmark = pytest.mark.slow  # end-to-end (git, fake servers, whole runs): CI runs it


NOW = "2026-11-24T00:00:00Z"  # midnight: a --since period starts on a day boundary
ROLES = ("ceo", "cto", "fullstack", "devops", "research")
OUTCOMES = ("done", "failed", "escalated", "budget", "error", "dry_run")


def _records(count: int) -> list[RunRecord]:
    """Runs over the 70 days before NOW, on the example's tasks t-001..t-010."""
    rnd = random.Random(7)
    out = []
    for i in range(count):
        day = rnd.randrange(70)
        started = f"2026-{9 + (day + 15) // 30:02d}-{1 + (day + 15) % 30:02d}"
        role = rnd.choice(ROLES)
        out.append(
            RunRecord(
                run_id=f"r{i:03d}",
                role=role,
                task=f"t-{1 + rnd.randrange(10):03d}" if i % 7 else None,
                started=f"{started}T{rnd.randrange(24):02d}:{rnd.randrange(60):02d}:00Z",
                outcome=rnd.choice(OUTCOMES),
                cost_usd=round(rnd.random() * 2, 6),
                usage={
                    "input_tokens": rnd.randrange(5000),
                    "output_tokens": rnd.randrange(900),
                    "cache_read_input_tokens": rnd.randrange(9000),
                },
                delegated=["x"] * (i % 3 == 0),
            )
        )
    return out


# what a run needs, all older than keep_days: never dropped
RUNNING = RunRecord("old-running", "cto", "t-011", "2026-09-20T08:00:00Z", outcome="running")
DRAFT = RunRecord("old-draft", "security", "t-012", "2026-09-21T08:00:00Z", outcome="budget")
LEASED = RunRecord("old-leased", "devops", None, "2026-09-22T08:00:00Z", outcome="error")


@pytest.fixture
def ledger(repo: Path, monkeypatch) -> Ledger:
    monkeypatch.chdir(repo)
    monkeypatch.setenv("FLEET_NOW", NOW)
    monkeypatch.setenv("FLEET_FORGE", "local")
    store = StateStore(Git(repo))
    records = [*_records(150), RUNNING, DRAFT, LEASED]
    store.write({run_path(r): li.dump(r.to_dict()) for r in records}, "a ledger of 70 days")
    store.write_json("leases/t-x.json", {"run_id": "old-leased", "task": "t-x"}, "lease")
    return Ledger(store)


def _outputs(fleet_cli) -> dict[str, object]:
    out = {}
    for since in ("7d", "30d", "90d"):
        result = fleet_cli("-C", ".", "status", "--format", "json", "--since", since)
        assert result.exit_code == 0, result.output
        out[since] = json.loads(result.output)
    result = fleet_cli("-C", ".", "plan", "--format", "json")
    out["plan"] = json.loads(result.output)
    return out


def test_compaction_keeps_status_and_plan_and_what_runs_need(ledger: Ledger, fleet_cli) -> None:
    before = _outputs(fleet_cli)
    assert before["90d"]["totals"]["runs"] > 100
    records = len(ledger.runs())

    result = fleet_cli("-C", ".", "ledger", "compact", "--keep-days", "10")
    assert result.exit_code == 0, result.output
    everything = [*_records(150), RUNNING, DRAFT, LEASED]
    last: dict[str, RunRecord] = {}
    for r in sorted(everything, key=lambda r: r.started):
        last[r.task or ""] = r
    needed = {"old-running", "old-leased"} | {
        r.run_id for t, r in last.items() if t and r.outcome != "done"
    }
    old = [r for r in everything if r.started < "2026-11-14"]
    needed &= {r.run_id for r in old}
    assert f"kept {len(needed)} a run still needs" in result.output

    kept = ledger.runs()
    assert {r.run_id for r in kept if r.started < "2026-11-14"} == needed
    assert {"old-running", "old-draft", "old-leased"} <= needed
    assert len(kept) < records / 3
    assert ledger.store.list(li.MONTHS) == [f"{li.MONTHS}2026-{m}.json" for m in ("09", "10", "11")]
    after = _outputs(fleet_cli)
    for name in before:
        if name != "plan":  # a compacted run has no row of its own; the newer rows stay
            for side in (before, after):
                rows = side[name]["recent_runs"]
                side[name]["recent_runs"] = [r for r in rows if r["started"] >= "2026-11-14"]
        for key in before[name]:
            assert after[name][key] == before[name][key], (name, key)
    assert after == before  # totals, cost per day, roles, states, plan
    assert fleet_cli("-C", ".", "ledger", "check").exit_code == 0

    tip = ledger.store.tip()
    result = fleet_cli("-C", ".", "ledger", "compact", "--keep-days", "10")
    assert "nothing older than 10 day(s)" in result.output
    assert ledger.store.tip() == tip  # idempotent: no second commit


def test_a_monthly_roll_up_holds_runs_cost_and_outcomes_per_role_and_task(
    ledger: Ledger, fleet_cli
) -> None:
    september = [r for r in _records(150) if r.started < "2026-10"]
    assert fleet_cli("-C", ".", "ledger", "compact", "--keep-days", "10").exit_code == 0
    doc = ledger.store.read_json(f"{li.MONTHS}2026-09.json")
    for role in ROLES:
        mine = [r for r in september if r.role == role]
        cells = doc["roles"].get(role, {})
        assert sum(c["runs"] for c in cells.values()) == len(mine)
        assert sum(c["cost_usd_micro"] for c in cells.values()) == sum(
            round(r.cost_usd * 1e6) for r in mine
        )
        assert {o: c["runs"] for o, c in cells.items()} == {
            o: sum(r.outcome == o for r in mine) for o in {r.outcome for r in mine}
        }
    t1 = [r for r in september if r.task == "t-001"]
    assert doc["tasks"]["t-001"]["runs"] == len(t1)
    assert doc["tasks"]["t-001"]["last"]["run_id"] == max(t1, key=lambda r: r.started).run_id


def test_retention_is_set_in_fleet_yaml_and_tick_compacts(ledger: Ledger, fleet_cli) -> None:
    cfg = Path("fleet/fleet.yaml")
    cfg.write_text(cfg.read_text() + "ledger:\n  keep_days: 3\n")
    result = fleet_cli("-C", ".", "validate")
    assert result.exit_code == 1 and "keep_days" in result.output
    cfg.write_text(cfg.read_text().replace("keep_days: 3", "keep_days: 10"))
    assert fleet_cli("-C", ".", "validate").exit_code == 0
    assert fleet_cli("-C", ".", "tick", "--dry-run").exit_code == 0
    assert not ledger.store.list(li.MONTHS)  # a dry run writes nothing
    fleet_cli("-C", ".", "tick")  # exit 1: the example's anthropic roles have no key here
    assert ledger.store.list(li.MONTHS)
    assert fleet_cli("-C", ".", "ledger", "check").exit_code == 0
