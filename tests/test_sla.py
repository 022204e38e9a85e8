"""reconcile: the pure decision of which SLA notices to open, keep and close."""

from __future__ import annotations

from runner.forge.base import ForgeItem
from runner.report.status import Status, TaskRow
from runner.sla import Breach, reconcile


def _notice(task: str | None, kind: str = "sla", role: str = "cto") -> ForgeItem:
    return ForgeItem(
        "escalation",
        f"#{task}",
        "",
        role,
        task,
        "t",
        "open",
        "2026-11-24T00:00:00Z",
        escalation_kind=kind,
    )


def test_reconcile_opens_keeps_and_closes() -> None:
    status = Status(
        "f",
        "now",
        "since",
        by_state={
            "review": [TaskRow("t-1", "a", "cto", "review", 50, "")],
            "done": [TaskRow("t-2", "b", "cto", "done", None, "")],
        },
    )
    found = [Breach("sla", "cto", "t-1", "t-1 late", ""), Breach("sla", "cto", "t-3", "new", "")]
    items = [
        _notice("t-1"),
        _notice("t-2"),
        _notice(None, kind="budget"),
        _notice("t-9", kind="decision"),
    ]  # a question, never closed by sla
    plan = reconcile(found, items, status)
    assert [b.task for b in plan.to_open] == ["t-3"]
    assert [(b.task, i.id) for b, i in plan.still_open] == [("t-1", "#t-1")]
    assert [(i.id, note) for i, note in plan.to_close] == [
        ("#None", "Resolved: spending is back within budget."),
        ("#t-2", "Resolved: t-2 is now done."),
    ]
