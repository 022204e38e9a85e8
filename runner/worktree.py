"""The work branch `fleet/<role>/<task>`, checked out in its own git worktree.

The user's checkout is never touched. Work is committed (and pushed, when there is a
remote) after every batch of writes, so a killed job loses at most its last step; a
later run of the task resumes from the branch.
"""

from __future__ import annotations

import contextlib
import re
import shutil
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

from runner.gitrepo import Git, GitError


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

    def open(self, base: str) -> Path:
        """Check the branch out in a fresh worktree: resumed if it exists, else from base."""
        existing = self.git.rev(f"refs/heads/{self.branch}")
        if self.remote:
            with contextlib.suppress(GitError):  # no such branch on the remote yet
                ref = f"+refs/heads/{self.branch}:refs/remotes/{self.remote}/{self.branch}"
                self.git.run("fetch", "--quiet", "--no-tags", self.remote, ref)
            existing = self.git.rev(f"refs/remotes/{self.remote}/{self.branch}") or existing
        self.resumed_from = existing
        start = existing or base
        tmp = Path(tempfile.mkdtemp(prefix="fleet-work-"))
        self.path = tmp / re.sub(r"[^A-Za-z0-9._-]", "_", self.branch)
        self._remove_stale_worktrees()
        self.git.run("worktree", "add", "--quiet", "-B", self.branch, str(self.path), start)
        return self.path

    def _remove_stale_worktrees(self) -> None:
        """A killed run on this machine can leave the branch checked out; the planner
        never starts a task whose run is live, so such a worktree is stale."""
        self.git.run("worktree", "prune")
        listing = self.git.run("worktree", "list", "--porcelain")
        for entry in listing.split("\n\n"):
            fields = dict(line.split(" ", 1) for line in entry.splitlines() if " " in line)
            if fields.get("branch") == f"refs/heads/{self.branch}":
                self.git.run("worktree", "remove", "--force", fields["worktree"])

    def resume_note(self, base_git: Git) -> str:
        if not self.resumed_from:
            return ""
        log = base_git.run("log", "--format=- %h %s", "-n", "20", self.resumed_from)
        return (
            f"This task's work branch {self.branch} already exists (an earlier run); you "
            f"are continuing from it. Its commits:\n{log}"
        )

    def commit(self, message: str, *, trailers: dict[str, str] | None = None) -> str | None:
        """Commit everything in the worktree; push it. None when there was nothing."""
        wt = self._tree()
        wt.run("add", "-A")
        if wt.succeeds("diff", "--cached", "--quiet"):
            return None
        lines = [message, ""] + [
            f"{k}: {v}"
            for k, v in {
                "Fleet-Role": self.role,
                "Fleet-Run": self.run_id,
                **(trailers or {}),
            }.items()
        ]
        wt.run(
            "commit",
            "--quiet",
            "--no-verify",
            "-F",
            "-",
            input="\n".join(lines) + "\n",
            env=agent_identity(self.role),
        )
        sha = wt.run("rev-parse", "HEAD").strip()
        self.commits.append(sha)
        self.push()
        return sha

    def push(self) -> None:
        if not self.remote:
            return
        wt = self._tree()
        try:
            wt.run("push", "--quiet", self.remote, f"HEAD:refs/heads/{self.branch}")
            self.push_error = None
        except GitError as exc:
            self.push_error = exc.stderr or str(exc)

    def _root(self) -> Path:
        if self.path is None:
            raise RuntimeError("the work branch is not checked out; call open() first")
        return self.path

    def _tree(self) -> Git:
        return Git(self._root(), self.git.env)

    def changed_paths(self) -> list[str]:
        """Paths changed in the worktree (uncommitted), repository-relative."""
        out = self._tree().run("status", "--porcelain", "-z", "--untracked-files=all")
        paths = []
        for entry in out.split("\0"):
            if len(entry) > 3:
                paths.append(entry[3:])
        return paths

    def discard(self, paths: list[str]) -> None:
        wt = self._tree()
        for p in paths:
            if wt.succeeds("ls-files", "--error-unmatch", "--", p):
                wt.run("checkout", "--quiet", "HEAD", "--", p)
            else:
                target = self._root() / p
                if target.is_dir():
                    shutil.rmtree(target)
                else:
                    target.unlink(missing_ok=True)

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
