"""`fleet status`: the ten-minute morning check as text, markdown, JSON or an HTML page."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import click

from runner import actions, pause
from runner.forge.select import open_forge
from runner.report import html, render
from runner.report.collect import gather, parse_since, record_snapshot
from runner.scaffold import write_atomic
from runner.workspace import open_workspace


def run(root: Path, *, fmt: str, since: str, output: Path | None, record: bool) -> int:
    if output is not None and not output.parent.is_dir():  # a typo must not build a tree
        raise click.UsageError(
            f"-o {output}: the directory {output.parent} does not exist; create it first "
            f"(mkdir -p {output.parent})"
        )
    ws = open_workspace(root)
    forge = open_forge(ws)
    try:
        start = parse_since(since, ws.now)
    except ValueError as exc:
        raise click.UsageError(str(exc)) from None
    got = gather(ws, forge, start)
    status = got.status
    status.paused = pause.reason(ws.environ, ws.fleet.config.paused)
    if fmt == "json":
        text = json.dumps(status.to_dict(), indent=2)
    elif fmt == "html":
        text = html.render(status)
    else:
        colour = fmt == "text" and output is None and sys.stdout.isatty()
        text = render.render(status, markdown=fmt == "markdown", colour=colour)
    if output is not None:
        write_atomic(output, text if text.endswith("\n") else text + "\n")
        click.echo(f"Wrote {output} ({fmt}).")
    else:
        click.echo(text, nl=not text.endswith("\n"))
    if fmt == "markdown" and actions.in_actions(ws.environ):
        actions.write_summary(ws.environ, text)
    if record:
        record_snapshot(ws, got.states)
    return 0
