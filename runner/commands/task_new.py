"""`fleet task new`: write a valid task file with the next free id."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from pathlib import Path

import click
import yaml

from runner import scaffold, schema
from runner.load import TASKS_DIR, load
from runner.yamlfile import parse

_NUMBERED = re.compile(r"^t-(\d+)$")


def next_id(existing: list[str]) -> str:
    numbers = [int(m.group(1)) for i in existing if (m := _NUMBERED.match(i))]
    return f"t-{max(numbers, default=0) + 1:03d}"


def build(
    *,
    task_id: str,
    role: str,
    title: str,
    checks: tuple[str, ...],
    reviews: tuple[str, ...],
    description: str = "",
    priority: str | None = None,
    depends_on: tuple[str, ...] = (),
    created_by: str | None = None,
    created: str | None = None,
    parent: str | None = None,
) -> str:
    """The YAML text of a task file (the caller validates it)."""
    data: dict = {"id": task_id, "title": title, "role": role}
    if priority:
        data["priority"] = priority
    data["created"] = created or datetime.now(UTC).strftime("%Y-%m-%d")
    if created_by:
        data["created_by"] = created_by
    if parent:
        data["parent"] = parent
    if depends_on:
        data["depends_on"] = list(depends_on)
    if description:
        data["description"] = description
    data["acceptance"] = [{"check": c} for c in checks] + [{"review": r} for r in reviews]
    body = yaml.safe_dump(data, sort_keys=False, allow_unicode=True, width=88)
    return "# yaml-language-server: $schema=../schemas/task.schema.json\n" + body


def run(
    root: Path,
    *,
    task_id: str | None,
    checks: tuple[str, ...],
    reviews: tuple[str, ...],
    **fields: object,
) -> int:
    if not checks and not reviews:
        raise click.UsageError(
            "a task needs acceptance criteria: add --check CMD (a command that must exit 0) "
            "and/or --review TEXT (an item the reviewer checks)"
        )
    loaded = load(root)
    fleet = loaded.fleet
    task_id = task_id or next_id(list(fleet.tasks))
    rel = f"{TASKS_DIR}/{task_id}.yaml"
    if task_id in fleet.tasks or (root / rel).exists():
        raise click.UsageError(f"task {task_id} already exists ({rel})")
    text = build(task_id=task_id, checks=checks, reviews=reviews, **fields)  # type: ignore[arg-type]
    doc = parse(text)
    problems = schema.validate(doc, "task", rel)
    role = fields.get("role")
    if role not in fleet.roles:
        known = ", ".join(sorted(fleet.roles)) or "none"
        raise click.UsageError(f"unknown role '{role}' (roles: {known})")
    missing = [d for d in fields.get("depends_on", ()) if d not in fleet.tasks]  # type: ignore[union-attr]
    if missing:
        raise click.UsageError(f"--depends-on names unknown task(s): {', '.join(missing)}")
    if problems:
        for p in problems:
            click.echo(f"fleet task new: {p.message}", err=True)
        return 2
    scaffold.write_atomic(root / rel, text)
    click.echo(f"Wrote {rel}. Open a pull request with it to assign the task to {role}.")
    return 0
