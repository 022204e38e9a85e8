"""A cache of fleet files (tasks, roles, fleet.yaml) that parsed and passed their
schema, so that loading 10,000 task files does not parse and validate 10,000 unchanged
files on every command, and a command that loads only fleet.yaml and the roles (`fleet
sync`) compiles no schema validator. One file per kind, so the second reads no tasks.

It is a speed-up and never a source of truth:

- an entry is keyed by the SHA-256 of the file's exact text, so an edited file misses;
- each kind's cache is bound, by its `salt`, to the runner's version, that kind's schema
  and the YAML reader's source: a new schema or parser misses everything;
- only files that parsed without a problem and passed the schema are stored: an invalid
  file is parsed (and reported) every time, whatever the cache holds;
- the file carries an HMAC-SHA256 over its salt and body, under a key that lives next
  to it (0600, in a 0700 directory the user owns): a cache edited, truncated, copied in
  from another machine or written by anyone without the key fails the check and is
  ignored as a whole (everything is parsed afresh, then the cache is rewritten);
- it lives in the user's cache directory, never in the checkout: the agent's jail
  mounts neither $HOME nor the git directory (docs/architecture.md, "Valid fleet files
  are cached by their content").
"""

from __future__ import annotations

import contextlib
import hashlib
import hmac
import json
import os
import secrets
import stat
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from runner import __version__, resources, yamlfile

FORMAT = 1
MAGIC = b"fleet-runner file cache"
KINDS = ("fleet", "role", "task")
CAP = 100_000  # entries kept across fleets; the oldest unused go first
OFF = ("off", "0", "no", "false")


def directory(environ: Mapping[str, str]) -> Path | None:
    """Where the cache lives: FLEET_CACHE_DIR (`off` turns it off), else
    $XDG_CACHE_HOME/fleet-runner, else ~/.cache/fleet-runner; by default none on a
    GitHub-hosted runner, a machine discarded after the job, where writing a cache that
    is never read again only costs time (measured: ~0.2 s per plan at 10,000 tasks)."""
    chosen = environ.get("FLEET_CACHE_DIR")
    if chosen is not None:
        return None if chosen.strip().lower() in (*OFF, "") else Path(chosen)
    if environ.get("RUNNER_ENVIRONMENT") == "github-hosted":
        return None
    base = environ.get("XDG_CACHE_HOME") or (
        str(Path(environ["HOME"]) / ".cache") if environ.get("HOME") else ""
    )
    return Path(base) / "fleet-runner" if base else None


def salt(kind: str) -> bytes:
    """What every entry's meaning depends on besides the file's text."""
    parts = [
        f"{FORMAT}:{kind}:{__version__}".encode(),
        json.dumps(resources.schema(kind), sort_keys=True).encode(),
        Path(yamlfile.__file__).read_bytes(),
    ]
    return hashlib.sha256(b"\0".join(hashlib.sha256(p).digest() for p in parts)).digest()


def text_key(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()


@dataclass
class TaskCache:
    """Valid data of one kind of file by the SHA-256 of the file's text. `get` and `put`
    are what loading uses; `save` writes back if anything was added."""

    path: Path
    key: bytes
    salt: bytes
    entries: dict[str, Any] = field(default_factory=dict)
    used: dict[str, Any] = field(default_factory=dict)
    added: int = 0

    def get(self, text: str) -> tuple[str, Any]:
        """(the text's key, its cached data or None)."""
        k = text_key(text)
        data = self.entries.get(k)
        if data is not None:
            self.used[k] = data
        return k, data

    def put(self, k: str, data: Any) -> None:
        self.used[k] = data
        self.added += 1

    def save(self) -> None:
        """Write back when something was added: the entries used now, after (so they are
        kept longest) the others, at most CAP. Never fails a command: a cache that cannot
        be written is a slower next run."""
        if not self.added:
            return
        others = {k: v for k, v in self.entries.items() if k not in self.used}
        keep = list(others.items())[-max(CAP - len(self.used), 0) :] if others else []
        body = json.dumps(
            {"entries": dict([*keep, *self.used.items()])}, separators=(",", ":")
        ).encode()
        mac = hmac.new(self.key, self.salt + body, hashlib.sha256).hexdigest().encode()
        tmp = self.path.with_name(f".{self.path.name}.{secrets.token_hex(4)}")
        with contextlib.suppress(OSError):
            fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with os.fdopen(fd, "wb") as handle:
                handle.write(MAGIC + b" " + mac + b"\n" + body)
            tmp.replace(self.path)
        with contextlib.suppress(OSError):
            tmp.unlink(missing_ok=True)


def open_cache(where: Path | None, kind: str = "task") -> TaskCache | None:
    """The cache of `kind` files in `where`, or None when there is none to use (off, not
    creatable, or not private to this user). A cache that fails its check opens empty."""
    if where is None or kind not in KINDS:
        return None
    key = _key(where)
    if key is None:
        return None
    cache = TaskCache(where / f"{kind}.json", key, salt(kind))
    cache.entries = _read(cache.path, key, cache.salt)
    return cache


def _private(path: Path, kind: int) -> bool:
    info = path.lstat()
    mine = not hasattr(os, "getuid") or info.st_uid == os.getuid()
    return stat.S_IFMT(info.st_mode) == kind and mine and not info.st_mode & 0o077


def _key(where: Path) -> bytes | None:
    """The cache's MAC key, created on first use; None if the directory or the key is
    not this user's alone (another user could then write entries that verify)."""
    try:
        where.mkdir(mode=0o700, parents=True, exist_ok=True)
        if not _private(where, stat.S_IFDIR):
            return None
        path = where / "key"
        with contextlib.suppress(FileExistsError):
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with os.fdopen(fd, "wb") as handle:
                handle.write(secrets.token_bytes(32))
        if not _private(path, stat.S_IFREG):
            return None
        key = path.read_bytes()
    except OSError:
        return None
    return key if len(key) == 32 else None


def _read(path: Path, key: bytes, salt_: bytes) -> dict[str, Any]:
    try:
        raw = path.read_bytes()
    except OSError:
        return {}
    head, _, body = raw.partition(b"\n")
    magic, _, mac = head.rpartition(b" ")
    want = hmac.new(key, salt_ + body, hashlib.sha256).hexdigest().encode()
    if magic != MAGIC or not hmac.compare_digest(mac, want):
        return {}
    try:
        entries = json.loads(body).get("entries")
    except (ValueError, AttributeError):
        return {}
    return entries if isinstance(entries, dict) else {}
