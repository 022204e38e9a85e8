"""Read-only git inside the jail: a throwaway git directory per command.

The runner's git directory (config, hooks, refs, index) is never mounted in the jail, so
`git log`, `git diff` and `git status` would find no repository. Before every jailed
command the runner builds a fresh git directory next to the work tree: HEAD on the work
branch, refs for the branch and the base, an index of HEAD, an empty config, no hooks,
and `objects/info/alternates` naming the runner's object store, which the jail mounts
read-only (so the agent can read history but never add, change or delete an object the
runner will use). The command gets `GIT_DIR`/`GIT_WORK_TREE` pointing at it.

The agent may scribble on that directory (a config with an fsmonitor, hooks, refs): it
runs only inside the jail, the runner never reads it (runner git uses the git directory
it recorded when it made the worktree, see `runner.stage`), and the next command gets a
new one. The old one is removed with `shutil.rmtree`, which never follows a link the
agent planted.
"""

from __future__ import annotations

import os
import shutil
import stat
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from runner import stage
from runner.gitrepo import Git

CONFIG = b"[core]\n\trepositoryformatversion = 0\n\tbare = false\n"
# What jailed git may see of the runner's environment: nothing that steers git.
GIT_ENV = {
    "GIT_CONFIG_NOSYSTEM": "1",
    "GIT_CONFIG_GLOBAL": "/dev/null",
    "GIT_TERMINAL_PROMPT": "0",
}


@dataclass(frozen=True)
class GitView:
    """One built throwaway git directory: bind `gitdir` writable and `objects` read-only
    (at the same paths), and add `env` to the command's environment."""

    gitdir: Path
    objects: tuple[str, ...]
    env: dict[str, str]


def object_stores(objects: Path) -> list[Path]:
    """The runner's object store and every store it borrows from (its own alternates),
    which jailed git must reach too."""
    found: list[Path] = []
    todo = [objects.resolve()]
    while todo:
        store = todo.pop()
        if store in found or not store.is_dir():
            continue
        found.append(store)
        alternates = store / "info" / "alternates"
        if alternates.is_file():
            for line in alternates.read_text("utf-8", "replace").splitlines():
                if line.strip() and not line.startswith("#"):
                    todo.append((store / line.strip()).resolve())
    return found


def reachable(path: Path, uid: int, gid: int) -> bool:
    """Can `uid` (no supplementary groups: the jail clears them) search every directory
    down to `path` and read it? bubblewrap mounts it as that user."""
    current = Path("/")
    for part in [*path.parts[1:], None]:
        st = current.stat()
        need = (stat.S_IXUSR, stat.S_IXGRP, stat.S_IXOTH)
        if part is None:
            need = (stat.S_IXUSR | stat.S_IRUSR, stat.S_IXGRP | stat.S_IRGRP, 0o005)
        bits = need[0] if st.st_uid == uid else need[1] if st.st_gid == gid else need[2]
        if st.st_mode & bits != bits:
            return False
        if part is not None:
            current = current / part
    return True


@dataclass
class JailGit:
    """Builds the throwaway git directory for each jailed command, from the runner's own
    refs (read through its own git directory, never the agent's)."""

    git: Git  # the runner's repository
    objects: Path  # its object store
    branch: str  # refs/heads/... of the work branch
    base: str  # the base ref, e.g. refs/remotes/origin/main
    where: Path  # host path of the throwaway directory (beside the work tree)
    work_tree: Path
    user: tuple[int, int] | None = None  # the jail's uid/gid when it differs from ours
    _index: dict[str, bytes] = field(default_factory=dict)
    _why: str | None = None

    def unavailable(self) -> str:
        """Why jailed git cannot work here ('' when it can); checked once per run."""
        if self._why is None:
            self._why = self._check()
        return self._why

    def _check(self) -> str:
        if self.user is None:
            return ""
        for store in object_stores(self.objects):
            if not reachable(store, *self.user):
                return (
                    f"the sandbox user (uid {self.user[0]}) cannot reach the object store "
                    f"{store}; make its parent directories searchable (chmod o+x) or run "
                    "fleet as a non-root user"
                )
        return ""

    def build(self) -> GitView:
        """A fresh throwaway git directory on the branch's current tip."""
        shutil.rmtree(self.where, ignore_errors=True)
        self.where.mkdir(mode=0o700)
        stores = object_stores(self.objects)
        tips = self._tips()
        (self.where / "HEAD").write_text(f"ref: {self.branch}\n")
        (self.where / "config").write_bytes(CONFIG)
        (self.where / "objects" / "info").mkdir(parents=True)
        (self.where / "objects" / "info" / "alternates").write_text(
            "".join(f"{s}\n" for s in stores)
        )
        for ref, sha in tips.items():
            path = self.where / ref
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(sha + "\n")
        head = tips[self.branch]
        if head not in self._index:
            self._read_tree(head)
        (self.where / "index").write_bytes(self._index[head])
        if self.user is not None:
            for top, dirs, files in os.walk(self.where):
                for name in (*dirs, *files):
                    os.lchown(Path(top) / name, *self.user)
            os.lchown(self.where, *self.user)
        env = dict(GIT_ENV, GIT_DIR=str(self.where), GIT_WORK_TREE=str(self.work_tree))
        return GitView(self.where, tuple(str(s) for s in stores), env)

    def _tips(self) -> dict[str, str]:
        refs = [self.branch] if self.base == self.branch else [self.branch, self.base]
        out = self.git.run("rev-parse", *refs).split()  # refs/...: never an option
        return dict(zip(refs, out, strict=True))

    def _read_tree(self, sha: str) -> None:
        """HEAD's index, made once per commit by runner git in the fresh directory
        before the jail ever sees it."""
        env = stage.safe_env(self.git.env if self.git.env is not None else os.environ)
        tg = stage.TreeGit(self.where, self.work_tree, env)
        tg.run("read-tree", sha)
        self._index[sha] = (self.where / "index").read_bytes()


def jail_env(env: Mapping[str, str], view: GitView) -> dict[str, str]:
    """The command's environment with nothing from the runner that steers git (GIT_DIR,
    GIT_CONFIG_*, GIT_INDEX_FILE, ...), then the throwaway directory's."""
    out = {k: v for k, v in env.items() if not k.startswith("GIT_")}
    out.update(view.env)
    return out
