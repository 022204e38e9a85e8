"""`fleet validate`: schema and semantic checks, as text, JSON or GitHub annotations."""

from __future__ import annotations

import os
from pathlib import Path

import click

from runner import findings as render
from runner import pinning, wiring
from runner.load import load


def run(root: Path, paths: tuple[str, ...], fmt: str, cwd: Path) -> int:
    loaded = load(root)
    selected = [_relative(root, cwd, p) for p in paths]
    mention = loaded.fleet.config.forge.mention if loaded.fleet else None
    every = [*loaded.findings, *pinning.check_workflows(root), *wiring.check(root, mention)]
    shown = [f for f in every if not selected or _within(f.path, selected)]
    output = render.render(shown, fmt)
    if output:
        click.echo(output)
    if fmt == "text":
        click.echo(render.summary(shown, len(loaded.files)), err=True)
    return 1 if any(f.severity == "error" for f in shown) else 0


def _within(path: str, selected: list[str]) -> bool:
    return any(s == "." or path == s or path.startswith(s + "/") for s in selected)


def _relative(root: Path, cwd: Path, given: str) -> str:
    path = Path(os.path.abspath(cwd.resolve() / given))  # noqa: PTH100 - lexical, keeps symlinks
    if not os.path.lexists(path):
        raise click.UsageError(f"no such file or directory: {given}")
    if not path.is_relative_to(root):
        raise click.UsageError(f"{given} is outside the fleet repository at {root}")
    return path.relative_to(root).as_posix()
