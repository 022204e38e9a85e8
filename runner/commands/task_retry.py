"""`fleet task retry ID`: clear a stuck task the documented way (see runner.taskops):
a dead `running` record is marked abandoned, failure and loop escalations are closed."""

from __future__ import annotations

from pathlib import Path

import click

from runner import taskops
from runner.errors import FleetError
from runner.forge.select import open_forge
from runner.gitrepo import person
from runner.workspace import open_workspace


def run(root: Path, *, task_id: str, force: bool) -> int:
    ws = open_workspace(root)
    task = taskops.require_task(ws.fleet, task_id)
    forge = open_forge(ws)
    # every running record of the task, in full (they are rewritten): the full ledger
    runs, view = ws.ledger.runs(), forge.view()
    state = ws.states(runs, view)[task.id]
    plan = taskops.retry_plan(task, state, runs, view, force=force)
    if plan.live is not None:
        raise FleetError(
            f"run {plan.live.run_id} of {task.id} (started {plan.live.started}) may still be "
            "working",
            hint=f"wait for it; if its job is dead (killed, cancelled), run "
            f"'fleet task retry {task.id} --force'",
        )
    who = person(ws.git, ws.environ)
    for record in plan.abandon:
        taskops.abandon(ws.ledger, record, ws.now, who)
        click.echo(f"run {record.run_id}: marked abandoned (outcome error)")
    for e in plan.close:
        taskops.reopen(forge, e, task, who)
        click.echo(f"escalation {e.id} ({e.kind}): closed")
    for e in plan.questions:
        click.echo(
            f"escalation {e.id} ({e.kind}) asks a question and stays open: answer it "
            "(on the issue, or 'fleet local answer') to unblock the task"
        )
    if task.status == "blocked":
        click.echo(f"{task.path} says status: blocked: edit it to open to unblock the task")
    after = ws.states(ws.runs(), forge.view())[task.id]
    changed = plan.abandon or plan.close
    click.echo(
        f"{task.id}: {after.state}{', ready' if after.ready else ''}: {after.reason}"
        + ("" if changed else " (nothing stuck to clear)")
    )
    if after.state in ("open", "in_progress") and after.ready:
        click.echo(
            f"The next due run of {task.role} picks it up; to run it now: "
            f"fleet run --role {task.role} --task {task.id}"
        )
    return 0
