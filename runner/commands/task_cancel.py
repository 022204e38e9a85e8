"""`fleet task cancel ID`: cancel a task by a reviewable, committed change of its file.

With the GitHub forge: a commit on the branch `fleet-cancel/<id>` and a pull request
(merging it cancels the task). With the local forge: a commit on the base branch of this
checkout (the local forge has no review step; the commit is the record)."""

from __future__ import annotations

from pathlib import Path

import click

from runner import taskops
from runner.errors import ConfigError, UsageError
from runner.forge.select import forge_name, open_forge
from runner.gitrepo import human_identity, person
from runner.workspace import Workspace, open_workspace


def run(root: Path, *, task_id: str, reason: str) -> int:
    ws = open_workspace(root)
    task = taskops.require_task(ws.fleet, task_id)
    if task.status == "cancelled":
        click.echo(f"{task.id} is already cancelled.")
        return 0
    if task.status == "done":
        raise UsageError(f"task {task.id} is done; a done task is not cancelled")
    head = ws.git.rev(ws.head_ref())
    if head is None:
        raise ConfigError("the repository has no commits yet", hint="commit the fleet first")
    old = ws.git.read_blobs([f"{head}:{task.path}"])[f"{head}:{task.path}"]
    if old is None:
        raise UsageError(f"{task.path} is not committed on the base branch yet")
    why = reason or f"cancelled by {person(ws.git, ws.environ)}"
    text = taskops.cancelled_text(task, old.decode("utf-8"), why)
    message = f"Cancel {task.id}: {why}"
    if forge_name(ws.environ) == "local":
        return _commit_locally(ws, task.path, text, message)
    return _propose(ws, task.id, task.role, head, task.path, text, message)


def _commit_locally(ws: Workspace, path: str, text: str, message: str) -> int:
    base = ws.fleet.config.forge.base_branch
    current = ws.git.run("rev-parse", "--abbrev-ref", "HEAD").strip()
    if current != base or ws.git.run("status", "--porcelain", "--", path).strip():
        raise UsageError(
            f"check out {base} with {path} unchanged first (the local forge commits the "
            "cancellation there)"
        )
    (ws.root / path).write_text(text, "utf-8")
    ws.git.run(
        "commit",
        "--quiet",
        "--only",
        "-m",
        message,
        "--",
        path,
        env=human_identity(ws.git, ws.environ),
    )
    if ws.remote:
        ws.git.run("push", "--quiet", ws.remote, base)
    click.echo(f"Committed on {base}: {message}")
    return 0


def _propose(
    ws: Workspace, task_id: str, role: str, head: str, path: str, text: str, message: str
) -> int:
    if ws.remote is None:
        raise ConfigError("the GitHub forge needs a remote to push the cancellation branch to")
    branch = f"fleet-cancel/{task_id}"
    commit = taskops.commit_file(
        ws.git, head, path, text, message, human_identity(ws.git, ws.environ)
    )
    ws.git.run("push", "--quiet", ws.remote, f"{commit}:refs/heads/{branch}")  # never forced
    pr = open_forge(ws).open_pr(
        role=role,
        task=task_id,
        branch=branch,
        base=ws.fleet.config.forge.base_branch,
        title=message,
        body=f"Sets `status: cancelled` in `{path}`. Merging this cancels the task.",
        draft=False,
    )
    click.echo(f"Opened {pr.url or pr.id}: {message} (merge it to cancel the task)")
    return 0
