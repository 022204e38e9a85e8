from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

from runner.lifecycle import ForgeView, derive_all
from runner.load import load
from runner.plan import make_plan
from runner.records import RunRecord

TUESDAY_1030 = datetime(2026, 11, 24, 10, 30, tzinfo=UTC)


def _plan(example: Path, runs=(), forge=None, now=TUESDAY_1030, **kw):
    forge = forge or ForgeView()
    fleet = load(example).fleet
    return make_plan(fleet, derive_all(fleet.tasks, runs, forge, now), runs, now, **kw)


def _by_task(plan):
    return {d.task: d for d in plan.decisions if d.task}


def test_fresh_fleet_picks_one_ready_task_per_role(example: Path) -> None:
    plan = _plan(example)
    picks = {d.role: d.task for d in plan.picks}
    assert picks == {
        "ceo": "t-010",
        "cto": "t-005",
        "devops": "t-001",
        "fullstack": "t-006",
        "research": "t-009",
        "security": "t-003",
    }
    assert plan.matrix()["include"][0] == {"role": "ceo", "task": "t-010"}
    assert "waiting on t-001 (open)" in _by_task(plan)["t-002"].reason


def test_priority_then_age(example: Path) -> None:
    (example / "tasks/t-013.yaml").write_text(
        "id: t-013\ntitle: Older urgent\nrole: cto\npriority: urgent\ncreated: 2026-12-01\n"
        "acceptance: [{review: ok}]\n"
    )
    (example / "tasks/t-014.yaml").write_text(
        "id: t-014\ntitle: Same priority, older\nrole: cto\npriority: high\n"
        "created: 2026-10-01\nacceptance: [{review: ok}]\n"
    )
    decisions = _by_task(_plan(example))
    assert decisions["t-013"].run
    assert "queued behind t-013" in decisions["t-014"].reason
    assert "queued behind t-013" in decisions["t-005"].reason


def test_role_not_due_when_it_already_ran_since_the_schedule_fired(example: Path) -> None:
    ran = RunRecord("r1", "cto", "t-005", "2026-11-24T08:05:00Z", outcome="failed")
    decisions = _by_task(_plan(example, runs=[ran]))
    assert not decisions["t-005"].run
    assert "not due" in decisions["t-005"].reason
    assert "already ran at 2026-11-24T08:05:00Z" in decisions["t-005"].reason
    forced = _by_task(_plan(example, runs=[ran], force_due=["cto"]))
    assert forced["t-005"].run


def test_daily_budgets(example: Path) -> None:
    spent = RunRecord(
        "r1", "fullstack", "t-006", "2026-11-24T01:00:00Z", outcome="failed", cost_usd=10.0
    )
    decisions = _by_task(_plan(example, runs=[spent]))
    assert "role daily budget spent: $10.00 of $10.00" in decisions["t-006"].reason
    yesterday = RunRecord(
        "r0", "fullstack", "t-006", "2026-11-23T01:00:00Z", outcome="failed", cost_usd=50.0
    )
    assert _by_task(_plan(example, runs=[yesterday]))["t-006"].run
    fleet_wide = [
        RunRecord(f"r{i}", "ceo", "t-010", "2026-11-24T00:00:00Z", outcome="done", cost_usd=10.0)
        for i in range(4)
    ]
    plan = _plan(example, runs=fleet_wide)
    assert not plan.picks
    assert "fleet daily budget spent: $40.00 of $40.00" in _by_task(plan)["t-001"].reason


def test_blocked_review_and_running_are_explained(example: Path) -> None:
    from runner.lifecycle import EscalationRef, PullRef

    forge = ForgeView(
        open_prs={"t-001": PullRef("#3", "", "2026-11-24T00:00:00Z")},
        escalations={"t-006": (EscalationRef("#4", "credential", "", "2026-11-24T00:00:00Z"),)},
        live_runs=frozenset({"r9"}),  # r9 holds its task's lease
    )
    live = RunRecord("r9", "cto", "t-005", "2026-11-24T10:00:00Z")
    decisions = _by_task(_plan(example, runs=[live], forge=forge, force_due=["cto"]))
    assert decisions["t-001"].reason.startswith("in review: PR #3")
    assert decisions["t-006"].reason.startswith("blocked: waiting on a human: escalation #4")
    assert "already running (run r9)" in decisions["t-005"].reason


def test_single_task_and_unknown_task(example: Path) -> None:
    plan = _plan(example, task="t-009")
    assert [(d.role, d.task) for d in plan.picks] == [("research", "t-009")]
    assert "unknown task" in _plan(example, task="nope").decisions[0].reason


def test_budget_reasons_keep_sub_cent_precision(example: Path) -> None:
    """Issue 12 #9: $0.0077 spent against $0.005 read "$0.01 of $0.01"."""
    role = example / "fleet/roles/fullstack.yaml"
    text = role.read_text()
    role.write_text(
        text.replace("run_usd: 2.00", "run_usd: 0.005").replace(
            "daily_usd: 10.00", "daily_usd: 0.005"
        )
    )
    spent = RunRecord(
        "r1", "fullstack", "t-006", "2026-11-24T01:00:00Z", outcome="budget", cost_usd=0.0077
    )
    reason = _by_task(_plan(example, runs=[spent]))["t-006"].reason
    assert "role daily budget spent: $0.0077 of $0.005 today" in reason


def test_a_roles_last_run_is_its_latest_non_dry_run_in_any_order(example: Path) -> None:
    """The schedule is judged against the role's latest real run, found in one pass over
    runs in any order (the index returns summaries sorted, callers may not)."""
    from runner.plan import last_run_per_role

    runs = [
        RunRecord("r2", "cto", "t-005", "2026-11-24T08:05:00Z", outcome="failed"),
        RunRecord("r3", "cto", "t-005", "2026-11-24T09:55:00Z", outcome="dry_run"),
        RunRecord("r1", "cto", "t-005", "2026-11-23T08:05:00Z", outcome="done"),
        RunRecord("r4", "ceo", "t-010", "2026-11-22T08:05:00+00:00", outcome="done"),
    ]
    last = last_run_per_role(runs)
    assert {k: v.isoformat() for k, v in last.items()} == {
        "cto": "2026-11-24T08:05:00+00:00",
        "ceo": "2026-11-22T08:05:00+00:00",
    }
    reason = _by_task(_plan(example, runs=list(reversed(runs))))["t-005"].reason
    assert "already ran at 2026-11-24T08:05:00Z" in reason
