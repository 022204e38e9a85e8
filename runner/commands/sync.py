"""`fleet sync ROLE`: the delta a role would act on if it ran now."""

from __future__ import annotations

from pathlib import Path

import click

from runner import sync_render
from runner.forge.select import open_forge
from runner.sync_role import role_delta
from runner.workspace import open_workspace


def run(root: Path, *, role: str, since: str | None, fmt: str, cap_tokens: int) -> int:
    ws = open_workspace(root, tasks=False)
    ws.fleet.require_role(role)
    delta = role_delta(ws, open_forge(ws), role, since=since)
    if fmt == "json":
        click.echo(sync_render.to_json(delta))
    else:
        click.echo(
            sync_render.render(delta, markdown=fmt == "markdown", cap_tokens=cap_tokens), nl=False
        )
    return 0
