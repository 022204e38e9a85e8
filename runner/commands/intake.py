"""`fleet intake`: draft a task from the issue event that asks for one (Actions only).

fleet-intake.yml's draft job runs it with a write token and no model key: it reads
the event, checks the sender's access (the one `actions.decide`) and drafts the task PR
(or, on a role with `auto_assign: true`, commits the task to the base branch) or replies
on the issue; it never runs a role (that would be `fleet tick`)."""

from __future__ import annotations

import os
from pathlib import Path

import click

from runner import actions, intake_run, pause
from runner.changes import changed_paths
from runner.forge.select import open_forge
from runner.workspace import open_workspace


def run(root: Path) -> int:
    event = actions.read_event(os.environ)
    if event is None:
        click.echo("no event: fleet intake drafts a task from an issue event in Actions")
        return 0
    ws = open_workspace(root)
    if paused := pause.announce(ws.environ, ws.fleet.config.paused, "fleet intake"):
        click.echo(paused)
        return 0
    forge = open_forge(ws)
    intent = actions.decide(event, ws.fleet, changed_paths(ws, event), forge.trusted)
    if intent.kind != "intake":
        click.echo(f"Event {event.name} {event.action}: nothing to draft ({intent.reason})")
        return 0
    click.echo(intake_run.handle(ws, forge, event, intent))
    return 0
