"""`fleet sync ROLE`: the delta a role would act on if it ran now."""

from __future__ import annotations

from pathlib import Path

import click

from runner import sync, sync_render
from runner.forge.select import open_forge
from runner.workspace import open_workspace


def run(root: Path, *, role: str, since: str | None, fmt: str, cap_tokens: int) -> int:
    ws = open_workspace(root, tasks=False)
    ws.fleet.require_role(role)
    checkpoint = ws.ledger.checkpoint(role)
    events = open_forge(ws).events_since(role, checkpoint.events_since if checkpoint else None)
    delta = sync.compute(
        ws.git,
        ws.fleet,
        role,
        ws.head_ref(),
        checkpoint=checkpoint,
        since=since,
        runs=ws.runs(),
        events=events,
        remote=ws.remote,
    )
    if fmt == "json":
        click.echo(sync_render.to_json(delta))
    else:
        click.echo(
            sync_render.render(delta, markdown=fmt == "markdown", cap_tokens=cap_tokens), nl=False
        )
    return 0
