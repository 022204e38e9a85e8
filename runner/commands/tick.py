"""`fleet tick`: plan, then run every pick in turn."""

from __future__ import annotations

from pathlib import Path

import click

from runner.commands.run import FAILED, anthropic_client, render_outcome
from runner.forge.select import open_forge
from runner.plan import make_plan
from runner.run import execute
from runner.workspace import open_workspace


def run(root: Path, *, dry_run: bool, trigger: str, force_due: tuple[str, ...] = ()) -> int:
    ws = open_workspace(root)
    forge = open_forge(ws)
    runs = ws.runs()
    plan = make_plan(ws.fleet, ws.states(runs, forge.view()), runs, ws.now, force_due=force_due)
    click.echo(f"Tick at {plan.now}: {len(plan.picks)} run(s) planned.")
    failed = 0
    for pick in plan.picks:
        outcome = execute(
            ws,
            forge,
            pick.role,
            pick.task or "",
            trigger=trigger,
            client_factory=anthropic_client(ws),
            dry_run=dry_run,
        )
        click.echo(render_outcome(outcome))
        failed += outcome.record.outcome in FAILED
    return 1 if failed else 0
