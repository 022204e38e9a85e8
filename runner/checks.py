"""Semantic checks: what a schema cannot see because it spans fields or files."""

from __future__ import annotations

from collections.abc import Container, Iterator, Mapping
from pathlib import PurePosixPath
from typing import Any

from runner import cron, engines, mcp_config
from runner.engines.base import Problem
from runner.model import Finding, Fleet, Role, Severity, Task
from runner.yamlfile import Document, pointer


def run(fleet: Fleet, docs: dict[str, Document]) -> list[Finding]:
    at = _Locator(docs)
    return [
        *_roles(fleet, at),
        *_task_ids(docs, at),
        *_task_refs(fleet, at),
        *_cycles(fleet, at),
        *_budgets(fleet, at),
        *_mcp(fleet, at),
    ]


class _Locator:
    """Builds findings that point at the line of a field in a loaded file."""

    def __init__(self, docs: dict[str, Document]) -> None:
        self.docs = docs

    def __call__(
        self,
        path: str,
        field: tuple[Any, ...],
        message: str,
        code: str,
        severity: Severity = "error",
    ) -> Finding:
        doc = self.docs.get(path)
        line, col = doc.position(field) if doc else (1, 1)
        return Finding(path, line, col, severity, message, pointer(field), code)


def _roles(fleet: Fleet, at: _Locator) -> Iterator[Finding]:
    for role in fleet.roles.values():
        stem = PurePosixPath(role.path).stem
        if role.name != stem:
            yield at(
                role.path,
                ("name",),
                f"role name '{role.name}' does not match the file name '{stem}'; "
                f"rename the file to {role.name}.yaml or the role to '{stem}'",
                "name-mismatch",
            )
        if role.directives not in fleet.directives:
            yield at(
                role.path,
                ("directives",) if "directives" in at.docs[role.path].data else ("name",),
                f"directives file {role.directives} is missing; create it with the role's "
                "standing instructions",
                "missing-directives",
            )
        if role.schedule:
            try:
                cron.parse(role.schedule)
            except ValueError as exc:
                yield at(role.path, ("schedule",), f"schedule: {exc}", "bad-schedule")
        problems = engines.get(role.engine).check_role(role, fleet.config)
        yield from _located(at, role.path, ("engine",), problems)


def _mcp(fleet: Fleet, at: _Locator) -> Iterator[Finding]:
    """`mcp_servers` and `mcp_tools` entries a schema cannot judge (runner.mcp_config)."""
    for role in fleet.roles.values():
        for p in mcp_config.problems(role):
            yield at(role.path, p.field, p.message, p.code, p.severity)


def _task_ids(docs: dict[str, Document], at: _Locator) -> Iterator[Finding]:
    seen: dict[str, str] = {}
    for path, doc in docs.items():
        if not path.startswith("tasks/") or not isinstance(doc.data, dict):
            continue
        task_id = doc.data.get("id")
        if not isinstance(task_id, str):
            continue
        stem = PurePosixPath(path).stem
        if task_id != stem:
            yield at(
                path,
                ("id",),
                f"task id '{task_id}' does not match the file name '{stem}'; "
                "the id names the file so each task has exactly one place",
                "id-mismatch",
            )
        if task_id in seen:
            yield at(
                path,
                ("id",),
                f"duplicate task id '{task_id}' (also in {seen[task_id]}); give one a new id",
                "duplicate-id",
            )
        else:
            seen[task_id] = path


def new_task(
    rel: str, doc: Document, roles: Mapping[str, Role], known: Container[str]
) -> list[Finding]:
    """What `fleet validate` would say about one new, schema-valid task file joining a
    fleet with `roles` and the task ids `known`, so no writer creates a file that fails."""
    task = Task.from_dict(doc.data, rel)
    return list(_task_ref(task, roles, known, _Locator({rel: doc})))


def _task_refs(fleet: Fleet, at: _Locator) -> Iterator[Finding]:
    for task in fleet.tasks.values():
        yield from _task_ref(task, fleet.roles, fleet.tasks, at)


def _located(
    at: _Locator, path: str, fallback: tuple[Any, ...], problems: list[Problem]
) -> Iterator[Finding]:
    """An engine's problems at the line of their field, or of `fallback` when the file
    does not spell that field out (a default applies)."""
    doc = at.docs.get(path)
    for p in problems:
        present = doc is not None and isinstance(doc.data, dict) and p.field[0] in doc.data
        yield at(path, p.field if present else fallback, p.message, p.code, p.level)


def _task_ref(
    task: Task, roles: Mapping[str, Role], known: Container[str], at: _Locator
) -> Iterator[Finding]:
    role = roles.get(task.role)
    if role is None:
        names = ", ".join(sorted(roles)) or "none defined"
        yield at(
            task.path,
            ("role",),
            f"unknown role '{task.role}' (roles: {names})",
            "unknown-role",
        )
    else:
        problems = engines.get(role.engine).check_task(role, task)
        yield from _located(at, task.path, ("role",), problems)
    for i, dep in enumerate(task.depends_on):
        if dep == task.id:
            yield at(task.path, ("depends_on", i), "a task cannot depend on itself", "cycle")
        elif dep not in known:
            yield at(
                task.path,
                ("depends_on", i),
                f"depends_on names unknown task '{dep}'",
                "unknown-dependency",
            )
    if task.parent and task.parent not in known:
        yield at(
            task.path,
            ("parent",),
            f"parent names unknown task '{task.parent}'",
            "unknown-parent",
            "warning",
        )


def _cycles(fleet: Fleet, at: _Locator) -> Iterator[Finding]:
    """Each dependency cycle once, reported on its first task in id order."""
    tasks = fleet.tasks
    state: dict[str, int] = {}  # 1 = on the stack, 2 = finished
    for start in sorted(tasks):
        if state.get(start):
            continue
        stack: list[tuple[str, Iterator[str]]] = [(start, iter(tasks[start].depends_on))]
        state[start] = 1
        while stack:
            node, deps = stack[-1]
            dep = next(deps, None)
            if dep is None:
                state[node] = 2
                stack.pop()
            elif dep in tasks and dep != node and state.get(dep) == 1:
                names = [n for n, _ in stack]
                cycle = [*names[names.index(dep) :], dep]
                first = min(cycle[:-1])
                task = tasks[first]
                index = task.depends_on.index(cycle[cycle.index(first) + 1])
                rotated = cycle[cycle.index(first) : -1] + cycle[: cycle.index(first) + 1]
                yield at(
                    task.path,
                    ("depends_on", index),
                    "dependency cycle: " + " -> ".join(rotated) + "; none of these can start",
                    "cycle",
                )
            elif dep in tasks and not state.get(dep):
                state[dep] = 1
                stack.append((dep, iter(tasks[dep].depends_on)))


def _budgets(fleet: Fleet, at: _Locator) -> Iterator[Finding]:
    fleet_daily = fleet.config.daily_budget_usd
    for role in fleet.roles.values():
        if fleet_daily is not None and role.daily_budget_usd > fleet_daily:
            yield at(
                role.path,
                ("budget", "daily_usd"),
                f"role daily budget ${role.daily_budget_usd:g} is above the fleet's daily "
                f"budget ${fleet_daily:g}",
                "budget",
            )
        if role.run_budget_usd > role.daily_budget_usd:
            yield at(
                role.path,
                ("budget", "run_usd"),
                f"run budget ${role.run_budget_usd:g} is above the role's daily budget "
                f"${role.daily_budget_usd:g}; no run could be afforded in full",
                "budget",
            )
    for task in fleet.tasks.values():
        owner = fleet.roles.get(task.role)
        if task.run_budget_usd is None or owner is None:
            continue
        limit, whose = owner.daily_budget_usd, f"role '{owner.name}' daily budget"
        if fleet_daily is not None and fleet_daily < limit:
            limit, whose = fleet_daily, "fleet's daily budget"
        if task.run_budget_usd > limit:
            yield at(
                task.path,
                ("budget", "run_usd"),
                f"task run budget ${task.run_budget_usd:g} is above the {whose} ${limit:g}",
                "budget",
            )
