"""`fleet sla`: escalate SLA and budget breaches once; close them when work moves on."""

from __future__ import annotations

from pathlib import Path

import click

from runner import pause
from runner.bodies import escalation_title
from runner.forge.base import Issue
from runner.forge.select import open_forge
from runner.report.collect import gather
from runner.sla import breaches, reconcile
from runner.workspace import open_workspace


def run(root: Path, *, dry_run: bool) -> int:
    ws = open_workspace(root)
    if paused := pause.announce(ws.environ, ws.fleet.config.paused, "fleet sla"):
        click.echo(paused)  # a paused fleet is stuck on purpose: no notices about it
        return 0
    forge = open_forge(ws)
    got = gather(ws, forge, ws.now)
    found = breaches(got.status, ws.fleet, got.runs, got.plan)
    plan = reconcile(found, got.items, got.status)
    for breach, item in plan.still_open:
        click.echo(f"open: {breach.label} ({item.id})")
    for b in plan.to_open:
        if dry_run:
            click.echo(f"would escalate: {b.label}")
            continue
        role = ws.fleet.roles.get(b.role)
        issue = forge.escalate(
            role=b.role,
            task=b.task,
            kind=b.kind,
            title=escalation_title(b.role, b.summary, b.task),
            body=f"{b.detail}\n\nThis closes itself when the task moves on.",
            assignees=role.escalate_to if role else (),
        )
        click.echo(f"escalated: {b.label} ({issue.id})")
    for item, note in plan.to_close:
        if dry_run:
            click.echo(f"would close {item.id}: {note}")
            continue
        forge.close_escalation(
            Issue(item.id, item.url, item.title, item.escalation_kind or "", "open", item.created),
            note,
        )
        click.echo(f"closed {item.id}: {note}")
    if not (found or plan.to_close):
        click.echo("No SLA or budget breaches.")
    return 0
