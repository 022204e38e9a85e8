"""`fleet init`: scaffold a fleet repository from the files that ship with the runner."""

from __future__ import annotations

import os
from pathlib import Path

import click

from runner import clock, pinning, scaffold, wiring
from runner.gitrepo import Git


def run(
    directory: Path,
    *,
    example: bool,
    force: bool,
    name: str | None,
    runner_ref: str | None = None,
) -> int:
    if runner_ref and (why := pinning.check_ref(runner_ref)):
        raise click.UsageError(f"--runner-ref: {why}; a branch or tag can move")
    directory = directory.resolve()
    today = scaffold.dated_before(directory) or clock.now(os.environ).date()
    ci_names = wiring.ci_workflow_names(directory)
    files = scaffold.files(
        example=example,
        name=name or directory.name,
        runner_ref=runner_ref,
        today=today,
        ci_workflows=ci_names,
    )
    conflicts = [rel for rel, text in files.items() if _differs(directory / rel, text)]
    if conflicts and not force:
        click.echo(
            f"fleet init: refusing to overwrite {len(conflicts)} existing file(s):", err=True
        )
        for rel in conflicts:
            click.echo(f"  {rel}", err=True)
        click.echo("Re-run with --force to overwrite them.", err=True)
        return 1
    written = scaffold.write(directory, files)
    kind = "example fleet (7 roles, 12 tasks)" if example else "fleet"
    click.echo(
        f"Wrote {kind} to {directory}: {len(written)} file(s) written, "
        f"{len(files) - len(written)} already up to date."
    )
    top = Git(directory).toplevel()
    if top is None or top.resolve() != directory:
        where = "" if top is None else f" (it is inside the repository at {top})"
        click.echo(
            f"The fleet must be the root of its own git repository{where}: "
            f"cd {directory} && git init -b main && git add -A && git commit -m 'fleet'."
        )
    if ci_names:
        click.echo(
            f"fleet-ci.yml revises agent PRs when these workflows fail: {', '.join(ci_names)} "
            "(keep only your CI under its `workflows:`)."
        )
    click.echo("Next: 'fleet validate', then commit and push; see README 'Set up on GitHub'.")
    return 0


def _differs(path: Path, text: str) -> bool:
    return path.exists() and path.read_text("utf-8", errors="replace") != text
