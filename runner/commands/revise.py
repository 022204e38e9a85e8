"""`fleet revise --pr N`: the agent revises its PR from trusted reviewers' feedback."""

from __future__ import annotations

from pathlib import Path

import click

from runner import actions, pause
from runner.forge.base import ForgeError
from runner.forge.select import open_forge
from runner.outcome import FAILED, anthropic_client, render_outcome, report
from runner.run import execute
from runner.workspace import Workspace, open_workspace


def last_agent_push(ws: Workspace, branch: str, role: str) -> str | None:
    """When the agent last committed to the branch (feedback before that is handled)."""
    ref = f"refs/remotes/{ws.remote}/{branch}" if ws.remote else f"refs/heads/{branch}"
    if ws.remote:
        ws.git.succeeds("fetch", "--quiet", "--no-tags", ws.remote, f"+refs/heads/{branch}:{ref}")
    if not ws.git.rev(ref):
        return None
    out = ws.git.run("log", "-1", "--format=%cI", f"--author=fleet-{role}@", ref).strip()
    return out.replace("+00:00", "Z") if out else None


def run(root: Path, *, pr: int | None, sender: str | None = None) -> int:
    ws = open_workspace(root)
    if paused := pause.announce(ws.environ, ws.fleet.config.paused, "fleet revise"):
        click.echo(paused)
        return 0
    forge = open_forge(ws)
    if pr is None:
        event = actions.read_event(ws.environ)
        intent = actions.intent(event, ws.fleet) if event else None
        if intent is None or intent.kind != "revise" or intent.pr is None:
            reason = intent.reason if intent else "no event"
            raise click.UsageError(f"--pr is required outside a review event ({reason})")
        pr, sender = intent.pr, intent.sender
    if sender is not None and not forge.trusted(sender):
        click.echo(f"ignored: {sender} has no write access to this repository, or is a bot")
        return 0
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
        return 0
    feedback = "\n\n".join(f"{e.author} ({e.kind}, {e.created}):\n{e.body}" for e in trusted)
    outcome = execute(
        ws,
        forge,
        role,
        task,
        trigger="review",
        client_factory=anthropic_client(ws),
        feedback=feedback,
    )
    r = outcome.record
    forge.comment(
        f"#{pr}",
        f"Revised by run `{r.run_id}` ({r.outcome}: {r.reason}) in answer "
        f"to {len(trusted)} comment(s); {len(outcome.commits)} new commit(s).",
    )
    click.echo(render_outcome(outcome))
    for line in report(ws, [outcome], f"fleet revise #{pr}"):
        click.echo(line)
    return 1 if r.outcome in FAILED else 0
