"""The anthropic engine: a tool-use loop on the official SDK, with discipline built in.

It stops, and says why, on: finish with passing acceptance (done), escalation, a dead
credential (401/403: escalate at once, never retried), an unavailable model (after the
SDK's own retries), the turn limit, the budget, the same failing call three times
(loop), or a context that cannot be compacted below the window.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from runner.acceptance import Report
from runner.agent.context import Conversation
from runner.agent.cost import Usage
from runner.agent.tools import Terminal, ToolBox
from runner.model import Price

LOOP_LIMIT = 3


@dataclass
class Limits:
    model: str
    max_turns: int
    budget_usd: float
    max_attempts: int
    context_window: int
    compact_at: float
    max_tokens: int = 8192
    stream: bool = True


@dataclass
class EngineResult:
    outcome: str  # done, escalated, failed, budget, max_turns, model_unavailable, error
    reason: str
    turns: int = 0
    usage: Usage = field(default_factory=Usage)
    cost_usd: float = 0.0
    summary: str = ""
    escalation: Terminal | None = None
    report: Report | None = None
    attempts: int = 0
    per_turn: list[dict[str, int]] = field(default_factory=list)
    delegated: list[str] = field(default_factory=list)  # task ids proposed to other roles


def run(
    client: Any,
    conversation: Conversation,
    toolbox: ToolBox,
    limits: Limits,
    price: Price | None,
    *,
    on_write: Callable[[int], None],
    acceptance: Callable[[], Report],
) -> EngineResult:
    import anthropic  # imported here: only runs that call a model pay for it

    result = EngineResult("error", "")
    failures: dict[str, int] = {}
    while True:
        if result.turns >= limits.max_turns:
            return _stop(result, "max_turns", f"reached max_turns ({limits.max_turns})")
        if result.cost_usd >= limits.budget_usd:
            return _stop(
                result,
                "budget",
                f"spent ${result.cost_usd:.4f} of the ${limits.budget_usd:.2f} budget for this run",
            )
        threshold = int(limits.context_window * limits.compact_at)
        if conversation.tokens() > threshold:
            conversation.compact(threshold // 2)
            if conversation.tokens() > limits.context_window - limits.max_tokens:
                return _stop(result, "error", "context window exhausted even after compaction")
        try:
            message = _call(client, conversation, limits)
        except (anthropic.AuthenticationError, anthropic.PermissionDeniedError) as exc:
            result.escalation = Terminal(
                "credential",
                f"The model API rejected the runner's credential ({exc.status_code}): "
                f"{_api_message(exc)}. Check the ANTHROPIC_API_KEY secret.",
            )
            return _stop(result, "escalated", "model API credential rejected")
        except (
            anthropic.RateLimitError,
            anthropic.InternalServerError,
            anthropic.APIConnectionError,
        ) as exc:
            return _stop(
                result,
                "model_unavailable",
                f"model API unavailable after retries: {_api_message(exc)}",
            )
        except anthropic.APIStatusError as exc:
            return _stop(result, "error", f"model API error {exc.status_code}: {_api_message(exc)}")
        result.turns += 1
        usage = Usage.of(message.usage)
        result.usage.add(usage)
        result.per_turn.append(usage.to_dict())
        result.cost_usd = result.usage.cost(price)
        conversation.measured(usage.prompt_tokens)
        content = [_block(b) for b in message.content]
        conversation.add("assistant", content)
        calls = [b for b in content if b["type"] == "tool_use"]
        if not calls:
            key = "(no tool call)"
            failures[key] = failures.get(key, 0) + 1
            if failures[key] >= LOOP_LIMIT:
                return _loop(result, "replied without calling a tool three times")
            cut = (
                " Your reply was cut off; work in smaller steps."
                if (message.stop_reason == "max_tokens")
                else ""
            )
            conversation.add(
                "user",
                [
                    {
                        "type": "text",
                        "text": "Use the tools: call `finish` "
                        "when the acceptance criteria pass, or `escalate`." + cut,
                    }
                ],
            )
            continue
        replies, wrote, terminal = [], False, None
        for call in calls:
            if terminal is not None:
                replies.append(_reply(call, "not run: an earlier call ended the turn", True))
                continue
            outcome = toolbox.call(call["name"], call.get("input") or {})
            wrote = wrote or outcome.wrote
            key = json.dumps([call["name"], call.get("input")], sort_keys=True)
            if outcome.is_error:
                failures[key] = failures.get(key, 0) + 1
                if failures[key] >= LOOP_LIMIT:
                    if wrote:
                        on_write(result.turns)
                    return _loop(
                        result,
                        f"the same failing call three times: "
                        f"{call['name']} {key[:200]} -> {outcome.content[:300]}",
                    )
            if outcome.terminal and outcome.terminal.kind == "finish":
                if wrote:
                    on_write(result.turns)
                    wrote = False
                result.attempts += 1
                report = acceptance()
                result.report = report
                if report.passed:
                    result.summary = outcome.terminal.summary
                    return _stop(result, "done", report.summary())
                if result.attempts >= limits.max_attempts:
                    result.escalation = Terminal(
                        "failure",
                        f"Acceptance still fails after {result.attempts} attempt(s).\n\n"
                        f"{report.details(failures_only=True)}",
                    )
                    return _stop(result, "escalated", f"acceptance failed: {report.summary()}")
                replies.append(
                    _reply(
                        call,
                        "Acceptance checks failed; fix and finish again:\n"
                        + report.details(failures_only=True),
                        True,
                    )
                )
                continue
            if outcome.terminal:
                terminal = outcome.terminal
            replies.append(_reply(call, outcome.content, outcome.is_error))
        if wrote:
            on_write(result.turns)
        if terminal is not None:
            result.escalation = terminal
            return _stop(result, "escalated", f"escalated ({terminal.kind})")
        conversation.add("user", replies)


def _call(client: Any, conversation: Conversation, limits: Limits) -> Any:
    kwargs = {"model": limits.model, "max_tokens": limits.max_tokens, **conversation.request()}
    if not kwargs["tools"]:
        del kwargs["tools"]
    if limits.stream:
        with client.messages.stream(**kwargs) as stream:
            return stream.get_final_message()
    return client.messages.create(**kwargs)


def _block(block: Any) -> dict[str, Any]:
    if block.type == "tool_use":
        return {"type": "tool_use", "id": block.id, "name": block.name, "input": block.input}
    if block.type == "text":
        return {"type": "text", "text": block.text}
    return block.model_dump(exclude_none=True)


def _reply(call: dict[str, Any], text: str, is_error: bool) -> dict[str, Any]:
    reply: dict[str, Any] = {"type": "tool_result", "tool_use_id": call["id"], "content": text}
    if is_error:
        reply["is_error"] = True
    return reply


def _stop(result: EngineResult, outcome: str, reason: str) -> EngineResult:
    result.outcome = outcome
    result.reason = reason
    return result


def _loop(result: EngineResult, what: str) -> EngineResult:
    result.escalation = Terminal("loop", f"Stopped a loop: {what}.")
    return _stop(result, "escalated", "loop detected")


def _api_message(exc: Exception) -> str:
    body = getattr(exc, "body", None)
    if isinstance(body, dict):
        error = body.get("error", body)
        if isinstance(error, dict) and error.get("message"):
            return str(error["message"])
    return str(exc)[:300]
