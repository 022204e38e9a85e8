"""Writing task files: the next free id and the YAML text of a new task."""

from __future__ import annotations

import json
import re
from typing import Any

import yaml

from runner import schema
from runner.model import Finding
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
    created: str,
    description: str = "",
    priority: str | None = None,
    depends_on: tuple[str, ...] = (),
    created_by: str | None = None,
    parent: str | None = None,
) -> str:
    """The YAML text of a task file (the caller validates it); `created` is today on the
    caller's clock (never the wall clock here: FLEET_NOW must hold)."""
    data: dict = {"id": task_id, "title": title, "role": role}
    if priority:
        data["priority"] = priority
    data["created"] = created
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


def prepare(task_id: str, **fields: Any) -> tuple[str, str, list[Finding]]:
    """The repository path, the YAML text and the schema findings of a new task file
    (`fields` as for `build`); nothing is written."""
    rel = f"tasks/{task_id}.yaml"
    text = build(task_id=task_id, **fields)
    return rel, text, schema.validate(parse(text), "task", rel)


def mark_done(text: str, result: str) -> str:
    """The task file with `status: done` and a one-line `result:`, comments kept."""
    lines = text.splitlines()
    out: list[str] = []
    skipping = False
    for line in lines:
        if skipping and (line.startswith((" ", "\t")) or not line.strip()):
            continue
        skipping = False
        if re.match(r"^result\s*:", line):
            skipping = True
            continue
        out.append(line)
    status = next((i for i, line in enumerate(out) if re.match(r"^status\s*:", line)), None)
    if status is not None:
        out[status] = "status: done"
    else:
        role = next((i for i, line in enumerate(out) if re.match(r"^role\s*:", line)), len(out) - 1)
        out.insert(role + 1, "status: done")
    while out and not out[-1].strip():
        out.pop()
    out.append(f"result: {json.dumps(' '.join(result.split())[:500], ensure_ascii=False)}")
    return "\n".join(out) + "\n"
