"""MCP settings in the role file: precise `fleet validate` findings, the allow-list, and
the claude-code `--mcp-config` JSON (pure data, no SDK)."""

from __future__ import annotations

import json
from pathlib import Path

from runner import mcp_config
from runner.model import Defaults, Role

ROLE = """\
name: researcher
description: Reads docs through MCP.
engine: anthropic
directives: fleet/directives/research.md
writable: ["docs/**"]
"""


def _role(**extra: object) -> Role:
    d = {"name": "r", "description": "x", "engine": "anthropic", **extra}
    return Role.from_dict(d, Defaults())


def _validate(example: Path, fleet_cli, body: str, role: str = ROLE) -> list[dict]:
    (example / "fleet/roles/researcher.yaml").write_text(role + body)
    result = fleet_cli("-C", str(example), "validate", "--format", "json")
    data = json.loads(result.output)
    found = data["findings"] if isinstance(data, dict) else data
    return [f for f in found if f["path"] == "fleet/roles/researcher.yaml"]


def test_bad_mcp_entries_are_findings_at_their_line(example: Path, fleet_cli) -> None:
    found = _validate(
        example,
        fleet_cli,
        """\
mcp_servers:
  both:
    command: docs-mcp
    url: https://mcp.example.com/mcp
  neither:
    args: ["-v"]
  web:
    url: ftp://mcp.example.com/
  leaky:
    command: leaky-mcp
    env: [DOCS_TOKEN, GITHUB_TOKEN]
  plain:
    url: http://mcp.example.com/mcp
mcp_tools:
  - "both/*"
  - "nothing-here"
  - "ghost/*"
""",
    )
    by = {(f["line"], f["code"]): f for f in found}
    assert by[(9, "mcp-server")]["message"].startswith("MCP server 'both' has both command")
    assert "needs command (a stdio server) or url" in by[(10, "mcp-server")]["message"]
    assert "is not an http:// or https:// URL" in by[(13, "mcp-server")]["message"]
    leak = by[(16, "mcp-env")]
    assert "GITHUB_TOKEN" in leak["message"] and "never passed" in leak["message"]
    assert by[(18, "mcp-insecure-url")]["severity"] == "warning"
    assert "is not server/tool" in by[(21, "mcp-tools")]["message"]
    assert "matches no server of this role" in by[(22, "mcp-tools")]["message"]
    assert all(f["severity"] == "error" for f in found if f["code"] != "mcp-insecure-url")


def test_schema_findings_for_names_and_setup(example: Path, fleet_cli) -> None:
    found = _validate(
        example,
        fleet_cli,
        """\
mcp_servers:
  Bad_Name:
    command: x
  ok:
    command: x
    env: [lower-case]
    port: 8080
setup:
  - pip install -e .
  - {run: make deps, timeout_s: 0}
  - 42
""",
    )
    text = "\n".join(f"{f['line']}: {f['message']}" for f in found)
    assert len(found) >= 5, text
    lines = {f["line"] for f in found}
    assert {6, 11, 12, 15, 16} <= lines, text
    assert "mcp__<server>__<tool>" in text and "upper-case letters" in text


def test_servers_without_allowed_tools_warn_and_good_config_is_clean(
    example: Path, fleet_cli
) -> None:
    found = _validate(example, fleet_cli, "mcp_servers:\n  docs:\n    command: docs-mcp\n")
    assert [(f["code"], f["severity"]) for f in found] == [("mcp-no-tools", "warning")]
    good = _validate(
        example,
        fleet_cli,
        """\
mcp_servers:
  docs: {command: docs-mcp, args: ["--stdio"], env: [DOCS_TOKEN]}
  issues: {url: "https://mcp.example.com/mcp"}
mcp_tools: ["docs/*", "issues/get_*"]
setup: ["pip install -e .", {run: make deps, timeout_s: 900}]
""",
    )
    assert good == []


def test_allow_list_globs_match_server_and_tool_separately() -> None:
    globs = ["docs/*", "issues/get_*"]
    assert mcp_config.allowed(globs, "docs", "search")
    assert mcp_config.allowed(globs, "issues", "get_issue")
    assert not mcp_config.allowed(globs, "issues", "delete_issue")
    assert not mcp_config.allowed(["*"], "docs", "search")  # not server/tool: nothing
    assert not mcp_config.allowed(["doc*"], "docs", "search")
    assert not mcp_config.allowed(["d*/x"], "docs/x", "y")  # `*` never crosses the `/`
    assert mcp_config.split("mcp__docs__search") == ("docs", "search")
    assert mcp_config.split("read_file") is None and mcp_config.split("mcp__docs") is None


def test_claude_mcp_config_passes_only_listed_env_names_and_wraps_stdio() -> None:
    role = _role(
        mcp_servers={
            "docs": {"command": "docs-mcp", "args": ["--stdio"], "env": ["DOCS_TOKEN"]},
            "issues": {"url": "https://mcp.example.com/mcp"},
        },
        mcp_tools=["docs/*", "issues/get_issue", "issues/list_*"],
    )
    environ = {"DOCS_TOKEN": "t0k", "GITHUB_TOKEN": "ghp_x", "OTHER": "y", "PATH": "/bin"}
    config = mcp_config.claude_mcp_config(role, environ, wrap=lambda argv: ["jail", *argv])
    assert config == {
        "mcpServers": {
            "docs": {
                "type": "stdio",
                "command": "jail",
                "args": ["docs-mcp", "--stdio"],
                "env": {"DOCS_TOKEN": "t0k"},
            },
            "issues": {"type": "http", "url": "https://mcp.example.com/mcp"},
        }
    }
    # without the servers' listings a partial glob cannot be said to the CLI: fail closed
    assert mcp_config.claude_allowed_tools(role) == ["mcp__docs", "mcp__issues__get_issue"]
    listed = {"docs": ["search"], "issues": ["get_issue", "list_issues", "delete_issue"]}
    assert mcp_config.claude_allowed_tools(role, listed) == [
        "mcp__docs__search",
        "mcp__issues__get_issue",
        "mcp__issues__list_issues",
    ]


def test_setup_comes_from_the_role_else_the_fleet_defaults() -> None:
    defaults = Defaults.from_dict({"setup": ["pip install -e ."]})
    assert [s.run for s in _role_with(defaults).setup] == ["pip install -e ."]
    own = Role.from_dict(
        {"name": "r", "description": "x", "engine": "anthropic", "setup": []}, defaults
    )
    assert own.setup == ()


def _role_with(defaults: Defaults) -> Role:
    return Role.from_dict({"name": "r", "description": "x", "engine": "anthropic"}, defaults)


def test_mcp_servers_on_a_shell_role_are_a_warning(example: Path, fleet_cli) -> None:
    body = "mcp_servers:\n  docs: {command: docs-mcp}\nmcp_tools: ['docs/*']\n"
    mine = _validate(example, fleet_cli, body, ROLE.replace("anthropic", "shell"))
    assert [(f["line"], f["code"], f["severity"]) for f in mine] == [
        (6, "engine-mismatch", "warning")
    ], mine
    assert "never started" in mine[0]["message"]


def test_headers_take_values_only_from_listed_env_names(example: Path, fleet_cli) -> None:
    found = _validate(
        example,
        fleet_cli,
        """\
mcp_servers:
  tracker:
    url: https://mcp.example.com/mcp
    env: [TRACKER_TOKEN]
    headers: {Authorization: "Bearer ${TRACKER_TOKEN}", X-Other: "${UNLISTED}"}
  local:
    command: docs-mcp
    headers: {X-A: b}
mcp_tools: ["tracker/*", "local/*"]
""",
    )
    by = {(f["line"], f["code"]): f["message"] for f in found}
    assert "uses ${UNLISTED}, which is not listed under its env" in by[(10, "mcp-env")]
    assert "headers apply to a url server only" in by[(13, "mcp-server")]
    assert len(found) == 2, found
    role = _role(
        mcp_servers={
            "tracker": {
                "url": "https://mcp.example.com/mcp",
                "env": ["TRACKER_TOKEN", "GITHUB_TOKEN"],
                "headers": {"Authorization": "Bearer ${TRACKER_TOKEN}", "X-Gh": "${GITHUB_TOKEN}"},
            }
        }
    )
    environ = {"TRACKER_TOKEN": "t0k", "GITHUB_TOKEN": "ghp_x"}
    assert mcp_config.claude_mcp_config(role, environ)["mcpServers"]["tracker"] == {
        "type": "http",
        "url": "https://mcp.example.com/mcp",
        "headers": {"Authorization": "Bearer t0k", "X-Gh": ""},  # never a runner variable
    }
