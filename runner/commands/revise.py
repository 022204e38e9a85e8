"""`fleet revise --pr N`: the agent revises its PR from trusted reviewers' feedback.

`--phase both` (the default) does it in one process. In Actions it is split like a tick
run: `--phase claim` (write token, no agent code) checks who asked and that there is
feedback, and claims the run; `--phase agent` (read-only token, model key) re-reads the
feedback and runs into an outputs directory; `--phase apply` (write token, no model key)
publishes the outputs with `fleet apply`'s review and says on the PR what was done.
The same three phases serve a failing CI run on an agent branch (fleet-ci.yml): for a
`check_suite` / `workflow_run` event the claim phase claims the head SHA (one revision
per SHA, then one escalation; runner/ci_run.py) and the agent phase takes the log
excerpt as untrusted feedback from that claim.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import click

from runner import actions, pause
from runner.forge.base import Forge, ForgeError
from runner.forge.select import open_forge
from runner.outcome import FAILED, anthropic_client, render_outcome, report
from runner.records import ForgeEvent
from runner.run import execute
from runner.workspace import Workspace, open_workspace


@dataclass(frozen=True)
class Revision:
    """What a review asks for: the PR's role and task and the trusted feedback."""

    pr: int
    role: str
    task: str
    feedback: list[ForgeEvent]  # write-access feedback: instructions (runner.agent.prompt)


def last_agent_push(ws: Workspace, branch: str, role: str) -> str | None:
    """When the agent last committed to the branch (feedback before that is handled)."""
    ref = f"refs/remotes/{ws.remote}/{branch}" if ws.remote else f"refs/heads/{branch}"
    if ws.remote:
        ws.git.succeeds("fetch", "--quiet", "--no-tags", ws.remote, f"+refs/heads/{branch}:{ref}")
    if not ws.git.rev(ref):
        return None
    out = ws.git.run("log", "-1", "--format=%cI", f"--author=fleet-{role}@", ref).strip()
    return out.replace("+00:00", "Z") if out else None


def _target(ws: Workspace, forge: Forge, pr: int | None) -> int | None:
    """The PR to revise: `pr`, else the review event's PR if its sender may ask (None,
    said why, when not). A caller that passes `pr` has decided the event already (`fleet
    tick` through actions.decide, the check job's claim) or is a person at the command
    line; either way only write-access feedback becomes instructions."""
    if pr is not None:
        return pr
    event = actions.read_event(ws.environ)
    wanted = actions.intent(event, ws.fleet) if event else None
    if event is None or wanted is None or wanted.kind != "revise" or wanted.pr is None:
        reason = wanted.reason if wanted else "no event"
        raise click.UsageError(f"--pr is required outside a review event ({reason})")
    intent = actions.decide(event, ws.fleet, None, forge.trusted)
    if intent.kind == "none" or intent.pr is None:
        click.echo(intent.reason)
        return None
    return intent.pr


def gather(ws: Workspace, forge: Forge, pr: int) -> Revision | None:
    """The revision the PR's feedback asks for, or None (said why) when there is none.
    Reads only: the read-only agent job calls it too."""
    prefix = ws.fleet.config.forge.branch_prefix
    branch, _ = forge.pull_feedback(pr, None)
    role, _, task = branch.removeprefix(prefix).partition("/")
    if not branch.startswith(prefix) or role not in ws.fleet.roles or task not in ws.fleet.tasks:
        raise ForgeError(f"PR #{pr} (branch {branch}) is not an agent PR of this fleet")
    since = last_agent_push(ws, branch, role)
    _, events = forge.pull_feedback(pr, since)
    trusted = [e for e in events if e.trusted]
    for e in events:
        if not e.trusted:
            click.echo(f"ignored {e.kind} by {e.author}: no write access, or a bot")
    if not trusted:
        click.echo(
            f"PR #{pr}: no new feedback from maintainers since the agent's last push; "
            "nothing to revise"
        )
        return None
    return Revision(pr, role, task, trusted)


def _said(run_id: str, outcome: str, reason: str, count: int, commits: int | str) -> str:
    return (
        f"Revised by run `{run_id}` ({outcome}: {reason}) in answer "
        f"to {count} comment(s); {commits} new commit(s)."
    )


def run(root: Path, *, pr: int | None) -> int:
    """Revise PR `pr` (None: the PR of the review event) in one process."""
    ws = open_workspace(root)
    if paused := pause.announce(ws.environ, ws.fleet.config.paused, "fleet revise"):
        click.echo(paused)
        return 0
    forge = open_forge(ws)
    number = _target(ws, forge, pr)
    revision = None if number is None else gather(ws, forge, number)
    if number is None or revision is None:
        return 0
    outcome = execute(
        ws,
        forge,
        revision.role,
        revision.task,
        trigger="review",
        client_factory=anthropic_client(ws),
        feedback=revision.feedback,
    )
    r = outcome.record
    forge.comment(
        f"#{number}",
        _said(r.run_id, r.outcome, r.reason, len(revision.feedback), len(outcome.commits)),
    )
    click.echo(render_outcome(outcome))
    for line in report(ws, [outcome], f"fleet revise #{number}"):
        click.echo(line)
    return 1 if r.outcome in FAILED else 0


def _ci_event(ws: Workspace) -> actions.Event | None:
    """The CI event (check_suite / workflow_run) this job runs for, if any."""
    event = actions.read_event(ws.environ)
    ci_names = ("check_suite", "workflow_run")
    return event if event is not None and event.name in ci_names else None


def _claim_ci(ws: Workspace, forge: Forge, event: actions.Event) -> dict[str, str]:
    """A failing CI run on an agent branch: one revision per head SHA (the excerpt kept
    with the SHA's claim for the agent job), then one escalation (runner/ci_run.py)."""
    from runner import ci, ci_run

    found = ci.failure(event.name, event.payload, ws.fleet)
    if found is None:
        click.echo(f"ignored: {event.name} is not a failure on an agent branch of this fleet")
        return {"run_id": "", "pr": ""}
    done = ci_run.claim(ws, forge, found)
    at = f"{found.branch} at {found.head_sha[:12]}"
    if done.verdict == "handled":
        click.echo(f"{at}: revised for this failure before; nothing to do")
    elif done.verdict == "escalate" and done.issue is not None:
        click.echo(f"{at}: CI attempts used; escalation {done.issue.url or done.issue.id}")
    elif done.verdict in ("held", "none"):
        click.echo(f"{at}: not revised: {done.reason}")
    if done.verdict != "revise":
        return {"run_id": "", "pr": ""}
    click.echo(f"{at}: claimed run {done.run_id} to revise PR #{done.pr} ({done.link})")
    return {"run_id": done.run_id, "pr": str(done.pr)}


def run_claim(root: Path, *, pr: int | None) -> int:
    """Check the asker and the feedback (or, for a CI event, the failure), then claim the
    run. Step outputs: `run_id` (empty when there is nothing to revise) and `pr`."""
    from runner.publish import claim

    ws = open_workspace(root)
    outputs = {"run_id": "", "pr": ""}
    revision = None
    if paused := pause.announce(ws.environ, ws.fleet.config.paused, "fleet revise"):
        click.echo(paused)
    elif (event := _ci_event(ws)) is not None and pr is None:
        actions.set_outputs(ws.environ, _claim_ci(ws, open_forge(ws), event))
        return 0
    else:
        forge = open_forge(ws)
        number = _target(ws, forge, pr)
        revision = None if number is None else gather(ws, forge, number)
    if revision is not None:
        run_id = claim(ws, revision.role, revision.task, "review").run_id
        outputs = {"run_id": run_id, "pr": str(revision.pr)}
        pair = f"{revision.role}/{revision.task}"
        click.echo(f"PR #{revision.pr}: claimed run {run_id} of {pair}")
    actions.set_outputs(ws.environ, outputs)
    return 0


def run_agent(root: Path, *, pr: int, run_id: str, directory: Path) -> int:
    """The agent phase of a claimed revision: the feedback is read again (read-only) and
    everything the run would publish goes to `directory`."""
    from runner.agent_phase import run_agent_phase
    from runner.publish import claimed

    ws = open_workspace(root)
    if paused := pause.announce(ws.environ, ws.fleet.config.paused, "fleet revise --phase agent"):
        click.echo(paused)
        return 0
    forge = open_forge(ws)
    record = claimed(ws, run_id)
    event = _ci_event(ws)
    revision = gather(ws, forge, pr) if event is None else _ci_revision(ws, event, pr)
    if record is None or revision is None or record.role != revision.role:
        raise click.UsageError(f"run {run_id} is not a claimed revision of PR #{pr}")
    if record.task != revision.task:
        raise click.UsageError(f"run {run_id} is not a claimed revision of PR #{pr}")
    outs = run_agent_phase(
        ws,
        forge,
        revision.role,
        revision.task,
        run_id=run_id,
        directory=directory,
        execute=execute,
        trigger="review" if event is None else "ci",
        client_factory=anthropic_client(ws),
        feedback=revision.feedback,
    )
    click.echo(f"PR #{pr}: agent phase {outs.run.get('outcome')}; outputs in {directory}")
    return 1 if outs.run.get("outcome") in FAILED else 0


def _ci_revision(ws: Workspace, event: actions.Event, pr: int) -> Revision | None:
    """The revision a CI failure asks for, read again from the event (its ids) and the
    ledger (the excerpt the check job stored with the SHA's claim): this read-only job
    has no `actions: read`, so it reads no log itself."""
    from runner import ci, ci_run

    found = ci.failure(event.name, event.payload, ws.fleet)
    fb = None if found is None else ci_run.claimed_feedback(ws, found)
    if found is None or fb is None:
        return None
    return Revision(pr, found.role, found.task, [fb])


def run_apply(root: Path, *, pr: int, run_id: str, directory: Path) -> int:
    """Publish a revision's outputs (`fleet apply`'s review) and say so on the PR."""
    from runner.publish import apply_outputs

    ws = open_workspace(root)
    if paused := pause.announce(ws.environ, ws.fleet.config.paused, "fleet revise --phase apply"):
        click.echo(paused)  # the outputs stay where they are; apply them once resumed
        return 0
    forge = open_forge(ws)
    applied = apply_outputs(ws, forge, directory, run_id)
    r = applied.record
    click.echo(f"{r.role}/{r.task}: {r.outcome}" + (f" ({r.reason})" if r.reason else ""))
    if applied.already:
        return 0
    pushed = "its commits are pushed" if applied.pushed else "nothing was pushed"
    forge.comment(f"#{pr}", f"Revised by run `{r.run_id}` ({r.outcome}: {r.reason}); {pushed}.")
    if applied.security is not None:
        click.echo(actions.annotation("error", f"run {r.run_id}: apply refused outputs"))
    return 1 if applied.security is not None or r.outcome in FAILED else 0
