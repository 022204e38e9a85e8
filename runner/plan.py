"""The scheduler as a pure function: (fleet, task states, ledger, clock) -> decisions.

Every task the planner does not pick gets a reason a person understands, because "why
is nothing happening?" is the question a founder asks most.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime

from runner import cron, engines
from runner.clock import iso, parse
from runner.fmt import usd
from runner.lifecycle import TaskState
from runner.model import PRIORITIES, Fleet, Role, Task
from runner.records import RunRecord


@dataclass(frozen=True)
class Decision:
    role: str
    task: str | None
    run: bool
    reason: str


@dataclass
class Plan:
    now: str
    decisions: list[Decision] = field(default_factory=list)
    spent_today: dict[str, float] = field(default_factory=dict)  # role -> USD

    @property
    def picks(self) -> list[Decision]:
        return [d for d in self.decisions if d.run]

    def matrix(self) -> dict[str, list[dict[str, str]]]:
        """What a GitHub Actions `strategy.matrix` consumes."""
        return {"include": [{"role": d.role, "task": d.task or ""} for d in self.picks]}


def make_plan(
    fleet: Fleet,
    states: dict[str, TaskState],
    runs: Iterable[RunRecord],
    now: datetime,
    *,
    roles: Iterable[str] | None = None,
    task: str | None = None,
    force_due: Iterable[str] = (),
) -> Plan:
    """Decide, per role, which task to run now and why every other one waits.

    `force_due` names roles that run regardless of schedule (a merged task PR, a manual
    dispatch); `task` restricts the plan to one task.
    """
    runs = list(runs)
    today = now.strftime("%Y-%m-%d")
    spent = spent_on(runs, today)
    fleet_spent = sum(spent.values())
    plan = Plan(now=iso(now), spent_today=spent)
    wanted = set(roles) if roles else set(fleet.roles)
    if task is not None:
        if task not in fleet.tasks:
            plan.decisions.append(Decision("-", task, False, fleet.unknown_task(task)))
            return plan
        wanted = {fleet.tasks[task].role}
    forced = set(force_due) | ({fleet.tasks[task].role} if task else set())
    last_runs = last_run_per_role(runs)
    for name in sorted(wanted):
        role = fleet.roles.get(name)
        if role is None:
            plan.decisions.append(Decision(name, None, False, f"unknown role '{name}'"))
            continue
        mine = [
            t for t in fleet.tasks.values() if t.role == name and (task is None or t.id == task)
        ]
        blocker = _role_blocker(
            fleet, role, last_runs.get(name), now, spent.get(name, 0.0), fleet_spent, name in forced
        )
        plan.decisions.extend(_decide_role(fleet, role, mine, states, blocker))
    return plan


def _role_blocker(
    fleet: Fleet,
    role: Role,
    last: datetime | None,
    now: datetime,
    spent: float,
    fleet_spent: float,
    forced: bool,
) -> str | None:
    """Why this role runs nothing this tick, or None."""
    fleet_limit = fleet.config.daily_budget_usd
    if fleet_limit is not None and fleet_spent >= fleet_limit:
        return f"fleet daily budget spent: {usd(fleet_spent)} of {usd(fleet_limit)} today (UTC)"
    if engines.get(role.engine).priced and spent >= role.daily_budget_usd:
        return f"role daily budget spent: {usd(spent)} of {usd(role.daily_budget_usd)} today (UTC)"
    if forced or not role.schedule:
        return None
    fired = cron.parse(role.schedule).previous_fire(now)
    if fired is None:
        return f"not due: schedule '{role.schedule}' has not fired in four years"
    if last is not None and last >= fired:
        return (
            f"not due: schedule '{role.schedule}' last fired {iso(fired)} and the role "
            f"already ran at {iso(last)}"
        )
    return None


def _decide_role(
    fleet: Fleet,
    role: Role,
    tasks: list[Task],
    states: dict[str, TaskState],
    blocker: str | None,
) -> list[Decision]:
    decisions: list[Decision] = []
    candidates: list[Task] = []
    for t in sorted(tasks, key=_order):
        st = states.get(t.id)
        if st is None or st.state in ("done", "cancelled"):
            continue
        if st.state == "blocked":
            decisions.append(Decision(role.name, t.id, False, f"blocked: {st.reason}"))
        elif st.state == "review":
            decisions.append(Decision(role.name, t.id, False, f"in review: {st.reason}"))
        elif st.live_run:
            decisions.append(
                Decision(
                    role.name, t.id, False, f"already running (run {st.live_run}); one run per task"
                )
            )
        elif not st.ready:
            waits = ", ".join(
                f"{d} ({states[d].state})" if d in states else f"{d} (unknown)"
                for d in st.waiting_on
            )
            decisions.append(Decision(role.name, t.id, False, f"waiting on {waits}"))
        else:
            candidates.append(t)
    limit = fleet.config.tasks_per_role
    for index, t in enumerate(candidates):
        st = states[t.id]
        if blocker:
            decisions.append(Decision(role.name, t.id, False, f"ready, but {blocker}"))
        elif index < limit:
            resume = " (resumes its work branch)" if st.state == "in_progress" else ""
            why = (
                f"ready, {t.priority} priority"
                + (f", created {t.created}" if t.created else "")
                + resume
            )
            if len(candidates) > 1:
                why += f"; first of {len(candidates)} ready by priority then age"
            decisions.append(Decision(role.name, t.id, True, why))
        else:
            first = candidates[0].id
            decisions.append(
                Decision(
                    role.name,
                    t.id,
                    False,
                    f"ready, queued behind {first}: {limit} task(s) per role per tick",
                )
            )
    if not candidates and not decisions:
        decisions.append(Decision(role.name, None, False, blocker or "no open tasks"))
    elif not candidates:
        decisions.insert(0, Decision(role.name, None, False, "nothing ready to run"))
    return sorted(decisions, key=lambda d: not d.run)


def _order(task: Task) -> tuple[int, str, str]:
    return (PRIORITIES.index(task.priority), task.created or "9999", task.id)


def last_run_per_role(runs: Iterable[RunRecord]) -> dict[str, datetime]:
    """When each role last started a run (dry runs aside): what its schedule is judged
    against. One pass over the runs, not one per role."""
    last: dict[str, datetime] = {}
    for r in runs:
        if r.outcome != "dry_run":
            started = parse(r.started)
            if r.role not in last or started > last[r.role]:
                last[r.role] = started
    return last


def spent_on(runs: Iterable[RunRecord], day: str) -> dict[str, float]:
    """US dollars spent per role on `day` (YYYY-MM-DD, UTC), from the ledger."""
    spent: dict[str, float] = {}
    for r in runs:
        if r.started.startswith(day):
            spent[r.role] = spent.get(r.role, 0.0) + r.cost_usd
    return spent
