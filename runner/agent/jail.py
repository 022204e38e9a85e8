"""Where agent-caused processes run: a bubblewrap jail, or (where none can be made) none.

Everything the agent can get executed — its `run_command`s, the acceptance checks that
run its tests, shell-engine steps — is attacker code. On Linux it runs as an
unprivileged user (never root: when the runner is root it drops to `fleet-sandbox` or
`nobody` first; sudo cannot elevate under no_new_privs) inside new user, PID, mount,
IPC, UTS and network namespaces, seeing only the OS (read-only), a private /tmp, its
own /proc and the work tree, which is the only writable path. The runner's files, the
git directory, the user's checkout and $HOME are simply not mounted.

`probe()` chooses: a jail that works here, or `NoJail` with the reason, which the run
reports loudly (and refuses when fleet.yaml says `sandbox: required`).
"""

from __future__ import annotations

import functools
import os
import pwd
import shutil
import subprocess
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from runner.errors import ConfigError

SANDBOX_USER = "fleet-sandbox"
NOBODY = 65534
MODES = ("required", "auto", "off")
# The parts of /etc a process needs to link, resolve names and verify TLS; nothing else
# (no /etc/environment, no runner configuration).
ETC = (
    "ld.so.cache",
    "ld.so.conf",
    "ld.so.conf.d",
    "alternatives",
    "passwd",
    "group",
    "nsswitch.conf",
    "hosts",
    "host.conf",
    "gai.conf",
    "resolv.conf",
    "protocols",
    "services",
    "ssl",
    "ca-certificates",
    "localtime",
    "timezone",
    "mime.types",
    "os-release",
)
TOP = ("bin", "sbin", "lib", "lib32", "lib64", "libx32")


class SandboxUnavailable(ConfigError):
    """`sandbox: required` and no jail can be made on this machine."""


@dataclass(frozen=True)
class JailSpec:
    """What one command may see: the work tree (writable), extra read-only paths (tool
    chains outside /usr, the runner's object store), extra writable paths (the
    throwaway git directory) and whether it may use the network."""

    root: Path
    network: bool = False
    read_only: tuple[str, ...] = ()
    writable: tuple[str, ...] = ()  # besides the work tree: the throwaway git directory


class Jail(Protocol):
    @property
    def name(self) -> str: ...

    @property
    def isolated(self) -> bool:
        """Does this jail actually isolate (False: commands run as the runner)?"""
        ...

    @property
    def reason(self) -> str:
        """Why there is no isolation (empty for a real jail)."""
        ...

    def wrap(self, argv: Sequence[str], spec: JailSpec) -> list[str]:
        """The argv that runs `argv` inside the jail."""
        ...

    def prepare(self, root: Path) -> None:
        """Make the work tree usable by the jail's user (before each command)."""
        ...


@dataclass(frozen=True)
class NoJail:
    """No isolation: commands run as the runner, with the scrubbed environment only."""

    reason: str
    name: str = "none"
    isolated: bool = False

    def wrap(self, argv: Sequence[str], spec: JailSpec) -> list[str]:
        return list(argv)

    def prepare(self, root: Path) -> None:
        return None


@dataclass(frozen=True)
class BwrapJail:
    bwrap: str
    setpriv: str | None  # set when the runner is root: drop to uid/gid first
    uid: int
    gid: int
    name: str = "bwrap"
    isolated: bool = True
    reason: str = ""

    def wrap(self, argv: Sequence[str], spec: JailSpec) -> list[str]:
        out: list[str] = []
        if self.setpriv:
            out += [
                self.setpriv,
                f"--reuid={self.uid}",
                f"--regid={self.gid}",
                "--clear-groups",
                "--inh-caps=-all",
                "--no-new-privs",
            ]
        out += [self.bwrap, "--unshare-all"]
        if spec.network:
            out.append("--share-net")
        out += ["--die-with-parent", "--new-session", "--cap-drop", "ALL"]
        out += ["--hostname", "fleet-sandbox", "--ro-bind", "/usr", "/usr"]
        for name in TOP:
            top = Path("/") / name
            if top.is_symlink():
                out += ["--symlink", str(top.readlink()), str(top)]
            elif top.is_dir():
                out += ["--ro-bind", str(top), str(top)]
        for name in ETC:
            out += ["--ro-bind-try", f"/etc/{name}", f"/etc/{name}"]
        out += ["--proc", "/proc", "--dev", "/dev", "--tmpfs", "/tmp"]
        for extra in spec.read_only:
            out += ["--ro-bind-try", extra, extra]
        for extra in spec.writable:
            out += ["--bind", extra, extra]
        root = str(spec.root)
        out += ["--bind", root, root, "--chdir", root]
        out += ["--setenv", "HOME", "/tmp", "--setenv", "TMPDIR", "/tmp", "--"]
        return out + list(argv)

    def prepare(self, root: Path) -> None:
        """Hand the work tree to the jail's user. Runs between commands, when no jailed
        process is alive (the PID namespace dies with its command), so nothing can swap a
        directory for a symlink under the walk; links themselves are lchown'ed, never
        followed."""
        if self.setpriv is None:
            return
        ids = (self.uid, self.gid)
        for top, dirs, files in os.walk(root, followlinks=False):
            for name in (*dirs, *files):
                path = Path(top) / name
                st = path.lstat()
                if (st.st_uid, st.st_gid) != ids:
                    os.lchown(path, *ids)
        st = os.lstat(root)
        if (st.st_uid, st.st_gid) != ids:
            os.lchown(root, *ids)


def foreign_user(jail: Jail) -> tuple[int, int] | None:
    """The uid/gid the jail drops to when it is not the runner's own (runner is root)."""
    if isinstance(jail, BwrapJail) and jail.setpriv:
        return jail.uid, jail.gid
    return None


APPARMOR_USERNS = Path("/proc/sys/kernel/apparmor_restrict_unprivileged_userns")


def describe(jail: Jail) -> str:
    """Who runs jailed commands and how, for `fleet doctor` and the docs' audience."""
    if not isinstance(jail, BwrapJail):
        return f"none: {jail.reason}"
    if jail.setpriv:
        who = f"uid {jail.uid} ({_user_name(jail.uid)}; the runner is root and drops to it)"
    else:
        who = f"the runner's own uid {jail.uid} in a new user namespace"
    return (
        f"bubblewrap ({jail.bwrap}); commands run as {who}, with new PID, mount and "
        "network namespaces; network off unless a role says network: allow"
    )


def _user_name(uid: int) -> str:
    try:
        return pwd.getpwuid(uid).pw_name
    except KeyError:
        return "no such user"


def advice(reason: str, apparmor_restricts_userns: bool) -> str:
    """What to do where no jail can be made (plain data in, so it is testable anywhere)."""
    if "not installed" in reason:
        steps = ["install bubblewrap (sudo apt-get install bubblewrap)"]
    elif "setpriv" in reason:
        steps = ["install util-linux (setpriv), or run fleet as a non-root user"]
    else:
        steps = []
    if apparmor_restricts_userns:
        steps.append(
            "Ubuntu 24.04 restricts unprivileged user namespaces with AppArmor: sudo sysctl "
            "kernel.apparmor_restrict_unprivileged_userns=0 (or load an AppArmor profile "
            "for /usr/bin/bwrap with the userns permission)"
        )
    elif not steps:
        steps.append(
            "enable unprivileged user namespaces (sysctl kernel.unprivileged_userns_clone=1 "
            "on Debian; user.max_user_namespaces > 0)"
        )
    return "; ".join(steps) + "; in GitHub Actions: the action's input sandbox: true"


def apparmor_restricts_userns() -> bool:
    try:
        return APPARMOR_USERNS.read_text().strip() == "1"
    except OSError:
        return False


def sandbox_ids() -> tuple[int, int]:
    """The dedicated `fleet-sandbox` user when the machine has one, else nobody."""
    try:
        entry = pwd.getpwnam(SANDBOX_USER)
        return entry.pw_uid, entry.pw_gid
    except KeyError:
        return NOBODY, NOBODY


def probe(mode: str = "auto") -> Jail:
    """The jail for `mode` (fleet.yaml `sandbox:`): a working bubblewrap jail, or NoJail
    with the reason; SandboxUnavailable when the mode is `required` and none works."""
    if mode == "off":
        return NoJail("sandbox: off in fleet.yaml")
    jail = _probe_bwrap(os.geteuid())
    if isinstance(jail, NoJail) and mode == "required":
        raise SandboxUnavailable(jail.reason)
    return jail


def _probe_bwrap(euid: int) -> Jail:
    return _probe_cached(euid, os.environ.get("PATH", ""))


@functools.lru_cache(maxsize=4)
def _probe_cached(euid: int, path: str) -> Jail:
    bwrap = shutil.which("bwrap")
    if bwrap is None:
        return NoJail("bubblewrap (bwrap) is not installed; apt-get install bubblewrap")
    setpriv = None
    uid, gid = os.getuid(), os.getgid()
    if euid == 0:
        setpriv = shutil.which("setpriv")
        if setpriv is None:
            return NoJail("running as root and setpriv (util-linux) is missing to drop to")
        uid, gid = sandbox_ids()
    jail = BwrapJail(bwrap, setpriv, uid, gid)
    with tempfile.TemporaryDirectory(prefix="fleet-probe-") as tmp:
        root = Path(tmp) / "w"
        root.mkdir()
        Path(tmp).chmod(0o711)
        jail.prepare(root)
        try:
            proc = subprocess.run(
                jail.wrap(["/bin/sh", "-c", "touch ok"], JailSpec(root)),
                capture_output=True,
                env={"PATH": "/usr/bin:/bin"},
                timeout=30,
                check=False,
            )
        except (OSError, subprocess.TimeoutExpired) as exc:
            return NoJail(f"bubblewrap could not start: {exc}")
        if proc.returncode != 0 or not (root / "ok").exists():
            err = proc.stderr.decode(errors="replace").strip().splitlines()
            why = err[-1] if err else f"exit {proc.returncode}"
            return NoJail(
                f"bubblewrap cannot create namespaces here ({why}); unprivileged user "
                "namespaces may be disabled (sysctl kernel.unprivileged_userns_clone, or "
                "AppArmor's restrict_unprivileged_userns)"
            )
    return jail
