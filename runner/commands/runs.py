"""`fleet runs list|show|pages`: the runs on the ledger and what each one did."""

from __future__ import annotations

import json
from pathlib import Path

import click

from runner import runs
from runner.errors import UsageError
from runner.report import transcript_html, transcript_text
from runner.scaffold import write_atomic
from runner.workspace import open_workspace


def list_runs(
    root: Path,
    *,
    role: str | None,
    task: str | None,
    outcome: str | None,
    limit: int,
    fmt: str,
) -> int:
    ws = open_workspace(root)
    chosen = runs.select(ws.ledger.runs(), role=role, task=task, outcome=outcome, limit=limit)
    if fmt == "json":
        click.echo(json.dumps([runs.row(r) for r in chosen], indent=2))
    else:
        click.echo(transcript_text.listing(chosen))
    return 0


def show(root: Path, *, run_id: str, fmt: str, output: Path | None, full: bool) -> int:
    _check_output(output)
    ws = open_workspace(root)
    record = runs.find(ws.ledger.runs(runs.day_of(run_id)), run_id)
    data = runs.transcript(ws.ledger.store, record)
    if fmt == "json":
        text = json.dumps({"run": record.to_dict(), "transcript": data}, indent=2)
    elif fmt == "html":
        text = transcript_html.render(record, data)
    else:
        text = transcript_text.render(record, data, full=full)
    if output is not None:
        write_atomic(output, text if text.endswith("\n") else text + "\n")
        click.echo(f"Wrote {output} ({fmt}).")
    else:
        click.echo(text, nl=not text.endswith("\n"))
    return 0


def pages(root: Path, *, directory: Path, limit: int) -> int:
    """One HTML page per recent run with a transcript, named <run_id>.html, beside the
    dashboard (the status workflow publishes them with it)."""
    if not directory.is_dir():
        raise UsageError(
            f"{directory} does not exist; create it first (mkdir -p {directory})",
        )
    ws = open_workspace(root)
    chosen = runs.select(ws.ledger.runs(), limit=limit)
    chosen = [r for r in chosen if r.transcript.get("path")]
    for record in chosen:
        page = transcript_html.render(record, runs.transcript(ws.ledger.store, record))
        write_atomic(directory / f"{record.run_id}.html", page)
    click.echo(f"Wrote {len(chosen)} transcript page(s) to {directory}.")
    return 0


def _check_output(output: Path | None) -> None:
    if output is not None and not output.parent.is_dir():  # a typo must not build a tree
        raise UsageError(
            f"-o {output}: the directory {output.parent} does not exist; create it first "
            f"(mkdir -p {output.parent})"
        )
