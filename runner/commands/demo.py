"""`fleet demo`: the example fleet in a throwaway repository, run offline.

Builds the example company fleet with a bare "origin" and the local forge, runs one
tick (shell-engine roles for real; one model role, cto, on a recorded session replayed
by a loopback server it starts; the other model roles as dry runs), answers the cto's
escalation with `fleet local answer`, lets the cto resume, and shows what a founder
would see: branches, PRs, the progress comment, the transcript, escalations, the ledger.
No model is called and no key is used: the replay accepts only its placeholder key.
"""

from __future__ import annotations

import importlib
import json
import os
import shutil
import subprocess
import sys
import tempfile
import threading
from pathlib import Path
from typing import NoReturn

import click

from runner import clock, demo_replay, engines, findings, runs, scaffold
from runner.engines.base import unset_names
from runner.errors import FleetError, UsageError
from runner.forge.base import Forge
from runner.forge.select import open_forge
from runner.load import load
from runner.outcome import anthropic_client, render_outcome
from runner.plan import make_plan
from runner.replay import DEMO_RECORDING, Recording
from runner.replay_server import ReplayServer
from runner.report import transcript_text
from runner.run import execute
from runner.run_outcome import RunOutcome
from runner.workspace import Workspace, open_workspace

FOUNDER = {
    "GIT_AUTHOR_NAME": "Demo Founder",
    "GIT_AUTHOR_EMAIL": "founder@example.com",
    "GIT_COMMITTER_NAME": "Demo Founder",
    "GIT_COMMITTER_EMAIL": "founder@example.com",
}


def run(keep: Path | None, recording: Path = DEMO_RECORDING) -> int:
    """`recording`: the session the cto's runs replay (tests pass an altered one)."""
    if keep is not None:
        _refuse_existing(keep.resolve())
    base = keep.resolve() if keep else Path(tempfile.mkdtemp(prefix="fleet-demo-"))
    # The SDK's import is the slowest step of a model run (about a second): made while
    # the fleet is set up and the shell roles run, it costs the demo nothing.
    threading.Thread(target=importlib.import_module, args=("anthropic",), daemon=True).start()
    try:
        with ReplayServer(Recording.load(recording)) as server, demo_replay.direct(os.environ):
            return _demo(base, server)
    finally:
        if keep is None:
            shutil.rmtree(base, ignore_errors=True)


def _refuse_existing(base: Path) -> None:
    """A second `--keep DIR` would commit onto the first demo's history; never overwrite a
    demo someone may be carrying on with."""
    taken = [p for p in (base / "acme", base / "origin.git") if p.exists()]
    if taken:
        raise UsageError(
            f"{taken[0]} already exists (a demo kept there before?)",
            hint=f"carry on in {base / 'acme'} (fleet status, fleet local merge ...), "
            "or pass --keep a new directory",
        )


def _git(cwd: Path, *args: str) -> str:
    env = {**os.environ, **FOUNDER, "GIT_CONFIG_GLOBAL": os.devnull}
    return subprocess.run(
        ["git", *args], cwd=cwd, env=env, check=True, capture_output=True, text=True
    ).stdout


def _demo(base: Path, server: ReplayServer) -> int:
    root, origin = base / "acme", base / "origin.git"
    today = clock.now(os.environ).date()
    scaffold.write(root, scaffold.files(example=True, name="acme", today=today))
    _git(base, "init", "-q", "--bare", "-b", "main", str(origin))
    _git(root, "init", "-q", "-b", "main")
    _git(root, "add", "-A")
    _git(root, "commit", "-q", "-m", "Set up the acme fleet")
    _git(root, "remote", "add", "origin", str(origin))
    _git(root, "push", "-q", "origin", "main")
    click.echo(f"1. Example fleet committed in {root} (origin: {origin}).")

    loaded = load(root)
    click.echo(f"2. fleet validate: {findings.summary(loaded.findings, len(loaded.files))}")
    if loaded.errors:
        click.echo(findings.render(loaded.errors, "text"))
        return 1

    env = {k: v for k, v in os.environ.items() if not k.startswith(("GITHUB_", "FLEET_"))}
    env = demo_replay.environ(env, server.url)
    env["FLEET_FORGE"] = "local"
    ws = open_workspace(root, env)
    forge = open_forge(ws)
    history = ws.runs()
    plan = make_plan(
        ws.fleet,
        ws.states(history, forge.view()),
        history,
        ws.now,
        force_due=list(ws.fleet.roles),
    )
    click.echo(f"3. fleet plan: {len(plan.picks)} role(s) have a ready task:")
    for d in plan.picks:
        click.echo(f"   {d.role:<10} {d.task}  {ws.fleet.tasks[d.task or ''].title}")

    replayed = server.replay.recording
    click.echo(
        f"4. fleet tick: shell roles run for real; {replayed.role} runs on a REPLAY of a "
        f"recorded model session (served on {server.url}; no model is called); the other "
        "model roles are dry runs:"
    )
    escalated = None
    # the replayed role last, so that the shell roles' real work is shown first
    for pick in sorted(plan.picks, key=lambda p: p.role == replayed.role):
        outcome = _tick_one(ws, forge, server, pick.role, pick.task or "")
        if outcome is not None and pick.role == replayed.role:
            escalated = outcome
    if escalated is None or escalated.issue is None:
        _diverged(server, escalated)
    _answer_and_resume(ws, forge, server, root, env, escalated)
    _founder_view(ws, forge, root)
    click.echo(
        "Next: `fleet demo --keep DIR`, then in DIR/acme: `fleet runs list` (every run, "
        "with its cost and transcript), `fleet local merge cto/t-005` (you, approving the "
        "ADR), `fleet local merge devops/t-001` (you, merging the PR), `fleet run --role "
        "devops` (t-002 is ready now), `fleet status`."
    )
    return 0


def _tick_one(
    ws: Workspace, forge: Forge, server: ReplayServer, role_name: str, task: str
) -> RunOutcome | None:
    """One pick of the tick: the replayed role and shell roles run; other model roles
    show their dry run (the first one's prompt head, then one line each)."""
    role = ws.fleet.roles[role_name]
    engine = engines.get(role.engine)
    replayed = role_name == server.replay.recording.role
    unset = unset_names(engine.credentials(role), ws.environ)
    dry = bool(unset) or (engine.uses_model and not replayed)
    outcome = execute(
        ws,
        forge,
        role_name,
        task,
        trigger="demo",
        client_factory=anthropic_client(ws),
        dry_run=dry,
        note=demo_replay.NOTE if replayed else "",
    )
    if dry:
        why = f"no {', '.join(unset)}" if unset else "the demo replays one model role"
        click.echo(
            f"   {role_name}/{task}: dry run ({why}; `fleet run --dry-run` prints the prompt)"
        )
        return None
    click.echo("   " + _rendered(outcome, replayed).replace("\n", "\n   "))
    return outcome


def _rendered(outcome: RunOutcome, replayed: bool) -> str:
    """The outcome in words, its first line tagged `[REPLAY]` for a replayed run."""
    text = render_outcome(outcome)
    if not replayed:
        return text
    head = f"{outcome.record.role}/{outcome.record.task}:"
    return text.replace(head, head[:-1] + " [REPLAY]:", 1)


def _diverged(server: ReplayServer, outcome: RunOutcome | None) -> NoReturn:
    """The replayed role did not end as recorded: say what diverged, where, and stop."""
    if server.divergence:
        raise FleetError(
            server.divergence,
            hint="the recorded session no longer matches what this runner sends (its "
            "prompts or tools changed): re-record runner/recordings/, or report it with "
            "this message",
        )
    got = f"{outcome.record.outcome} ({outcome.record.reason})" if outcome else "no run"
    raise FleetError(
        f"the replayed {server.replay.recording.role} run ended {got}, which the recording "
        "does not",
        hint="the replay itself matched; the reason above says what stopped the run "
        "(run `fleet demo --keep DIR`, then `fleet runs show RUN_ID` in DIR/acme)",
    )


def _answer_and_resume(
    ws: Workspace,
    forge: Forge,
    server: ReplayServer,
    root: Path,
    env: dict[str, str],
    escalated: RunOutcome,
) -> None:
    """Answer the replayed role's escalation the way a founder does (the real command,
    shown, then run), then run the role again: it resumes with the answer."""
    assert escalated.issue is not None
    recording = server.replay.recording
    argv = demo_replay.answer_argv(root, escalated.issue.id, recording.answer)
    click.echo(
        f"5. {recording.role} asked a question ({escalated.issue.id}). You answer it, as a "
        f"founder would:\n   $ {demo_replay.shown(argv)}"
    )
    done = subprocess.run(
        [sys.executable, "-m", "runner", *argv[1:]],
        env={**env, **FOUNDER},
        capture_output=True,
        text=True,
        check=False,
    )
    if done.returncode != 0:
        raise FleetError(f"`fleet local answer` failed: {done.stderr.strip() or done.stdout}")
    click.echo("   " + done.stdout.strip())
    task = escalated.record.task or ""
    click.echo(f"6. {recording.role} resumes {task} with your answer (REPLAY, as in step 4):")
    outcome = execute(
        ws,
        forge,
        recording.role,
        task,
        trigger="demo",
        client_factory=anthropic_client(ws),
        note=demo_replay.NOTE,
    )
    if outcome.record.outcome != "done":
        _diverged(server, outcome)
    click.echo("   " + _rendered(outcome, True).replace("\n", "\n   "))
    body = demo_replay.progress_comment(ws.ledger.store, outcome.record.run_id)
    if body:
        click.echo(f"   its progress comment on {outcome.pr.id if outcome.pr else 'the PR'}:")
        click.echo(demo_replay.indented(body))
    record = outcome.record
    text = transcript_text.render(record, runs.transcript(ws.ledger.store, record))
    shown = text.split("\ntranscript: ", 1)[-1]
    click.echo(
        f"   its transcript (`fleet runs show {record.run_id}` shows it all): "
        + shown.split("\n", 1)[0]
    )
    click.echo(demo_replay.indented(shown.split("\n", 1)[-1].strip("\n"), limit=14))


def _founder_view(ws: Workspace, forge: Forge, root: Path) -> None:
    click.echo("7. What a founder sees now:")
    branches = _git(root, "branch", "--list", "fleet/*", "--format=%(refname:short)").split()
    click.echo(f"   work branches: {', '.join(branches) or 'none'}")
    view = forge.view()
    for _, pr in sorted(view.open_prs.items()):
        click.echo(f"   open PR {pr.id}" + (" (draft)" if pr.draft else ""))
    for _, issues in sorted(view.escalations.items()):
        for issue in issues:
            click.echo(f"   escalation {issue.id}: {issue.title}")
    records = ws.ledger.runs()
    click.echo(f"   ledger (branch fleet-state): {len(records)} run record(s)")
    for r in records:
        cost = f"  ${r.cost_usd:.4f}" if r.turns else ""
        click.echo(f"     {r.run_id}  {r.role}/{r.task}  {r.outcome}{cost}")
    if records:
        sample = json.dumps(records[-1].to_dict(), indent=2).splitlines()
        click.echo("   one record:\n     " + "\n     ".join(sample[:12]) + "\n     ...")
