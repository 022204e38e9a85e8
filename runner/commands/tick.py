"""`fleet tick`: plan, then run every pick in turn. Inside Actions with no arguments it
does what the event asks: a scheduled tick, the roles a push concerns, an answered
escalation's role, a manual dispatch, a revision, or a PR's validation and plan comment."""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

import click

from runner import actions, pause, stops
from runner.changes import changed_paths
from runner.findings import quarantined
from runner.forge.base import Forge, ForgeError
from runner.forge.select import open_forge
from runner.interrupt import Cancelled, cancellable
from runner.ledger_retention import compact
from runner.outcome import (
    FAILED,
    anthropic_client,
    lease_terms,
    render_outcome,
    render_unset_keys,
    report,
    unset_engine_keys,
)
from runner.plan import Decision, Plan, make_plan
from runner.pr_plan import plan_comment
from runner.run import execute, live_clock
from runner.run_gates import ModelGate
from runner.run_outcome import RunOutcome
from runner.workspace import ConfigError, Workspace, open_workspace


def run(
    root: Path,
    *,
    dry_run: bool,
    trigger: str,
    force_due: tuple[str, ...] = (),
    use_event: bool = True,
    revise: Callable[[int], int] | None = None,
) -> int:
    """`revise(pr)` runs `fleet revise` for a review event already decided here, sender
    trust included (the CLI passes it in:
    commands never import one another)."""
    event = actions.read_event(os.environ) if use_event else None
    reviewing_pr = (
        event is not None
        and event.name.startswith("pull_request")
        and (event.name != "pull_request_review")
    )
    # a PR's own (even broken) files get a plan comment; nothing else reads them
    ws = open_workspace(root, allow_errors=reviewing_pr, from_base=not reviewing_pr)
    if paused := pause.announce(ws.environ, ws.fleet.config.paused, "fleet tick"):
        click.echo(paused)
        return 0
    forge = open_forge(ws)
    role = task = None
    if event is not None:
        intent = actions.decide(event, ws.fleet, changed_paths(ws, event), forge.trusted)
        click.echo(f"Event {event.name} {event.action}: {intent.reason}".rstrip())
        if intent.kind == "none":
            return 0
        if intent.kind == "revise":
            if revise is None:
                raise ConfigError(f"a {event.name} event asks for a revision: run 'fleet revise'")
            return revise(intent.pr or 0)
        if intent.kind == "validate":
            return validate_pr(ws, forge, intent.pr)
        if intent.kind == "ci":
            return _ci(ws, forge, event)
        if intent.kind == "intake":
            from runner import intake_run

            click.echo(intake_run.handle(ws, forge, event, intent))
            return 0
        force_due += intent.force_due
        role, task, dry_run = intent.role, intent.task, dry_run or intent.dry_run
        trigger = event.name
    return tick(
        ws, forge, dry_run=dry_run, trigger=trigger, force_due=force_due, role=role, task=task
    )


def tick(
    ws: Workspace,
    forge: Forge,
    *,
    dry_run: bool,
    trigger: str,
    force_due: tuple[str, ...],
    role: str | None = None,
    task: str | None = None,
) -> int:
    for line in actions.mask_lines(ws.environ):
        click.echo(line)
    plan = _plan(ws, forge, dry_run=dry_run, force_due=force_due, role=role, task=task)
    outcomes, failed = _run_picks(ws, forge, plan.picks, dry_run=dry_run, trigger=trigger)
    for line in report(ws, outcomes, "fleet tick"):
        click.echo(line)
    return 1 if failed else 0


def _plan(
    ws: Workspace,
    forge: Forge,
    *,
    dry_run: bool,
    force_due: tuple[str, ...],
    role: str | None,
    task: str | None,
) -> Plan:
    """The tick's plan, made after the ledger is tidied (killed runs closed, old records
    compacted) so it never waits on a run that is dead."""
    runs = ws.runs()
    stops.reap(ws.ledger, runs, live_clock(ws)())  # runs killed earlier are closed first
    if ws.fleet.config.ledger_keep_days and not dry_run:  # retention: one ls-tree when not due
        compact(ws.ledger.store, ws.fleet.config.ledger_keep_days, ws.today)
    plan = make_plan(
        ws.fleet,
        ws.states(runs, forge.view()),
        runs,
        ws.now,
        roles=[role] if role else None,
        task=task,
        force_due=force_due,
    )
    click.echo(f"Tick at {plan.now}: {len(plan.picks)} run(s) planned.")
    if ws.fleet.problems:
        click.echo(quarantined(ws.fleet.problems), err=True)
    if plan.picks and ws.git.rev("HEAD") is None:  # said once, not once per planned run
        raise ConfigError(
            f"the repository at {ws.git.root} has no commits yet: nothing was run",
            hint="commit the fleet files first: git add -A && git commit -m 'fleet'",
        )
    return plan


def _run_picks(
    ws: Workspace, forge: Forge, picks: list[Decision], *, dry_run: bool, trigger: str
) -> tuple[list[RunOutcome], int]:
    """Run the picks in turn; a misconfigured role or a missing key stops only the roles
    it concerns, a cancellation everything after it. Returns the outcomes and how many
    failed."""
    terms = lease_terms(ws)
    gate = ModelGate()  # one key check per tick; after a 401/403 no more model calls
    outcomes: list[RunOutcome] = []
    failed = 0
    keyless = {} if dry_run else unset_engine_keys(ws, [p.role for p in picks])
    for missing, names in keyless.items():  # one line per missing key, not one per role
        click.echo(render_unset_keys(missing, names), err=True)
        failed += 1
    skipped = {name for names in keyless.values() for name in names}
    try:
        with cancellable():
            for pick in (p for p in picks if p.role not in skipped):
                try:
                    outcome = execute(
                        ws,
                        forge,
                        pick.role,
                        pick.task or "",
                        trigger=trigger,
                        client_factory=anthropic_client(ws),
                        dry_run=dry_run,
                        lease_terms=terms,
                        gate=gate,
                    )
                except ConfigError as exc:  # one misconfigured role does not stop the others
                    click.echo(f"{pick.role}/{pick.task}: not run: {exc}", err=True)
                    failed += 1
                    continue
                outcomes.append(outcome)
                click.echo(render_outcome(outcome))
                failed += outcome.record.outcome in FAILED and not outcome.skipped
                if outcome.record.outcome == "cancelled":
                    break  # the job is being cancelled: start nothing else
    except Cancelled as exc:  # between runs: nothing was running, nothing to record
        click.echo(f"tick {exc}; the remaining runs were not started", err=True)
        failed += 1
    return outcomes, failed


def validate_pr(ws: Workspace, forge: Forge, number: int | None) -> int:
    """Comment the plan for the tasks this pull request adds or changes (one comment,
    updated in place). Findings were already annotated by `fleet validate`."""
    body, changed = plan_comment(ws, forge)
    actions.write_summary(ws.environ, body)
    click.echo(body)
    if number is None or not changed:
        return 0
    try:
        click.echo(forge.upsert_comment(number, "plan-comment", body))
    except ForgeError as exc:  # a fork's read-only token cannot comment: say so, do not fail
        click.echo(actions.annotation("warning", f"could not comment the plan: {exc}"))
    return 0


def _ci(ws: Workspace, forge: Forge, event: actions.Event) -> int:
    """A failing check suite or workflow run on an agent branch: one revision per head
    SHA, then one escalation (runner/ci_run.py)."""
    from runner import ci, ci_run

    found = ci.failure(event.name, event.payload, ws.fleet)
    assert found is not None  # actions.intent said so
    done = ci_run.handle(ws, forge, found, anthropic_client(ws))
    if done.verdict == "none":
        click.echo(f"{found.branch}: not revised: {done.reason}")
        return 0
    if done.verdict == "handled":
        click.echo(f"{found.branch} at {found.head_sha[:12]}: revised for this failure before")
        return 0
    if done.issue is not None:
        where = done.issue.url or done.issue.id
        click.echo(f"{found.role}/{found.task}: CI attempts used; escalation {where}")
        return 0
    assert done.outcome is not None
    click.echo(render_outcome(done.outcome))
    for line in report(ws, [done.outcome], f"fleet tick: CI failed on {found.branch}"):
        click.echo(line)
    return 1 if done.outcome.record.outcome in FAILED else 0
