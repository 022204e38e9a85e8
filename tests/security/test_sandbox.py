"""Attacks on the jail: everything the agent can get executed runs in a bubblewrap
sandbox as an unprivileged user, without the runner's environment, files, git
directory, /proc, $HOME or the network.

Each test drives a real run (the scripted Messages API over real HTTP; attack 1 through
the real `fleet` CLI in its own process, so the runner's process really holds the
secrets) and performs the attack for real on this machine.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import threading
from pathlib import Path

import pytest
import yaml

from runner.commands.run import anthropic_client
from runner.forge.select import open_forge
from runner.run import execute
from runner.workspace import open_workspace
from tests.conftest import commit_all, git
from tests.fakes.anthropic_server import FakeAnthropic, reply, tool
from tests.security.scripted import require_jail

pytestmark = pytest.mark.slow  # end-to-end (git, fake servers, whole runs): CI runs it


GITHUB_TOKEN = "ghp_LEAKCANARY0123456789abcdefABCDEF0123"
API_KEY = "sk-ant-api03-LEAKCANARY-model-key-0123456789"
GITCONFIG_CANARY = "GITCONFIG-CANARY-4d1c"
HOME_CANARY = "HOME-CANARY-77aa"
FLEET = [sys.executable, "-m", "runner"]
RUN = ["run", "--role", "attacker", "--task", "t-200"]
SITE = str(Path(pytest.__file__).resolve().parent.parent)  # pytest, for the jailed run

ATTACKER = {
    "name": "attacker",
    "description": "A hostile agent.",
    "engine": "anthropic",
    "model": "claude-sonnet-5-5",
    "directives": "fleet/directives/cto.md",
    "writable": ["out/**", "tests/**"],
    "commands": ["python3 *", "env", "ls*", "sudo *"],
    "budget": {"run_usd": 5.0, "daily_usd": 8.0, "max_turns": 40},
    "max_attempts": 1,
}
TASK = {
    "id": "t-200",
    "title": "Make the tests pass",
    "role": "attacker",
    "created": "2026-11-20",
    "description": "Run the tests.",
    # the acceptance check runs the agent's own tests (and so its conftest.py) as well
    "acceptance": [{"check": "python3 -m pytest -q -s -p no:cacheprovider tests"}],
}


@pytest.fixture(autouse=True)
def jail_here() -> None:
    require_jail()


def _setup(repo: Path, network: bool = False) -> None:
    role = dict(ATTACKER, network="allow") if network else ATTACKER
    (repo / "fleet/roles/attacker.yaml").write_text(yaml.safe_dump(role))
    (repo / "tasks/t-200.yaml").write_text(yaml.safe_dump(TASK))
    cfg = repo / "fleet/fleet.yaml"
    cfg.write_text(cfg.read_text() + f"sandbox: required\nsandbox_read_only: [{SITE}]\n")
    commit_all(repo, "attacker role")
    git(repo, "push", "-q", "origin", "main")


def _results(request: dict) -> list[dict]:
    return [b for b in request["messages"][-1]["content"] if b.get("type") == "tool_result"]


CONFTEST = """\
import os, pathlib

def _read(path):
    try:
        return open(path, "rb").read().decode("latin-1").replace("\\0", " ")
    except Exception as exc:
        return "unreadable: " + type(exc).__name__

out = ["ENV: " + repr(dict(os.environ)), "PPID: " + _read(f"/proc/{os.getppid()}/environ")]
for pid in sorted(p for p in os.listdir("/proc") if p.isdigit()):
    out.append(f"PID {pid}: " + _read(f"/proc/{pid}/environ"))
for path in PATHS:
    out.append(f"FILE {path}: " + _read(path))
out.append(f"UID {os.getuid()}")
text = "\\n".join(out)
print(text)
pathlib.Path("out").mkdir(exist_ok=True)
pathlib.Path("out/leak.txt").write_text(text)
"""


def test_attack1_conftest_reading_the_parents_environ_leaks_no_secret(
    agent_repo: Path, tmp_path: Path
) -> None:
    """Attack 1: a conftest.py the agent wrote dumps /proc/<ppid>/environ, every
    /proc/*/environ, its environment, the runner's .git/config and $HOME under pytest,
    both as a tool command and as the acceptance check."""
    _setup(agent_repo)
    git(agent_repo, "config", "fleet.canary", GITCONFIG_CANARY)
    home = tmp_path / "home"
    home.mkdir()
    (home / "canary.txt").write_text(HOME_CANARY)
    paths = [
        str(agent_repo / ".git/config"),
        str(home / "canary.txt"),
        str(agent_repo / "fleet/fleet.yaml"),
        "/proc/1/environ",
    ]
    conftest = CONFTEST.replace("PATHS", repr(paths))
    with FakeAnthropic(
        [
            reply(tool("write_file", path="tests/conftest.py", content=conftest)),
            reply(tool("write_file", path="tests/test_ok.py", content="def test_ok(): pass\n")),
            reply(tool("run_command", command=TASK["acceptance"][0]["check"])),
            reply(tool("run_command", command="env")),
            reply(tool("finish", summary="done")),
        ]
    ) as fake:
        env = {
            "PATH": "/usr/bin:/bin",
            "HOME": str(home),
            "PYTHONPATH": SITE,
            "FLEET_FORGE": "local",
            "FLEET_NOW": "2026-11-24T10:30:00Z",
            "ANTHROPIC_API_KEY": API_KEY,
            "ANTHROPIC_BASE_URL": fake.url,
            "GITHUB_TOKEN": GITHUB_TOKEN,
            "GIT_CONFIG_GLOBAL": "/dev/null",
        }
        proc = subprocess.run(
            [*FLEET, "-C", str(agent_repo), *RUN],
            env=env,
            capture_output=True,
            text=True,
            timeout=300,
            check=False,
        )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    dump = _results(fake.requests[3])[0]["content"]
    assert "ENV: {" in dump and "PPID: " in dump  # the attack really ran, under pytest
    assert "UID 0" not in dump  # never root
    env_dump = _results(fake.requests[4])[0]["content"]
    assert "PATH=" in env_dump
    leak = git(agent_repo, "show", "fleet/attacker/t-200:out/leak.txt")
    assert "PPID: " in leak  # what the agent could see was committed, for the reviewer
    everything = "\n".join(
        [
            json.dumps(fake.requests),
            proc.stdout,
            proc.stderr,
            git(agent_repo, "log", "-p", "--all"),
            git(agent_repo.parent / "origin.git", "log", "-p", "--all"),
        ]
    )
    for secret in (GITHUB_TOKEN, API_KEY, GITCONFIG_CANARY, HOME_CANARY):
        assert secret not in everything
    record = _record(agent_repo)
    assert record["sandbox"] == "bwrap"
    assert record["outcome"] == "done", record


def _record(repo: Path) -> dict:
    names = git(repo, "ls-tree", "-r", "--name-only", "fleet-state", "runs/").split()
    return json.loads(git(repo, "show", f"fleet-state:{names[-1]}"))


PROBE = """\
import json, os, socket, subprocess, sys
port, outside = int(sys.argv[1]), sys.argv[2:]
report = {"uid": os.getuid(), "euid": os.geteuid()}
try:
    socket.create_connection(("127.0.0.1", port), timeout=3).close()
    report["connect"] = "ok"
except OSError as exc:
    report["connect"] = type(exc).__name__
writes = {}
for path in outside:
    try:
        with open(path, "w") as fh:
            fh.write("pwned")
        writes[path] = "written"
    except OSError as exc:
        writes[path] = type(exc).__name__
report["writes"] = writes
try:
    os.setuid(0)
    report["setuid0"] = "ok"
except OSError:
    report["setuid0"] = "refused"
if os.path.exists("/usr/bin/sudo"):
    p = subprocess.run(["/usr/bin/sudo", "-n", "id", "-u"], capture_output=True, text=True)
    report["sudo"] = (p.returncode, p.stdout.strip())
print("REPORT " + json.dumps(report))
"""


class Listener:
    """A loopback TCP server the test owns: counts the connections it accepts."""

    def __init__(self) -> None:
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(8)
        self.sock.settimeout(0.2)
        self.port = self.sock.getsockname()[1]
        self.accepted = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self._thread.start()

    def _serve(self) -> None:
        while not self._stop.is_set():
            try:
                conn, _ = self.sock.accept()
            except OSError:
                continue
            self.accepted += 1
            conn.close()

    def close(self) -> None:
        self._stop.set()
        self._thread.join(5)
        self.sock.close()


def _probe_run(repo: Path, tmp_path: Path, network: bool) -> tuple[dict, Listener, list[str]]:
    _setup(repo, network=network)
    outside = [
        str(repo / "README-pwned.txt"),  # the user's checkout
        str(tmp_path / "pwned.txt"),  # elsewhere on the host
        f"/tmp/fleet-sandbox-pwned-{os.getpid()}-{tmp_path.name}",  # /tmp is the jail's own
        f"/etc/fleet-pwned-{os.getpid()}",
    ]
    listener = Listener()
    try:
        command = f"python3 out/probe.py {listener.port} " + " ".join(outside)
        with FakeAnthropic(
            [
                reply(tool("write_file", path="out/probe.py", content=PROBE)),
                reply(tool("run_command", command=command)),
                reply(tool("escalate", kind="blocked", summary="stop")),
            ]
        ) as fake:
            env = {
                "PATH": "/usr/bin:/bin",
                "HOME": str(tmp_path),
                "FLEET_FORGE": "local",
                "FLEET_NOW": "2026-11-24T10:30:00Z",
                "ANTHROPIC_API_KEY": API_KEY,
                "ANTHROPIC_BASE_URL": fake.url,
            }
            ws = open_workspace(repo, env)
            execute(
                ws, open_forge(ws), "attacker", "t-200", trigger="test",
                client_factory=anthropic_client(ws),
            )  # fmt: skip
    finally:
        listener.close()
    result = _results(fake.requests[2])[0]["content"]
    line = next(x for x in result.splitlines() if x.startswith("REPORT "))
    return json.loads(line.removeprefix("REPORT ")), listener, outside


def test_egress_writes_outside_the_tree_and_privilege_are_refused(
    agent_repo: Path, tmp_path: Path
) -> None:
    report, listener, outside = _probe_run(agent_repo, tmp_path, network=False)
    assert report["connect"] != "ok" and listener.accepted == 0  # no network at all
    assert report["uid"] != 0 and report["euid"] != 0
    assert report["setuid0"] == "refused"
    if "sudo" in report:
        assert report["sudo"][0] != 0
    for path in outside:
        assert not Path(path).exists(), path
    # only the jail's private /tmp took a write; nothing reached the host
    assert report["writes"][outside[2]] == "written"
    assert report["writes"][str(agent_repo / "README-pwned.txt")] != "written"


def test_network_allow_lets_the_role_connect(agent_repo: Path, tmp_path: Path) -> None:
    report, listener, _ = _probe_run(agent_repo, tmp_path, network=True)
    assert report["connect"] == "ok" and listener.accepted == 1
    assert report["uid"] != 0


def test_sandbox_required_refuses_to_run_without_one(agent_repo: Path, tmp_path: Path) -> None:
    """On a machine without bubblewrap (here: the real CLI with no bwrap on its PATH),
    `sandbox: required` stops the run before anything is recorded or executed."""
    _setup(agent_repo)
    bindir = tmp_path / "bin"
    bindir.mkdir()
    for name in ("git", "bash", "sh"):
        (bindir / name).symlink_to(f"/usr/bin/{name}")
    env = {"PATH": str(bindir), "HOME": str(tmp_path), "FLEET_FORGE": "local"}
    env["ANTHROPIC_API_KEY"] = API_KEY
    proc = subprocess.run(
        [*FLEET, "-C", str(agent_repo), *RUN],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert proc.returncode == 2, proc.stdout + proc.stderr
    assert "sandbox: required" in proc.stderr and "bubblewrap" in proc.stderr
    assert git(agent_repo, "branch", "--list", "fleet/attacker/*") == ""


def test_sandbox_auto_without_one_warns_loudly_and_records_it(
    agent_repo: Path, tmp_path: Path
) -> None:
    _setup(agent_repo)
    cfg = agent_repo / "fleet/fleet.yaml"
    cfg.write_text(cfg.read_text().replace("sandbox: required", "sandbox: auto"))
    commit_all(agent_repo, "auto")
    bindir = tmp_path / "bin"
    bindir.mkdir()
    for name in ("git", "bash", "sh", "python3"):
        (bindir / name).symlink_to(f"/usr/bin/{name}")
    with FakeAnthropic([reply(tool("escalate", kind="blocked", summary="stop"))]) as fake:
        env = {"PATH": str(bindir), "HOME": str(tmp_path), "FLEET_FORGE": "local"}
        env.update(ANTHROPIC_API_KEY=API_KEY, ANTHROPIC_BASE_URL=fake.url)
        proc = subprocess.run(
            [*FLEET, "-C", str(agent_repo), *RUN],
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
    shown = proc.stdout + proc.stderr
    assert "WARNING" in shown and "without a sandbox" in shown
    assert _record(agent_repo)["sandbox"].startswith("none: bubblewrap (bwrap) is not installed")
