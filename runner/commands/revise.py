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


def run(root: Path, *, pr: int | None) -> int:
    """Revise PR `pr` (None: the PR of the review event). A caller that passes `pr` has
    decided the event already (`fleet tick` through actions.decide) or is a person at the
    command line; either way only write-access feedback becomes instructions."""
    ws = open_workspace(root)
    if paused := pause.announce(ws.environ, ws.fleet.config.paused, "fleet revise"):
        click.echo(paused)
        return 0
    forge = open_forge(ws)
    if pr is None:  # from the event; the sender's trust is decided with it (actions.decide)
        event = actions.read_event(ws.environ)
        wanted = actions.intent(event, ws.fleet) if event else None
        if event is None or wanted is None or wanted.kind != "revise" or wanted.pr is None:
            reason = wanted.reason if wanted else "no event"
            raise click.UsageError(f"--pr is required outside a review event ({reason})")
        intent = actions.decide(event, ws.fleet, None, forge.trusted)
        if intent.kind == "none" or intent.pr is None:
            click.echo(intent.reason)
            return 0
        pr = intent.pr
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
    outcome = execute(
        ws,
        forge,
        role,
        task,
        trigger="review",
        client_factory=anthropic_client(ws),
        feedback=trusted,  # instructions, with their authors (runner.agent.prompt)
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
