"""`fleet plan`: what each role would run now, and why everything else waits."""

from __future__ import annotations

import json
from pathlib import Path

import click

from runner.plan import Plan, make_plan
from runner.workspace import open_workspace


def run(
    root: Path, *, roles: tuple[str, ...], task: str | None, fmt: str, force_due: tuple[str, ...]
) -> int:
    ws = open_workspace(root)
    runs = ws.runs()
    plan = make_plan(
        ws.fleet, ws.states(runs), runs, ws.now, roles=roles or None, task=task, force_due=force_due
    )
    if fmt == "matrix":
        click.echo(json.dumps(plan.matrix(), separators=(",", ":")))
    elif fmt == "json":
        click.echo(json.dumps(_as_json(plan), indent=2))
    else:
        click.echo(render_text(plan, ws.fleet.tasks))
    return 0


def _as_json(plan: Plan) -> dict:
    return {
        "now": plan.now,
        "picks": [{"role": d.role, "task": d.task, "reason": d.reason} for d in plan.picks],
        "decisions": [d.__dict__ for d in plan.decisions],
        "spent_today_usd": plan.spent_today,
    }


def render_text(plan: Plan, tasks: dict) -> str:
    lines = [f"Plan at {plan.now}: {len(plan.picks)} run(s)"]
    role = None
    for d in plan.decisions:
        if d.role != role:
            role = d.role
            spent = plan.spent_today.get(role, 0.0)
            lines.append(f"\n{role}" + (f"  (spent today: ${spent:.2f})" if spent else ""))
        if d.task is None:
            lines.append(f"  - {d.reason}")
            continue
        title = tasks[d.task].title if d.task in tasks else ""
        mark = "RUN " if d.run else "wait"
        lines.append(f"  {mark} {d.task:<10} {title[:50]}")
        lines.append(f"       {d.reason}")
    return "\n".join(lines)
