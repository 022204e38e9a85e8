"""`fleet demo`: the example fleet in a throwaway repository, run offline.

Builds the example company fleet with a bare "origin" and the local forge, runs one
tick (shell-engine roles for real; model roles as dry runs unless ANTHROPIC_API_KEY is
set), and shows what a founder would see: branches, PRs, escalations, the ledger.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import tempfile
from pathlib import Path

import click

from runner import clock, engines, findings, scaffold
from runner.engines.base import unset_names
from runner.errors import UsageError
from runner.forge.select import open_forge
from runner.load import load
from runner.outcome import anthropic_client, render_outcome
from runner.plan import make_plan
from runner.run import execute
from runner.workspace import open_workspace

FOUNDER = {
    "GIT_AUTHOR_NAME": "Demo Founder",
    "GIT_AUTHOR_EMAIL": "founder@example.com",
    "GIT_COMMITTER_NAME": "Demo Founder",
    "GIT_COMMITTER_EMAIL": "founder@example.com",
}


def run(keep: Path | None) -> int:
    if keep is not None:
        _refuse_existing(keep.resolve())
    base = keep.resolve() if keep else Path(tempfile.mkdtemp(prefix="fleet-demo-"))
    try:
        return _demo(base)
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


def _demo(base: Path) -> int:
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
    env["FLEET_FORGE"] = "local"
    ws = open_workspace(root, env)
    forge = open_forge(ws)
    runs = ws.runs()
    plan = make_plan(
        ws.fleet, ws.states(runs, forge.view()), runs, ws.now, force_due=list(ws.fleet.roles)
    )
    click.echo(f"3. fleet plan: {len(plan.picks)} role(s) have a ready task:")
    for d in plan.picks:
        click.echo(f"   {d.role:<10} {d.task}  {ws.fleet.tasks[d.task or ''].title}")

    click.echo(
        "4. fleet tick (roles whose engine has what it needs run for real; the others "
        "are dry runs):"
    )
    shown_prompt = False
    for pick in plan.picks:
        role = ws.fleet.roles[pick.role]
        unset = unset_names(engines.get(role.engine).credentials(role), env)
        dry = bool(unset)
        outcome = execute(
            ws,
            forge,
            pick.role,
            pick.task or "",
            trigger="demo",
            client_factory=anthropic_client(ws),
            dry_run=dry,
        )
        if dry:
            if not shown_prompt:
                head = [line for line in outcome.dry_run.splitlines() if line][:2]
                click.echo(
                    f"   (no {', '.join(unset)})\n   "
                    + "\n   ".join(head)
                    + "\n   (... `fleet run --dry-run` prints the whole prompt)"
                )
                shown_prompt = True
            else:
                click.echo(f"   {pick.role}/{pick.task}: dry run (no {', '.join(unset)})")
            continue
        click.echo("   " + render_outcome(outcome).replace("\n", "\n   "))

    click.echo("5. What a founder sees now:")
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
        click.echo(f"     {r.run_id}  {r.role}/{r.task}  {r.outcome}")
    if records:
        sample = json.dumps(records[-1].to_dict(), indent=2).splitlines()
        click.echo("   one record:\n     " + "\n     ".join(sample[:12]) + "\n     ...")
    click.echo(
        "Next: `fleet demo --keep DIR`, then in DIR/acme: `fleet local merge devops/t-001` "
        "(you, merging the PR), `fleet run --role devops` (t-002 is ready now), "
        "`fleet status`."
    )
    return 0
