"""MCP tools in a real run of the built-in loop: the scripted Messages API over HTTP,
real git, the real jail where this machine has one, and a real MCP server
(tests/fakes/mcp_server.py) over stdio (started by the run, in its sandbox) and over
streamable HTTP on loopback."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from runner import runs
from runner.agent.jail import probe
from runner.forge.select import open_forge
from runner.gitrepo import Git
from runner.outcome import anthropic_client
from runner.run import execute
from runner.run_outcome import RunOutcome
from runner.state import Ledger, StateStore
from runner.workspace import open_workspace
from tests.conftest import commit_all, git
from tests.fakes import mcp_server
from tests.fakes.anthropic_server import FakeAnthropic, reply, tool
from tests.security.scripted import ENV, dry_run_scripted, require_jail

pytestmark = pytest.mark.slow  # end-to-end (git, fake servers, whole runs): CI runs it


FAKE = Path(mcp_server.__file__).resolve()
SITE = str(Path(yaml.__file__).resolve().parent.parent)  # the SDK, for the jailed server
TOKEN = "docs-token-value"
TOOLS = ["docs/search", "docs/inject", "docs/huge", "docs/crash", "docs/whoami", "docs/getenv"]


def _role(repo: Path, server: dict) -> None:
    path = repo / "fleet/roles/tester.yaml"
    role = yaml.safe_load(path.read_text())
    role.update(mcp_servers={"docs": server}, mcp_tools=TOOLS)
    path.write_text(yaml.safe_dump(role))
    cfg = repo / "fleet/fleet.yaml"
    mounts = sorted({sys.prefix, SITE, str(FAKE.parent)})
    cfg.write_text(cfg.read_text() + f"sandbox_read_only: {json.dumps(mounts)}\n")
    commit_all(repo, "tester uses an MCP server")
    git(repo, "push", "-q", "origin", "main")


def _python() -> str:
    """A python the jail can run: the runner's own may live where the sandbox user cannot
    read (a pyenv under /root); the system one sees the SDK through PYTHONPATH, a name
    the server's env lists."""
    if not probe("auto").isolated:
        return sys.executable
    system = shutil.which("python3", path="/usr/bin:/bin")
    if system is None:
        pytest.skip("no system python3 for the jailed MCP server")
    version = subprocess.run(
        [system, "-c", "import sys; print(sys.version_info[:2])"], capture_output=True, text=True
    ).stdout.strip()
    if version != str(sys.version_info[:2]):
        pytest.skip(f"the system python3 is {version}, the SDK was installed for another")
    return system


def _stdio(repo: Path) -> None:
    server = {"command": _python(), "args": [str(FAKE)], "env": ["DOCS_ACCESS", "PYTHONPATH"]}
    _role(repo, server)


def _run(repo: Path, steps: list, **drop: bool) -> tuple[RunOutcome, FakeAnthropic, dict]:
    with FakeAnthropic(steps) as fake:
        env = {
            **ENV,
            "ANTHROPIC_BASE_URL": fake.url,
            "DOCS_ACCESS": "docs-token-value",
            "PYTHONPATH": SITE,
        }
        env = {k: v for k, v in env.items() if not drop.get(k)}
        ws = open_workspace(repo, env)
        forge = open_forge(ws)
        out = execute(
            ws, forge, "tester", "t-100", trigger="test", client_factory=anthropic_client(ws)
        )
        states = ws.states(ws.runs(), forge.view())
    return out, fake, states


def _results(request: dict) -> list[dict]:
    return [b for b in request["messages"][-1]["content"] if b.get("type") == "tool_result"]


FINISH = [
    reply(tool("write_file", path="out/report.md", content="# Report\n")),
    reply(tool("finish", summary="Wrote the report")),
]


def test_the_loop_calls_an_allowed_stdio_tool_and_a_disallowed_one_is_refused(
    agent_repo: Path,
) -> None:
    _stdio(agent_repo)
    out, fake, _ = _run(
        agent_repo,
        [
            reply(tool("mcp__docs__search", query="caching")),
            reply(tool("mcp__docs__delete_everything")),
            reply(tool("mcp__docs__whoami")),
            reply(
                {"type": "tool_use", "name": "mcp__docs__getenv", "input": {"name": "DOCS_ACCESS"}}
            ),
            *FINISH,
        ],
    )
    assert out.record.outcome == "done", out.record.reason
    offered = [t["name"] for t in fake.requests[0]["tools"]]
    assert "mcp__docs__search" in offered and "read_file" in offered
    assert "mcp__docs__delete_everything" not in offered
    found = _results(fake.requests[1])[0]
    assert not found.get("is_error")
    assert found["content"].startswith('<untrusted source="mcp:docs/search">')
    assert "found: caching" in found["content"]
    refused = _results(fake.requests[2])[0]
    assert refused["is_error"] and "not an MCP tool this role may use" in refused["content"]
    who = _results(fake.requests[3])[0]["content"]
    if out.record.sandbox == "bwrap":  # the server ran in the jail, not as the runner
        assert "uid=0 " not in who and "home=/tmp" in who
    calls = [e for e in out.transcript.entries if e["kind"] == "tool" and e["source"] != "builtin"]
    assert [(e["name"], e["source"], e["is_error"]) for e in calls] == [
        ("mcp__docs__search", "mcp:docs", False),
        ("mcp__docs__delete_everything", "mcp:docs", True),
        ("mcp__docs__whoami", "mcp:docs", False),
        ("mcp__docs__getenv", "mcp:docs", False),
    ]
    # the server got its listed name; what it echoes is redacted in the stored transcript
    assert "DOCS_ACCESS=docs-token-value" in _results(fake.requests[4])[0]["content"]
    git(agent_repo, "fetch", "-q", "origin", "+fleet-state:refs/remotes/origin/fleet-state")
    store = StateStore(Git(agent_repo))
    stored = json.dumps(runs.transcript(store, Ledger(store).runs()[-1]))
    assert "mcp__docs__getenv" in stored and "docs-token-value" not in stored


def test_http_server_huge_result_is_capped_and_injection_is_data(
    agent_repo: Path, tmp_path: Path
) -> None:
    log = tmp_path / "calls.log"
    with mcp_server.serving(log) as url:
        _role(agent_repo, {"url": url})
        out, fake, _ = _run(
            agent_repo,
            [
                reply(tool("mcp__docs__huge", n=2_000_000)),
                reply(tool("mcp__docs__inject")),
                reply(tool("mcp__docs__delete_everything")),
                *FINISH,
            ],
        )
    assert out.record.outcome == "done", out.record.reason
    huge = _results(fake.requests[1])[0]["content"]
    assert 15_000 < len(huge) < 25_000 and "characters of this MCP result cut" in huge
    injected = _results(fake.requests[2])[0]["content"]
    assert injected.count("</untrusted>") == 1 and "<instruction" not in injected
    assert "&lt;instruction" in injected
    assert log.read_text().split() == ["huge", "inject"]  # delete_everything never arrived


def test_a_server_that_crashes_mid_run_ends_it_with_a_clear_reason(agent_repo: Path) -> None:
    _stdio(agent_repo)
    out, fake, _ = _run(
        agent_repo,
        [
            reply(tool("write_file", path="out/report.md", content="draft\n")),
            reply(tool("mcp__docs__crash")),
            *FINISH,
        ],
    )
    assert out.record.outcome == "error"
    reason = out.record.reason
    assert "MCP server 'docs'" in reason and "stopped during a call to crash" in reason
    assert "crashing on purpose" in reason  # its last words
    assert "remove it from the role's mcp_servers" in reason
    assert len(fake.requests) == 2  # no model call after the crash
    branch = "fleet/tester/t-100"
    assert git(agent_repo, "show", f"{branch}:out/report.md") == "draft\n"  # work kept


def test_a_server_that_cannot_start_ends_the_run_before_any_model_call(agent_repo: Path) -> None:
    _role(agent_repo, {"command": sys.executable, "args": ["-c", "raise SystemExit(4)"]})
    out, fake, _ = _run(agent_repo, list(FINISH))
    assert out.record.outcome == "error"
    assert "MCP server 'docs'" in out.record.reason and "could not be started" in out.record.reason
    assert fake.requests == []


def test_a_missing_server_env_name_is_one_credential_escalation_and_holds_the_task(
    agent_repo: Path,
) -> None:
    _stdio(agent_repo)
    out, fake, states = _run(agent_repo, list(FINISH), DOCS_ACCESS=True)
    assert out.record.outcome == "escalated" and "DOCS_ACCESS" in out.record.reason
    assert out.issue is not None and out.issue.kind == "credential"
    assert fake.requests == [] and fake.calls == []  # no model call, not even the preflight
    assert states["t-100"].state == "blocked"  # the next tick neither runs nor asks


def test_dry_run_names_the_servers_and_the_allow_list(agent_repo: Path) -> None:
    _role(agent_repo, {"url": "https://mcp.example.com/mcp"})
    out = dry_run_scripted(agent_repo)
    assert "MCP server docs: url https://mcp.example.com/mcp\n" in out.dry_run
    assert "MCP tools allowed (as mcp__<server>__<tool>): docs/search, docs/inject" in out.dry_run


SCAN = """\
import os
for pid in sorted(p for p in os.listdir("/proc") if p.isdigit()):
    try:
        print(pid, open(f"/proc/{pid}/environ", "rb").read())
    except OSError as exc:
        print(pid, "unreadable", exc)
"""


def test_agent_commands_cannot_read_a_stdio_servers_environment(agent_repo: Path) -> None:
    """The server holds its credential; the agent's commands run in jails of their own
    and cannot see its process (nor the runner's)."""
    require_jail()
    _stdio(agent_repo)
    out, fake, _ = _run(
        agent_repo,
        [
            reply(tool("mcp__docs__search", query="x")),  # the server is up and holds it
            reply(tool("write_file", path="out/scan.py", content=SCAN)),
            reply(tool("run_command", command="python3 out/scan.py")),
            *FINISH,
        ],
    )
    assert out.record.outcome == "done", out.record.reason
    scanned = _results(fake.requests[3])[0]["content"]
    assert "exit code 0" in scanned and "PATH=" in scanned  # it read what it could see
    assert TOKEN not in scanned
