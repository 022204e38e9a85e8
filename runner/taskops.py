"""Recovery verbs on one task: what it is, why it is stuck, and the documented ways out.

`summarise` and `retry_plan` are pure (fleet, derived states, runs, forge view in; plain
data out); `abandon`, `reopen`, `cancel_commit` act at the edge (ledger, forge, git).
What `fleet task retry` does, exactly:

- a run of the task still recorded `running` although its job is gone (killed, cancelled)
  is completed in the ledger as outcome `error`, reason "abandoned ...". A run the
  lifecycle still counts as live is left alone unless `--force` says the job is dead;
- open `failure` and `loop` escalations of the task are closed with a comment (as a
  human closing the issue would), so the next due run starts again, with its branch;
- questions (`credential`, `decision`, `blocked`, `security`) are never closed by retry:
  they need an answer. `status: blocked` in the task file needs an edit of the file.
"""

from __future__ import annotations

import tempfile
from dataclasses import dataclass, field, replace
from datetime import datetime
from pathlib import Path
from typing import Any

from runner import schema
from runner.clock import iso
from runner.errors import FleetError, UsageError
from runner.forge.base import Forge, Issue
from runner.gitrepo import Git
from runner.lease import release
from runner.model import Fleet, Task
from runner.records import EscalationRef, ForgeView, RunRecord, TaskState
from runner.state import Ledger
from runner.tasks import mark_done
from runner.yamlfile import parse

RETRYABLE_KINDS = ("failure", "loop", "setup")  # a human closing these means "try again"
ABANDONED = "abandoned: the run never finished (its job was killed or cancelled)"


def require_task(fleet: Fleet, task_id: str) -> Task:
    task = fleet.tasks.get(task_id)
    if task is None:
        raise UsageError(fleet.unknown_task(task_id), hint="fleet task list shows the tasks")
    return task


def row(task: Task, state: TaskState) -> dict[str, Any]:
    return {
        "id": task.id,
        "role": task.role,
        "state": state.state,
        "ready": state.ready,
        "priority": task.priority,
        "title": task.title,
        "reason": state.reason,
        "since": state.since,
        "waiting_on": list(state.waiting_on),
    }


def rows(
    fleet: Fleet, states: dict[str, TaskState], *, state: str | None, role: str | None
) -> list[dict[str, Any]]:
    out = [
        row(t, states[t.id])
        for t in fleet.tasks.values()
        if t.id in states
        and (state is None or states[t.id].state == state)
        and (role is None or t.role == role)
    ]
    return sorted(out, key=lambda r: r["id"])


def summarise(
    task: Task, state: TaskState, runs: list[RunRecord], view: ForgeView
) -> dict[str, Any]:
    """Everything `fleet task show` says about one task, as data."""
    mine = sorted((r for r in runs if r.task == task.id), key=lambda r: r.started)
    pr = view.open_prs.get(task.id)
    last_delta = next((r.sync.get("summary") for r in reversed(mine) if r.sync), None)
    return {
        **row(task, state),
        "status": task.status,
        "depends_on": list(task.depends_on),
        "runs": [
            {
                "run_id": r.run_id,
                "started": r.started,
                "ended": r.ended,
                "outcome": r.outcome,
                "reason": r.reason,
                "turns": r.turns,
                "cost_usd": r.cost_usd,
                "branch": r.links.get("branch"),
            }
            for r in mine
        ],
        "cost_usd": round(sum(r.cost_usd for r in mine), 6),
        "pr": None if pr is None else {"id": pr.id, "url": pr.url, "draft": pr.draft},
        "escalations": [
            {"id": e.id, "kind": e.kind, "url": e.url, "created": e.created, "title": e.title}
            for e in view.escalations.get(task.id, ())
        ],
        "last_delta": last_delta,
    }


@dataclass
class RetryPlan:
    abandon: list[RunRecord] = field(default_factory=list)
    close: list[EscalationRef] = field(default_factory=list)
    questions: list[EscalationRef] = field(default_factory=list)  # need an answer instead
    live: RunRecord | None = None  # a run that may still be working: refused without force


def retry_plan(
    task: Task, state: TaskState, runs: list[RunRecord], view: ForgeView, *, force: bool
) -> RetryPlan:
    if task.status in ("done", "cancelled"):
        raise UsageError(
            f"task {task.id} is {task.status} in its task file; nothing to retry",
            hint=f"to reopen it, set status: open in {task.path} and merge that change",
        )
    plan = RetryPlan()
    for r in runs:
        if r.task != task.id or r.outcome != "running":
            continue
        if r.run_id == state.live_run and not force:
            plan.live = r
        else:
            plan.abandon.append(r)
    own = list(view.escalations.get(task.id, ()))
    for e in own:
        if e.kind in RETRYABLE_KINDS:
            plan.close.append(e)
        elif e.kind not in ("sla", "budget"):  # notices close themselves
            plan.questions.append(e)
    # a fleet-wide credential question blocks the task too, though filed under no task:
    # retry said "nothing stuck to clear" without naming the issue to answer
    mine = {e.id for e in own}
    plan.questions += [e for e in state.escalations if e.id not in mine and e.kind == "credential"]
    return plan


def abandon(ledger: Ledger, record: RunRecord, now: datetime, who: str) -> RunRecord:
    ended = replace(record, outcome="error", ended=iso(now), reason=f"{ABANDONED}; by {who}")
    ledger.finish(ended)
    if record.task:  # its lease too, or the task stays held until the lease expires
        release(ledger.store, record.task, record.run_id)
    return ended


def reopen(forge: Forge, escalation: EscalationRef, task: Task, who: str) -> None:
    issue = Issue(escalation.id, escalation.url, escalation.title, escalation.kind, "open", "")
    forge.close_escalation(
        issue,
        f"Closed by {who} with `fleet task retry {task.id}`: the next due run of "
        f"{task.role} tries again, resuming its work branch.",
    )


def cancelled_text(task: Task, old: str, reason: str) -> str:
    """The task file with `status: cancelled`, or an error if that would not validate."""
    text = mark_done(old, f"cancelled: {reason}", new_status="cancelled")
    doc = parse(text)
    problems = doc.problems or not isinstance(doc.data, dict)
    if problems or schema.validate(doc, "task", task.path):
        raise FleetError(
            f"{task.path} would not validate with status: cancelled",
            hint="fix the task file (fleet validate), then cancel again",
        )
    return text


def commit_file(git: Git, parent: str, path: str, text: str, message: str, env: dict) -> str:
    """A commit on `parent` that adds or changes only `path`, built with plumbing (no
    checkout)."""
    blob = git.run("hash-object", "-w", "--stdin", input=text.encode()).strip()
    with tempfile.TemporaryDirectory(prefix="fleet-task-") as tmp:
        index = {**env, "GIT_INDEX_FILE": str(Path(tmp) / "index")}
        git.run("read-tree", parent, env=index)
        git.run("update-index", "--add", "--cacheinfo", f"100644,{blob},{path}", env=index)
        tree = git.run("write-tree", env=index).strip()
    return git.run("commit-tree", tree, "-p", parent, "-m", message, env=env).strip()
