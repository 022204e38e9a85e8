"""Confinement for everything an agent touches: paths, commands, environment, output.

The model is untrusted: its paths are resolved (so `..` and symlinks cannot escape),
writes must match the role's globs, commands must match its allow-list and run without
a shell, and no subprocess ever sees the runner's credentials.
"""

from __future__ import annotations

import os
import re
import shlex
import signal
import subprocess
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

from runner.agent import allowlist
from runner.agent.jail import Jail, JailSpec, NoJail
from runner.agent.jailgit import JailGit, jail_env
from runner.errors import FleetError
from runner.gitrepo import GitError
from runner.paths import matches_any
from runner.secretscan import SECRET_WORDS, scan

# Never passed to a tool subprocess, even if a role lists them as credentials.
RUNNER_PREFIXES = ("GITHUB_", "ANTHROPIC_", "ACTIONS_", "FLEET_")
# Whole words of a name (split at `_`) that name a secret without the words above:
# GH_PAT, DOCKER_AUTH_CONFIG, NPM_CONFIG__AUTH, SENTRY_DSN, DEPLOY_WEBHOOK, ...
SECRET_PARTS = frozenset(
    {"PAT", "AUTH", "AUTHS", "AUTHORIZATION", "DSN", "PASS", "SESSION", "HOOK", "WEBHOOK"}
)
# A URL carrying a password (postgres://user:pass@host, https://x:token@github.com).
_URL_USERINFO = re.compile(r"[A-Za-z][A-Za-z0-9+.-]*://[^/@\s:]*:[^/@\s]+@")
OUTPUT_CAP = 8000
# What an agent command inherits from the runner's environment without a grant: the
# locale, the terminal and where tool chains live. Everything else (an unknown variable
# may hold a secret under any name) must be listed under the role's `credentials:`.
PASSED_NAMES = frozenset(
    {
        "PATH", "LANG", "LANGUAGE", "TZ", "TERM", "COLUMNS", "NO_COLOR", "FORCE_COLOR", "CI",
        "USER", "LOGNAME", "SHELL", "JAVA_HOME", "GOROOT", "GOPATH", "GOFLAGS", "CARGO_HOME",
        "RUSTUP_HOME", "NODE_PATH", "VIRTUAL_ENV", "PYTHONPATH", "PYTHONDONTWRITEBYTECODE",
        "PYTHONUNBUFFERED", "PIP_DISABLE_PIP_VERSION_CHECK",
    }
)  # fmt: skip


class ToolError(FleetError):
    """A refused or failed tool call; the message goes back to the model as is_error."""


def is_secret_name(name: str) -> bool:
    upper = name.upper()
    if upper.startswith(RUNNER_PREFIXES) or any(word in upper for word in SECRET_WORDS):
        return True
    return any(part in SECRET_PARTS for part in upper.split("_"))


def is_secret_value(value: str) -> bool:
    """A value that is a secret whatever its variable is called: a token shape the
    secret scanner knows (ghp_, sk-ant-, AKIA..., a private key) or a URL with a
    password in it."""
    return bool(_URL_USERINFO.search(value)) or bool(scan(value))


def scrub_env(environ: Mapping[str, str], grant: Iterable[str] = ()) -> dict[str, str]:
    """The environment for tool subprocesses: an allow-list (`PASSED_NAMES`, `LC_*`) plus
    what the role file explicitly grants, never the runner's own GitHub/Anthropic/Actions
    variables. A secret can hide under any name, so names are never enough on their own:
    an allow-listed name whose value looks secret is dropped too."""
    granted = {g for g in grant if not g.upper().startswith(RUNNER_PREFIXES)}
    env = {
        k: v
        for k, v in environ.items()
        if k in granted
        or (
            (k in PASSED_NAMES or k.startswith("LC_"))
            and not (is_secret_name(k) or is_secret_value(v))
        )
    }
    env.setdefault("PATH", os.defpath)
    env["GIT_TERMINAL_PROMPT"] = "0"
    return env


def cap_output(text: str, limit: int = OUTPUT_CAP) -> str:
    """Keep the head and the tail (where errors usually are) and say what was cut."""
    if len(text) <= limit:
        return text
    half = limit // 2
    cut = len(text) - 2 * half
    return f"{text[:half]}\n[... {cut} characters cut ...]\n{text[-half:]}"


@dataclass(frozen=True)
class CommandResult:
    command: str
    exit_code: int
    output: str
    duration_s: float
    timed_out: bool = False

    @property
    def ok(self) -> bool:
        return self.exit_code == 0 and not self.timed_out


@dataclass
class Sandbox:
    root: Path
    writable: tuple[str, ...]
    commands: tuple[str, ...]
    env: dict[str, str]
    timeout_s: int = 300
    jail: Jail = field(default_factory=lambda: NoJail("no jail configured"))
    network: bool = False
    read_only: tuple[str, ...] = ()
    git: JailGit | None = None  # read-only git inside the jail (a throwaway git dir)
    on_command: Callable[[CommandResult], None] | None = None  # the run's transcript

    def resolve(self, path: str, *, write: bool = False) -> tuple[Path, str]:
        """(absolute path, repository-relative path) or ToolError saying why not."""
        if not path or "\0" in path:
            raise ToolError("path is empty or invalid")
        root = self.root.resolve()
        candidate = Path(path)
        try:
            full = (candidate if candidate.is_absolute() else root / candidate).resolve()
        except (OSError, RuntimeError) as exc:  # a symlink loop
            raise ToolError(f"{path}: cannot be resolved ({exc})") from None
        if not full.is_relative_to(root):
            raise ToolError(f"{path}: outside the repository; paths are relative to its root")
        rel = full.relative_to(root).as_posix()
        if rel == "." and write:
            raise ToolError("cannot write the repository root")
        parts = rel.split("/")
        if ".git" in parts:
            raise ToolError(f"{path}: .git is never readable or writable by agents")
        if write:
            if rel.startswith(".github/") and not any(
                g.startswith(".github/") for g in self.writable
            ):
                raise ToolError(f"{path}: .github/ is not writable by this role")
            if not matches_any(rel, self.writable):
                allowed = ", ".join(self.writable) or "nothing"
                raise ToolError(f"{path}: not writable by this role (writable: {allowed})")
        return full, rel

    def allowed(self, command: str) -> bool:
        """Matched over argv, token by token (runner.agent.allowlist), never as a string."""
        try:
            argv = shlex.split(command)
        except ValueError:
            return False
        return allowlist.allowed(argv, self.commands)

    def run_argv(self, command: str, timeout_s: int | None = None) -> CommandResult:
        """An allow-listed command, split like a shell would but run without one, so
        `;`, `|`, `$(...)` and redirections are plain arguments, not instructions."""
        if not self.allowed(command):
            allowed = ", ".join(self.commands) or "none"
            raise ToolError(f"command not in this role's allow-list ({allowed}): {command}")
        try:
            argv = shlex.split(command)
        except ValueError as exc:
            raise ToolError(f"cannot parse command: {exc}") from None
        return self._run(argv, command, timeout_s)

    def run_shell(self, command: str, timeout_s: int | None = None) -> CommandResult:
        """A human-reviewed command (task steps, acceptance checks), run by bash."""
        return self._run(["bash", "-c", command], command, timeout_s)

    def _run(self, argv: list[str], shown: str, timeout_s: int | None) -> CommandResult:
        limit = timeout_s or self.timeout_s
        start = time.monotonic()
        env = dict(self.env)
        spec = JailSpec(self.root, self.network, self.read_only)
        note = ""
        if self.jail.isolated:
            env.update(HOME="/tmp", TMPDIR="/tmp")
            env, spec, note = self._with_git(env, spec, shown)
        self.jail.prepare(self.root)
        try:
            proc = subprocess.Popen(
                self.jail.wrap(argv, spec),
                cwd=self.root,
                env=env,
                stdin=subprocess.DEVNULL,
                stdout=subprocess.PIPE,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        except OSError as exc:
            raise ToolError(f"cannot run {argv[0]}: {exc.strerror}") from None
        try:
            out, _ = proc.communicate(timeout=limit)
            timed_out = False
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            out, _ = proc.communicate()
            timed_out = True
        except BaseException:  # the job is cancelled: the command's whole group goes too
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
            raise
        text = cap_output(out.decode("utf-8", errors="replace"))
        if timed_out:
            text += f"\n[timed out after {limit} s]"
        if note:
            text += f"\n[{note}]"
        result = CommandResult(shown, proc.returncode, text, time.monotonic() - start, timed_out)
        if self.on_command is not None:
            self.on_command(result)
        return result

    def _with_git(
        self, env: dict[str, str], spec: JailSpec, shown: str
    ) -> tuple[dict[str, str], JailSpec, str]:
        """A fresh throwaway git directory for this command (see runner.agent.jailgit),
        or, where it cannot be made, a note for any command that mentions git."""
        if self.git is None:
            return env, spec, ""
        why = self.git.unavailable()
        if not why:
            try:
                view = self.git.build()
            except (GitError, OSError) as exc:
                why = f"could not prepare it: {exc}"
            else:
                spec = JailSpec(
                    spec.root,
                    spec.network,
                    (*spec.read_only, *view.objects),
                    (*spec.writable, str(view.gitdir)),
                )
                return jail_env(env, view), spec, ""
        if re.search(r"\bgit\b", shown):
            return env, spec, f"git is unavailable in this sandbox: {why}"
        return env, spec, ""
