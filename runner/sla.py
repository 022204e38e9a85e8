"""SLA and budget breaches: which tasks sat too long in a state, and the likely cause.

Pure: the command opens (or keeps) one escalation of kind `sla` per breached task and
closes it, with a comment, once the task moves on. Budget overruns get kind `budget`.
"""

from __future__ import annotations

from dataclasses import dataclass

from runner import engines
from runner.fmt import usd
from runner.forge.base import ForgeItem
from runner.model import Fleet
from runner.plan import Plan
from runner.records import RunRecord
from runner.report.status import Status

FAILING = ("failed", "error", "model_unavailable", "budget", "max_turns")


@dataclass(frozen=True)
class Breach:
    kind: str  # sla, budget
    role: str  # or "fleet"
    task: str | None
    summary: str  # without the role or task: the issue title adds them
    detail: str

    @property
    def label(self) -> str:
        """The summary with what it is about, for one line of `fleet sla` output."""
        return f"{self.task or self.role}: {self.summary}"


def breaches(status: Status, fleet: Fleet, runs: list[RunRecord], plan: Plan) -> list[Breach]:
    out: list[Breach] = []
    last_run: dict[str, RunRecord] = {}
    for r in runs:
        if r.task:
            last_run[r.task] = r
    reasons = {d.task: d.reason for d in plan.decisions if d.task}
    escalated = {e.task: e for e in status.blocked_on_human if e.task and e.kind != "sla"}
    for state in ("open", "in_progress", "review", "blocked"):
        for row in status.by_state.get(state, []):
            if not row.breached:
                continue
            if state == "open" and row.id in reasons and reasons[row.id].startswith("waiting on"):
                continue  # not ready: its dependencies own the delay
            cause = _cause(
                state,
                row.id,
                last_run.get(row.id),
                reasons.get(row.id, ""),
                escalated.get(row.id),
                row.reason,
            )
            out.append(
                Breach(
                    "sla",
                    row.role,
                    row.id,
                    f"{state} for {row.age_hours:.0f}h, past its {row.sla_hours:g}h SLA",
                    f"Task **{row.id}** ({row.title}) has been `{state}` for "
                    f"{row.age_hours:.0f} hours; its SLA for that state is {row.sla_hours:g} "
                    f"hours.\n\nLikely cause: {cause}",
                )
            )
    for role in status.roles:
        if engines.get(role.engine).priced and role.spent_today > role.daily_budget:
            out.append(
                Breach(
                    "budget",
                    role.name,
                    None,
                    f"spent {usd(role.spent_today)} of {usd(role.daily_budget)} today",
                    f"Role **{role.name}** spent {usd(role.spent_today)} today, over its daily "
                    f"budget of {usd(role.daily_budget)}. The planner stops it until tomorrow "
                    "(UTC); raise the budget in its role file if that is intended.",
                )
            )
    limit = fleet.config.daily_budget_usd
    total = sum(r.spent_today for r in status.roles)
    if limit is not None and total > limit:
        out.append(
            Breach(
                "budget",
                "fleet",
                None,
                f"spent {usd(total)} of {usd(limit)} today",
                f"The fleet spent {usd(total)} today, over its daily budget of "
                f"{usd(limit)}; no role runs until tomorrow (UTC).",
            )
        )
    return out


def _cause(state: str, task: str, last, reason: str, escalation, state_reason: str) -> str:
    if state == "blocked":
        if escalation is not None and escalation.kind == "credential":
            return f"waiting on a credential (escalation {escalation.id})"
        return f"waiting on a human: {state_reason}"
    if state == "review":
        return f"waiting on review: {state_reason}"
    if last is not None and last.outcome in FAILING:
        return f"failing runs: the last run ({last.run_id}) ended {last.outcome}" + (
            f": {last.reason}" if last.reason else ""
        )
    if last is None:
        return "no runs: " + (reason or "the role has not picked it up")
    return reason or state_reason


@dataclass(frozen=True)
class Reconciled:
    """What `fleet sla` does: open new notices, keep open ones, close resolved ones."""

    to_open: list[Breach]
    still_open: list[tuple[Breach, ForgeItem]]
    to_close: list[tuple[ForgeItem, str]]  # the notice, and the comment that closes it


def reconcile(found: list[Breach], items: list[ForgeItem], status: Status) -> Reconciled:
    notices = {
        (i.escalation_kind, i.role, i.task): i
        for i in items
        if i.kind == "escalation" and i.state == "open" and i.escalation_kind in ("sla", "budget")
    }
    current = {(b.kind, b.role, b.task): b for b in found}
    states = {r.id: state for state, rows in status.by_state.items() for r in rows}
    to_close = []
    for key, item in sorted(notices.items(), key=lambda kv: kv[1].id):
        if key in current:
            continue
        note = (
            f"Resolved: {item.task} is now {states.get(item.task, 'gone')}."
            if item.task
            else "Resolved: spending is back within budget."
        )
        to_close.append((item, note))
    return Reconciled(
        to_open=[b for key, b in current.items() if key not in notices],
        still_open=[(b, notices[key]) for key, b in current.items() if key in notices],
        to_close=to_close,
    )
