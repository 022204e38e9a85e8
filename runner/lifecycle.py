"""Derived task state: computed from the task file, the ledger and the forge, never stored.

A task file says only what humans decide (open, blocked, done, cancelled). Everything
else is observed: a live run, a work branch or a draft PR (a stopped run's work) means
in_progress, an open ready PR means review, an open escalation means blocked. Deriving
it means it can never disagree with reality.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

from runner import engines
from runner.model import Role, Task
from runner.records import EscalationRef as EscalationRef
from runner.records import ForgeView, RunRecord, TaskState
from runner.records import PullRef as PullRef

STATES = ("open", "in_progress", "review", "blocked", "done", "cancelled")
NOTICE_KINDS = ("sla", "budget")  # escalations that inform, and block nothing


def derive(task: Task, runs: Iterable[RunRecord], forge: ForgeView, now: datetime) -> TaskState:
    """The state of one task, before dependencies are considered."""
    # sla and budget escalations are notices to a human, not a question the task waits on
    escalations = tuple(e for e in forge.escalations.get(task.id, ()) if e.kind not in NOTICE_KINDS)
    pr = forge.open_prs.get(task.id)
    settled = _with_a_person(task, escalations, pr)
    if settled is not None:
        return settled
    return _from_work(task, sorted(runs, key=lambda r: r.started), forge, pr)


def _with_a_person(
    task: Task, escalations: tuple[EscalationRef, ...], pr: PullRef | None
) -> TaskState | None:
    """The states a person holds, which no run can change: what the task file says
    (done, cancelled, blocked), an open escalation, a PR ready for review. None: the
    task's state is what runs and branches show."""
    if task.status == "done":
        return TaskState(task.id, "done", "marked done in the task file", pr=pr)
    if task.status == "cancelled":
        return TaskState(task.id, "cancelled", "marked cancelled in the task file")
    if escalations:
        first = min(escalations, key=lambda e: e.created)
        kinds = ", ".join(sorted({e.kind for e in escalations}))
        return TaskState(
            task.id,
            "blocked",
            f"waiting on a human: escalation {first.id} ({kinds})",
            since=first.created,
            pr=pr,
            escalations=tuple(escalations),
        )
    if task.status == "blocked":
        return TaskState(task.id, "blocked", "marked blocked in the task file", pr=pr)
    if pr is not None and not pr.draft:
        return TaskState(task.id, "review", f"PR {pr.id} awaits review", since=pr.created, pr=pr)
    return None


def _from_work(
    task: Task, runs: list[RunRecord], forge: ForgeView, pr: PullRef | None
) -> TaskState:
    """in_progress or open, from the runs (oldest first), the work branch and a draft PR."""
    last = runs[-1] if runs else None
    if last is not None and last.outcome == "running" and last.run_id in forge.live_runs:
        return TaskState(
            task.id,
            "in_progress",
            f"run {last.run_id} is running",
            since=last.started,
            live_run=last.run_id,
            pr=pr,
        )
    if pr is not None:  # a draft: a stopped run's work, which the next run continues
        stopped = ""
        if last is not None:
            ended = "never finished" if last.outcome == "running" else f"ended {last.outcome}"
            stopped = f"; the last run {ended}"
        return TaskState(
            task.id,
            "in_progress",
            f"draft PR {pr.id}{stopped}; the next run resumes its branch",
            since=_first_start(runs) or pr.created,
            pr=pr,
        )
    if last is not None and last.outcome == "running" and task.id in forge.branches:
        return TaskState(
            task.id,
            "in_progress",
            f"run {last.run_id} never finished (killed?); its work branch will be resumed",
            since=_first_start(runs),
        )
    if task.id in forge.branches:
        outcome = f" (last run: {last.outcome})" if last else ""
        return TaskState(
            task.id,
            "in_progress",
            f"work branch exists, no PR yet{outcome}",
            since=_first_start(runs),
        )
    if last is not None and last.outcome != "dry_run":
        detail = f": {last.reason}" if last.reason else ""
        return TaskState(
            task.id, "open", f"last run ended {last.outcome}{detail}", since=task.created
        )
    return TaskState(task.id, "open", "not started", since=task.created)


def derive_all(
    tasks: dict[str, Task], runs: Iterable[RunRecord], forge: ForgeView, now: datetime
) -> dict[str, TaskState]:
    """States of every task, with readiness (open and every dependency done)."""
    by_task: dict[str, list[RunRecord]] = {}
    for run in runs:
        if run.task:
            by_task.setdefault(run.task, []).append(run)
    states = {tid: derive(t, by_task.get(tid, ()), forge, now) for tid, t in tasks.items()}
    out = {}
    for tid, st in states.items():
        if st.state not in ("open", "in_progress"):
            out[tid] = st
            continue
        waiting = tuple(
            dep for dep in tasks[tid].depends_on if dep not in states or states[dep].state != "done"
        )
        out[tid] = TaskState(**{**st.__dict__, "ready": not waiting, "waiting_on": waiting})
    return out


def _first_start(runs: list[RunRecord]) -> str | None:
    return runs[0].started if runs else None


CREDENTIAL_SUBJECT = "credential-"  # the escalation "task" of a fleet-wide credential problem
MODEL_KEY = "ANTHROPIC_API_KEY"


def needs(role: Role, credential: str) -> bool:
    """Does `role` need `credential` to work (its own, or what its engine needs)?"""
    engine = engines.get(role.engine)
    engine_needs = (*engine.credentials(role), engine.model_key(role))
    return credential in role.required_env or credential in engine_needs


def hold_on_credentials(
    escalations: dict[str, tuple[EscalationRef, ...]],
    tasks: dict[str, Task],
    roles: dict[str, Role],
) -> dict[str, tuple[EscalationRef, ...]]:
    """A credential problem is one escalation per credential per fleet (keyed
    `credential-<NAME>`), and it holds every task whose role needs that credential: those
    tasks are `blocked` on it, so no run starts, asks again or spends, until a human
    answers and closes the one issue."""
    out = dict(escalations)
    for subject, refs in escalations.items():
        if not subject.startswith(CREDENTIAL_SUBJECT):
            continue
        name = subject[len(CREDENTIAL_SUBJECT) :]
        for tid, task in tasks.items():
            role = roles.get(task.role)
            if role is not None and needs(role, name):
                out[tid] = (*out.get(tid, ()), *refs)
    return out
