"""git through its command line: plumbing for the ledger, porcelain for work branches.

Every call is explicit (argv, no shell), errors carry git's own stderr, and the
environment passed to git never carries the model or forge credentials.
"""

from __future__ import annotations

import os
import subprocess
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path

from runner.errors import FleetError

ZERO = "0" * 40
# The runner never wants a hook or an fsmonitor program: both are code someone else put
# in the repository (without a jail, possibly the agent).
NO_HOOKS = ("-c", "core.hooksPath=/dev/null", "-c", "core.fsmonitor=false")


class GitError(FleetError):
    def __init__(self, args: list[str], returncode: int, stderr: str, stdout: str = "") -> None:
        self.argv = args
        self.returncode = returncode
        self.stderr = stderr.strip()
        self.stdout = stdout.strip()
        super().__init__(f"git {' '.join(args)} failed ({returncode}): {self.detail}")

    @property
    def detail(self) -> str:
        """What git said: some commands (merge conflicts) report on stdout, not stderr."""
        return "\n".join(part for part in (self.stdout, self.stderr) if part) or "(no output)"


@dataclass
class Git:
    root: Path
    env: Mapping[str, str] | None = None

    def run(
        self,
        *args: str,
        input: bytes | str | None = None,
        env: Mapping[str, str] | None = None,
    ) -> str:
        return self.run_bytes(*args, input=input, env=env).decode("utf-8", errors="replace")

    def run_bytes(
        self,
        *args: str,
        input: bytes | str | None = None,
        env: Mapping[str, str] | None = None,
    ) -> bytes:
        proc = self._exec(args, input, env)
        if proc.returncode != 0:
            raise GitError(
                list(args),
                proc.returncode,
                proc.stderr.decode(errors="replace"),
                proc.stdout.decode(errors="replace")[-4000:],
            )
        return proc.stdout

    def succeeds(self, *args: str) -> bool:
        return self._exec(args, None, None).returncode == 0

    def _exec(
        self, args: tuple[str, ...], input: bytes | str | None, env: Mapping[str, str] | None
    ) -> subprocess.CompletedProcess[bytes]:
        full_env = dict(self.env if self.env is not None else os.environ)
        full_env.setdefault("GIT_TERMINAL_PROMPT", "0")
        full_env["LC_ALL"] = "C"
        if env:
            full_env.update(env)
        return subprocess.run(
            ["git", *NO_HOOKS, *args],
            cwd=self.root,
            input=input.encode() if isinstance(input, str) else input,
            capture_output=True,
            env=full_env,
            check=False,
        )

    def rev(self, ref: str) -> str | None:
        """The commit SHA `ref` names, or None."""
        proc = self._exec(("rev-parse", "--verify", "--quiet", f"{ref}^{{commit}}"), None, None)
        if proc.returncode != 0:
            return None
        return proc.stdout.decode().strip() or None

    def toplevel(self) -> Path | None:
        """The root of the work tree `root` is in; None outside any git work tree."""
        proc = self._exec(("rev-parse", "--show-toplevel"), None, None)
        out = proc.stdout.decode(errors="replace").strip()
        return Path(out) if proc.returncode == 0 and out else None

    def has_object(self, sha: str) -> bool:
        return self.succeeds("cat-file", "-e", f"{sha}^{{commit}}")

    def is_ancestor(self, ancestor: str, descendant: str) -> bool:
        return self.succeeds("merge-base", "--is-ancestor", ancestor, descendant)

    def is_shallow(self) -> bool:
        return self.run("rev-parse", "--is-shallow-repository").strip() == "true"

    def has_remote(self, name: str) -> bool:
        return name in self.run("remote").split()

    def read_blobs(self, specs: Iterable[str]) -> dict[str, bytes | None]:
        """Contents of many `<rev>:<path>` objects in one `git cat-file --batch` call."""
        specs = list(specs)
        if not specs:
            return {}
        out = self.run_bytes("cat-file", "--batch", input="\n".join(specs) + "\n")
        result: dict[str, bytes | None] = {}
        pos = 0
        for spec in specs:
            end = out.index(b"\n", pos)
            header = out[pos:end]
            pos = end + 1
            if header.endswith((b" missing", b" ambiguous")):
                result[spec] = None
                continue
            size = int(header.rsplit(b" ", 1)[1])
            result[spec] = out[pos : pos + size]
            pos += size + 1
        return result


def person(git: Git, environ: Mapping[str, str]) -> str:
    """Who is at the keyboard: git's user.name, else the login name."""
    name = git.run("config", "user.name").strip() if git.succeeds("config", "user.name") else ""
    return name or environ.get("USER", "you")


def human_identity(git: Git, environ: Mapping[str, str]) -> dict[str, str]:
    """Environment for a commit a person makes (a merge, a cancellation): git's own
    identity when configured, else the login name at localhost (a fresh machine)."""
    if git.succeeds("config", "user.email"):
        return {}
    who = person(git, environ)
    return {
        "GIT_AUTHOR_NAME": who,
        "GIT_AUTHOR_EMAIL": "you@localhost",
        "GIT_COMMITTER_NAME": who,
        "GIT_COMMITTER_EMAIL": "you@localhost",
    }
