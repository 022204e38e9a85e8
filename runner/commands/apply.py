"""`fleet claim` and `fleet apply`: the privileged steps around a two-phase run.

`claim` records a run as started (its id, role and task) before any agent code runs;
`apply DIR` reviews an agent phase's outputs directory and publishes what passes. Neither
runs a model or anything the agent wrote."""

from __future__ import annotations

import json
from pathlib import Path

import click

from runner import actions, pause
from runner.bodies import transcript_line
from runner.errors import FleetError, UsageError
from runner.forge.select import open_forge
from runner.publish import Applied, apply_outputs, claim
from runner.workspace import open_workspace


def run_claim(root: Path, *, role: str, task: str, trigger: str) -> int:
    ws = open_workspace(root)
    ws.fleet.require_role(role)
    if paused := pause.announce(ws.environ, ws.fleet.config.paused, "fleet claim"):
        click.echo(paused)
        return 0
    record = claim(ws, role, task, trigger)
    actions.set_outputs(ws.environ, {"run_id": record.run_id})
    click.echo(record.run_id)
    return 0


def run_claim_matrix(root: Path, *, matrix: str, trigger: str, dry_run: bool = False) -> int:
    """Claim every pick of a plan matrix (the tick workflow's claim job): the agent and
    apply jobs get each run's id from the claimed matrix."""
    try:
        data = json.loads(matrix)
        picks = data["include"] if isinstance(data, dict) else None
        ok = isinstance(picks, list) and all(
            isinstance(p, dict)
            and isinstance(p.get("role"), str)
            and isinstance(p.get("task"), str)
            for p in picks
        )
    except (ValueError, KeyError):
        ok, picks = False, None
    if not ok or picks is None:
        raise UsageError(
            "--matrix is not a plan matrix", hint="pass 'fleet plan --format matrix' output"
        )
    ws = open_workspace(root)
    if paused := pause.announce(ws.environ, ws.fleet.config.paused, "fleet claim"):
        click.echo(paused)
        picks = []
    claimed: list[dict[str, str]] = []
    for pick in picks:
        try:
            run_id = "" if dry_run else claim(ws, pick["role"], pick["task"], trigger).run_id
        except FleetError as exc:  # held by a live run since the plan: the others still go
            click.echo(actions.annotation("warning", f"{pick['role']}/{pick['task']}: {exc}"))
            continue
        claimed.append({"role": pick["role"], "task": pick["task"], "run_id": run_id})
        click.echo(
            f"{pick['role']}/{pick['task']}: "
            + (f"claimed run {run_id}" if run_id else "dry run, not claimed")
        )
    out = json.dumps({"include": claimed}, separators=(",", ":"))
    actions.set_outputs(ws.environ, {"matrix": out, "count": str(len(claimed))})
    return 0


def render(applied: Applied) -> str:
    r = applied.record
    if applied.already:
        return f"run {r.run_id} was applied before ({r.outcome}); nothing to do"
    lines = [f"{r.role}/{r.task}: {r.outcome}" + (f" ({r.reason})" if r.reason else "")]
    if applied.pushed:
        lines.append(f"  pushed {r.links.get('branch')} at {r.links.get('commit', '')[:12]}")
    if applied.pr:
        lines.append(
            f"  PR {applied.pr.url or applied.pr.id}" + (" (draft)" if applied.pr.draft else "")
        )
    lines += [f"  escalation {i.url or i.id}" for i in applied.issues]
    if applied.security is not None and applied.review is not None:
        lines.append(f"  SECURITY escalation {applied.security.url or applied.security.id}:")
        lines += [f"    {x}" for x in applied.review.refusals + applied.review.notes]
        lines += [f"    blocked: {k}" for k in sorted(applied.review.blocked)]
    if r.transcript.get("path"):
        lines.append(f"  transcript: fleet runs show {r.run_id} ({r.transcript['path']})")
    return "\n".join(lines)


def run(root: Path, *, directory: Path, run_id: str | None) -> int:
    ws = open_workspace(root)
    if paused := pause.announce(ws.environ, ws.fleet.config.paused, "fleet apply"):
        click.echo(paused)  # the outputs stay where they are; apply them once resumed
        return 0
    applied = apply_outputs(ws, open_forge(ws), directory, run_id)
    text = render(applied)
    click.echo(text)
    if actions.in_actions(ws.environ) and not applied.already:
        r = applied.record  # ids and the outcome only: the reason may carry agent text
        summary = ["### fleet apply", "", f"{r.role}/{r.task}: run `{r.run_id}` {r.outcome}"]
        if r.transcript.get("path"):
            summary += ["", transcript_line(r.run_id)]
        actions.write_summary(ws.environ, "\n".join(summary))
    if applied.security is not None:
        click.echo(
            actions.annotation("error", f"run {applied.record.run_id}: apply refused outputs")
        )
    return 1 if applied.security is not None or applied.record.outcome == "error" else 0
