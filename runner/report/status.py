"""The founder's morning check as data: what is stuck, what waits on a human, what the
fleet cost and shipped, and what changed since the last look.

A pure function of the fleet, derived task states, the ledger, forge activity, commits
and the clock, so every number can be checked against a hand-computed fixture.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from datetime import datetime, timedelta
from typing import Any

from runner.clock import iso, parse
from runner.forge.base import ForgeItem
from runner.model import Fleet
from runner.plan import Plan
from runner.records import Commit, RollUp, RunRecord, TaskState

KIND_ORDER = ("credential", "setup", "budget", "sla", "loop", "failure", "decision", "blocked")


@dataclass
class TaskRow:
    id: str
    title: str
    role: str
    state: str
    age_hours: float | None
    reason: str
    sla_hours: float | None = None
    link: str = ""

    @property
    def breached(self) -> bool:
        return self.sla_hours is not None and (self.age_hours or 0) > self.sla_hours


@dataclass
class EscalationRow:
    id: str
    task: str | None
    role: str | None
    kind: str
    age_hours: float
    title: str
    url: str = ""


@dataclass
class ProblemRow:
    """A task file left out of planning because it has an error (see `fleet validate`)."""

    path: str
    line: int
    code: str
    message: str


@dataclass
class RoleRow:
    name: str
    engine: str
    last_run: str | None
    last_outcome: str | None
    next_task: str | None
    next_reason: str
    runs_week: int
    commits_week: int
    prs_week: int
    spent_today: float
    daily_budget: float


@dataclass
class RunRow:
    run_id: str
    role: str
    task: str | None
    started: str
    outcome: str
    cost_usd: float
    transcript: bool  # a transcript is stored: the dashboard links its page


@dataclass
class Totals:
    tasks_completed: int = 0
    prs_opened: int = 0
    prs_merged: int = 0
    escalations_opened: int = 0
    escalations_resolved: int = 0
    commits_agents: int = 0
    commits_humans: int = 0
    delegations: int = 0
    runs: int = 0
    input_tokens: int = 0
    output_tokens: int = 0
    cache_read_tokens: int = 0
    cache_write_tokens: int = 0
    cost_usd: float = 0.0

    @property
    def cache_share(self) -> float:
        prompt = self.input_tokens + self.cache_read_tokens + self.cache_write_tokens
        return self.cache_read_tokens / prompt if prompt else 0.0

    @property
    def cost_per_completed_task(self) -> float | None:
        return self.cost_usd / self.tasks_completed if self.tasks_completed else None


@dataclass
class Status:
    fleet: str
    now: str
    since: str
    by_state: dict[str, list[TaskRow]] = field(default_factory=dict)
    stuck: list[TaskRow] = field(default_factory=list)
    blocked_on_human: list[EscalationRow] = field(default_factory=list)
    roles: list[RoleRow] = field(default_factory=list)
    totals: Totals = field(default_factory=Totals)
    cost_per_day: dict[str, dict[str, float]] = field(default_factory=dict)  # day -> role
    throughput: dict[str, dict[str, int]] = field(default_factory=dict)  # week -> counts
    dependencies: list[tuple[str, str]] = field(default_factory=list)  # (task, depends_on)
    changes: list[str] = field(default_factory=list)  # since the last recorded status
    problems: list[ProblemRow] = field(default_factory=list)  # broken task files
    paused: str | None = None  # why the kill switch is on (runner/pause.py)
    recent_runs: list[RunRow] = field(default_factory=list)  # newest first, in the period

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["totals"]["cache_share"] = round(self.totals.cache_share, 4)
        data["totals"]["cost_per_completed_task"] = self.totals.cost_per_completed_task
        return data


RECENT_RUNS = 30  # runs the dashboard lists


def compute(
    fleet: Fleet,
    states: dict[str, TaskState],
    runs: list[RunRecord],
    items: list[ForgeItem],
    commits: list[Commit],
    plan: Plan,
    now: datetime,
    since: datetime,
    previous: dict[str, str] | None = None,
    rollups: Sequence[RollUp] = (),
    period: Sequence[RunRecord] | None = None,
) -> Status:
    """`period`: the period's run records in full, for the totals (default `runs`, which
    may also hold summaries of older runs); `rollups`: the period's runs whose records
    retention compacted, counted by whole days (the day `since` falls in counts in full)."""
    status = Status(fleet.config.name, iso(now), iso(since))
    since_s, week_s = iso(since), iso(now - timedelta(days=7))
    _tasks(status, fleet, states, items, now)
    _escalations(status, items, now)
    _roles(status, fleet, runs, commits, items, plan, now, week_s)
    _totals(status, fleet, runs if period is None else period, commits, items, since_s)
    _compacted(status.totals, status.cost_per_day, rollups, since_s[:10])
    status.problems = [ProblemRow(p.path, p.line, p.code, p.message) for p in fleet.problems]
    status.dependencies = sorted((t.id, d) for t in fleet.tasks.values() for d in t.depends_on)
    recent = sorted(
        (r for r in (runs if period is None else period) if r.started >= since_s),
        key=lambda r: (r.started, r.run_id),
        reverse=True,
    )
    status.recent_runs = [
        RunRow(r.run_id, r.role, r.task, r.started, r.outcome, r.cost_usd, bool(r.transcript))
        for r in recent[:RECENT_RUNS]
    ]
    status.changes = _changes(previous or {}, states, fleet) if previous is not None else []
    return status


def _age(since: str | None, now: datetime) -> float | None:
    if not since:
        return None
    try:
        return round(
            (now - parse(since if "T" in since else f"{since}T00:00:00Z")).total_seconds() / 3600, 1
        )
    except ValueError:
        return None


def _tasks(
    status: Status,
    fleet: Fleet,
    states: dict[str, TaskState],
    items: list[ForgeItem],
    now: datetime,
) -> None:
    links = {i.task: i.url for i in items if i.kind == "pr" and i.state == "open" and i.task}
    for tid, st in states.items():
        task = fleet.tasks[tid]
        sla = task.sla_hours.get(st.state, fleet.config.sla_hours.get(st.state))
        # a task waiting on its dependencies is not late: they own the delay
        timed = st.state in ("in_progress", "review", "blocked") or (
            st.state == "open" and st.ready
        )
        row = TaskRow(
            tid,
            task.title,
            task.role,
            st.state,
            _age(st.since, now),
            st.reason,
            sla if timed else None,
            (st.pr.url if st.pr else "") or links.get(tid, ""),
        )
        status.by_state.setdefault(st.state, []).append(row)
        if row.breached:  # what `fleet sla` escalates: ready, working, in review, blocked
            status.stuck.append(row)
    for rows in status.by_state.values():
        rows.sort(key=lambda r: (-(r.age_hours or 0), r.id))
    status.stuck.sort(key=lambda r: (-(r.age_hours or 0), r.id))


def _escalations(status: Status, items: list[ForgeItem], now: datetime) -> None:
    rows = [
        EscalationRow(
            i.id,
            i.task,
            i.role,
            i.escalation_kind or "blocked",
            _age(i.created, now) or 0.0,
            i.title,
            i.url,
        )
        for i in items
        # an SLA notice is about a task already counted as stuck (or marked "SLA!" in its
        # state): counting it again as "waiting on you" would count one breach twice
        if i.kind == "escalation" and i.state == "open" and i.escalation_kind != "sla"
    ]
    rank = {k: n for n, k in enumerate(KIND_ORDER)}
    status.blocked_on_human = sorted(rows, key=lambda r: (rank.get(r.kind, 99), -r.age_hours))


def _roles(
    status: Status,
    fleet: Fleet,
    runs: list[RunRecord],
    commits: list[Commit],
    items: list[ForgeItem],
    plan: Plan,
    now: datetime,
    week_s: str,
) -> None:
    last: dict[str, RunRecord] = {}
    runs_week: Counter[str] = Counter()
    for r in runs:
        if r.outcome == "dry_run":
            continue
        last[r.role] = r  # runs arrive oldest first
        if r.started >= week_s:
            runs_week[r.role] += 1
    commits_week = Counter(c.agent_role for c in commits if c.agent_role and c.time >= week_s)
    prs_week = Counter(i.role for i in items if i.kind == "pr" and i.created >= week_s)
    picks = {d.role: d for d in plan.decisions if d.run}
    first_reason: dict[str, str] = {}
    for d in plan.decisions:
        first_reason.setdefault(d.role, d.reason)
    for name, role in sorted(fleet.roles.items()):
        pick = picks.get(name)
        latest = last.get(name)
        status.roles.append(
            RoleRow(
                name,
                role.engine,
                latest.started if latest else None,
                latest.outcome if latest else None,
                pick.task if pick else None,
                pick.reason if pick else first_reason.get(name, ""),
                runs_week[name],
                commits_week[name],
                prs_week[name],
                round(plan.spent_today.get(name, 0.0), 4),
                role.daily_budget_usd,
            )
        )


def _totals(
    status: Status,
    fleet: Fleet,
    runs: Sequence[RunRecord],
    commits: list[Commit],
    items: list[ForgeItem],
    since_s: str,
) -> None:
    t = status.totals
    per_day: dict[str, dict[str, float]] = defaultdict(dict)
    for r in runs:
        if r.started < since_s or r.outcome == "dry_run":
            continue
        t.runs += 1
        t.delegations += len(r.delegated)
        u = r.usage or {}
        t.input_tokens += u.get("input_tokens", 0)
        t.output_tokens += u.get("output_tokens", 0)
        t.cache_read_tokens += u.get("cache_read_input_tokens", 0)
        t.cache_write_tokens += u.get("cache_creation_input_tokens", 0)
        t.cost_usd += r.cost_usd
        if r.cost_usd > 0:
            day = per_day[r.date]
            day[r.role] = round(day.get(r.role, 0.0) + r.cost_usd, 6)
    t.cost_usd = round(t.cost_usd, 6)
    status.cost_per_day = dict(sorted(per_day.items()))
    in_period = [c for c in commits if c.time >= since_s]
    t.commits_agents = sum(1 for c in in_period if c.agent_role)
    t.commits_humans = len(in_period) - t.commits_agents
    done_paths = {task.path: tid for tid, task in fleet.tasks.items() if task.status == "done"}
    completed: dict[str, str] = {}  # task -> when it last changed (made done) in the period
    for c in in_period:  # newest first
        for path in c.files:
            if path in done_paths and done_paths[path] not in completed:
                completed[done_paths[path]] = c.time
    t.tasks_completed = len(completed)
    for i in items:
        if i.kind == "pr":
            t.prs_opened += i.created >= since_s
            t.prs_merged += i.state == "merged" and (i.closed or "") >= since_s
        elif i.kind == "escalation":
            t.escalations_opened += i.created >= since_s
            t.escalations_resolved += i.state == "closed" and (i.closed or "") >= since_s
    weeks: dict[str, dict[str, int]] = defaultdict(lambda: {"completed": 0, "merged": 0})
    for when in completed.values():
        weeks[_week(when)]["completed"] += 1
    for i in items:
        if i.kind == "pr" and i.state == "merged" and i.closed and i.closed >= since_s:
            weeks[_week(i.closed)]["merged"] += 1
    status.throughput = dict(sorted(weeks.items()))


def _compacted(
    t: Totals, per_day: dict[str, dict[str, float]], rollups: Sequence[RollUp], since: str
) -> None:
    """Fold compacted runs (retention) into the totals, as `_totals` folds records."""
    for u in rollups:
        if u.date < since or u.outcome == "dry_run":
            continue
        t.runs += u.runs
        t.delegations += u.delegations
        t.input_tokens += u.input_tokens
        t.output_tokens += u.output_tokens
        t.cache_read_tokens += u.cache_read_tokens
        t.cache_write_tokens += u.cache_write_tokens
        t.cost_usd = round(t.cost_usd + u.cost_usd, 6)
        if u.cost_usd > 0:
            day = per_day.setdefault(u.date, {})
            day[u.role] = round(day.get(u.role, 0.0) + u.cost_usd, 6)
    per_day_sorted = dict(sorted(per_day.items()))
    per_day.clear()
    per_day.update(per_day_sorted)


def _week(when: str) -> str:
    year, week, _ = parse(when).isocalendar()
    return f"{year}-W{week:02d}"


def snapshot(states: dict[str, TaskState]) -> dict[str, str]:
    return {tid: st.state for tid, st in states.items()}


def _changes(previous: dict[str, str], states: dict[str, TaskState], fleet: Fleet) -> list[str]:
    out = []
    for tid, st in sorted(states.items()):
        before = previous.get(tid)
        if before is None:
            out.append(f"new task {tid} ({fleet.tasks[tid].role}): {st.state}")
        elif before != st.state:
            out.append(f"{tid}: {before} -> {st.state}")
    for tid in sorted(set(previous) - set(states)):
        out.append(f"{tid}: removed")
    return out
