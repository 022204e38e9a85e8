"""`fleet run`: one role works one task (the planner's pick, or --task)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click

from runner import actions, pause
from runner.agent import client
from runner.bodies import run_summary
from runner.forge.select import open_forge
from runner.model import Role
from runner.plan import make_plan
from runner.run import RunOutcome, execute
from runner.workspace import Workspace, open_workspace

FAILED = ("error", "model_unavailable")


def anthropic_client(ws: Workspace) -> Any:
    """The SDK client, built at the edge from the environment (never from files)."""

    def build(role: Role) -> Any:
        defaults = ws.fleet.config.defaults
        return client.build(
            ws.environ["ANTHROPIC_API_KEY"],
            ws.environ.get("ANTHROPIC_BASE_URL"),
            max_retries=defaults.max_retries,
            timeouts=client.Timeouts.of(defaults),
            stream=defaults.stream,
        )

    return build


def render_outcome(o: RunOutcome) -> str:
    r = o.record
    if o.dry_run:
        return o.dry_run
    parts = [f"{r.role}/{r.task}: {r.outcome}" + (f" ({r.reason})" if r.reason else "")]
    if o.pr:
        parts.append(
            f"  PR {o.pr.url or o.pr.id}"
            + (" (draft)" if o.pr.draft else "")
            + ("" if o.pr.created_now else " (updated)")
        )
    if o.issue:
        parts.append(
            f"  escalation {o.issue.url or o.issue.id}"
            + ("" if o.issue.created_now else " (repeat noted on the open issue)")
        )
    if r.engine == "anthropic" and r.turns:
        usage = r.usage
        parts.append(
            f"  {r.turns} turns, {usage.get('input_tokens', 0):,} in / "
            f"{usage.get('output_tokens', 0):,} out tokens, "
            f"{usage.get('cache_read_input_tokens', 0):,} from cache, "
            f"${r.cost_usd:.4f}"
        )
    parts.append(f"  run {r.run_id}, {len(o.commits)} commit(s) on {r.links.get('branch', '-')}")
    if r.sandbox.startswith("none"):
        parts.insert(0, f"WARNING: agent commands ran without a sandbox ({r.sandbox})")
    if r.reverted:
        parts.append(f"  reverted (outside writable): {', '.join(r.reverted[:10])}")
    return "\n".join(parts)


def report(ws: Workspace, outcomes: list[RunOutcome], title: str = "fleet runs") -> None:
    """Inside Actions: the job summary, and an annotation per escalation or failure."""
    if not actions.in_actions(ws.environ):
        return
    actions.write_summary(ws.environ, run_summary([o for o in outcomes if not o.dry_run], title))
    for o in outcomes:
        r = o.record
        if r.outcome == "escalated":
            click.echo(actions.annotation("warning", f"{r.role}/{r.task} escalated: {r.reason}"))
        elif r.outcome in FAILED:
            click.echo(actions.annotation("error", f"{r.role}/{r.task} {r.outcome}: {r.reason}"))


def run(root: Path, *, role: str, task: str | None, dry_run: bool, trigger: str) -> int:
    ws = open_workspace(root)
    ws.fleet.require_role(role)
    if task is not None and task not in ws.fleet.tasks:
        raise click.UsageError(f"unknown task '{task}'")
    if task is not None and ws.fleet.tasks[task].role != role:
        raise click.UsageError(f"task {task} belongs to role '{ws.fleet.tasks[task].role}'")
    if paused := pause.announce(ws.environ, ws.fleet.config.paused, "fleet run"):
        click.echo(paused)
        return 0
    forge = open_forge(ws)
    runs = ws.runs()
    plan = make_plan(
        ws.fleet,
        ws.states(runs, forge.view()),
        runs,
        ws.now,
        roles=[role],
        task=task,
        force_due=[role],
    )
    if not plan.picks:  # deciding not to run is not a failure: say why
        for d in plan.decisions:
            click.echo(f"nothing to run: {d.role}/{d.task or '-'}: {d.reason}")
        return 0
    pick = plan.picks[0]
    outcome = execute(
        ws,
        forge,
        role,
        pick.task or "",
        trigger=trigger,
        client_factory=anthropic_client(ws),
        dry_run=dry_run,
    )
    click.echo(render_outcome(outcome))
    return 1 if outcome.record.outcome in FAILED else 0
