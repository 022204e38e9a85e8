"""`fleet task new`: write a valid task file with the next free id."""

from __future__ import annotations

import os
from pathlib import Path

import click

from runner import clock, scaffold
from runner.load import load
from runner.tasks import next_id, prepare


def run(
    root: Path,
    *,
    task_id: str | None,
    role: str,
    title: str,
    checks: tuple[str, ...],
    reviews: tuple[str, ...],
    description: str = "",
    priority: str | None = None,
    depends_on: tuple[str, ...] = (),
    steps: tuple[str, ...] = (),
) -> int:
    if not checks and not reviews:
        raise click.UsageError(
            "a task needs acceptance criteria: add --check CMD (a command that must exit 0) "
            "and/or --review TEXT (an item the reviewer checks)"
        )
    fleet = load(root).fleet
    fleet.require_role(role)
    missing = [d for d in depends_on if d not in fleet.tasks]
    if missing:
        raise click.UsageError(f"--depends-on names unknown task(s): {', '.join(missing)}")
    task_id = task_id or next_id(list(fleet.tasks))
    try:
        today = clock.now(os.environ).strftime("%Y-%m-%d")
    except ValueError as exc:
        raise click.UsageError(f"FLEET_NOW is not an ISO 8601 time: {exc}") from None
    rel, text, problems = prepare(
        task_id,
        roles=fleet.roles,
        known=fleet.tasks,
        role=role,
        title=title,
        checks=checks,
        reviews=reviews,
        description=description,
        priority=priority,
        depends_on=depends_on,
        created=today,
        steps=steps,
    )
    if task_id in fleet.tasks or (root / rel).exists():
        raise click.UsageError(f"task {task_id} already exists ({rel})")
    if problems:
        for p in problems:
            hint = " (add --step CMD)" if p.code == "engine-mismatch" else ""
            click.echo(f"fleet task new: {p.message}{hint}", err=True)
        return 2
    scaffold.write_atomic(root / rel, text)
    click.echo(f"Wrote {rel}. Open a pull request with it to assign the task to {role}.")
    return 0
