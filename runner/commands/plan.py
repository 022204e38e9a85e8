"""`fleet plan`: what each role would run now, and why everything else waits.

Inside Actions, with no --role or --task, the event decides which roles are forced due
(a push that touched their tasks, an answered escalation, a dispatch), and the matrix
is also written to the step outputs `matrix`, `count` and `max_parallel`."""

from __future__ import annotations

import json
from collections.abc import Iterable
from pathlib import Path

import click

from runner import actions, pause
from runner.changes import changed_paths
from runner.findings import quarantined
from runner.fmt import clip, usd
from runner.forge.select import open_forge
from runner.model import Finding
from runner.plan import Decision, Plan, make_plan
from runner.workspace import open_workspace


def run(
    root: Path, *, roles: tuple[str, ...], task: str | None, fmt: str, force_due: tuple[str, ...]
) -> int:
    ws = open_workspace(root)
    for name in roles:
        ws.fleet.require_role(name)
    forge = open_forge(ws)
    runs = ws.runs()
    event = actions.read_event(ws.environ) if not roles and not task else None
    only_roles: list[str] | None = list(roles) or None
    skip = None
    intake = False  # a task asked for on an issue: the workflow's intake job drafts it
    if event is not None:
        intent = actions.decide(event, ws.fleet, changed_paths(ws, event), forge.trusted)
        if intent.kind != "tick":
            skip = intent.reason
        intake = intent.kind == "intake"
        force_due += intent.force_due
        task = task or intent.task
        only_roles = [intent.role] if intent.role else only_roles
    plan = make_plan(
        ws.fleet,
        ws.states(runs, forge.view()),
        runs,
        ws.now,
        roles=only_roles,
        task=task,
        force_due=force_due,
    )
    paused = pause.reason(ws.environ, ws.fleet.config.paused)
    if paused:  # nothing is scheduled; the reason is the plan
        skip = f"paused: {paused}; nothing is scheduled"
    if skip:
        plan.decisions = [Decision("-", None, False, skip)]
    matrix = json.dumps(plan.matrix(), separators=(",", ":"))
    actions.set_outputs(
        ws.environ,
        {
            "matrix": matrix,
            "count": str(len(plan.picks)),
            "max_parallel": str(ws.fleet.config.max_parallel),
            "intake": "1" if intake and not paused else "0",
        },
    )
    if fmt == "matrix":
        if skip:  # the log says why nothing runs (an outsider's request, a pause, ...)
            click.echo(skip, err=True)
        click.echo(matrix)
    elif fmt == "json":
        click.echo(json.dumps(_as_json(plan, ws.fleet.problems), indent=2))
    else:
        click.echo(render_text(plan, ws.fleet.tasks, ws.fleet.problems))
    return 0


def _as_json(plan: Plan, problems: list[Finding]) -> dict:
    return {
        "now": plan.now,
        "picks": [{"role": d.role, "task": d.task, "reason": d.reason} for d in plan.picks],
        "decisions": [d.__dict__ for d in plan.decisions],
        "spent_today_usd": plan.spent_today,
        "problems": [p.to_dict() for p in problems],
    }


def render_text(plan: Plan, tasks: dict, problems: Iterable[Finding] = ()) -> str:
    lines = [f"Plan at {plan.now}: {len(plan.picks)} run(s)"]
    role = None
    for d in plan.decisions:
        if d.role != role:
            role = d.role
            spent = plan.spent_today.get(role, 0.0)
            lines.append(f"\n{role}" + (f"  (spent today: {usd(spent)})" if spent else ""))
        if d.task is None:
            lines.append(f"  - {d.reason}")
            continue
        title = tasks[d.task].title if d.task in tasks else ""
        mark = "RUN " if d.run else "wait"
        lines.append(f"  {mark} {d.task:<10} {clip(title, 50)}")
        lines.append(f"       {d.reason}")
    if problems:
        lines.append("\n" + quarantined(problems))
    return "\n".join(lines)
