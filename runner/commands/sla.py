"""`fleet sla`: escalate SLA and budget breaches once; close them when work moves on."""

from __future__ import annotations

from pathlib import Path

import click

from runner.bodies import escalation_title
from runner.forge.base import Issue
from runner.forge.select import open_forge
from runner.report.collect import gather
from runner.sla import breaches
from runner.workspace import open_workspace


def run(root: Path, *, dry_run: bool) -> int:
    ws = open_workspace(root)
    forge = open_forge(ws)
    status, parts = gather(ws, forge, ws.now)
    found = breaches(status, ws.fleet, parts["runs"], parts["plan"])
    open_notices = {
        (i.escalation_kind, i.role, i.task): i
        for i in parts["items"]
        if i.kind == "escalation" and i.state == "open" and i.escalation_kind in ("sla", "budget")
    }
    current = {(b.kind, b.role, b.task) for b in found}
    for b in found:
        key = (b.kind, b.role, b.task)
        if key in open_notices:
            click.echo(f"open: {b.summary} ({open_notices[key].id})")
            continue
        if dry_run:
            click.echo(f"would escalate: {b.summary}")
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
        click.echo(f"escalated: {b.summary} ({issue.id})")
    for key, item in sorted(open_notices.items(), key=lambda kv: kv[1].id):
        if key in current:
            continue
        state = status_of(status, item.task)
        note = (
            f"Resolved: {item.task} is now {state}."
            if item.task
            else "Resolved: spending is back within budget."
        )
        if dry_run:
            click.echo(f"would close {item.id}: {note}")
            continue
        forge.close_escalation(
            Issue(item.id, item.url, item.title, item.escalation_kind or "", "open", item.created),
            note,
        )
        click.echo(f"closed {item.id}: {note}")
    if not found and not open_notices:
        click.echo("No SLA or budget breaches.")
    return 0


def status_of(status, task: str | None) -> str:
    for state, rows in status.by_state.items():
        if any(r.id == task for r in rows):
            return state
    return "gone"
