"""`fleet task show ID`: one task's state and reason, runs and cost, PR, escalations,
and the delta its last run acted on."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import click

from runner import taskops
from runner.forge.select import open_forge
from runner.workspace import open_workspace


def run(root: Path, *, task_id: str, fmt: str) -> int:
    ws = open_workspace(root)
    task = taskops.require_task(ws.fleet, task_id)
    runs = ws.ledger.runs()  # every run of the task: the full ledger (a rare, human command)
    view = open_forge(ws).view()
    states = ws.states(runs, view)
    info = taskops.summarise(task, states[task.id], runs, view)
    click.echo(json.dumps(info, indent=2) if fmt == "json" else render(info))
    return 0


def render(info: dict[str, Any]) -> str:
    ready = ", ready" if info["ready"] else ""
    lines = [
        f"{info['id']}: {info['title']}",
        f"  role {info['role']}, priority {info['priority']}, task file status {info['status']}",
        f"  state: {info['state']}{ready} (since {info['since'] or '-'}): {info['reason']}",
    ]
    if info["waiting_on"]:
        lines.append(f"  waiting on: {', '.join(info['waiting_on'])}")
    if info["pr"]:
        pr = info["pr"]
        lines.append(f"  PR {pr['url'] or pr['id']}" + (" (draft)" if pr["draft"] else ""))
    for e in info["escalations"]:
        lines.append(f"  escalation {e['url'] or e['id']} ({e['kind']}): {e['title']}")
    lines.append(f"  runs: {len(info['runs'])}, cost ${info['cost_usd']:.4f}")
    for r in info["runs"]:
        why = f": {r['reason']}" if r["reason"] else ""
        lines.append(
            f"    {r['run_id']}  {r['outcome']}{why}  ({r['turns']} turns, ${r['cost_usd']:.4f})"
        )
    if info["last_delta"]:
        lines.append(f"  last delta: {info['last_delta']}")
    return "\n".join(lines)
