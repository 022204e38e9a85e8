"""Task files: the next free id and the YAML text of a new task, and which task files
are too broken to act on."""

from __future__ import annotations

import dataclasses
import json
import re
from collections.abc import Container, Mapping
from typing import Any

import yaml

from runner import checks, schema
from runner.model import Finding, Fleet, Role
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
    steps: tuple[str, ...] = (),
    issue: int | None = None,
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
    if issue:
        data["issue"] = issue
    if depends_on:
        data["depends_on"] = list(depends_on)
    if description:
        data["description"] = description
    if steps:
        data["steps"] = list(steps)
    data["acceptance"] = [{"check": c} for c in checks] + [{"review": r} for r in reviews]
    body = yaml.safe_dump(data, sort_keys=False, allow_unicode=True, width=88)
    return "# yaml-language-server: $schema=../schemas/task.schema.json\n" + body


def prepare(
    task_id: str, *, roles: Mapping[str, Role], known: Container[str], **fields: Any
) -> tuple[str, str, list[Finding]]:
    """The repository path, the YAML text and the errors `fleet validate` would report for
    a new task file joining a fleet with `roles` and task ids `known` (`fields` as for
    `build`); nothing is written. A writer that writes despite errors breaks the fleet."""
    rel = f"tasks/{task_id}.yaml"
    text = build(task_id=task_id, **fields)
    doc = parse(text)
    problems = schema.validate(doc, "task", rel)
    if not problems:
        problems = checks.new_task(rel, doc, roles, known)
    return rel, text, [p for p in problems if p.severity == "error"]


def mark_done(text: str, result: str, new_status: str = "done") -> str:
    """The task file with `status: done` (or `new_status`) and a one-line `result:`,
    comments kept."""
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
        out[status] = f"status: {new_status}"
    else:
        role = next((i for i, line in enumerate(out) if re.match(r"^role\s*:", line)), len(out) - 1)
        out.insert(role + 1, f"status: {new_status}")
    while out and not out[-1].strip():
        out.pop()
    out.append(f"result: {json.dumps(' '.join(result.split())[:500], ensure_ascii=False)}")
    return "\n".join(out) + "\n"


def is_task_file(path: str) -> bool:
    return path.startswith("tasks/")


def quarantine(fleet: Fleet, findings: list[Finding]) -> Fleet:
    """The fleet without the tasks whose files have errors; those errors become its
    `problems`. One bad task file (an agent's proposal merged in a hurry) must not stop
    planning, status and SLAs for everyone else, and must never be scheduled."""
    problems = [f for f in findings if f.severity == "error" and is_task_file(f.path)]
    bad = {f.path for f in problems}
    tasks = {tid: t for tid, t in fleet.tasks.items() if t.path not in bad}
    return dataclasses.replace(fleet, tasks=tasks, problems=sorted(problems))
