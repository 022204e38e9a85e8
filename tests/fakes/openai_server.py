"""A scripted OpenAI-compatible chat-completions API on loopback (what vLLM, Ollama,
llama.cpp's server and most gateways serve), for the `openai` package to talk to over
real HTTP.

Written from the documented API: `POST /v1/chat/completions` with `messages` (system,
user, assistant with `tool_calls`, `tool` with `tool_call_id`), `tools` of type
`function`, `max_tokens` (`max_completion_tokens` for reasoning models, which refuse
`max_tokens` with a 400); the answer is a `chat.completion` with one choice
(`finish_reason` stop, tool_calls or length) and `usage` (`prompt_tokens`,
`completion_tokens`, `prompt_tokens_details.cached_tokens`), or with `stream: true`
server-sent `chat.completion.chunk` events (tool-call arguments in pieces, a last chunk
with usage when `stream_options.include_usage`), then `data: [DONE]`. `GET /v1/models`
lists one model. Errors are `{"error": {"message", "type", "code"}}` with a status.

The script uses FakeAnthropic's vocabulary (`reply(text(..), tool(..))`, `error(..)`,
`hang(s)`, `truncated(..)`, callables), so one scenario runs on every provider. Prompt
caching is automatic here, as on OpenAI: a prompt's longest prefix (by message) seen
before is reported as cached.
"""

from __future__ import annotations

import contextlib
import hashlib
import itertools
import json
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler
from typing import Any

from tests.fakes import Loopback
from tests.fakes.anthropic_server import CHARS_PER_TOKEN, Step, error

__all__ = ["FakeOpenAI", "error"]

FINISH = {"tool_use": "tool_calls", "end_turn": "stop", "max_tokens": "length"}


def _tokens(value: Any) -> int:
    return len(json.dumps(value, separators=(",", ":"), sort_keys=True)) // CHARS_PER_TOKEN


@dataclass
class FakeOpenAI(Loopback):
    script: list[Step] = field(default_factory=list)
    context_limit: int = 200_000
    api_key: str | None = None  # when set, any other bearer token is answered 401
    models_route: bool = True  # False: a gateway without GET /v1/models (404)
    reasoning_prefixes: tuple[str, ...] = ("o1", "o3", "o4", "gpt-5")  # refuse max_tokens
    requests: list[dict[str, Any]] = field(default_factory=list)
    headers: list[dict[str, str]] = field(default_factory=list)
    calls: list[str] = field(default_factory=list)
    model_requests: list[str] = field(default_factory=list)
    over_limit: int = 0
    timings: list[tuple[float, float]] = field(default_factory=list)
    _cache: set[str] = field(default_factory=set)
    _ids: itertools.count = field(default_factory=lambda: itertools.count(1))
    _lock: threading.Lock = field(default_factory=threading.Lock)

    @property
    def base_url(self) -> str:
        """What a client is configured with (the API root, `/v1` included)."""
        return f"{self.url}/v1"

    def __enter__(self) -> FakeOpenAI:
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:
                pass

            def do_POST(self) -> None:
                length = int(self.headers.get("content-length", 0))
                body = json.loads(self.rfile.read(length) or b"{}")
                received = time.perf_counter()
                with fake._lock:
                    fake.calls.append(f"POST {self.path}")
                if self.path.split("?")[0] != "/v1/chat/completions":
                    fake._send_error(self, error(404, "not_found", f"no route {self.path}"))
                elif fake._authorised(self):
                    fake._handle(self, body)
                fake.timings.append((received, time.perf_counter()))

            def do_GET(self) -> None:
                with fake._lock:
                    fake.calls.append(f"GET {self.path}")
                    fake.model_requests.append(self.path)
                if fake._authorised(self):
                    fake._models(self)

        self.serve(Handler)
        return self

    # -- behaviour ------------------------------------------------------------------

    def _authorised(self, handler: BaseHTTPRequestHandler) -> bool:
        bearer = (handler.headers.get("authorization") or "").removeprefix("Bearer ")
        if self.api_key is None or bearer == self.api_key:
            return True
        self._send_error(
            handler,
            error(401, "invalid_request_error", "Incorrect API key provided.", None),
        )
        return False

    def _models(self, handler: BaseHTTPRequestHandler) -> None:
        if handler.path.split("?")[0] != "/v1/models" or not self.models_route:
            self._send_error(handler, error(404, "not_found", f"no route {handler.path}"))
            return
        model = {"id": "test-model", "object": "model", "created": 0, "owned_by": "fleet"}
        self._send_json(handler, 200, {"object": "list", "data": [model]})

    def _handle(self, handler: BaseHTTPRequestHandler, body: dict[str, Any]) -> None:
        with self._lock:
            self.requests.append(body)
            self.headers.append({k.lower(): v for k, v in handler.headers.items()})
            if self._refuses_max_tokens(body):
                step = error(
                    400,
                    "invalid_request_error",
                    "Unsupported parameter: 'max_tokens' is not supported with this model. "
                    "Use 'max_completion_tokens' instead.",
                    {"error_code": "unsupported_parameter"},
                )
            else:
                step = (
                    self.script.pop(0)
                    if self.script
                    else error(500, "server_error", "test script exhausted")
                )
            if callable(step):
                step = step(body)
            total, cached = self._usage(body)
        if "hang" in step:
            time.sleep(step["hang"])
            return
        if "status" not in step and total > self.context_limit:
            self.over_limit += 1
            step = error(
                400,
                "invalid_request_error",
                f"This model's maximum context length is {self.context_limit} tokens; "
                f"your messages resulted in {total} tokens.",
            )
        if "status" in step:
            self._send_error(handler, step)
            return
        message, finish = self._message(step)
        usage = {
            "prompt_tokens": total,
            "completion_tokens": max(1, _tokens(message)),
            "total_tokens": total + max(1, _tokens(message)),
            "prompt_tokens_details": {"cached_tokens": cached},
        }
        completion = {
            "id": f"chatcmpl-{next(self._ids):06d}",
            "object": "chat.completion",
            "created": 0,
            "model": body.get("model", "test-model"),
            "choices": [{"index": 0, "message": message, "finish_reason": finish}],
            "usage": usage,
        }
        if body.get("stream"):
            include = bool((body.get("stream_options") or {}).get("include_usage"))
            with contextlib.suppress(OSError):
                self._send_stream(
                    handler, completion, bool(step.get("truncate")), include, step.get("broken")
                )
            return
        if step.get("truncate"):
            for call in message.get("tool_calls") or []:
                raw = call["function"]["arguments"]
                call["function"]["arguments"] = raw[: len(raw) // 2]
        self._send_json(handler, 200, completion)

    def _refuses_max_tokens(self, body: dict[str, Any]) -> bool:
        """OpenAI's reasoning models (o1, o3, o4-mini, gpt-5...) answer `max_tokens` with a
        400 and want `max_completion_tokens`, as the API reference says."""
        model = str(body.get("model", "")).rsplit("/", 1)[-1]
        return "max_tokens" in body and model.startswith(self.reasoning_prefixes)

    def _message(self, step: dict[str, Any]) -> tuple[dict[str, Any], str]:
        texts = [b["text"] for b in step["content"] if b["type"] == "text"]
        calls = [
            {
                "id": b.get("id") or f"call_{next(self._ids):06d}",
                "type": "function",
                "function": {"name": b["name"], "arguments": json.dumps(b["input"])},
            }
            for b in step["content"]
            if b["type"] == "tool_use"
        ]
        message: dict[str, Any] = {"role": "assistant", "content": "".join(texts) or None}
        if calls:
            message["tool_calls"] = calls
        return message, FINISH.get(step["stop_reason"], "stop")

    def _usage(self, body: dict[str, Any]) -> tuple[int, int]:
        """(prompt tokens, of them cached): every prefix of whole messages is cached
        once sent, as automatic prompt caching does."""
        digest = hashlib.sha256(json.dumps(body.get("tools", []), sort_keys=True).encode())
        total = _tokens(body.get("tools", []))
        cached = 0
        for m in body.get("messages", []):
            digest.update(json.dumps(m, sort_keys=True).encode())
            total += _tokens(m)
            key = digest.hexdigest()
            if key in self._cache:
                cached = total
            self._cache.add(key)
        return total, cached

    # -- wire formats ---------------------------------------------------------------

    def _send_json(self, handler: BaseHTTPRequestHandler, status: int, data: Any) -> None:
        raw = json.dumps(data).encode()
        handler.send_response(status)
        handler.send_header("content-type", "application/json")
        handler.send_header("content-length", str(len(raw)))
        handler.send_header("x-request-id", f"req_{next(self._ids)}")
        if status >= 400 and status != 401:
            handler.send_header("retry-after-ms", "1")
        handler.end_headers()
        handler.wfile.write(raw)

    def _send_error(self, handler: BaseHTTPRequestHandler, step: dict[str, Any]) -> None:
        err = step["error"]
        details = err.get("details") or {}
        body = {
            "message": err["message"],
            "type": err.get("type"),
            "param": None,
            "code": details.get("error_code") if isinstance(details, dict) else None,
        }
        self._send_json(handler, step["status"], {"error": body})

    def _send_stream(
        self,
        handler: BaseHTTPRequestHandler,
        completion: dict[str, Any],
        truncate: bool,
        include_usage: bool,
        broken: dict[str, str] | None = None,
    ) -> None:
        handler.send_response(200)
        handler.send_header("content-type", "text/event-stream")
        handler.send_header("cache-control", "no-cache")
        handler.end_headers()
        base = {k: completion[k] for k in ("id", "created", "model")}

        def chunk(delta: dict[str, Any], finish: str | None = None) -> None:
            data = {
                **base,
                "object": "chat.completion.chunk",
                "choices": [{"index": 0, "delta": delta, "finish_reason": finish}],
            }
            handler.wfile.write(f"data: {json.dumps(data)}\n\n".encode())

        message = completion["choices"][0]["message"]
        chunk({"role": "assistant", "content": ""})
        if broken:  # what vLLM and gateways send when generation fails mid-stream
            error = {"message": broken["message"], "type": broken["type"], "code": None}
            handler.wfile.write(f"data: {json.dumps({'error': error})}\n\n".encode())
            handler.wfile.flush()
            return
        if message.get("content"):
            text = message["content"]
            chunk({"content": text[: len(text) // 2]})
            chunk({"content": text[len(text) // 2 :]})
        for i, call in enumerate(message.get("tool_calls") or []):
            raw = call["function"]["arguments"]
            head = {"index": i, "id": call["id"], "type": "function"}
            chunk({"tool_calls": [{**head, "function": {"name": call["function"]["name"]}}]})
            parts = [raw[: len(raw) // 2], raw[len(raw) // 2 :]]
            for part in parts[:1] if truncate else parts:
                chunk({"tool_calls": [{"index": i, "function": {"arguments": part}}]})
        chunk({}, completion["choices"][0]["finish_reason"])
        if include_usage:
            data = {
                **base,
                "object": "chat.completion.chunk",
                "choices": [],
                "usage": completion["usage"],
            }
            handler.wfile.write(f"data: {json.dumps(data)}\n\n".encode())
        handler.wfile.write(b"data: [DONE]\n\n")
        handler.wfile.flush()
