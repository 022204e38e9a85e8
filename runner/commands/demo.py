"""`fleet demo`: the example fleet in a throwaway repository, offline, no credentials."""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path

import click

from runner import findings, scaffold
from runner.load import load


def run(keep: Path | None) -> int:
    base = keep.resolve() if keep else Path(tempfile.mkdtemp(prefix="fleet-demo-"))
    try:
        return _demo(base / "acme")
    finally:
        if keep is None:
            shutil.rmtree(base, ignore_errors=True)


def _demo(root: Path) -> int:
    files = scaffold.files(example=True, name="acme")
    scaffold.write(root, files)
    click.echo(f"1. Wrote the example fleet to {root} ({len(files)} files).")
    loaded = load(root)
    click.echo(f"2. fleet validate: {findings.summary(loaded.findings, len(loaded.files))}")
    if loaded.errors:
        click.echo(findings.render(loaded.errors, "text"))
        return 1
    fleet = loaded.fleet
    click.echo(
        f"3. Fleet '{fleet.config.name}': {len(fleet.roles)} roles, {len(fleet.tasks)} tasks."
    )
    for role in sorted(fleet.roles.values(), key=lambda r: r.name):
        tasks = [t.id for t in fleet.tasks.values() if t.role == role.name]
        click.echo(
            f"   {role.name:<10} {role.engine:<9} {role.schedule or '-':<14} "
            f"tasks: {', '.join(tasks) or '-'}"
        )
    return 0
