"""`fleet run`: one role works one task (the planner's pick, or --task)."""

from __future__ import annotations

from pathlib import Path

import click

from runner import pause, stops
from runner.forge.select import open_forge
from runner.interrupt import Cancelled, cancellable
from runner.outcome import FAILED, anthropic_client, lease_terms, render_outcome, report
from runner.plan import make_plan
from runner.run import execute, live_clock
from runner.workspace import open_workspace


def run_agent(root: Path, *, role: str, task: str, run_id: str, directory: Path) -> int:
    """The agent phase of a claimed run: everything it would publish goes to `directory`."""
    from runner.agent_phase import run_agent_phase
    from runner.publish import claimed

    ws = open_workspace(root)
    if paused := pause.announce(ws.environ, ws.fleet.config.paused, "fleet run --phase agent"):
        click.echo(paused)
        return 0
    record = claimed(ws, run_id)
    if record is None or (record.role, record.task) != (role, task):
        raise click.UsageError(f"run {run_id} is not a claimed run of {role}/{task}")
    outs = run_agent_phase(
        ws,
        open_forge(ws),
        role,
        task,
        run_id=run_id,
        directory=directory,
        execute=execute,
        trigger=record.trigger,
        client_factory=anthropic_client(ws),
    )
    click.echo(f"{role}/{task}: agent phase {outs.run.get('outcome')}; outputs in {directory}")
    return 1 if outs.run.get("outcome") in FAILED else 0


def run(root: Path, *, role: str, task: str | None, dry_run: bool, trigger: str) -> int:
    ws = open_workspace(root)
    ws.fleet.require_role(role)
    if task is not None and task not in ws.fleet.tasks:
        raise click.UsageError(ws.fleet.unknown_task(task))
    if task is not None and ws.fleet.tasks[task].role != role:
        raise click.UsageError(f"task {task} belongs to role '{ws.fleet.tasks[task].role}'")
    if paused := pause.announce(ws.environ, ws.fleet.config.paused, "fleet run"):
        click.echo(paused)
        return 0
    forge = open_forge(ws)
    runs = ws.runs()
    stops.reap(ws.ledger, runs, live_clock(ws)())  # runs killed earlier are closed first
    plan = make_plan(
        ws.fleet,
        ws.states(runs, forge.view()),
        runs,
        ws.now,
        roles=[role],
        task=task,
        force_due=[role],
    )
    if not plan.picks:  # deciding not to run is not a failure: say why
        for d in plan.decisions:
            click.echo(f"nothing to run: {d.role}/{d.task or '-'}: {d.reason}")
        return 0
    pick = plan.picks[0]
    terms = lease_terms(ws)
    try:
        with cancellable():
            outcome = execute(
                ws,
                forge,
                role,
                pick.task or "",
                trigger=trigger,
                client_factory=anthropic_client(ws),
                dry_run=dry_run,
                lease_terms=terms,
            )
    except Cancelled as exc:  # before the run started: nothing to record
        click.echo(f"{role}/{pick.task}: {exc} before the run started", err=True)
        return 1
    click.echo(render_outcome(outcome))
    for line in report(ws, [outcome], "fleet run"):
        click.echo(line)
    return 1 if outcome.record.outcome in FAILED and not outcome.skipped else 0
