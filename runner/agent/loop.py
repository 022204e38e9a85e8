"""The built-in engine's tool-use loop on the official SDK, with discipline built in.

It stops, and says why, on: finish with passing acceptance (done), escalation, a dead
credential (401/403: escalate at once, never retried), an enforced spend limit (one
`budget` escalation, never retried), an unavailable model (after the SDK's own retries,
or a timeout: `model_unavailable`, the work so far committed), the turn limit, the
budget, a loop (the same failing call three times, a cycle of the same calls with the
same results, three replies cut off or without a tool call), or a context that cannot be
compacted below the window.

Two stop reasons are not stops: `pause_turn` (the API paused its own long turn) is
continued by sending the assistant content back, and a tool call cut off by
`max_tokens` is never executed: its input may be incomplete (a truncated write_file
would commit a truncated file), so the model is asked to redo it in smaller steps.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from runner.acceptance import Report
from runner.agent import client as sdk
from runner.agent import cycles
from runner.agent.context import Conversation
from runner.agent.cost import Usage
from runner.agent.tools import Terminal, ToolBox
from runner.engines.base import EngineResult, Limits
from runner.fmt import clip, usd
from runner.model import Price
from runner.transcript import Transcript

LOOP_LIMIT = 3
CUT_OFF = (
    "Not run: this call was cut off by max_tokens, so its input may be incomplete. "
    "Redo it in smaller steps (for a long file: write a first part, then add the rest "
    "with edit_file)."
)


@dataclass
class _Watch:
    """What the loop detectors remember (failure counts, the recent call keys), and the
    transcript every turn and call is recorded in."""

    transcript: Transcript
    failures: dict[str, int] = field(default_factory=dict)
    recent: list[str] = field(default_factory=list)

    def count(self, key: str) -> int:
        self.failures[key] = self.failures.get(key, 0) + 1
        return self.failures[key]

    def called(self, key: str) -> int:
        self.recent = [*self.recent[-(cycles.MAX_PERIOD * cycles.REPEATS - 1) :], key]
        return cycles.period(self.recent)


def run(
    client: Any,
    conversation: Conversation,
    toolbox: ToolBox,
    limits: Limits,
    price: Price | None,
    *,
    on_write: Callable[[int], None],
    acceptance: Callable[[], Report],
    transcript: Transcript | None = None,
) -> EngineResult:
    result = EngineResult("error", "")
    watch = _Watch(transcript or Transcript(""))
    while True:
        stopped = _limit_reached(result, conversation, limits)
        if stopped is not None:
            return stopped
        message = _request(client, conversation, limits, result)
        if message is None:
            return result
        result.turns += 1
        usage = Usage.of(message.usage)
        result.usage.add(usage)
        result.per_turn.append(usage.to_dict())
        result.cost_usd = result.usage.cost(price)
        conversation.measured(usage.prompt_tokens)
        content = [_block(b) for b in message.content]
        conversation.add("assistant", content)
        text = "\n".join(b["text"] for b in content if b["type"] == "text")
        watch.transcript.turn(text, usage.to_dict())
        if message.stop_reason == "pause_turn":  # the API continues from its own content
            result.paused += 1
            continue
        calls = [b for b in content if b["type"] == "tool_use"]
        if not calls:
            if watch.count("(no tool call)") >= LOOP_LIMIT:
                return _loop(result, "replied without calling a tool three times")
            conversation.add("user", [_nudge(message.stop_reason == "max_tokens")])
            continue
        cut = None
        if message.stop_reason == "max_tokens" and content[-1] is calls[-1]:
            cut = calls[-1]["id"]  # its input may be partial: never run it
        else:
            watch.failures.pop("(cut off)", None)  # only cut-offs in a row are a loop
        if _work(result, conversation, toolbox, limits, watch, calls, cut, on_write, acceptance):
            return result


def _limit_reached(
    result: EngineResult, conversation: Conversation, limits: Limits
) -> EngineResult | None:
    if result.turns >= limits.max_turns:
        return _stop(result, "max_turns", f"reached max_turns ({limits.max_turns})")
    if result.cost_usd >= limits.budget_usd:
        return _stop(
            result,
            "budget",
            f"spent {usd(result.cost_usd)} of the {usd(limits.budget_usd)} budget for this run",
        )
    threshold = int(limits.context_window * limits.compact_at)
    if conversation.tokens() > threshold:
        conversation.compact(threshold // 2)
        if conversation.tokens() > limits.context_window - limits.max_tokens:
            return _stop(result, "error", "context window exhausted even after compaction")
    return None


def _request(
    client: Any, conversation: Conversation, limits: Limits, result: EngineResult
) -> Any | None:
    """The model's next message, or None with `result` stopped and saying why."""
    import anthropic  # imported here: only runs that call a model pay for it
    import httpx2

    try:
        return _call(client, conversation, limits)
    except sdk.SpendLimitReached as exc:
        _spend_limit(result, exc.message, exc.fix)
    except (anthropic.AuthenticationError, anthropic.PermissionDeniedError) as exc:
        result.escalation = Terminal(
            "credential",
            f"The model API rejected the runner's credential ({exc.status_code}): "
            f"{_api_message(exc)}. Check the credential the role's provider uses.",
        )
        _stop(result, "escalated", "model API credential rejected")
    except (sdk.ModelTimeout, anthropic.APITimeoutError, httpx2.TimeoutException) as exc:
        _stop(
            result,
            "model_unavailable",
            f"the model API timed out ({type(exc).__name__}: {exc}); see "
            "model_read_timeout_s and model_total_timeout_s; the work so far is committed",
        )
    except (
        anthropic.RateLimitError,
        anthropic.InternalServerError,
        anthropic.APIConnectionError,
        httpx2.TransportError,
    ) as exc:
        _stop(result, "model_unavailable", f"model API unavailable: {_api_message(exc)}")
    except anthropic.APIStatusError as exc:
        message = sdk.spend_limit(exc.status_code, exc.body)
        if message is not None:
            _spend_limit(result, message, sdk.ANTHROPIC_FIX)
        elif _failed_mid_answer(exc):
            _stop(
                result,
                "model_unavailable",
                f"the model API failed mid-answer ({_api_message(exc)}); the work so far is "
                "committed and the next run resumes it",
            )
        else:
            _stop(result, "error", f"model API error {exc.status_code}: {_api_message(exc)}")
    return None


# Errors a provider sends inside a stream that had started fine (HTTP 200): the API's
# own (overloaded, internal) and Bedrock's exception frames. Not the request's fault and
# not proven permanent, so the run stops as model_unavailable like a 529 before it.
MID_ANSWER = {
    "overloaded_error",
    "api_error",
    "rate_limit_error",
    "throttlingexception",
    "modelstreamerrorexception",
    "internalserverexception",
    "serviceunavailableexception",
    "modeltimeoutexception",
}


def _failed_mid_answer(exc: Any) -> bool:
    body = exc.body if isinstance(exc.body, dict) else {}
    error = body.get("error", body)
    kind = str(error.get("type", "")).lower() if isinstance(error, dict) else ""
    return exc.status_code == 200 and kind in MID_ANSWER


def _spend_limit(result: EngineResult, message: str, fix: str) -> None:
    result.escalation = Terminal(
        "budget",
        f"The model API refuses all work until a spend limit is raised: {message}\n\n"
        f"Retrying cannot fix this. {fix}, or wait until it resets; runs resume on their "
        "own afterwards.",
    )
    _stop(result, "budget", f"model API spend limit: {message[:200]}")


def _work(
    result: EngineResult,
    conversation: Conversation,
    toolbox: ToolBox,
    limits: Limits,
    watch: _Watch,
    calls: list[dict[str, Any]],
    cut: str | None,
    on_write: Callable[[int], None],
    acceptance: Callable[[], Report],
) -> bool:
    """Run one turn's calls; True when the run stopped (`result` says why)."""
    replies, wrote, terminal = [], False, None
    for call in calls:
        if terminal is not None:
            replies.append(_reply(call, "not run: an earlier call ended the turn", True))
            continue
        if call["id"] == cut:
            result.truncated += 1
            watch.transcript.tool(call["name"], call.get("input"), CUT_OFF, True)
            replies.append(_reply(call, CUT_OFF, True))
            if watch.count("(cut off)") >= LOOP_LIMIT:
                _commit(wrote, on_write, result)
                _loop(result, "three tool calls in a row cut off by max_tokens")
                return True
            continue
        outcome = toolbox.call(call["name"], call.get("input") or {})
        watch.transcript.tool(
            call["name"], call.get("input"), outcome.content, outcome.is_error, outcome.source
        )
        wrote = wrote or outcome.wrote
        if outcome.fatal:  # not the model's to fix (an MCP server died): stop, say why
            _commit(wrote, on_write, result)
            _stop(result, "error", outcome.fatal)
            return True
        stop = _watch(result, watch, call, outcome)
        if stop:
            _commit(wrote, on_write, result)
            _loop(result, stop)
            return True
        if outcome.terminal and outcome.terminal.kind == "finish":
            _commit(wrote, on_write, result)
            wrote = False
            if _finish(result, limits, outcome.terminal, acceptance):
                return True
            replies.append(_reply(call, _retry_text(result), True))
            continue
        if outcome.terminal:
            terminal = outcome.terminal
        replies.append(_reply(call, outcome.content, outcome.is_error))
    _commit(wrote, on_write, result)
    if terminal is not None:
        result.escalation = terminal
        _stop(result, "escalated", f"{terminal.kind}: {clip(terminal.summary, 120)}")
        return True
    conversation.add("user", replies)
    return False


def _watch(result: EngineResult, watch: _Watch, call: dict[str, Any], outcome: Any) -> str:
    """What loop this call closes, if any ("" for none)."""
    args = call.get("input")
    if outcome.is_error:
        key = json.dumps([call["name"], args], sort_keys=True)
        if watch.count(key) >= LOOP_LIMIT:
            return (
                f"the same failing call three times: "
                f"{call['name']} {key[:200]} -> {outcome.content[:300]}"
            )
    p = watch.called(cycles.key(call["name"], args, outcome.content, outcome.is_error))
    if p:
        return (
            f"a cycle of {p} call(s) repeated {cycles.REPEATS} times with the same "
            f"results: {cycles.describe(watch.recent, p)}"
        )
    return ""


def _finish(
    result: EngineResult, limits: Limits, terminal: Terminal, acceptance: Callable[[], Report]
) -> bool:
    """The model called finish: run acceptance. True when the run stopped."""
    result.attempts += 1
    report = acceptance()
    result.report = report
    if report.passed:
        result.summary = terminal.summary
        _stop(result, "done", report.summary())
        return True
    if result.attempts >= limits.max_attempts:
        result.escalation = Terminal(
            "failure",
            f"Acceptance still fails after {result.attempts} attempt(s).\n\n"
            f"{report.details(failures_only=True)}",
        )
        _stop(result, "escalated", f"acceptance failed: {report.summary()}")
        return True
    return False


def _retry_text(result: EngineResult) -> str:
    assert result.report is not None
    return "Acceptance checks failed; fix and finish again:\n" + result.report.details(
        failures_only=True
    )


def _commit(wrote: bool, on_write: Callable[[int], None], result: EngineResult) -> None:
    if wrote:
        on_write(result.turns)


def _nudge(cut_off: bool) -> dict[str, Any]:
    cut = " Your reply was cut off; work in smaller steps." if cut_off else ""
    return {
        "type": "text",
        "text": "Use the tools: call `finish` when the acceptance criteria pass, or `escalate`."
        + cut,
    }


def _call(client: Any, conversation: Conversation, limits: Limits) -> Any:
    """One model call, bounded in all by `total_timeout_s` (attempts and the stream)."""
    kwargs = {"model": limits.model, "max_tokens": limits.max_tokens, **conversation.request()}
    if not kwargs["tools"]:
        del kwargs["tools"]
    with sdk.deadline(limits.total_timeout_s) as end:
        if not limits.stream:
            return client.messages.create(**kwargs)
        with client.messages.stream(**kwargs) as stream:
            return _until(stream, end, f"the response stream ran past {limits.total_timeout_s:g}s")


def _until(stream: Any, end: float, why: str) -> Any:
    """The stream's final message, or ModelTimeout once `end` passes.

    A stream that keeps sending pings never trips the read timeout, and pings are not
    events the SDK hands out, so a timer closes the stream at the deadline; the reader
    then fails or ends early, and either way the partial message is discarded."""
    fired = threading.Event()

    def expire() -> None:
        fired.set()
        stream.close()

    timer = threading.Timer(max(0.0, end - time.monotonic()), expire)
    timer.daemon = True
    timer.start()
    try:
        message = stream.get_final_message()
    except Exception as exc:
        if fired.is_set():
            raise sdk.ModelTimeout(why) from exc
        raise
    finally:
        timer.cancel()
    if fired.is_set():
        raise sdk.ModelTimeout(why)
    return message


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
    return _stop(result, "escalated", f"loop detected: {what[:200]}")


def _api_message(exc: Exception) -> str:
    body = getattr(exc, "body", None)
    if isinstance(body, dict):
        error = body.get("error", body)
        if isinstance(error, dict) and error.get("message"):
            return str(error["message"])
    return str(exc)[:300]
