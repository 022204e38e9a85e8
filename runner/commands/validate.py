"""`fleet validate`: schema and semantic checks, as text, JSON or GitHub annotations."""

from __future__ import annotations

from pathlib import Path

import click

from runner import findings as render
from runner.load import load


def run(root: Path, paths: tuple[str, ...], fmt: str) -> int:
    loaded = load(root)
    selected = [_relative(root, p) for p in paths]
    shown = [
        f
        for f in loaded.findings
        if not selected or any(f.path == s or f.path.startswith(s.rstrip("/") + "/") or s == "."
                               for s in selected)
    ]
    output = render.render(shown, fmt)
    if output:
        click.echo(output)
    if fmt == "text":
        files = len(loaded.docs) + len(loaded.fleet.directives)
        click.echo(render.summary(shown, files), err=True)
    return 1 if any(f.severity == "error" for f in shown) else 0


def _relative(root: Path, given: str) -> str:
    path = Path(given).resolve()
    if not path.exists():
        raise click.UsageError(f"no such file or directory: {given}")
    if not path.is_relative_to(root):
        raise click.UsageError(f"{given} is outside the fleet repository at {root}")
    rel = path.relative_to(root).as_posix()
    return rel
