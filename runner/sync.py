"""The sync delta: what is true now that was not when a role last ran.

Computed from git between the role's checkpoint and the base-branch head, the ledger,
and forge events (answers on escalations, reviews on PRs) supplied by the forge layer.
Cost depends on the size of the delta, never on the length of history.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field, replace

from runner.errors import ConfigError, FleetError, UsageError
from runner.gitlog import ROLE_TRAILER as ROLE_TRAILER
from runner.gitlog import read_log
from runner.gitrepo import Git, GitError
from runner.model import Fleet, Role
from runner.paths import matches_any
from runner.records import Checkpoint, Commit, ForgeEvent, RunRecord
from runner.yamlfile import parse

EMPTY_TREE = "4b825dc642cb6eb9a060e54bf8d69288fbee4904"
FIRST_RUN_WINDOW = 50  # commits shown to a role that has never run


class SyncError(FleetError):
    """The delta cannot be computed; the message says what is missing and what to do."""


@dataclass(frozen=True)
class TaskChange:
    task: str
    change: str  # created, edited, reassigned, completed, cancelled, reopened, blocked, deleted
    title: str
    detail: str = ""


@dataclass
class Delta:
    role: str
    base: str | None
    head: str
    notes: list[str] = field(default_factory=list)
    commits: list[Commit] = field(default_factory=list)
    diffs: dict[str, str] = field(default_factory=dict)  # path -> unified diff
    tasks: list[TaskChange] = field(default_factory=list)
    runs: list[RunRecord] = field(default_factory=list)
    events: list[ForgeEvent] = field(default_factory=list)

    @property
    def founder_fixes(self) -> list[Commit]:
        return [c for c in self.commits if c.founder_fix]

    def summary(self) -> str:
        parts = [f"{len(self.commits)} commit(s)"]
        if self.founder_fixes:
            parts.append(f"{len(self.founder_fixes)} founder fix(es)")
        if self.diffs:
            parts.append("directives/config changed")
        if self.tasks:
            parts.append(f"{len(self.tasks)} task change(s)")
        answers = sum(e.kind == "answer" for e in self.events)
        if answers:
            parts.append(f"{answers} escalation answer(s)")
        others = len(self.events) - answers
        if others:
            parts.append(f"{others} PR event(s)")
        return ", ".join(parts)


def ensure_history(git: Git, sha: str, remote: str | None, head: str) -> bool:
    """Make `sha` present if the clone is shallow; False if it cannot be found at all."""
    if git.has_object(sha):
        return True
    if not git.is_shallow():
        return False
    if not remote:
        raise SyncError(
            f"checkpoint {sha[:12]} is not in this shallow clone and there is no remote to "
            "fetch it from; clone with full history"
        )
    # only the base branch deepens, counted from its tip: the default refspec would pull
    # every other branch, and --deepen moves every shallow boundary (the ledger's too),
    # into a checkout made cheap on purpose
    spec = _branch_refspec(head, remote)
    try:
        for depth in (50, 200, 1000, 5000):
            deepen = f"--depth={depth}" if spec else f"--deepen={depth}"
            git.run("fetch", "--quiet", "--no-tags", deepen, remote, *spec)
            if git.has_object(sha) or not git.is_shallow():
                break
        else:
            git.run("fetch", "--quiet", "--no-tags", "--unshallow", remote, *spec)
    except GitError as exc:
        raise SyncError(
            f"checkpoint {sha[:12]} is not in this shallow clone and fetching more history "
            f"from '{remote}' failed: {exc.stderr}. In GitHub Actions, check out with "
            "'fetch-depth: 0'"
        ) from exc
    return git.has_object(sha)


def _branch_refspec(head: str, remote: str) -> list[str]:
    """The refspec fetching only the branch `head` names (none for a bare commit)."""
    for prefix in (f"refs/remotes/{remote}/", "refs/heads/"):
        if head.startswith(prefix):
            name = head[len(prefix) :]
            return [f"+refs/heads/{name}:refs/remotes/{remote}/{name}"]
    return []


def _base(
    git: Git,
    delta: Delta,
    since: str | None,
    checkpoint: Checkpoint | None,
    remote: str | None,
    head: str,
) -> str | None:
    """The commit the delta starts after: `--since` (which must exist), else the
    checkpoint; None (the recent window, with a note why) when the checkpoint's history is
    gone or was rewritten."""
    base = since or (checkpoint.sha if checkpoint else None)
    if base is None:
        return None
    resolved = git.rev(base) if since else base
    if resolved is None or not ensure_history(git, resolved, remote, head):
        if since:  # a revision the user typed: a window they did not ask for hides a typo
            raise UsageError(
                f"--since {since}: no such commit in {git.root}"
                + (f" or on {remote}" if remote else ""),
                hint="give a commit, tag or branch (git log --oneline lists them); "
                "without --since, sync starts at the role's checkpoint",
            )
        delta.notes.append(
            f"checkpoint {base[:12]} is not in this repository "
            "(history rewritten or pruned): showing the recent window instead"
        )
        base = None
    elif not git.is_ancestor(resolved, delta.head):
        delta.notes.append(
            f"the base branch was rewritten (force-push): {resolved[:12]} is no longer an "
            f"ancestor of {delta.head[:12]}; showing the recent window instead, re-check "
            "any work that built on the old history"
        )
        base = None
    else:
        base = resolved
    return base


def compute(
    git: Git,
    fleet: Fleet,
    role_name: str,
    head: str,
    *,
    checkpoint: Checkpoint | None,
    since: str | None = None,
    runs: Iterable[RunRecord] = (),
    events: Iterable[ForgeEvent] = (),
    remote: str | None = None,
) -> Delta:
    role = fleet.roles[role_name]
    head_sha = git.rev(head)
    if head_sha is None:
        if git.rev("HEAD") is None:
            raise ConfigError(
                f"the repository at {git.root} has no commits yet",
                hint="commit the fleet files first: git add -A && git commit -m 'fleet'",
            )
        raise SyncError(f"'{head}' does not name a commit in {git.root}")
    delta = Delta(role_name, None, head_sha)
    base = _base(git, delta, since, checkpoint, remote, head)
    if base is None:
        if not since and checkpoint is None:
            delta.notes.append(
                f"first run for {role_name}: showing the last {FIRST_RUN_WINDOW} commits"
            )
        diff_base = git.rev(f"{head_sha}~{FIRST_RUN_WINDOW}") or EMPTY_TREE
        delta.commits = _commits(git, [f"-n{FIRST_RUN_WINDOW}", head_sha], role)
    else:
        delta.base = diff_base = base
        delta.commits = _commits(git, [f"{base}..{head_sha}"], role)
        delta.diffs = _diffs(git, base, head_sha, role)
    delta.tasks = _task_changes(git, diff_base, head_sha, role_name)
    since_time = checkpoint.updated if checkpoint else ""
    delta.runs = [r for r in runs if r.role == role_name and r.started > since_time][-20:]
    events_since = (checkpoint.events_since if checkpoint else None) or ""
    delta.events = sorted((e for e in events if e.created > events_since), key=lambda e: e.created)
    return delta


def _commits(git: Git, revs: list[str], role: Role) -> list[Commit]:
    return [
        replace(c, founder_fix=c.agent_role is None and matches_any_file(c.files, role.writable))
        for c in read_log(git, *revs)
    ]


def matches_any_file(files: Iterable[str], globs: Iterable[str]) -> bool:
    globs = tuple(globs)
    return bool(globs) and any(matches_any(f, globs) for f in files)


def _diffs(git: Git, base: str, head: str, role: Role) -> dict[str, str]:
    """The diff of each of the role's own files that changed. One `--name-only` call
    first: they rarely change, and a git process per file was most of a sync's git."""
    paths = [role.directives, "fleet/directives/all.md", "fleet/fleet.yaml", role.path]
    wanted = list(dict.fromkeys(p for p in paths if p))
    listed = git.run("diff", "--name-only", "--no-renames", "-z", base, head, "--", *wanted)
    changed = set(listed.split("\0"))
    out = {}
    for path in (p for p in wanted if p in changed):
        diff = git.run("diff", "--no-color", "--unified=2", base, head, "--", path)
        if diff.strip():
            out[path] = diff
    return out


def _task_changes(git: Git, base: str, head: str, role: str) -> list[TaskChange]:
    out = git.run("diff", "--name-status", "--no-renames", "-z", base, head, "--", "tasks/")
    items = out.split("\0")
    pairs = [(items[i], items[i + 1]) for i in range(0, len(items) - 1, 2)]
    paths = [p for _, p in pairs if p.endswith((".yaml", ".yml"))]
    blobs = git.read_blobs([f"{base}:{p}" for p in paths] + [f"{head}:{p}" for p in paths])
    changes = []
    for status, path in pairs:
        if not path.endswith((".yaml", ".yml")):
            continue
        old = _task_data(blobs.get(f"{base}:{path}"))
        new = _task_data(blobs.get(f"{head}:{path}"))
        if role not in (old.get("role"), new.get("role")):
            continue
        change = _classify(status, old, new, role)
        if change:
            changes.append(change)
    order = [
        "reassigned",
        "completed",
        "cancelled",
        "reopened",
        "blocked",
        "created",
        "edited",
        "deleted",
    ]
    return sorted(changes, key=lambda c: (order.index(c.change), c.task))


def _task_data(raw: bytes | None) -> dict:
    if raw is None:
        return {}
    doc = parse(raw.decode("utf-8", errors="replace"))
    return doc.data if isinstance(doc.data, dict) else {}


def _classify(status: str, old: dict, new: dict, role: str) -> TaskChange | None:
    data = new or old
    task_id = str(data.get("id", "?"))
    title = str(data.get("title", ""))
    if status.startswith("A"):
        return TaskChange(task_id, "created", title)
    if status.startswith("D"):
        return TaskChange(task_id, "deleted", title)
    if old.get("role") != new.get("role"):
        direction = "to you" if new.get("role") == role else f"to {new.get('role')}"
        return TaskChange(task_id, "reassigned", title, f"from {old.get('role')} {direction}")
    before, after = old.get("status", "open"), new.get("status", "open")
    if before != after:
        kind = {"done": "completed", "cancelled": "cancelled", "blocked": "blocked"}.get(
            after, "reopened"
        )
        return TaskChange(task_id, kind, title, f"status {before} -> {after}")
    changed = sorted(k for k in set(old) | set(new) if old.get(k) != new.get(k))
    if not changed:
        return None
    return TaskChange(task_id, "edited", title, "changed: " + ", ".join(changed))
