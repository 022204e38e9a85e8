"""Reading Claude Code's `--output-format stream-json` stream: one JSON event a line.

Pure data in, plain data out: `Stream.feed(line)` records what the CLI did into the
run's transcript (every tool call with its input and result, every model turn's text)
and says when the runner must stop the CLI at once (a rejected key: the CLI would
retry a 401 ten times with back-off; the runner's rule is to escalate a dead credential
at once; an MCP server that failed to start or died, which the CLI would carry on
without). `verdict()` maps the final `result` event (or its absence) to the outcome the
built-in loop would give: the same words, so budgets, escalations, drafts and the
ledger treat both engines alike.

Event shapes (Claude Code 2.1.x, `--verbose --include-partial-messages`): `system/init`
(version, tools, model, `mcp_servers` with each one's `status`),
`assistant` (one API message's content, possibly split over several events with the
same message id, with message_start's usage), `stream_event` (the API's own events: a
turn's final output tokens), `user` (the tool results), `system/api_retry` (`error_status`),
`system/permission_denied`, and one `result` (`subtype`, `is_error`, `num_turns`,
`usage`, `total_cost_usd`, `api_error_status`, `result`, `errors`).
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from typing import Any

from runner.agent.cost import USAGE_KEYS, Usage
from runner.agent.tools import Terminal
from runner.fmt import clip
from runner.transcript import Transcript

REJECTED = "model API credential rejected"  # the reason run.py turns into the key escalation
AUTH_STATUSES = (401, 403)
UNAVAILABLE_STATUSES = (408, 429, 500, 502, 503, 504, 529)
ESCALATE_PREFIX = "ESCALATE:"  # a final message asking a human (see PROMPT in claude_code)
# Init statuses of a server the CLI could not bring up (it never retries one mid-run).
MCP_FAILED = ("failed", "needs-auth")
# A tool result of an `mcp__<server>__*` call saying the server is gone (Claude Code
# 2.1.x words: a crashed HTTP server's `ECONNRESET: ...`, then `MCP server "docs" is not
# connected`; a stdio server's `Connection closed`, after which the CLI would start a
# fresh one for the next call, its state lost, where the built-in loop ends). A server that
# writes these words itself only ends its own run, with `error`.
MCP_LOST = re.compile(
    r"^(Error: )?((ECONNRESET|ECONNREFUSED|EPIPE|ECONNABORTED)\b"
    r"|MCP server \"[^\"]*\" is not connected|(MCP error -32000: )?Connection closed$)"
)


@dataclass(frozen=True)
class McpDown:
    """An MCP server that did not start (`tool` empty) or died during a call."""

    server: str
    tool: str
    detail: str


@dataclass
class Verdict:
    """How one CLI session ended, in the built-in loop's words."""

    outcome: str  # done (the runner still judges acceptance), escalated, budget, ...
    reason: str
    escalation: Terminal | None = None
    summary: str = ""


@dataclass
class Stream:
    transcript: Transcript
    key_name: str = "ANTHROPIC_API_KEY"  # the engine's model_key(role), named in escalations
    servers: dict[str, tuple[str, str]] = field(default_factory=dict)  # name -> where, try it
    mcp_down: McpDown | None = None  # a dead MCP server: stop the CLI now, end as `error`
    session_id: str = ""
    version: str = ""
    result: dict[str, Any] | None = None
    auth_status: int | None = None  # a 401/403 seen in an api_retry: stop the CLI now
    retries: list[int] = field(default_factory=list)  # error_status of each api_retry
    unparsed: int = 0
    _calls: dict[str, tuple[str, Any]] = field(default_factory=dict)  # tool_use_id -> call
    _seen_usage: set[str] = field(default_factory=set)
    _turn: dict[str, Any] | None = None  # the current message's turn entry

    def feed(self, line: str) -> bool:
        """Take one line of the stream; True when the CLI must be stopped now."""
        line = line.strip()
        if not line:
            return False
        try:
            event = json.loads(line)
        except ValueError:
            self.unparsed += 1  # not an event (a warning the CLI printed): kept out
            return False
        if not isinstance(event, dict):
            return False
        kind, sub = event.get("type"), event.get("subtype")
        if kind == "system":
            return self._system(sub, event)
        if kind == "assistant":
            self._assistant(event)
        elif kind == "user":
            return self._user(event)
        elif kind == "stream_event":
            self._partial(event.get("event"))
        elif kind == "result":
            self.result = event
            self.transcript.note(
                f"Claude Code ended: {event.get('subtype')}, {event.get('num_turns')} turn(s), "
                f"cost {event.get('total_cost_usd')} USD, usage "
                + json.dumps({k: (event.get("usage") or {}).get(k) for k in USAGE_KEYS})
            )
        return False

    def _system(self, sub: Any, event: dict[str, Any]) -> bool:
        if sub == "init":
            self.session_id = str(event.get("session_id") or "")
            self.version = str(event.get("claude_code_version") or "")
            self.transcript.note(
                f"Claude Code {self.version or '?'} started (model {event.get('model')}, "
                f"tools: {', '.join(map(str, event.get('tools') or [])) or 'none'}, "
                f"permission mode {event.get('permissionMode')})"
            )
            for server in event.get("mcp_servers") or []:
                status = server.get("status") if isinstance(server, dict) else None
                if status in MCP_FAILED and self.mcp_down is None:
                    self.mcp_down = McpDown(str(server.get("name")), "", f"status '{status}'")
            return self.mcp_down is not None
        if sub == "api_retry":
            status = event.get("error_status")
            self.retries.append(status if isinstance(status, int) else 0)
            if status in AUTH_STATUSES:
                self.auth_status = status
                return True
        elif sub == "permission_denied":
            self.transcript.note(
                f"Claude Code refused {event.get('tool_name')}: not allowed for this role"
            )
        return False

    def _assistant(self, event: dict[str, Any]) -> None:
        message = event.get("message") or {}
        texts, usage = [], None
        msg_id = str(message.get("id") or "")
        if msg_id and msg_id not in self._seen_usage and isinstance(message.get("usage"), dict):
            self._seen_usage.add(msg_id)
            usage = {k: int(message["usage"].get(k) or 0) for k in USAGE_KEYS}
        for block in message.get("content") or []:
            if not isinstance(block, dict):
                continue
            if block.get("type") == "text" and block.get("text"):
                texts.append(str(block["text"]))
            elif block.get("type") == "tool_use":
                self._calls[str(block.get("id"))] = (str(block.get("name")), block.get("input"))
        if texts or usage:
            self.transcript.turn("\n".join(texts), usage)
            if usage:
                self._turn = self.transcript.entries[-1]

    def _partial(self, event: Any) -> None:
        """`--include-partial-messages`: the API's own stream events. Only the final
        output token count is taken (the assistant events carry message_start's)."""
        if not isinstance(event, dict) or event.get("type") != "message_delta":
            return
        output = (event.get("usage") or {}).get("output_tokens")
        if self._turn is not None and isinstance(output, int):
            self._turn.setdefault("usage", {})["output_tokens"] = output
            self._turn = None

    def _user(self, event: dict[str, Any]) -> bool:
        content = (event.get("message") or {}).get("content")
        for block in content if isinstance(content, list) else []:
            if not isinstance(block, dict) or block.get("type") != "tool_result":
                continue
            name, tool_input = self._calls.pop(str(block.get("tool_use_id")), ("?", None))
            source = "mcp:" + name.split("__")[1] if name.startswith("mcp__") else "claude-code"
            output, is_error = _text(block.get("content")), bool(block.get("is_error"))
            self.transcript.tool(name, tool_input, output, is_error, source)
            parts = name.split("__", 2)
            if len(parts) == 3 and is_error and MCP_LOST.search(output) and not self.mcp_down:
                self.mcp_down = McpDown(parts[1], parts[2], clip(output.strip(), 300))
        return self.mcp_down is not None

    # -- the end ------------------------------------------------------------------

    def usage(self) -> Usage:
        raw = (self.result or {}).get("usage") or {}
        return Usage(**{k: int(raw.get(k) or 0) for k in USAGE_KEYS})

    def cost_usd(self) -> float:
        return float((self.result or {}).get("total_cost_usd") or 0.0)

    def turns(self) -> int:
        return int((self.result or {}).get("num_turns") or 0)

    def verdict(self, exit_code: int | None, stderr: str, max_turns: int) -> Verdict:
        """The outcome of this session; `done` means the CLI finished without error
        (the runner then runs the acceptance checks itself)."""
        status = self.auth_status or (self.result or {}).get("api_error_status")
        if status in AUTH_STATUSES:
            detail = f"HTTP {status}: {clip(str((self.result or {}).get('result') or ''), 200)}"
            return Verdict(
                "escalated",
                REJECTED,
                Terminal(
                    "credential",
                    f"The model API rejected the runner's credential ({detail.strip(': ')}). "
                    f"Check the {self.key_name} secret.",
                ),
            )
        if self.mcp_down is not None:
            return Verdict("error", self._mcp_reason(self.mcp_down))
        result = self.result
        if result is None:
            why = stderr.strip().splitlines()[-1:] or [f"exit code {exit_code}"]
            return Verdict(
                "error",
                f"Claude Code ended without a result event ({clip(why[0], 300)}); the work "
                "so far is committed",
            )
        return _from_result(result, status, max_turns)

    def _mcp_reason(self, down: McpDown) -> str:
        """The built-in loop's words (runner.mcp) for a server that can't start or died."""
        where, try_it = self.servers.get(down.server, ("", ""))
        name = f"MCP server '{down.server}'" + (f" ({where})" if where else "")
        if not down.tool:
            return (
                f"{name} could not be started or listed: Claude Code reports {down.detail}; "
                f"check that it starts on this machine: {try_it or 'run it by hand'}"
            )
        return (
            f"{name} stopped during a call to {down.tool}: {down.detail}. The work so far "
            "is committed; fix the server or remove it from the role's mcp_servers "
            f"(try it by hand: {try_it or 'start it by hand'}); the next run starts it anew"
        )


def _from_result(result: dict[str, Any], status: Any, max_turns: int) -> Verdict:
    sub, text = result.get("subtype"), str(result.get("result") or "")
    errors = "; ".join(map(str, result.get("errors") or [])) or text
    if status in UNAVAILABLE_STATUSES or (isinstance(status, int) and status >= 500):
        return Verdict("model_unavailable", f"model API unavailable: {clip(text, 300)}")
    if isinstance(status, int):
        return Verdict("error", f"model API error {status}: {clip(text, 300)}")
    if sub == "error_max_turns":
        return Verdict("max_turns", f"reached max_turns ({max_turns})")
    if sub == "error_max_budget_usd":
        return Verdict("budget", f"Claude Code stopped at the run's budget: {clip(errors, 200)}")
    if result.get("is_error") or sub != "success":
        return Verdict("error", f"Claude Code ended with {sub}: {clip(errors, 300)}")
    if text.lstrip().startswith(ESCALATE_PREFIX):
        question = text.lstrip()[len(ESCALATE_PREFIX) :].strip()
        return Verdict(
            "escalated",
            f"decision: {clip(question, 120)}",
            Terminal("decision", question or "(no question given)"),
        )
    return Verdict("done", "Claude Code finished", summary=text.strip())


def _text(content: Any) -> str:
    """A tool result's content as text (a string, or a list of text blocks)."""
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return "\n".join(str(b.get("text", "")) if isinstance(b, dict) else str(b) for b in content)
    return "" if content is None else json.dumps(content)
