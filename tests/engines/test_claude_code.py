"""The claude-code engine end to end: the REAL Claude Code CLI (the pinned version, from
npm: .ci/run installs it into .ci/node/), in the real jail, against the scripted Messages
API on loopback, with real git and the local forge.

Where npm/the CLI is absent these tests skip with the reason; under CI they fail (a skip
there would hide that the engine stopped being tested)."""

from __future__ import annotations

import json
import os
import shlex
import shutil
from pathlib import Path

import pytest
import yaml

from runner import scaffold, schema
from runner.agent.jail import foreign_user, probe
from runner.agent.jailgit import reachable
from runner.engines import claude_code, claude_code_cli
from runner.forge.select import open_forge
from runner.model import Defaults, FleetConfig, Price, Role
from runner.outcome import anthropic_client
from runner.run import execute
from runner.run_outcome import RunOutcome
from runner.workspace import open_workspace
from tests.conftest import TESTER_ROLE, commit_all, git
from tests.fakes.anthropic_server import FakeAnthropic, error, reply, text, tool

ROOT = Path(__file__).resolve().parents[2]
LOCAL_CLI = ROOT / "claude-code" / "node_modules" / ".bin" / "claude"
KEY = "sk-ant-test-claude-code-key"
GITHUB_TOKEN = "ghp_supersecretgithubtoken000000000000"
ROLE = TESTER_ROLE.replace("engine: anthropic", "engine: claude-code").replace(
    '"ls*", "cat *", "python3 *", "false"', '"python3 *"'
)


def require_cli() -> str:
    """The pinned CLI (claude-code/node_modules, or `claude` on PATH), or skip; CI must
    have it."""
    found = str(LOCAL_CLI) if LOCAL_CLI.exists() else shutil.which("claude")
    version = claude_code.cli_version(found) if found else ""
    if version != claude_code.CLAUDE_CODE_VERSION:
        why = (
            f"the Claude Code CLI {claude_code.CLAUDE_CODE_VERSION} is not installed "
            f"(found: {found or 'none'} {version}); .ci/run installs it with npm"
        )
        if os.environ.get("CI"):
            pytest.fail(f"CI must run the claude-code engine with the real CLI: {why}")
        pytest.skip(why)
    assert found is not None
    return found


@pytest.fixture
def cc_repo(agent_repo: Path) -> Path:
    (agent_repo / "fleet/roles/tester.yaml").write_text(ROLE)
    commit_all(agent_repo, "tester runs on claude-code")
    git(agent_repo, "push", "-q", "origin", "main")
    return agent_repo


def _run(
    repo: Path, fake: FakeAnthropic, cli: str, task: str = "t-100", extra: dict | None = None
) -> RunOutcome:
    env = {
        "PATH": "/usr/bin:/bin",
        "HOME": "/tmp",
        "FLEET_FORGE": "local",
        "FLEET_NOW": "2026-11-24T10:30:00Z",
        "ANTHROPIC_API_KEY": KEY,
        "ANTHROPIC_BASE_URL": fake.url,
        "GITHUB_TOKEN": GITHUB_TOKEN,
        "STAGING_DATABASE_URL": "postgres://granted",
        claude_code.CLI_ENV: cli,
        **(extra or {}),
    }
    ws = open_workspace(repo, env)
    forge, client = open_forge(ws), anthropic_client(ws)
    return execute(ws, forge, "tester", task, trigger="test", client_factory=client)


def _result_note(outcome: RunOutcome) -> str:
    notes = [e["text"] for e in outcome.transcript.entries if e["kind"] == "note"]
    return next(n for n in notes if n.startswith("Claude Code ended:"))


def _tool_results(fake: FakeAnthropic) -> list[str]:
    """Every tool result the CLI sent back to the model."""
    out = []
    for message in fake.requests[-1]["messages"]:
        content = message["content"]
        for block in content if isinstance(content, list) else []:
            if block.get("type") == "tool_result":
                c = block["content"]
                out.append(c if isinstance(c, str) else json.dumps(c))
    return out


def test_a_session_that_edits_and_passes_acceptance_opens_a_pr(cc_repo: Path) -> None:
    cli = require_cli()
    with FakeAnthropic(
        [
            reply(tool("Bash", command="env")),
            reply(tool("Write", file_path="out/report.md", content="# Report\n")),
            reply(text("Wrote out/report.md with the report.")),
        ]
    ) as fake:
        outcome = _run(cc_repo, fake, cli)
    record = outcome.record
    assert record.outcome == "done", record.reason
    assert outcome.pr is not None and not outcome.pr.draft
    branch = "fleet/tester/t-100"
    assert git(cc_repo, "show", f"{branch}:out/report.md") == "# Report\n"
    assert "status: done" in git(cc_repo, "show", f"{branch}:tasks/t-100.yaml")
    # only the model API was called, at the CLI's beta path; nothing else at start-up
    assert fake.calls == ["GET /v1/models?limit=1"] + ["POST /v1/messages?beta=true"] * 3
    assert all(r["stream"] is True and r["model"] == "claude-sonnet-5-5" for r in fake.requests)
    # the CLI's Bash ran in the jail (HOME is its tmpfs) with the scrubbed environment, and
    # the CLI itself holds no key: it reaches the API through the runner's relay socket
    env_out = _tool_results(fake)[0]
    assert "HOME=/tmp" in env_out and "ANTHROPIC_UNIX_SOCKET=" in env_out
    assert KEY not in env_out and GITHUB_TOKEN not in env_out
    assert all(h["x-api-key"] == KEY for h in fake.headers)  # the relay added it
    # the run record carries the CLI's own usage and cost: usage = what the API reported
    sent = {k: sum(u[k] for u in fake.usages) for k in fake.usages[0]}
    assert record.usage == sent and record.turns == 3
    note = _result_note(outcome)
    cost = float(note.split("cost ", 1)[1].split(" USD", 1)[0])
    assert record.cost_usd == round(cost, 6) and record.cost_usd > 0
    assert json.loads(note.split("usage ", 1)[1]) == sent
    tools = [(e["name"], e["source"]) for e in outcome.transcript.entries if e["kind"] == "tool"]
    assert tools == [("Bash", "claude-code"), ("Write", "claude-code")]
    # each model turn in the transcript carries that call's usage as the API sent it
    turns = [e["usage"] for e in outcome.transcript.entries if e["kind"] == "turn"]
    assert turns == fake.usages


def test_writes_outside_writable_are_reverted_and_escalated(cc_repo: Path) -> None:
    cli = require_cli()
    with FakeAnthropic(
        [
            # refused by the CLI itself: not in the role's Write(<glob>) rules
            reply(tool("Write", file_path="fleet/roles/tester.yaml", content="engine: shell\n")),
            # allowed command (python3 *), so the write happens: the runner must catch it
            reply(tool("Bash", command="python3 -c \"open('fleet/evil.txt','w').write('x')\"")),
            reply(tool("Write", file_path="out/report.md", content="# Report\n")),
            reply(text("Done.")),
        ]
    ) as fake:
        outcome = _run(cc_repo, fake, cli)
    record = outcome.record
    assert record.outcome == "escalated" and "outside the writable" in record.reason
    assert outcome.issue is not None and outcome.pr is not None and outcome.pr.draft
    assert record.reverted == ["fleet/evil.txt"]
    branch = "fleet/tester/t-100"
    files = git(cc_repo, "ls-tree", "-r", "--name-only", branch).split()
    assert "fleet/evil.txt" not in files and "out/report.md" in files
    assert "engine: claude-code" in git(cc_repo, "show", f"{branch}:fleet/roles/tester.yaml")
    assert "denied" in _tool_results(fake)[0]


def test_a_rejected_key_stops_the_cli_at_once_and_escalates_once(cc_repo: Path) -> None:
    cli = require_cli()
    dead = error(401, "authentication_error", "invalid x-api-key")
    with FakeAnthropic([dead] * 5) as fake:
        first = _run(cc_repo, fake, cli)
        second = _run(cc_repo, fake, cli)
    assert first.record.outcome == "escalated", first.record.reason
    assert first.record.reason == "model API credential rejected"
    # the CLI would retry a 401 ten times with back-off; the runner stopped it at once
    assert fake.calls.count("POST /v1/messages?beta=true") <= 2 * 2
    assert first.issue is not None and second.issue is not None
    assert first.issue.id == second.issue.id  # one escalation per credential
    assert KEY not in json.dumps(first.transcript.to_dict())


def test_max_turns_leaves_a_resumable_draft(cc_repo: Path) -> None:
    cli = require_cli()
    role = cc_repo / "fleet/roles/tester.yaml"
    role.write_text(role.read_text().replace("max_turns: 40", "max_turns: 2"))
    commit_all(cc_repo, "two turns")
    with FakeAnthropic(
        [
            reply(tool("Write", file_path="out/draft.md", content="half\n")),
            reply(tool("Read", file_path="out/draft.md")),
            reply(text("never reached")),
        ]
    ) as fake:
        outcome = _run(cc_repo, fake, cli)
    record = outcome.record
    assert record.outcome == "max_turns", record.reason
    assert outcome.pr is not None and outcome.pr.draft
    assert git(cc_repo, "show", "fleet/tester/t-100:out/draft.md") == "half\n"
    assert fake.calls.count("POST /v1/messages?beta=true") == 2
    assert record.cost_usd > 0 and record.usage["output_tokens"] > 0


def test_an_overloaded_api_is_model_unavailable(cc_repo: Path) -> None:
    cli = require_cli()
    with FakeAnthropic([error(529, "overloaded_error", "Overloaded")] * 5) as fake:
        outcome = _run(cc_repo, fake, cli)
    assert outcome.record.outcome == "model_unavailable", outcome.record.reason
    assert outcome.issue is None and outcome.pr is None
    # max_retries: 2 in fleet.yaml -> the CLI's own retries are bounded by it
    assert fake.calls.count("POST /v1/messages?beta=true") == 3


def test_the_lockfile_ci_and_the_action_install_is_the_version_the_runner_pins() -> None:
    version = claude_code.CLAUDE_CODE_VERSION
    manifest = json.loads((ROOT / "claude-code/package.json").read_text("utf-8"))
    assert manifest["dependencies"] == {"@anthropic-ai/claude-code": version}
    lock = json.loads((ROOT / "claude-code/package-lock.json").read_text("utf-8"))
    entry = lock["packages"]["node_modules/@anthropic-ai/claude-code"]
    assert entry["version"] == version and entry["integrity"].startswith("sha512-")
    assert "npm ci --prefix claude-code" in (ROOT / ".ci/run").read_text("utf-8")


def _readme_role() -> dict:
    readme = (ROOT / "README.md").read_text("utf-8")
    block = readme.split("### `engine: claude-code`", 1)[1].split("```yaml\n", 1)[1]
    return yaml.safe_load(block.split("```", 1)[0])


def test_the_readme_role_is_valid_and_gets_the_tools_it_describes() -> None:
    data = _readme_role()
    assert schema.is_valid(data, "role")
    builtins, allowed = claude_code_cli.tools_for(Role.from_dict(data, Defaults()))
    assert builtins == ["Read", "Glob", "Grep", "Edit", "Write", "Bash"]
    assert allowed == [
        "Read", "Glob", "Grep", "Edit(app/**)", "Edit(tests/**)", "Write(app/**)",
        "Write(tests/**)", "Bash(pytest *)", "Bash(ruff *)", "mcp__docs__search",
    ]  # fmt: skip


def test_dry_run_prints_the_exact_command_line_and_calls_nothing(cc_repo: Path) -> None:
    role = yaml.safe_load(ROLE)
    role["mcp_servers"] = {
        "tracker": {
            "url": "https://tracker.example/mcp",
            "env": ["TRACKER_TOKEN"],
            "headers": {"Authorization": "Bearer ${TRACKER_TOKEN}"},
        }
    }
    role["mcp_tools"] = ["tracker/*"]
    (cc_repo / "fleet/roles/tester.yaml").write_text(yaml.safe_dump(role))
    commit_all(cc_repo, "tester with an MCP server")
    secret = "tracker-secret-value-123"
    with FakeAnthropic([]) as fake:
        env = {"FLEET_FORGE": "local", "ANTHROPIC_BASE_URL": fake.url, "TRACKER_TOKEN": secret}
        ws = open_workspace(cc_repo, env)
        out = execute(ws, open_forge(ws), "tester", "t-100", trigger="test",
                      client_factory=anthropic_client(ws), dry_run=True)  # fmt: skip
    assert fake.calls == []
    line = out.dry_run.split("--- command line ---\n", 1)[1].split("\n--- environment", 1)[0]
    argv = shlex.split(line)
    assert argv[:5] == ["claude", "-p", "--output-format", "stream-json", "--verbose"]
    assert argv[argv.index("--max-turns") + 1] == "40"
    assert argv[argv.index("--permission-mode") + 1] == "dontAsk"
    rules = argv[argv.index("--allowedTools") + 1].split(",")
    assert "Write(out/**)" in rules and "Bash(python3 *)" in rules and "Bash(env)" in rules
    assert "CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC=1" in out.dry_run
    assert "# Task t-100: Write the report" in out.dry_run.split("--- prompt (stdin) ---")[1]
    mcp = json.loads(argv[argv.index("--mcp-config") + 1])
    assert mcp["mcpServers"]["tracker"]["headers"] == {"Authorization": "Bearer ${TRACKER_TOKEN}"}
    assert "mcp__tracker" in rules and secret not in out.dry_run


def test_doctor_says_whether_the_pinned_cli_is_there(tmp_path: Path) -> None:
    missing = claude_code.cli_need({"PATH": str(tmp_path)})
    assert not missing.ok and "npm install @anthropic-ai/claude-code@2.1.332" in missing.detail
    fake = tmp_path / "claude"
    fake.write_text("#!/bin/sh\necho '2.0.1 (Claude Code)'\n")
    fake.chmod(0o755)
    old = claude_code.cli_need({"PATH": str(tmp_path)})
    assert not old.ok and "is 2.0.1" in old.detail
    real = claude_code.cli_need({claude_code.CLI_ENV: require_cli()})
    assert real.ok and claude_code.CLAUDE_CODE_VERSION in real.detail


def test_the_workflows_fleet_init_writes_install_the_pinned_cli() -> None:
    written = scaffold.files(example=True, name="acme")
    pin = f'claude-code: "{claude_code.CLAUDE_CODE_VERSION}"'
    for name in ("fleet-tick.yml", "fleet-revise.yml"):
        assert pin in written[f".github/workflows/{name}"], name


def test_fleet_doctor_reports_the_cli_for_a_claude_code_fleet(
    cc_repo: Path, fleet_cli, monkeypatch
) -> None:
    cli = require_cli()
    monkeypatch.setenv("FLEET_FORGE", "local")
    monkeypatch.setenv("ANTHROPIC_API_KEY", KEY)
    monkeypatch.setenv(claude_code.CLI_ENV, cli)
    out = fleet_cli("-C", str(cc_repo), "doctor", "--format", "json")
    lines = [c for c in json.loads(out.stdout) if c["name"] == "engine claude-code"]
    cli_line = next(c for c in lines if cli in c["detail"])
    assert cli_line["level"] == "ok" and claude_code.CLAUDE_CODE_VERSION in cli_line["detail"]
    monkeypatch.setenv(claude_code.CLI_ENV, str(cc_repo / "no-such-claude"))
    out = fleet_cli("-C", str(cc_repo), "doctor", "--format", "json")
    lines = [c for c in json.loads(out.stdout) if c["name"] == "engine claude-code"]
    assert any(c["level"] == "warn" and "npm install" in c["detail"] for c in lines)


def test_failed_acceptance_resumes_the_session_with_the_failures(cc_repo: Path) -> None:
    cli = require_cli()
    with FakeAnthropic(
        [
            reply(text("All done, I think.")),  # claims done, wrote nothing
            reply(tool("Write", file_path="out/report.md", content="# Report\n")),
            reply(text("Now it is written.")),
        ]
    ) as fake:
        outcome = _run(cc_repo, fake, cli)
    record = outcome.record
    assert record.outcome == "done", record.reason
    assert record.attempts == 2 and outcome.pr is not None and not outcome.pr.draft
    # the second session continued the first (same conversation), told what failed
    second = json.dumps(fake.requests[1]["messages"])
    assert "All done, I think." in second and "test -f out/report.md" in second
    assert record.usage == {k: sum(u[k] for u in fake.usages) for k in fake.usages[0]}


PROBE = """
import glob, socket
found = [p for p in glob.glob('/proc/*/environ') if KEY.encode() in open(p, 'rb').read()]
print('key in /proc:', found)
try:
    socket.create_connection(('127.0.0.1', PORT), timeout=3)
    print('egress: connected')
except OSError as exc:
    print('egress: refused', exc)
"""


def test_the_cli_and_its_commands_hold_no_key_and_reach_nothing_but_the_relay(
    cc_repo: Path,
) -> None:
    cli = require_cli()
    port: list[int] = []

    def probe(body: dict) -> dict:  # written by the agent, run through an allowed command
        code = PROBE.replace("KEY", repr(KEY)).replace("PORT", str(port[0]))
        return reply(tool("Write", file_path="out/probe.py", content=code))

    run = reply(tool("Bash", command="python3 out/probe.py"))
    fake = FakeAnthropic([probe, run, reply(text("Probed."))])
    with fake:
        port.append(fake.server.server_address[1])
        _run(cc_repo, fake, cli)
    out = _tool_results(fake)[1]
    assert "key in /proc: []" in out, out  # not in the CLI's environment, nor anyone's
    assert "egress: refused" in out, out  # network: off -> the jail has no network
    # nothing but the runner's key check and the relayed model calls reached the API
    assert set(fake.calls) == {"GET /v1/models?limit=1", "POST /v1/messages?beta=true"}


DIRECT = """
import json, os, socket
path = os.environ['ANTHROPIC_UNIX_SOCKET']
body = json.dumps({'model': 'claude-sonnet-5-5', 'max_tokens': 10,
                   'messages': [{'role': 'user', 'content': 'x' * 400000}]}).encode()
head = 'POST /v1/messages HTTP/1.1\\r\\nHost: localhost\\r\\nContent-Type: application/json'
statuses = []
for _ in range(3):
    s = socket.socket(socket.AF_UNIX)
    s.connect(path)
    s.sendall(f'{head}\\r\\nContent-Length: {len(body)}\\r\\n\\r\\n'.encode() + body)
    data = b''
    while chunk := s.recv(65536):
        data += chunk
    statuses.append(data.split(b' ')[1].decode())
print('direct:', statuses)
"""


def test_model_calls_made_on_the_relay_socket_are_counted_and_stopped_at_the_budget(
    cc_repo: Path,
) -> None:
    cli = require_cli()
    role = cc_repo / "fleet/roles/tester.yaml"
    role.write_text(role.read_text().replace("run_usd: 5.0", "run_usd: 0.5"))
    commit_all(cc_repo, "half a dollar a run")
    with FakeAnthropic(
        [
            reply(tool("Write", file_path="out/direct.py", content=DIRECT)),
            reply(tool("Bash", command="python3 out/direct.py")),
            reply(text("stolen 1")),  # the direct calls' answers (each ~100k prompt tokens)
            reply(text("stolen 2")),
            reply(text("never sent: the relay refuses at the budget")),
        ]
    ) as fake:
        outcome = _run(cc_repo, fake, cli)
    record = outcome.record
    bash = [e for e in outcome.transcript.entries if e["kind"] == "tool" and e["name"] == "Bash"]
    assert "direct: ['200', '200', '400']" in bash[0]["output"]  # the third refused
    assert fake.calls.count("POST /v1/messages") == 2
    assert record.outcome == "budget", record.reason
    # the run counts what the relay forwarded, not only what the CLI reported
    assert record.usage == {k: sum(u[k] for u in fake.usages) for k in fake.usages[0]}
    assert record.cost_usd >= 0.5
    notes = [e["text"] for e in outcome.transcript.entries if e["kind"] == "note"]
    assert any("more than the CLI reported" in n for n in notes)


def test_a_final_escalate_message_is_a_decision_escalation(cc_repo: Path) -> None:
    cli = require_cli()
    with FakeAnthropic([reply(text("ESCALATE: Which report format do you want?"))]) as fake:
        outcome = _run(cc_repo, fake, cli)
    record = outcome.record
    assert record.outcome == "escalated" and record.reason.startswith("decision:"), record.reason
    assert outcome.issue is not None and outcome.issue.kind == "decision"
    assert "Which report format" in outcome.issue.title
    assert outcome.pr is None  # nothing was written: no PR, the question waits


def test_without_the_cli_the_run_says_how_to_install_it(cc_repo: Path, tmp_path: Path) -> None:
    with FakeAnthropic([]) as fake:
        outcome = _run(cc_repo, fake, str(tmp_path / "no-claude-here"))
    record = outcome.record
    assert record.outcome == "error"
    assert "npm install @anthropic-ai/claude-code@2.1.332" in record.reason
    assert "POST /v1/messages" not in " ".join(fake.calls)  # nothing was sent to the model


def test_validate_warns_about_what_the_cli_cannot_be_given(tmp_path: Path) -> None:
    data = _readme_role()
    data.update(
        commands=["pytest *", "make a,b"],
        mcp_servers={"tracker": {"url": "https://tracker.example/mcp"}},
        network="off",
        model="claude-unpriced-1",
    )
    role = Role.from_dict(data, Defaults())
    config = FleetConfig(name="acme", prices={"claude-sonnet-5-5": Price(3, 15, 0.3, 3.75)})
    problems = {p.code: p for p in claude_code.ClaudeCodeEngine().check_role(role, config)}
    assert problems["claude-code-pattern"].field == ("commands", 1)
    assert "tracker" in problems["claude-code-network"].message
    assert "no price" in problems["unpriced-model"].message
    assert all(p.level == "warning" for p in problems.values())
    _, allowed = claude_code_cli.tools_for(role)
    assert "Bash(pytest *)" in allowed and not any("make" in a for a in allowed)


def test_a_cli_under_a_directory_the_jail_user_cannot_search_still_runs(
    cc_repo: Path, tmp_path: Path
) -> None:
    """CI clones the repository anywhere (under /root, say): the CLI installed there must
    still run in the jail, whose user cannot search such a directory."""
    cli = require_cli()
    user = foreign_user(probe("auto"))
    if user is None:
        pytest.skip("the runner is not root here: the jail runs as the runner's own user")
    hidden = tmp_path / "private"
    hidden.mkdir(mode=0o700)
    target = hidden / "claude"
    try:
        os.link(Path(cli).resolve(), target)
    except OSError:
        shutil.copy2(Path(cli).resolve(), target)
    assert not reachable(hidden, *user)
    with FakeAnthropic(
        [reply(tool("Write", file_path="out/report.md", content="# Report\n")), reply(text("Ok."))]
    ) as fake:
        outcome = _run(cc_repo, fake, str(target))
    assert outcome.record.outcome == "done", outcome.record.reason
