"""MCP in the claude-code engine: the REAL Claude Code CLI (pinned, from npm) gets the
role's servers through --mcp-config/--strict-mcp-config and the allow-list through its
allowed tools, against the scripted Messages API and a real MCP server (the SDK's server
side) over streamable HTTP on loopback."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import yaml

from tests.conftest import commit_all, git
from tests.engines.test_claude_code import ROLE, _run, require_cli
from tests.fakes import mcp_server
from tests.fakes.anthropic_server import FakeAnthropic, reply, text, tool


def _results(fake: FakeAnthropic) -> dict[str, str]:
    """tool_use id -> the text of its result, over the whole last request."""
    names = {}
    out = {}
    for message in fake.requests[-1]["messages"]:
        content = message["content"]
        for block in content if isinstance(content, list) else []:
            if block.get("type") == "tool_use":
                names[block["id"]] = block["name"]
            if block.get("type") == "tool_result":
                c = block["content"]
                out[names.get(block["tool_use_id"], "?")] = (
                    c if isinstance(c, str) else json.dumps(c)
                )
    return out


def test_an_allowed_mcp_tool_works_and_a_disallowed_one_is_refused(
    agent_repo: Path, tmp_path: Path
) -> None:
    cli = require_cli()
    log = tmp_path / "calls.log"
    with mcp_server.serving(log) as url:
        role = yaml.safe_load(ROLE)
        # a URL server is reached from the CLI's jail, which has network only when allowed
        role.update(mcp_servers={"docs": {"url": url}}, mcp_tools=["docs/search"], network="allow")
        (agent_repo / "fleet/roles/tester.yaml").write_text(yaml.safe_dump(role))
        commit_all(agent_repo, "tester runs on claude-code with an MCP server")
        git(agent_repo, "push", "-q", "origin", "main")
        with FakeAnthropic(
            [
                reply(tool("mcp__docs__search", query="caching")),
                reply(tool("mcp__docs__delete_everything")),
                reply(tool("Write", file_path="out/report.md", content="# Report\n")),
                reply(text("Wrote the report.")),
            ]
        ) as fake:
            outcome = _run(agent_repo, fake, cli)
    assert outcome.record.outcome == "done", outcome.record.reason
    offered = {t["name"] for t in fake.requests[0].get("tools", [])}
    assert "mcp__docs__search" in offered, sorted(offered)
    results = _results(fake)
    assert "found: caching" in results["mcp__docs__search"]
    refused = results["mcp__docs__delete_everything"]
    assert "Permission to use mcp__docs__delete_everything has been denied" in refused
    assert log.read_text().split() == ["search"]  # the refused call never reached it
    sources = [(e["name"], e["source"]) for e in outcome.transcript.entries if e["kind"] == "tool"]
    assert ("mcp__docs__search", "mcp:docs") in sources


def _mcp_role(repo: Path, url: str) -> None:
    role = yaml.safe_load(ROLE)
    role.update(mcp_servers={"docs": {"url": url}}, mcp_tools=["docs/*"], network="allow")
    (repo / "fleet/roles/tester.yaml").write_text(yaml.safe_dump(role))
    commit_all(repo, "tester runs on claude-code with an MCP server")
    git(repo, "push", "-q", "origin", "main")


def test_a_server_that_crashes_mid_run_ends_it_with_a_clear_reason(
    agent_repo: Path, tmp_path: Path
) -> None:
    cli = require_cli()
    with mcp_server.serving(tmp_path / "calls.log") as url:
        _mcp_role(agent_repo, url)
        with FakeAnthropic(
            [
                reply(tool("Write", file_path="out/report.md", content="draft\n")),
                reply(tool("mcp__docs__crash")),
                reply(tool("mcp__docs__search", query="caching")),
                reply(tool("Write", file_path="out/report.md", content="after the crash\n")),
                reply(text("Wrote the report.")),
            ]
        ) as fake:
            outcome = _run(agent_repo, fake, cli)
    record = outcome.record
    assert record.outcome == "error", record.reason
    reason = record.reason
    assert "MCP server 'docs'" in reason and "during a call to crash" in reason, reason
    assert "remove it from the role's mcp_servers" in reason, reason
    assert "ECONNRESET" in reason  # what the CLI saw, in its words
    # the run stopped at the crash's result: at most the request carrying it went out
    assert len(fake.requests) <= 3, len(fake.requests)
    branch = "fleet/tester/t-100"
    assert git(agent_repo, "show", f"{branch}:out/report.md") == "draft\n"  # work kept


def test_a_server_that_cannot_start_ends_the_run_before_the_model_works(
    agent_repo: Path,
) -> None:
    cli = require_cli()
    _mcp_role(agent_repo, f"http://127.0.0.1:{mcp_server.free_port()}/mcp")  # nobody listens
    with FakeAnthropic(
        [
            reply(tool("Write", file_path="out/report.md", content="# Report\n")),
            reply(text("Wrote the report.")),
        ]
    ) as fake:
        outcome = _run(agent_repo, fake, cli)
    record = outcome.record
    assert record.outcome == "error", record.reason
    assert "MCP server 'docs'" in record.reason and "could not be started" in record.reason
    # the CLI reports the server's status before its first model request: none was made
    assert fake.requests == [], len(fake.requests)
    assert "status 'failed'" in record.reason and "reachable from the agent job" in record.reason


def test_a_stdio_server_that_crashes_mid_run_ends_it_with_a_clear_reason(
    agent_repo: Path,
) -> None:
    """The stdio variant: the CLI starts the server in its jail, and reports its death in
    other words than an HTTP server's (`Connection closed`)."""
    from tests.test_mcp_engine import FAKE, SITE, _python

    cli = require_cli()
    role = yaml.safe_load(ROLE)
    server = {"command": _python(), "args": [str(FAKE)], "env": ["PYTHONPATH"]}
    role.update(mcp_servers={"docs": server}, mcp_tools=["docs/*"])
    (agent_repo / "fleet/roles/tester.yaml").write_text(yaml.safe_dump(role))
    cfg = agent_repo / "fleet/fleet.yaml"
    mounts = sorted({sys.prefix, SITE, str(FAKE.parent)})
    cfg.write_text(cfg.read_text() + f"sandbox_read_only: {json.dumps(mounts)}\n")
    commit_all(agent_repo, "tester runs on claude-code with a stdio MCP server")
    git(agent_repo, "push", "-q", "origin", "main")
    with FakeAnthropic(
        [
            reply(tool("Write", file_path="out/report.md", content="draft\n")),
            reply(tool("mcp__docs__crash")),
            reply(tool("mcp__docs__search", query="caching")),
            reply(text("Wrote the report.")),
        ]
    ) as fake:
        outcome = _run(agent_repo, fake, cli, extra={"PYTHONPATH": SITE})
    reason = outcome.record.reason
    assert outcome.record.outcome == "error", reason
    assert "MCP server 'docs' (stdio:" in reason and "during a call to crash" in reason, reason
    assert len(fake.requests) <= 3, len(fake.requests)
    assert git(agent_repo, "show", "fleet/tester/t-100:out/report.md") == "draft\n"
