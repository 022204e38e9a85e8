"""Read an agent's git bundle without running anything from it.

The bundle is verified, fetched with object checks into a quarantine ref, and read with
plumbing only (`rev-list`, `diff-tree`, `cat-file`): no checkout, so no hook, filter,
attribute or diff driver the agent wrote can run. The repository it is read into is the
apply phase's own clone of the base branch, whose configuration the agent never touched.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from runner.gitrepo import Git, GitError

MAX_BUNDLE_BYTES = 256 * 1024 * 1024
GITLINK, SYMLINK = "160000", "120000"
# fsck on fetch: rejects `.git` path components, malformed trees and .gitmodules tricks
CHECKED = ("-c", "fetch.fsckObjects=true", "-c", "transfer.fsckObjects=true")


class BundleError(Exception):
    """The bundle is unusable: missing, malformed, or not the history it claims to be."""


@dataclass(frozen=True)
class CommitInfo:
    sha: str
    parents: tuple[str, ...]
    author_email: str
    committer_email: str
    message: str
    header: str = ""  # the raw header lines (author and committer names, extra headers)


@dataclass(frozen=True)
class Change:
    commit: str
    old_mode: str
    new_mode: str
    old_sha: str
    new_sha: str
    status: str  # A, M, D, T
    path: str

    @property
    def deleted(self) -> bool:
        return self.status == "D"


def quarantine(git: Git, bundle: Path, branch: str, head: str, ref: str) -> None:
    """Fetch `branch` from `bundle` into `ref` after checking the bundle is what it says."""
    if not bundle.is_file() or bundle.is_symlink():
        raise BundleError(f"{bundle.name} is missing or not a regular file")
    if bundle.stat().st_size > MAX_BUNDLE_BYTES:
        raise BundleError(f"{bundle.name} is larger than {MAX_BUNDLE_BYTES} bytes")
    try:
        git.run("bundle", "verify", "--quiet", str(bundle))
        heads = git.run("bundle", "list-heads", str(bundle)).split()
    except GitError as exc:
        raise BundleError(f"{bundle.name} does not verify: {exc.stderr[:300]}") from None
    listed = dict(zip(heads[1::2], heads[0::2], strict=False))
    if listed != {f"refs/heads/{branch}": head}:
        raise BundleError(
            f"{bundle.name} must hold exactly refs/heads/{branch} at {head[:12]}; "
            f"it holds {', '.join(sorted(listed)) or 'nothing'}"
        )
    try:
        git.run(
            *CHECKED, "fetch", "--quiet", "--no-tags", "--no-write-fetch-head",
            str(bundle), f"+refs/heads/{branch}:{ref}",
        )  # fmt: skip
    except GitError as exc:
        raise BundleError(f"{bundle.name} failed object checks: {exc.stderr[:300]}") from None


def commits(git: Git, start: str, head: str) -> list[CommitInfo]:
    """The commits `start..head`, oldest first, with authors and messages."""
    shas = git.run("rev-list", "--reverse", f"{start}..{head}").split()
    raw = git.read_blobs(shas)
    out = []
    for sha in shas:
        data = (raw[sha] or b"").decode("utf-8", errors="replace")
        header, _, message = data.partition("\n\n")
        parents, author, committer = [], "", ""
        for line in header.splitlines():
            key, _, value = line.partition(" ")
            if key == "parent":
                parents.append(value)
            elif key == "author":
                author = _email(value)
            elif key == "committer":
                committer = _email(value)
        out.append(CommitInfo(sha, tuple(parents), author, committer, message, header))
    return out


def _email(ident: str) -> str:
    return ident[ident.find("<") + 1 : ident.find(">")] if "<" in ident else ""


def changes(git: Git, parent: str, commit: str) -> list[Change]:
    """Every path `commit` changed against `parent` (raw, no renames, no drivers)."""
    out = git.run_bytes(
        "diff-tree", "-r", "-z", "--no-renames", "--no-ext-diff", "--no-textconv",
        "--no-commit-id", parent, commit,
    ).decode("utf-8", errors="surrogateescape")  # fmt: skip
    fields = out.split("\0")
    found = []
    for i in range(0, len(fields) - 1, 2):
        meta = fields[i].lstrip(":").split()
        if len(meta) != 5:
            continue
        old_mode, new_mode, old_sha, new_sha, status = meta
        found.append(Change(commit, old_mode, new_mode, old_sha, new_sha, status[0], fields[i + 1]))
    return found


def numstat(git: Git, start: str, head: str) -> tuple[set[str], int]:
    """Paths changed and lines added plus deleted between `start` and `head`."""
    out = git.run("diff-tree", "-r", "-z", "--numstat", "--no-renames", start, head)
    paths, lines = set(), 0
    for entry in out.split("\0"):
        parts = entry.split("\t", 2)
        if len(parts) == 3:
            added, deleted, path = parts
            paths.add(path)
            lines += int(added) if added.isdigit() else 0
            lines += int(deleted) if deleted.isdigit() else 0
    return paths, lines


def sizes(git: Git, shas: list[str]) -> dict[str, int]:
    """Object sizes, without reading the objects."""
    if not shas:
        return {}
    out = git.run("cat-file", "--batch-check=%(objectname) %(objectsize)", input="\n".join(shas))
    result = {}
    for line in out.splitlines():
        sha, _, size = line.partition(" ")
        if size.isdigit():
            result[sha] = int(size)
    return result
