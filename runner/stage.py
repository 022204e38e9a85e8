"""Runner git on the agent's work tree, with nothing the agent wrote in control.

The agent can write anything in its work tree, including the `.git` file (pointing git
at a directory of its making), `.gitattributes` (filters, textconv) and, without a jail,
the git directory's config and hooks. Porcelain such as `git add -A`, `git status` or
`git commit` would then run its code with the runner's environment. So the runner:

- names the git directory it created explicitly (`--git-dir`, `--work-tree`), never
  the `.git` file, and runs git with an allow-listed environment (no credentials; no
  system or global config) and with hooks, fsmonitor and the untracked cache off;
- finds changes itself: HEAD's entries (`ls-tree`) against the files as read through
  `safefs` (no link followed), plus untracked files from `ls-files --others`;
- builds commits with plumbing (`hash-object --no-filters`, `update-index --index-info`,
  `write-tree`, `commit-tree`, `update-ref`): no filter, attribute, hook or diff driver
  can run;
- stages only paths inside the role's writable globs (never a path with a `.git`
  component) and reverts everything else, from HEAD's blobs, reporting it.
"""

from __future__ import annotations

import hashlib
import os
import stat
import tempfile
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path

from runner.agent import safefs
from runner.gitrepo import Git
from runner.paths import matches_any

# Variables git may see; everything else (tokens, keys, GIT_* steering) is dropped.
ENV_KEEP = ("PATH", "HOME", "TZ", "LANG", "TMPDIR", "SYSTEMROOT")
HARDENED = (
    "-c",
    "core.hooksPath=/dev/null",
    "-c",
    "core.fsmonitor=false",
    "-c",
    "core.untrackedCache=false",
    "-c",
    "core.attributesFile=/dev/null",
    "-c",
    "core.sshCommand=ssh",
    "-c",
    "diff.external=",
    "-c",
    "protocol.ext.allow=never",
)
GITLINK = "160000"
# The largest file the runner reads to commit: GitHub refuses larger blobs anyway, and a
# sparse file the agent's code made (`truncate -s 1T`) must not be read into memory.
MAX_FILE_BYTES = 100 * 1024 * 1024


def safe_env(environ: Mapping[str, str], extra: Mapping[str, str] | None = None) -> dict[str, str]:
    env = {k: environ[k] for k in ENV_KEEP if k in environ}
    env.update(
        GIT_CONFIG_NOSYSTEM="1",
        GIT_CONFIG_GLOBAL="/dev/null",
        GIT_ATTR_NOSYSTEM="1",
        GIT_TERMINAL_PROMPT="0",
        GIT_NO_REPLACE_OBJECTS="1",
        LC_ALL="C",
    )
    env.update(extra or {})
    return env


def push_auth(git_env: Mapping[str, str] | None) -> dict[str, str]:
    """The runner's push credential (the GIT_CONFIG_* header entries) and nothing else."""
    if not git_env:
        return {}
    return {k: v for k, v in git_env.items() if k.startswith("GIT_CONFIG_")}


@dataclass
class TreeGit:
    """git on one work tree through the git directory the runner created for it."""

    gitdir: Path
    root: Path
    env: dict[str, str]

    def run(self, *args: str, input: bytes | str | None = None, env: dict | None = None) -> str:
        return self._git().run(*self._prefix(), *args, input=input, env=env)

    def run_bytes(self, *args: str, input: bytes | str | None = None) -> bytes:
        return self._git().run_bytes(*self._prefix(), *args, input=input)

    def _git(self) -> Git:
        return Git(self.root, self.env)

    def _prefix(self) -> tuple[str, ...]:
        return (f"--git-dir={self.gitdir}", f"--work-tree={self.root}", *HARDENED)


@dataclass(frozen=True)
class Entry:
    mode: str
    data: bytes
    oversized: bool = False  # over MAX_FILE_BYTES: never read, never committed

    @property
    def sha(self) -> str:
        header = f"blob {len(self.data)}\0".encode()
        return hashlib.sha1(header + self.data, usedforsecurity=False).hexdigest()


def head_entries(tg: TreeGit) -> dict[str, tuple[str, str]]:
    """path -> (mode, blob sha) at HEAD."""
    out = tg.run_bytes("ls-tree", "-r", "-z", "--full-tree", "HEAD").decode("utf-8", "replace")
    entries = {}
    for line in out.split("\0"):
        if line:
            meta, path = line.split("\t", 1)
            mode, _, sha = meta.split(" ")
            entries[path] = (mode, sha)
    return entries


def read_entry(root: Path, rel: str) -> Entry | None:
    """The work tree's version of `rel` as git would store it; None when absent (or not
    a file or link: sockets, FIFOs and devices are never committed)."""
    st = safefs.lstat(root, rel)
    if st is None:
        return None
    if stat.S_ISLNK(st.st_mode):
        return Entry("120000", os.fsencode(safefs.readlink(root, rel)))
    if not stat.S_ISREG(st.st_mode):
        return None
    mode = "100755" if st.st_mode & stat.S_IXUSR else "100644"
    if st.st_size > MAX_FILE_BYTES:
        return Entry(mode, b"", oversized=True)
    return Entry(mode, safefs.read_bytes(root, rel, limit=MAX_FILE_BYTES))


def changes(tg: TreeGit) -> dict[str, Entry | None]:
    """Every path whose work-tree state differs from HEAD: new content, or None (gone)."""
    head = head_entries(tg)
    found: dict[str, Entry | None] = {}
    for path, (mode, sha) in head.items():
        if mode == GITLINK:
            continue
        entry = read_entry(tg.root, path)
        if entry is None or (entry.mode, entry.sha) != (mode, sha):
            found[path] = entry
    others = tg.run_bytes("ls-files", "-z", "--others", "--exclude-standard")
    for raw in others.split(b"\0"):
        path = raw.decode("utf-8", "surrogateescape")
        if not path or path in head:
            continue
        entry = read_entry(tg.root, path.rstrip("/"))
        found[path.rstrip("/")] = entry if not path.endswith("/") else None
    return found


def permitted(path: str, writable: Iterable[str], runner_paths: Iterable[str] = ()) -> bool:
    """May this path be committed: inside the writable globs (or written by the runner
    itself), and never git's own (`.git` anywhere in it) nor `.github/` unless granted."""
    parts = path.split("/")
    if any(p.lower() == ".git" for p in parts):
        return False
    if path in set(runner_paths):
        return True
    writable = tuple(writable)
    if path.startswith(".github/") and not any(g.startswith(".github/") for g in writable):
        return False
    return matches_any(path, writable)


def revert(tg: TreeGit, paths: Iterable[str]) -> None:
    """Put these paths back as HEAD has them (or remove them), writing through safefs."""
    head = head_entries(tg)
    for path in paths:
        safefs.remove(tg.root, path)
        if path in head and head[path][0] != GITLINK:
            mode, sha = head[path]
            data = tg.run_bytes("cat-file", "blob", sha)
            if mode == "120000":
                safefs.symlink(tg.root, path, os.fsdecode(data))
            else:
                safefs.write_bytes(tg.root, path, data, mode=0o755 if mode == "100755" else 0o644)


def commit(tg: TreeGit, updates: Mapping[str, Entry | None], message: str, env: dict) -> str:
    """A commit of HEAD plus `updates`, made with plumbing only; returns its SHA."""
    lines = []
    for path, entry in sorted(updates.items()):
        if entry is None:
            lines.append(f"0 {'0' * 40}\t{path}")
        else:
            sha = tg.run("hash-object", "-w", "--no-filters", "--stdin", input=entry.data)
            lines.append(f"{entry.mode} {sha.strip()}\t{path}")
    head = tg.run("rev-parse", "--verify", "HEAD").strip()
    with tempfile.TemporaryDirectory(prefix="fleet-index-") as tmp:
        index = {"GIT_INDEX_FILE": str(Path(tmp) / "index")}
        tg.run("read-tree", head, env=index)
        tg.run("update-index", "--index-info", input="\n".join(lines) + "\n", env=index)
        tree = tg.run("write-tree", env=index).strip()
    sha = tg.run("commit-tree", tree, "-p", head, "-F", "-", input=message, env=env).strip()
    tg.run("update-ref", "-m", "fleet: commit", "HEAD", sha, head)
    tg.run("read-tree", sha)  # the work tree's index follows HEAD (porcelain reads it)
    return sha
