"""`fleet local merge|answer`: the human's side of the local forge, for trying the whole
loop offline: merge an agent's work branch (completing its task), answer an escalation
(closing it, and putting the answer in the role's next sync delta)."""

from __future__ import annotations

from pathlib import Path

import click

from runner.errors import FleetError, UsageError
from runner.forge.base import ForgeError
from runner.forge.local import LOCAL_HUMAN, LocalForge
from runner.forge.select import forge_name
from runner.gitrepo import GitError, human_identity, person
from runner.workspace import Workspace, open_workspace


def _local(root: Path) -> tuple[Workspace, LocalForge]:
    ws = open_workspace(root)
    if forge_name(ws.environ) != "local":
        raise UsageError(
            "this works on the local forge only (FLEET_FORGE=local)",
            hint="on GitHub, merge the PR and answer the issue there",
        )
    return ws, LocalForge(ws.ledger.store, lambda: ws.now)


def merge(root: Path, ref: str) -> int:
    ws, forge = _local(root)
    record = forge.open_pull(ref)
    if record is None:
        raise UsageError(
            f"no open local PR for {ref.removeprefix('local-pr:')}",
            hint="fleet task list --state review shows the tasks with an open PR",
        )
    if record.get("draft"):
        role, task = str(record["id"]).removeprefix("local-pr:").split("/", 1)
        raise UsageError(
            f"{record['id']} is a draft: the run that opened it stopped before its acceptance "
            "checks passed",
            hint=f"the next due run resumes it (now: 'fleet run --role {role} --task {task}'); "
            "it leaves draft when the checks pass",
        )
    base = ws.fleet.config.forge.base_branch
    current = ws.git.run("rev-parse", "--abbrev-ref", "HEAD").strip()
    if current != base or ws.git.run("status", "--porcelain", "--untracked-files=no").strip():
        raise UsageError(
            f"{base} must be checked out with a clean work tree (like a merge button, this "
            "merges into it)",
            hint=f"git switch {base}, and commit or stash your changes",
        )
    branch = record["branch"]
    who = human_identity(ws.git, ws.environ)
    try:
        message = f"Merge {record['id']}: {record.get('title', '')}"
        ws.git.run("merge", "--no-ff", "--quiet", "-m", message, branch, env=who)
    except GitError as exc:
        ws.git.succeeds("merge", "--abort")
        raise FleetError(
            f"cannot merge {branch} into {base}: {exc.detail}",
            hint=f"{base} is unchanged. Merge by hand (git merge --no-ff {branch}, resolve the "
            f"conflicts, git commit), then run 'fleet local merge {ref}' again to record it",
        ) from None
    if ws.remote:
        ws.git.run("push", "--quiet", ws.remote, base)
    forge.mark_merged(record)
    click.echo(f"Merged {branch} into {base}; {branch.rsplit('/', 1)[-1]} is done.")
    return 0


def answer(root: Path, issue: str, text: str, keep_open: bool) -> int:
    ws, forge = _local(root)
    try:
        record = forge.reply(
            issue, person(ws.git, ws.environ), text, close=not keep_open, via=LOCAL_HUMAN
        )
    except ForgeError as exc:
        raise UsageError(str(exc), hint="fleet task show TASK lists a task's escalations") from None
    click.echo(
        f"Answered {issue}"
        + ("" if keep_open else " and closed it")
        + f"; {record.get('role')} sees the answer in its next sync delta."
    )
    return 0
