"""What a push or a pull request changed, read from git (never from the event payload,
whose file lists are capped and written by whoever sent the event)."""

from __future__ import annotations

import contextlib

from runner import actions
from runner.sync import SyncError, ensure_history
from runner.workspace import Workspace


def changed_paths(ws: Workspace, event: actions.Event) -> list[str]:
    """Paths a push changed, from git (the payload's file lists are capped and untrusted)."""
    if event.name != "push":
        return []
    before, after = event.payload.get("before"), event.payload.get("after")
    if isinstance(before, str) and len(before) == 40 and set(before) != {"0"}:
        with contextlib.suppress(SyncError):  # a shallow checkout deepens to the push's base
            ensure_history(ws.git, before, ws.remote, ws.head_ref())
    ok = all(isinstance(v, str) and len(v) == 40 and ws.git.has_object(v) for v in (before, after))
    if not ok or set(str(before)) == {"0"}:
        return [t.path for t in ws.fleet.tasks.values()]  # unknown range: consider all
    out = ws.git.run("diff", "--name-only", str(before), str(after), "--", "tasks/", "fleet/")
    return out.split()


def changed_tasks(ws: Workspace) -> list[str]:
    """Tasks the checked-out change adds or modifies against the base branch. A shallow
    pull request checkout (fleet-validate.yml: the merge commit and its two parents, no
    branch) has no base ref: the base branch's tip alone is fetched, and when the
    shallow history holds no merge base, a merge commit's first parent is the base side."""
    base = ws.head_ref()
    if base == "HEAD" and ws.remote and ws.git.is_shallow():
        name = ws.fleet.config.forge.base_branch
        spec = f"+refs/heads/{name}:refs/remotes/{ws.remote}/{name}"
        ws.git.succeeds("fetch", "--quiet", "--no-tags", "--depth=1", ws.remote, spec)
        base = ws.head_ref()
    if ws.git.rev(base) is None or ws.git.rev("HEAD") is None:
        return []
    if ws.git.succeeds("merge-base", base, "HEAD"):
        merge_base = ws.git.run("merge-base", base, "HEAD").strip()
    elif ws.git.rev("HEAD^2") is not None:  # a PR's merge commit: HEAD^1 is the base side
        merge_base = "HEAD^1"
    else:
        merge_base = base
    out = ws.git.run("diff", "--name-only", "--diff-filter=AMR", merge_base, "HEAD", "--", "tasks/")
    by_path = {t.path: t.id for t in ws.fleet.tasks.values()}
    return [by_path[p] for p in out.split() if p in by_path]
