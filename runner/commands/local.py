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
    source = _source(ws, base, branch)
    who = human_identity(ws.git, ws.environ)
    try:
        message = f"Merge {record['id']}: {record.get('title', '')}"
        ws.git.run("merge", "--no-ff", "--quiet", "-m", message, source, env=who)
    except GitError as exc:
        ws.git.succeeds("merge", "--abort")
        raise FleetError(
            f"cannot merge {source} into {base}: {exc.detail}",
            hint=f"{base} is unchanged. Merge by hand (git merge --no-ff {source}, resolve the "
            f"conflicts, git commit), then run 'fleet local merge {ref}' again to record it",
        ) from None
    if ws.remote:
        ws.git.run("push", "--quiet", ws.remote, base)
    forge.mark_merged(record)
    role, task = str(record["id"]).removeprefix("local-pr:").split("/", 1)
    done = branch.startswith(ws.fleet.config.forge.branch_prefix)
    click.echo(
        f"Merged {branch} into {base}; "
        + (f"{task} is done." if done else f"{task} is assigned to {role}.")
    )
    return 0


def _source(ws: Workspace, base: str, branch: str) -> str:
    """What to merge: the work branch as the remote has it when this clone has none or an
    older one (a run in another clone, CI or act pushed it), else the local branch; and
    refuse while the remote's base is ahead of this clone's, whose push would be refused
    after the merge."""
    if not ws.remote:
        return branch
    remote = f"refs/remotes/{ws.remote}/"
    for name in (base, branch):  # apart: a branch the remote lacks must not stop the other
        ws.git.succeeds("fetch", "--quiet", ws.remote, f"+refs/heads/{name}:{remote}{name}")
    if ws.git.rev(f"{remote}{base}") and not ws.git.succeeds(
        "merge-base", "--is-ancestor", f"{remote}{base}", base
    ):
        raise UsageError(
            f"{base} is behind {ws.remote}/{base} (someone pushed to it since you pulled)",
            hint=f"git pull {ws.remote} {base}, then run the merge again",
        )
    local, theirs = ws.git.rev(f"refs/heads/{branch}"), ws.git.rev(f"{remote}{branch}")
    if theirs is None or local == theirs:
        return branch
    if local is None or ws.git.succeeds("merge-base", "--is-ancestor", local, theirs):
        return f"{ws.remote}/{branch}"
    return branch


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
