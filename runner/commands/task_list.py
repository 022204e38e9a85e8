"""`fleet task list`: every task with its derived state and why, filtered."""

from __future__ import annotations

import json
from pathlib import Path

import click

from runner import taskops
from runner.forge.select import open_forge
from runner.workspace import open_workspace


def run(root: Path, *, state: str | None, role: str | None, fmt: str) -> int:
    ws = open_workspace(root)
    if role is not None:
        ws.fleet.require_role(role)
    states = ws.states(ws.runs(), open_forge(ws).view())
    found = taskops.rows(ws.fleet, states, state=state, role=role)
    if fmt == "json":
        click.echo(json.dumps(found, indent=2))
        return 0
    for r in found:
        # a task waiting on its dependencies says so, as `fleet plan` does (it read
        # "open ... not started", the same as a ready one)
        tag = " (ready)" if r["ready"] else " (waiting)" if r["waiting_on"] else ""
        reason = r["reason"]
        if r["waiting_on"]:
            reason = f"waiting on {', '.join(r['waiting_on'])}; {reason}"
        click.echo(f"{r['id']:<10} {r['role']:<12} {r['state'] + tag:<20} {r['title']}")
        click.echo(f"{'':<10} {reason}")
    if state is None and role is None:
        for p in ws.fleet.problems:  # quarantined: never planned until fixed
            where = f"{p.path}:{p.line}"
            click.echo(f"{Path(p.path).stem:<10} {'?':<12} {'invalid':<20} {where}: {p.message}")
    if not found:
        click.echo("No task matches.")
    return 0
