"""The work branch `fleet/<role>/<task>`, checked out in its own git worktree.

The user's checkout is never touched. Work is committed (and pushed, when there is a
remote) after every batch of writes, so a killed job loses at most its last step; a
later run of the task resumes from the branch.
"""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import tempfile
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from runner import faults, stage
from runner.agent import safefs
from runner.agent.jailgit import JailGit
from runner.gitrepo import Git, GitError

# Push refusals no retry can fix: (what the remote said, what a human must do).
NEEDS_HUMAN = (
    (
        "refusing to allow",
        "the token may not create or update workflow files (.github/workflows/): give the "
        "job a token with the `workflows` permission, or take .github/workflows/ out of the "
        "role's writable paths and drop those changes from the branch",
    ),
    (
        "protected branch",
        "a branch protection rule forbids this push: exempt the fleet's branch prefix, or "
        "let the runner's token push to it",
    ),
    (
        "gh013",
        "a repository ruleset forbids this push: exempt the fleet's branch prefix from it",
    ),
    (
        "permission to",
        "the token may not push to this repository: give the job `permissions: contents: "
        "write` (or a token with write access)",
    ),
    (
        "error: 403",
        "the token may not push to this repository: give the job `permissions: contents: "
        "write` (or a token with write access)",
    ),
)


def push_needs_human(stderr: str) -> str | None:
    """What a human must do about a push refusal, or None when a later run may succeed."""
    text = stderr.lower()
    return next((hint for marker, hint in NEEDS_HUMAN if marker in text), None)


def agent_identity(role: str) -> dict[str, str]:
    name, email = f"{role} (fleet)", f"fleet-{role}@users.noreply.github.com"
    return {
        "GIT_AUTHOR_NAME": name,
        "GIT_AUTHOR_EMAIL": email,
        "GIT_COMMITTER_NAME": name,
        "GIT_COMMITTER_EMAIL": email,
    }


@dataclass
class WorkBranch:
    git: Git
    branch: str
    role: str
    run_id: str
    remote: str | None
    path: Path | None = None
    resumed_from: str | None = None
    commits: list[str] = field(default_factory=list)
    push_error: str | None = None
    writable: tuple[str, ...] = ()  # the role's globs: nothing else is ever committed
    runner_paths: set[str] = field(default_factory=set)  # files the runner itself wrote
    reverted: list[str] = field(default_factory=list)  # agent changes outside writable
    gitdir: Path | None = None  # the worktree's git directory, as created (not as .git says)
    push_enabled: bool = True  # False in the agent phase: the apply phase pushes the bundle
    # one-process runs: (from, to) -> whether the commits from..to may be pushed; a
    # refusal holds the branch here for the rest of the run (`held`)
    screen: Callable[[str, str], bool] | None = None
    screened: str | None = None  # what the remote has (or the base): scanned from here
    held: bool = False
    common: Path | None = None  # the repository's git directory (its object store inside)
    _configs: dict[Path, bytes | None] = field(default_factory=dict)

    def open(self, base: str) -> Path:
        """Check the branch out in a fresh worktree: resumed if it exists, else from base.
        A local branch ahead of the remote one holds work a failed push left behind: it
        is resumed (and pushed by this run), never dropped for the remote's older tip."""
        local = self.git.rev(f"refs/heads/{self.branch}")
        existing, remote = local, None
        if self.remote:
            with contextlib.suppress(GitError):  # no such branch on the remote yet
                ref = f"+refs/heads/{self.branch}:refs/remotes/{self.remote}/{self.branch}"
                self.git.run("fetch", "--quiet", "--no-tags", self.remote, ref)
            remote = self.git.rev(f"refs/remotes/{self.remote}/{self.branch}")
            if remote and not (local and self.git.is_ancestor(remote, local)):
                existing = remote
        self.resumed_from = existing
        start = existing or base
        self.screened = remote or self.git.rev(base)
        tmp = Path(tempfile.mkdtemp(prefix="fleet-work-"))
        tmp.chmod(0o711)  # the jail's user must reach the tree inside; listing stays closed
        self.path = tmp / re.sub(r"[^A-Za-z0-9._-]", "_", self.branch)
        self._remove_stale_worktrees()
        self.git.run(
            *stage.HARDENED, "worktree", "add", "--quiet", "-B", self.branch, str(self.path), start
        )
        # Read once, now, before any agent code runs: later the file is the agent's.
        pointer = (self.path / ".git").read_text("utf-8").strip().removeprefix("gitdir: ")
        self.gitdir = (self.path / pointer).resolve()
        common = Path(self.git.run("rev-parse", "--git-common-dir").strip())
        common = common if common.is_absolute() else (self.git.root / common).resolve()
        self.common = common
        for file in (common / "config", self.gitdir / "config.worktree"):
            self._configs[file] = file.read_bytes() if file.exists() else None
        return self.path

    def _guard_config(self) -> None:
        """Git config the runner's git would read (remote URLs, url.*.insteadOf, ...) is
        put back as it was before the agent ran, should anything have changed it (only
        possible without a jail); the change is reported like any other revert."""
        for file, before in self._configs.items():
            now = file.read_bytes() if file.exists() else None
            if now == before:
                continue
            if before is None:
                file.unlink()
            else:
                file.write_bytes(before)
            self.reverted.append(f"(git config) {file.name}")

    def _remove_stale_worktrees(self) -> None:
        """A killed run on this machine can leave the branch checked out; the planner
        never starts a task whose run is live, so such a worktree is stale."""
        self.git.run("worktree", "prune")
        listing = self.git.run("worktree", "list", "--porcelain")
        for entry in listing.split("\n\n"):
            fields = dict(line.split(" ", 1) for line in entry.splitlines() if " " in line)
            if fields.get("branch") == f"refs/heads/{self.branch}":
                self.git.run("worktree", "remove", "--force", fields["worktree"])

    def jail_git(self, base: str, user: tuple[int, int] | None) -> JailGit:
        """Read-only git for jailed commands: a throwaway git directory beside the work
        tree (never inside it, so nothing of it is ever committed), on this branch."""
        if self.path is None or self.common is None:
            raise RuntimeError("the work branch is not checked out; call open() first")
        return JailGit(
            self.git,
            self.common / "objects",
            f"refs/heads/{self.branch}",
            base,
            self.path.parent / "git",
            self.path,
            user,
        )

    def resume_note(self, base_git: Git) -> str:
        if not self.resumed_from:
            return ""
        log = base_git.run("log", "--format=- %h %s", "-n", "20", self.resumed_from)
        return (
            f"This task's work branch {self.branch} already exists (an earlier run); you "
            f"are continuing from it. Its commits:\n{log}"
        )

    def commit(self, message: str, *, trailers: dict[str, str] | None = None) -> str | None:
        """Commit what the role may write (reverting the rest); push it. None when there
        was nothing. Plumbing only: no hook, filter or attribute of the agent's runs."""
        self._guard_config()
        self.sweep()
        tg = self._tree()
        updates = stage.changes(tg)
        if not updates:
            return None
        lines = [message, ""] + [
            f"{k}: {v}"
            for k, v in {
                "Fleet-Role": self.role,
                "Fleet-Run": self.run_id,
                **(trailers or {}),
            }.items()
        ]
        sha = stage.commit(tg, updates, "\n".join(lines) + "\n", agent_identity(self.role))
        self.commits.append(sha)
        faults.hit("commit")
        self.push()
        return sha

    def sweep(self) -> list[str]:
        """Revert every change outside the role's writable globs, and every file too big
        to commit (its size is not read into memory); returns those paths."""
        tg = self._tree()
        found = stage.changes(tg)
        outside = [p for p in found if not stage.permitted(p, self.writable, self.runner_paths)]
        big = [p for p, e in found.items() if e is not None and e.oversized and p not in outside]
        stage.revert(tg, outside + big)
        notes = outside + [f"{p} (over {stage.MAX_FILE_BYTES} bytes)" for p in big]
        self.reverted.extend(p for p in notes if p not in self.reverted)
        return outside + big

    def push(self) -> None:
        """Push the branch (never forced: a rejected push keeps the work here, and the
        next run pushes it). `push_error` holds the remote's answer until a push works."""
        if not self.remote or not self.push_enabled or self.path is None:
            return
        if not self._screen_passes():
            self.push_enabled, self.held = False, True  # nothing more leaves this run
            return
        self._guard_config()
        try:
            wt = self._tree(stage.push_auth(self.git.env))
            wt.run("push", "--quiet", self.remote, f"HEAD:refs/heads/{self.branch}")
        except GitError as exc:
            self.push_error = exc.stderr or str(exc)
            return
        self.push_error = None
        faults.hit("push")

    def _screen_passes(self) -> bool:
        """The screen's verdict on the commits not yet screened (True without a screen)."""
        head = self.git.rev(f"refs/heads/{self.branch}")
        if self.screen is None or head is None or head == self.screened:
            return True
        if not self.screen(self.screened or head, head):
            return False
        self.screened = head
        return True

    def _root(self) -> Path:
        if self.path is None:
            raise RuntimeError("the work branch is not checked out; call open() first")
        return self.path

    def _tree(self, auth: dict[str, str] | None = None) -> stage.TreeGit:
        """git on the work tree through the git directory the runner created, with an
        allow-listed environment (plus the push credential only when pushing)."""
        if self.gitdir is None:
            raise RuntimeError("the work branch is not checked out; call open() first")
        environ = self.git.env if self.git.env is not None else os.environ
        return stage.TreeGit(self.gitdir, self._root(), stage.safe_env(environ, auth))

    def changed_paths(self) -> list[str]:
        """Paths changed in the worktree (uncommitted), repository-relative."""
        return sorted(stage.changes(self._tree()))

    def discard(self, paths: list[str]) -> None:
        stage.revert(self._tree(), paths)

    def files(self) -> list[str]:
        """Tracked and untracked, not ignored files, listed by runner git (the agent's
        tools never run git themselves)."""
        out = self._tree().run_bytes("ls-files", "-z", "--cached", "--others", "--exclude-standard")
        names = {raw.decode("utf-8", "replace") for raw in out.split(b"\0") if raw}
        return sorted(n for n in names if not n.endswith("/"))

    def read_text(self, rel: str) -> str | None:
        """A file of the work tree as the runner reads it: never through a link."""
        try:
            return safefs.read_bytes(self._root(), rel).decode("utf-8")
        except (OSError, safefs.UnsafePath, UnicodeDecodeError):
            return None

    def write_text(self, rel: str, text: str) -> None:
        safefs.write_bytes(self._root(), rel, text.encode("utf-8"))

    def close(self) -> None:
        """Remove the worktree; a branch this run created but never committed to goes too,
        so a run that did nothing leaves nothing that looks like work in progress."""
        if self.path is None:
            return
        try:
            self.git.run("worktree", "remove", "--force", str(self.path))
        except GitError:
            shutil.rmtree(self.path, ignore_errors=True)
            self.git.run("worktree", "prune")
        shutil.rmtree(self.path.parent, ignore_errors=True)
        if not self.commits and not self.resumed_from:
            self.git.run("branch", "-D", "--quiet", self.branch)
