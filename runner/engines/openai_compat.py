"""An OpenAI-compatible chat-completions endpoint behind the Messages client's surface.

Why an adapter and not a second loop: the built-in loop's discipline (limits, loop
detection, cut-off tool calls, compaction, acceptance, escalations) is the product; it
talks to one client surface — `messages.create`, `messages.stream(...).get_final_message()`,
`models.list` — and one error family (the anthropic SDK's). This module gives an
`openai.OpenAI` client exactly that surface, so vLLM, Ollama, llama.cpp's server or a
gateway run under the same loop, tested by the same scenarios.

The mapping (documented chat-completions function calling):
- the output limit -> `max_tokens`, or `max_completion_tokens` for OpenAI's reasoning
  models (o1/o3/o4/gpt-5 families), which refuse `max_tokens` (`limit_field`).
- system blocks -> one `system` message; tools -> `{"type": "function", "function":
  {name, description, parameters}}`; cache breakpoints are dropped (these servers cache
  prompt prefixes on their own, and report it as `prompt_tokens_details.cached_tokens`).
- an assistant turn's `tool_use` blocks -> `tool_calls` (arguments as JSON text); a user
  turn's `tool_result` blocks -> one `tool` message each, in order, before its text.
- the answer -> a Messages `Message`: text and `tool_use` blocks, `finish_reason`
  tool_calls/stop/length -> stop_reason tool_use/end_turn/max_tokens (tool-call
  arguments that do not parse after `length` arrive as `{}`, and the loop never runs
  a call cut off by max_tokens); usage -> input (uncached prompt), cache reads, output.
- errors -> the anthropic SDK's classes by status (401 AuthenticationError, 403
  PermissionDeniedError, 429 RateLimitError, 5xx InternalServerError, ...), connection
  and timeout errors likewise; a 429 `insufficient_quota` (OpenAI's "you exceeded your
  current quota": no credit left) is a spend limit (`SpendLimitReached`), retried neither
  by the loop nor by the SDK: a response hook marks it `x-should-retry: false`, the
  header the openai SDK obeys before its own 429 retry rule.

The SDKs are imported inside functions: `fleet --help` and `fleet validate` import none.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from runner.agent import client as sdk

FINISH = {"tool_calls": "tool_use", "function_call": "tool_use", "length": "max_tokens"}
QUOTA_CODES = ("insufficient_quota",)
REASONING = re.compile(r"^(o[134]|gpt-5)(?![0-9a-z])", re.IGNORECASE)  # o3-mini, gpt-5.1
QUOTA_FIX = (
    "Add credit or raise the quota in the provider's billing settings (OpenAI: "
    "platform.openai.com, Settings > Billing and Limits)"
)


def build(
    api_key: str,
    base_url: str,
    *,
    max_retries: int,
    timeouts: sdk.Timeouts,
    stream: bool = True,
) -> Compat:
    """An `openai.OpenAI` client for `base_url` wrapped in the Messages surface."""
    import httpx2
    import openai

    read = timeouts.read_s if stream else timeouts.total_s
    timeout = httpx2.Timeout(connect=timeouts.connect_s, read=read, write=read, pool=read)
    http = openai.DefaultHttpxClient(timeout=timeout, event_hooks={"response": [_no_quota_retry]})
    client = openai.OpenAI(
        api_key=api_key or "none",
        base_url=base_url,
        max_retries=max_retries,
        timeout=timeout,
        http_client=http,
    )
    return Compat(client, timeout)


def _quota(error: object) -> bool:
    """Whether an error body says the account has no quota left (OpenAI sets `code`, and
    older answers only `type`, to `insufficient_quota`)."""
    if not isinstance(error, dict):
        return False
    return error.get("code") in QUOTA_CODES or error.get("type") in QUOTA_CODES


def _no_quota_retry(response: Any) -> None:
    """httpx response hook: a 429 that is a quota, not a rate, must not be retried (a
    retry cannot add credit, and each one is a wasted request and seconds of back-off)."""
    if response.status_code != 429:
        return
    try:
        body = json.loads(response.read() or b"{}")
    except ValueError:
        return
    if isinstance(body, dict) and _quota(body.get("error", body)):
        response.headers["x-should-retry"] = "false"


class Compat:
    """`client.messages` and `client.models` as the loop and the preflight use them."""

    def __init__(self, client: Any, timeout: Any) -> None:
        self.client = client
        self.timeout = timeout
        self.messages = _Messages(self)
        self.models = _Models(self)

    def post(self, body: dict[str, Any], *, stream: bool) -> Any:
        """POST /chat/completions with `body` as it is, answered as plain dicts (a dict,
        or a stream of chunk dicts). Why not `chat.completions.create`: it walks the
        whole conversation through its typed-params transform on every call, which grows
        with the session and cost more than the rest of a turn (bench_providers.py);
        `post` is the SDK's documented way to send a body as is, with its retries,
        timeouts and errors."""
        import openai

        options = {"timeout": self._timeout()}
        if not stream:
            return self.client.post("/chat/completions", body=body, cast_to=object, options=options)
        return self.client.post(
            "/chat/completions",
            body=body,
            cast_to=object,
            options=options,
            stream=True,
            stream_cls=openai.Stream[object],
        )

    def _timeout(self) -> Any:
        """The client's timeout, no phase past the model call's total deadline."""
        left = sdk.remaining()
        if left is None:
            return self.timeout
        if left <= 0:
            raise sdk.ModelTimeout("the model call ran out of its total timeout")
        return sdk.capped(self.timeout, left)


class _Models:
    def __init__(self, compat: Compat) -> None:
        self.compat = compat

    def list(self, limit: int = 1) -> Any:
        """The key preflight's call. `GET /models` is optional on these servers (some
        gateways lack it): a 404 or 405 says nothing about the key, so it passes and the
        first model call is the check (a rejected key there is escalated the same way)."""
        import openai

        with _translated():
            try:
                return self.compat.client.models.list(timeout=self.compat._timeout())
            except openai.APIStatusError as exc:
                if exc.status_code in (404, 405):
                    return None
                raise


class _Messages:
    def __init__(self, compat: Compat) -> None:
        self.compat = compat

    def create(self, **kwargs: Any) -> Any:
        with _translated():
            return message(self.compat.post(request(kwargs), stream=False))

    def stream(self, **kwargs: Any) -> _Stream:
        return _Stream(self.compat, kwargs)


class _Stream:
    """`with client.messages.stream(...) as s: s.get_final_message()`; `close()` from
    another thread ends the read (the loop's total-timeout timer)."""

    def __init__(self, compat: Compat, kwargs: dict[str, Any]) -> None:
        self.compat = compat
        self.kwargs = kwargs
        self.raw: Any = None

    def __enter__(self) -> _Stream:
        body = {**request(self.kwargs), "stream": True, "stream_options": {"include_usage": True}}
        with _translated():
            self.raw = self.compat.post(body, stream=True)
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        if self.raw is not None:
            self.raw.close()

    def get_final_message(self) -> Any:
        with _translated():
            return message(accumulate(self.raw))


def request(kwargs: dict[str, Any]) -> dict[str, Any]:
    """Chat-completions arguments for a Messages request."""
    messages: list[dict[str, Any]] = []
    system = kwargs.get("system") or []
    if isinstance(system, str):
        system = [{"type": "text", "text": system}]
    if system:
        messages.append({"role": "system", "content": "\n\n".join(b["text"] for b in system)})
    for m in kwargs.get("messages", []):
        messages.extend(_messages(m["role"], m["content"]))
    body: dict[str, Any] = {
        "model": kwargs["model"],
        "messages": messages,
        limit_field(kwargs["model"]): kwargs.get("max_tokens", 4096),
    }
    tools = [
        {
            "type": "function",
            "function": {
                "name": t["name"],
                "description": t.get("description", ""),
                "parameters": t.get("input_schema", {"type": "object"}),
            },
        }
        for t in kwargs.get("tools") or []
    ]
    if tools:
        body["tools"] = tools
    return body


def limit_field(model: str) -> str:
    """The output limit's name: OpenAI's reasoning models (the o1, o3, o4 and gpt-5
    families) refuse the deprecated `max_tokens` and want `max_completion_tokens`, which
    also counts their hidden reasoning; every other model keeps `max_tokens`, the field
    vLLM, Ollama and llama.cpp's server read. A gateway's `openai/<model>` id counts as
    `<model>`."""
    return "max_completion_tokens" if REASONING.match(model.rsplit("/", 1)[-1]) else "max_tokens"


def _messages(role: str, content: Any) -> list[dict[str, Any]]:
    if isinstance(content, str):
        return [{"role": role, "content": content}]
    texts = [b["text"] for b in content if b.get("type") == "text"]
    if role == "assistant":
        out: dict[str, Any] = {"role": "assistant", "content": "\n".join(texts) or None}
        calls = [
            {
                "id": b["id"],
                "type": "function",
                "function": {"name": b["name"], "arguments": json.dumps(b.get("input") or {})},
            }
            for b in content
            if b.get("type") == "tool_use"
        ]
        if calls:
            out["tool_calls"] = calls
        return [out]
    results = [
        {
            "role": "tool",
            "tool_call_id": b["tool_use_id"],
            "content": ("ERROR: " if b.get("is_error") else "") + _text(b.get("content")),
        }
        for b in content
        if b.get("type") == "tool_result"
    ]
    return results + ([{"role": "user", "content": "\n".join(texts)}] if texts else [])


def _text(content: Any) -> str:
    if isinstance(content, list):
        return "\n".join(str(b.get("text", "")) for b in content if isinstance(b, dict))
    return "" if content is None else str(content)


def accumulate(chunks: Iterator[dict[str, Any]]) -> dict[str, Any]:
    """One `chat.completion` from its streamed chunks (tool-call arguments joined by index)."""
    text: list[str] = []
    calls: dict[int, dict[str, Any]] = {}
    finish, usage, model = None, None, ""
    for chunk in chunks:
        model = chunk.get("model") or model
        usage = chunk.get("usage") or usage
        for choice in chunk.get("choices") or []:
            delta = choice.get("delta") or {}
            text.append(delta.get("content") or "")
            for call in delta.get("tool_calls") or []:
                slot = calls.setdefault(call.get("index", 0), {"id": "", "name": "", "args": []})
                fn = call.get("function") or {}
                slot["id"] = call.get("id") or slot["id"]
                slot["name"] = fn.get("name") or slot["name"]
                slot["args"].append(fn.get("arguments") or "")
            finish = choice.get("finish_reason") or finish
    tool_calls = [
        {
            "id": c["id"],
            "type": "function",
            "function": {"name": c["name"], "arguments": "".join(c["args"])},
        }
        for _, c in sorted(calls.items())
    ]
    msg = {"role": "assistant", "content": "".join(text) or None, "tool_calls": tool_calls}
    return {
        "model": model,
        "choices": [{"index": 0, "message": msg, "finish_reason": finish}],
        "usage": usage,
    }


def message(completion: dict[str, Any]) -> Any:
    """A Messages `Message` for a `chat.completion` (as a dict)."""
    from anthropic.types import Message

    choice = (completion.get("choices") or [{}])[0]
    msg = choice.get("message") or {}
    finish = choice.get("finish_reason") or "stop"
    content: list[dict[str, Any]] = []
    if msg.get("content"):
        content.append({"type": "text", "text": msg["content"]})
    for call in msg.get("tool_calls") or []:
        fn = call.get("function") or {}
        try:
            args = json.loads(fn.get("arguments") or "{}")
        except ValueError:
            args = {}  # cut off mid-arguments: the loop never runs a cut-off call
        content.append(
            {
                "type": "tool_use",
                "id": call.get("id") or f"call_{len(content)}",
                "name": fn.get("name", ""),
                "input": args if isinstance(args, dict) else {"value": args},
            }
        )
    usage = completion.get("usage") or {}
    cached = int((usage.get("prompt_tokens_details") or {}).get("cached_tokens") or 0)
    return Message.model_validate(
        {
            "id": completion.get("id") or "chatcmpl",
            "type": "message",
            "role": "assistant",
            "model": completion.get("model") or "",
            "content": content,
            "stop_reason": FINISH.get(finish, "end_turn"),
            "stop_sequence": None,
            "usage": {
                "input_tokens": max(0, int(usage.get("prompt_tokens") or 0) - cached),
                "output_tokens": int(usage.get("completion_tokens") or 0),
                "cache_read_input_tokens": cached,
                "cache_creation_input_tokens": 0,
            },
        }
    )


@contextmanager
def _translated() -> Iterator[None]:
    """openai's errors as the anthropic SDK's (the loop's and preflight's one family)."""
    import anthropic
    import openai

    try:
        yield
    except openai.APIStatusError as exc:
        raise _status_error(exc) from exc
    except openai.APITimeoutError as exc:
        raise anthropic.APITimeoutError(request=exc.request) from exc
    except openai.APIConnectionError as exc:
        raise anthropic.APIConnectionError(message=str(exc), request=exc.request) from exc
    except openai.APIError as exc:  # an error inside a stream: the server failed mid-answer
        body = exc.body if isinstance(exc.body, dict) else {"message": exc.message}
        raise anthropic.InternalServerError(
            exc.message, response=_response(exc.request, 500), body={"error": body}
        ) from exc


def _status_error(exc: Any) -> Exception:
    import anthropic

    body = exc.body if isinstance(exc.body, dict) else {}
    error = body.get("error", body) if isinstance(body, dict) else {}
    status = exc.status_code
    if status == 429 and _quota(error):
        said = str(error.get("message") or "insufficient_quota")
        return sdk.SpendLimitReached(status, said, QUOTA_FIX)
    kinds: dict[int, type[anthropic.APIStatusError]] = {
        400: anthropic.BadRequestError,
        401: anthropic.AuthenticationError,
        403: anthropic.PermissionDeniedError,
        404: anthropic.NotFoundError,
        409: anthropic.ConflictError,
        422: anthropic.UnprocessableEntityError,
        429: anthropic.RateLimitError,
    }
    kind = kinds.get(
        status, anthropic.InternalServerError if status >= 500 else anthropic.APIStatusError
    )
    wrapped = {"error": error} if isinstance(error, dict) else body
    return kind(exc.message, response=exc.response, body=wrapped)


def _response(request: Any, status: int) -> Any:
    import httpx2

    return httpx2.Response(status, request=request)
