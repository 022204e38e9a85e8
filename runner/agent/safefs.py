"""File access inside the work tree that no link can redirect.

The runner reads and writes the agent's work tree in its own process, with its own
privileges (root on a CI machine, the environment holding every credential). The tree
is attacker-shaped: any component may be a symlink (into /proc/self/environ, /etc, the
runner's checkout), any file a hard link to something outside, a FIFO that blocks a
read forever. So every access walks the path one component at a time from a directory
descriptor of the root with O_NOFOLLOW, opens only regular files, refuses files with
more than one link for writing, and writes by rename so nothing is written *through*
an existing name.
"""

from __future__ import annotations

import contextlib
import os
import secrets
import shutil
import stat
from collections.abc import Iterator
from pathlib import Path

from runner.errors import FleetError

_DIR = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC


class UnsafePath(FleetError):
    """The path leaves the tree, crosses a link, or is not a regular file."""


def _parts(rel: str) -> list[str]:
    parts = [p for p in rel.split("/") if p not in ("", ".")]
    if not parts or any(p == ".." for p in parts) or "\0" in rel:
        raise UnsafePath(f"{rel}: not a path inside the work tree")
    return parts


@contextlib.contextmanager
def parent_dir(root: Path, rel: str, *, create: bool = False) -> Iterator[tuple[int, str]]:
    """(descriptor of the directory holding `rel`, its last component); every directory
    on the way is opened with O_NOFOLLOW, so a symlinked directory stops the walk."""
    parts = _parts(rel)
    fd = os.open(root, _DIR)
    try:
        for part in parts[:-1]:
            if create:
                with contextlib.suppress(FileExistsError):
                    os.mkdir(part, 0o755, dir_fd=fd)
            try:
                nxt = os.open(part, _DIR, dir_fd=fd)
            except OSError as exc:
                raise UnsafePath(f"{rel}: {part} is not a directory inside the tree") from exc
            os.close(fd)
            fd = nxt
        yield fd, parts[-1]
    finally:
        os.close(fd)


def lstat(root: Path, rel: str) -> os.stat_result | None:
    """The entry's own status (a link is not followed), None when it does not exist or a
    directory on the way is not a real directory."""
    try:
        with parent_dir(root, rel) as (fd, name):
            return os.stat(name, dir_fd=fd, follow_symlinks=False)
    except (UnsafePath, FileNotFoundError, NotADirectoryError):
        return None


def read_bytes(root: Path, rel: str, limit: int | None = None) -> bytes:
    """A regular file's bytes; a symlink, FIFO, device or directory is refused."""
    with parent_dir(root, rel) as (dfd, name):
        flags = os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC
        try:
            fd = os.open(name, flags, dir_fd=dfd)
        except OSError as exc:
            if exc.errno in (40, 20):  # ELOOP (a symlink), ENOTDIR
                raise UnsafePath(f"{rel}: a symbolic link; not followed") from None
            raise
        try:
            st = os.fstat(fd)
            if not stat.S_ISREG(st.st_mode):
                raise UnsafePath(f"{rel}: not a regular file")
            chunks, left = [], st.st_size if limit is None else min(st.st_size, limit)
            while left > 0:
                chunk = os.read(fd, min(left, 1 << 20))
                if not chunk:
                    break
                chunks.append(chunk)
                left -= len(chunk)
            return b"".join(chunks)
        finally:
            os.close(fd)


def readlink(root: Path, rel: str) -> str:
    with parent_dir(root, rel) as (dfd, name):
        return os.readlink(name, dir_fd=dfd)


def write_bytes(root: Path, rel: str, data: bytes, *, mode: int = 0o644) -> None:
    """Replace `rel` atomically with a new file. A hard-linked target (st_nlink > 1) is
    refused: the agent made that link, and the other name may be anywhere."""
    with parent_dir(root, rel, create=True) as (dfd, name):
        with contextlib.suppress(FileNotFoundError):
            st = os.stat(name, dir_fd=dfd, follow_symlinks=False)
            if stat.S_ISDIR(st.st_mode):
                raise UnsafePath(f"{rel}: is a directory")
            if stat.S_ISREG(st.st_mode) and st.st_nlink > 1:
                raise UnsafePath(f"{rel}: has {st.st_nlink} hard links; refusing to write it")
        tmp = f".{name}.fleet-{secrets.token_hex(6)}"
        flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC
        fd = os.open(tmp, flags, mode, dir_fd=dfd)
        try:
            with os.fdopen(fd, "wb", closefd=True) as out:
                out.write(data)
            os.chmod(tmp, mode, dir_fd=dfd, follow_symlinks=False)
            os.rename(tmp, name, src_dir_fd=dfd, dst_dir_fd=dfd)
        except BaseException:
            with contextlib.suppress(OSError):
                os.unlink(tmp, dir_fd=dfd)
            raise


def symlink(root: Path, rel: str, target: str) -> None:
    remove(root, rel)
    with parent_dir(root, rel, create=True) as (dfd, name):
        os.symlink(target, name, dir_fd=dfd)


def remove(root: Path, rel: str) -> None:
    """Remove a file, link or whole directory at `rel` (never what a link points to)."""
    try:
        with parent_dir(root, rel) as (dfd, name):
            try:
                st = os.stat(name, dir_fd=dfd, follow_symlinks=False)
            except FileNotFoundError:
                return
            if stat.S_ISDIR(st.st_mode):
                shutil.rmtree(name, dir_fd=dfd)
            else:
                os.unlink(name, dir_fd=dfd)
    except UnsafePath:
        return  # a directory on the way is a link or gone: nothing of ours is there


def walk_files(root: Path) -> Iterator[str]:
    """Every non-directory entry under root (links included, not followed), skipping
    the top-level `.git`; repository-relative, sorted per directory."""
    stack = [""]
    while stack:
        rel_dir = stack.pop()
        try:
            entries = sorted(os.scandir(root / rel_dir if rel_dir else root), key=lambda e: e.name)
        except OSError:
            continue
        for entry in entries:
            rel = f"{rel_dir}/{entry.name}" if rel_dir else entry.name
            if rel == ".git":
                continue
            if entry.is_dir(follow_symlinks=False):
                stack.append(rel)
            else:
                yield rel
