"""A role's MCP servers as plain data: what `fleet validate` says about them, which tools
the allow-list lets through, and the `--mcp-config` JSON the claude-code engine is given.

Pure functions, no SDK: `fleet validate` and `fleet --help` import this module (through
runner.checks) and must never pay for, or depend on, the `mcp` package. The client that
talks to the servers is `runner.mcp`.

Names: a tool reaches the model as `mcp__<server>__<tool>`. Built-in tools never start
with `mcp__`, and server names cannot contain `_`, so an MCP tool can neither shadow a
built-in one nor be mistaken for another server's (the same spelling Claude Code uses).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from fnmatch import fnmatchcase
from typing import Any
from urllib.parse import urlsplit

from runner.model import McpServer, Role, Severity

PREFIX = "mcp__"
SEP = "__"
# never handed to a server, whatever its role lists: the runner's own variables (the
# same prefixes runner.agent.sandbox keeps from every agent command)
RUNNER_PREFIXES = ("GITHUB_", "ANTHROPIC_", "ACTIONS_", "FLEET_")
# what the Messages API accepts as a tool name
_API_NAME = re.compile(r"^[a-zA-Z0-9_-]{1,128}$")
_LOOPBACK = ("localhost", "127.0.0.1", "::1")
_REF = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}")


@dataclass(frozen=True)
class Problem:
    """One finding about a role's MCP settings: the field path in the role file, the
    message (what is wrong and what to do), a code and a severity."""

    field: tuple[Any, ...]
    message: str
    code: str
    severity: Severity = "error"


def qualified(server: str, tool: str) -> str:
    """The name the model sees for `tool` of `server`."""
    return f"{PREFIX}{server}{SEP}{tool}"


def split(name: str) -> tuple[str, str] | None:
    """(server, tool) of a qualified name, or None for a name that is not one."""
    if not name.startswith(PREFIX):
        return None
    server, sep, tool = name[len(PREFIX) :].partition(SEP)
    return (server, tool) if sep and server and tool else None


def api_name_ok(server: str, tool: str) -> bool:
    """Can the qualified name be sent to the Messages API as a tool name?"""
    return bool(_API_NAME.match(qualified(server, tool)))


def allowed(globs: Sequence[str], server: str, tool: str) -> bool:
    """Does an `mcp_tools` glob (`server/tool`, each side a glob) allow this tool? The
    two sides are matched separately, so `*` never crosses the `/`."""
    for glob in globs:
        server_glob, sep, tool_glob = glob.partition("/")
        if sep and fnmatchcase(server, server_glob) and fnmatchcase(tool, tool_glob):
            return True
    return False


def problems(role: Role) -> Iterator[Problem]:
    """What is wrong with the role's `mcp_servers` and `mcp_tools`, each at its field."""
    for server in role.mcp_servers:
        yield from _server_problems(server)
    names = [s.name for s in role.mcp_servers]
    for n, glob in enumerate(role.mcp_tools):
        yield from _glob_problems(glob, n, names)
    if role.mcp_servers and not role.mcp_tools:
        yield Problem(
            ("mcp_servers",),
            "mcp_servers are configured but mcp_tools allows none of their tools, so the "
            "model gets none; add globs such as '" + names[0] + "/*' to mcp_tools",
            "mcp-no-tools",
            "warning",
        )


def _server_problems(server: McpServer) -> Iterator[Problem]:
    at = ("mcp_servers", server.name)
    if server.command and server.url:
        yield Problem(
            (*at, "url"),
            f"MCP server '{server.name}' has both command and url; give command (with args "
            "and env) for a stdio server, or url for a streamable-HTTP one",
            "mcp-server",
        )
    elif not server.command and not server.url:
        yield Problem(
            at,
            f"MCP server '{server.name}' needs command (a stdio server) or url "
            "(a streamable-HTTP server)",
            "mcp-server",
        )
    if server.url:
        yield from _url_problems(server, at)
    yield from _header_problems(server, at)
    for n, name in enumerate(server.env):
        if name.upper().startswith(RUNNER_PREFIXES):
            yield Problem(
                (*at, "env", n),
                f"MCP server '{server.name}' lists {name}, but the runner's own variables "
                f"({', '.join(p + '*' for p in RUNNER_PREFIXES)}) are never passed to a "
                "server; store the server's credential under another name",
                "mcp-env",
            )


def _url_problems(server: McpServer, at: tuple[Any, ...]) -> Iterator[Problem]:
    url = server.url or ""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        yield Problem(
            (*at, "url"),
            f"MCP server '{server.name}': url '{url}' is not an http:// or https:// URL",
            "mcp-server",
        )
        return
    if parts.username or parts.password:
        yield Problem(
            (*at, "url"),
            f"MCP server '{server.name}': the url carries credentials; a role file is "
            "public to everyone who reads the repository, so remove them from the url",
            "mcp-server",
        )
    if parts.scheme == "http" and parts.hostname not in _LOOPBACK:
        yield Problem(
            (*at, "url"),
            f"MCP server '{server.name}': plain http to {parts.hostname} sends the "
            "model's tool calls and the results unencrypted; use https",
            "mcp-insecure-url",
            "warning",
        )
    if server.args:
        yield Problem(
            (*at, "args"),
            f"MCP server '{server.name}': args apply to a stdio server (command) only",
            "mcp-server",
        )


def _header_problems(server: McpServer, at: tuple[Any, ...]) -> Iterator[Problem]:
    if server.headers and not server.url:
        yield Problem(
            (*at, "headers"),
            f"MCP server '{server.name}': headers apply to a url server only",
            "mcp-server",
        )
    for header, value in server.headers:
        for name in _REF.findall(value):
            if name not in server.env:
                yield Problem(
                    (*at, "headers", header),
                    f"MCP server '{server.name}': header {header} uses ${{{name}}}, which "
                    "is not listed under its env; add it there (values come from the "
                    "job's environment)",
                    "mcp-env",
                )


def _glob_problems(glob: str, n: int, names: Sequence[str]) -> Iterator[Problem]:
    at = ("mcp_tools", n)
    server_glob, sep, tool_glob = glob.partition("/")
    if not sep or not server_glob or not tool_glob or "/" in tool_glob:
        yield Problem(
            at,
            f"mcp_tools entry '{glob}' is not server/tool (e.g. 'docs/search' or 'docs/*')",
            "mcp-tools",
        )
        return
    if not names:
        yield Problem(
            at,
            f"mcp_tools entry '{glob}' allows tools, but the role has no mcp_servers",
            "mcp-tools",
        )
    elif not any(fnmatchcase(name, server_glob) for name in names):
        yield Problem(
            at,
            f"mcp_tools entry '{glob}' matches no server of this role "
            f"(mcp_servers: {', '.join(names)})",
            "mcp-tools",
        )


def server_env(server: McpServer, environ: Mapping[str, str]) -> dict[str, str]:
    """The values of the names the server lists, from the job's environment: only those
    names, never a runner variable (a missing one is the caller's credential problem)."""
    return {
        name: environ[name]
        for name in server.env
        if name in environ and not name.upper().startswith(RUNNER_PREFIXES)
    }


def server_headers(server: McpServer, environ: Mapping[str, str]) -> dict[str, str]:
    """A url server's headers with each `${NAME}` replaced by the value the server's env
    lists (a name it does not list, or a runner variable, becomes empty)."""
    values = server_env(server, environ)
    return {
        header: _REF.sub(lambda m: values.get(m.group(1), ""), value)
        for header, value in server.headers
    }


def unfound_commands(role: Role, which: Callable[[str], str | None]) -> list[str]:
    """The commands of the role's stdio servers that `which` cannot find (fleet doctor;
    `which` is the caller's PATH lookup, so this stays free of I/O)."""
    return [
        f"{s.name}: {s.command}" for s in role.mcp_servers if s.command and not which(s.command)
    ]


def missing_env(role: Role, environ: Mapping[str, str]) -> list[str]:
    """Names the role's servers list that the job's environment does not set."""
    out: list[str] = []
    for server in role.mcp_servers:
        out += [n for n in server.env if not environ.get(n) and n not in out]
    return out


Wrap = Callable[[list[str]], list[str]]


def claude_mcp_config(
    role: Role, environ: Mapping[str, str], wrap: Wrap | None = None
) -> dict[str, Any]:
    """The JSON for Claude Code's `--mcp-config` (use it with `--strict-mcp-config`, so
    no other configuration adds servers): the role's servers, a stdio server's command
    passed through `wrap` (the sandbox, see runner.agent.jail) when given, and its env
    holding only the names it lists."""
    servers: dict[str, Any] = {}
    for server in role.mcp_servers:
        if server.url:
            servers[server.name] = {"type": "http", "url": server.url}
            if server.headers:
                servers[server.name]["headers"] = server_headers(server, environ)
        elif server.command:
            argv = [server.command, *server.args]
            if wrap is not None:
                argv = wrap(argv)
            servers[server.name] = {
                "type": "stdio",
                "command": argv[0],
                "args": argv[1:],
                "env": server_env(server, environ),
            }
    return {"mcpServers": servers}


def claude_allowed_tools(
    role: Role, listed: Mapping[str, Sequence[str]] | None = None
) -> list[str]:
    """Claude Code `--allowedTools` entries for the role's `mcp_tools`.

    With `listed` (server -> the tool names it offers), every glob is expanded to the
    exact `mcp__<server>__<tool>` names it allows. Without it, `server/*` becomes
    `mcp__<server>` (every tool of the server) and a literal `server/tool` its exact name;
    a partial glob such as `server/get_*` cannot be said to the CLI without the listing
    and allows nothing (fail closed)."""
    out: list[str] = []
    for server in role.mcp_servers:
        if listed is not None:
            out += [
                qualified(server.name, tool)
                for tool in listed.get(server.name, ())
                if allowed(role.mcp_tools, server.name, tool)
            ]
            continue
        for glob in role.mcp_tools:
            server_glob, _, tool_glob = glob.partition("/")
            if not fnmatchcase(server.name, server_glob):
                continue
            if tool_glob == "*":
                out.append(f"{PREFIX}{server.name}")
            elif not any(ch in tool_glob for ch in "*?["):
                out.append(qualified(server.name, tool_glob))
    return list(dict.fromkeys(out))


def describe(role: Role) -> list[str]:
    """The role's servers and allow-list as a dry run shows them (no server is started,
    so the tools themselves are not listed)."""
    lines = []
    for server in role.mcp_servers:
        how = f"url {server.url}" if server.url else " ".join([server.command or "", *server.args])
        env = f"; env: {', '.join(server.env)}" if server.env else ""
        lines.append(f"MCP server {server.name}: {how}{env}")
    if role.mcp_servers:
        lines.append(
            f"MCP tools allowed (as mcp__<server>__<tool>): {', '.join(role.mcp_tools) or 'none'}"
        )
    return lines


def where(server: McpServer) -> str:
    """Where a server is, in a failure's words (both engines say it the same way)."""
    return f"url {server.url}" if server.url else f"stdio: {server.command}"


def try_it(server: McpServer) -> str:
    """How to try a server by hand when it would not start or died."""
    if server.url:
        return f"is {server.url} reachable from the agent job?"
    return " ".join([server.command or "", *server.args])
