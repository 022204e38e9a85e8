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
    base = ws.head_ref()
    if ws.git.rev(base) is None or ws.git.rev("HEAD") is None:
        return []
    merge_base = (
        ws.git.run("merge-base", base, "HEAD").strip()
        if ws.git.succeeds("merge-base", base, "HEAD")
        else base
    )
    out = ws.git.run("diff", "--name-only", "--diff-filter=AMR", merge_base, "HEAD", "--", "tasks/")
    by_path = {t.path: t.id for t in ws.fleet.tasks.values()}
    return [by_path[p] for p in out.split() if p in by_path]
