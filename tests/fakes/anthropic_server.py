"""A scripted Messages API on loopback, for the real anthropic SDK to talk to over HTTP.

Each request takes the next step of the script: a reply (content blocks) or an HTTP
error. The server simulates prompt caching by prefix (a request reads from the cache
the longest prefix, at a block boundary, that an earlier request marked with a
breakpoint), enforces a context limit, serves streaming (SSE) and plain JSON, and logs
every request so tests can assert what the model was sent.

Faults, for the runner's failure paths: `hang(s)` holds a request `s` seconds before
any header; `stall(step, s)` sends the stream's first events and then goes silent;
`drip(step, every, times)` keeps a stream alive with pings but never ends it in time;
`truncated(tool_use)` is a tool call cut off by `max_tokens` (half its input JSON
arrives); `broken(step, kind, message)` fails the stream after its first event;
`spend_limit()` is the 429 the API sends once an enforced spend limit is reached.
`GET /v1/models` (the key preflight) answers from `models_script` (errors, hangs) or
lists one model; with `api_key` set, any other key gets a 401.

`calls` logs every request as "METHOD path" in order (the Claude Code CLI posts to
`/v1/messages?beta=true`; anything it calls besides the model shows up here). A POST
anywhere but `/v1/messages` is a 404; `HEAD` (a client's connectivity probe) is a 200.
"""

from __future__ import annotations

import contextlib
import hashlib
import itertools
import json
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler
from typing import Any

from tests.fakes import Loopback

CHARS_PER_TOKEN = 4
Step = dict[str, Any] | Callable[[dict[str, Any]], dict[str, Any]]


def tool(name: str, **args: Any) -> dict[str, Any]:
    return {"type": "tool_use", "name": name, "input": args}


def text(value: str) -> dict[str, Any]:
    return {"type": "text", "text": value}


def reply(*blocks: dict[str, Any], stop_reason: str | None = None) -> dict[str, Any]:
    stop = stop_reason or (
        "tool_use" if any(b["type"] == "tool_use" for b in blocks) else "end_turn"
    )
    return {"content": list(blocks), "stop_reason": stop}


def error(
    status: int, kind: str, message: str, details: dict[str, Any] | None = None, **headers: str
) -> dict[str, Any]:
    body: dict[str, Any] = {"type": kind, "message": message}
    if details is not None:
        body["details"] = details
    return {"status": status, "error": body, "headers": headers}


def hang(seconds: float) -> dict[str, Any]:
    """Accept the request, then say nothing for `seconds` (no status line, no header)."""
    return {"hang": seconds}


def stall(step: dict[str, Any], seconds: float) -> dict[str, Any]:
    """Stream `step`'s message_start and first block start, then go silent for `seconds`."""
    return {**step, "stall": seconds}


def drip(step: dict[str, Any], every: float, times: int) -> dict[str, Any]:
    """Stream `step` slowly: a ping event every `every` seconds, `times` times, first (a
    stream that is never silent long enough for a read timeout, yet never ends)."""
    return {**step, "drip": (every, times)}


def broken(step: dict[str, Any], kind: str, message: str) -> dict[str, Any]:
    """Stream `step`'s message_start, then an error event (the API failing mid-answer,
    e.g. `overloaded_error`); each provider's fake frames it its own way."""
    return {**step, "broken": {"type": kind, "message": message}}


def truncated(block: dict[str, Any]) -> dict[str, Any]:
    """A reply whose tool call was cut off by max_tokens: half its input JSON arrives."""
    return {"content": [block], "stop_reason": "max_tokens", "truncate": True}


def spend_limit() -> dict[str, Any]:
    """The 429 for an enforced spend limit: no retry-after, an error_code in details."""
    return {
        "status": 429,
        "error": {
            "type": "rate_limit_error",
            "message": "This request would exceed your organization's enforced spend limit. "
            "API access resumes at the start of next month.",
            "details": {"error_code": "enforced_spend_limit_reached"},
        },
        "headers": {},
        "no_retry_after": True,
    }


def _tokens(value: Any) -> int:
    return len(json.dumps(value, separators=(",", ":"), sort_keys=True)) // CHARS_PER_TOKEN


def _strip_cache(block: Any) -> Any:
    if isinstance(block, dict):
        return {k: v for k, v in block.items() if k != "cache_control"}
    return block


@dataclass
class FakeAnthropic(Loopback):
    script: list[Step] = field(default_factory=list)
    context_limit: int = 200_000
    api_key: str | None = None  # when set, any other x-api-key is answered 401
    models_script: list[dict[str, Any]] = field(default_factory=list)
    model_requests: list[str] = field(default_factory=list)  # paths of GET /v1/models
    requests: list[dict[str, Any]] = field(default_factory=list)
    calls: list[str] = field(default_factory=list)  # "METHOD path" of every request
    usages: list[dict[str, int]] = field(default_factory=list)  # each reply's usage, as sent
    headers: list[dict[str, str]] = field(default_factory=list)
    over_limit: int = 0
    timings: list[tuple[float, float]] = field(default_factory=list)  # (received, responded)
    _cache: set[str] = field(default_factory=set)
    _ids: itertools.count = field(default_factory=lambda: itertools.count(1))
    _lock: threading.Lock = field(default_factory=threading.Lock)

    # -- lifecycle ------------------------------------------------------------------

    def __enter__(self) -> FakeAnthropic:
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:
                pass

            def do_POST(self) -> None:
                length = int(self.headers.get("content-length", 0))
                raw = self.rfile.read(length)
                received = time.perf_counter()
                with fake._lock:
                    fake.calls.append(f"POST {self.path}")
                body = fake._route(self, json.loads(raw or b"{}"))
                if body is not None and fake._authorised(self, raw):
                    fake._handle(self, body)
                fake.timings.append((received, time.perf_counter()))

            def do_HEAD(self) -> None:
                with fake._lock:
                    fake.calls.append(f"HEAD {self.path}")
                self.send_response(200)
                self.send_header("content-length", "0")
                self.end_headers()

            def do_GET(self) -> None:
                with fake._lock:
                    fake.calls.append(f"GET {self.path}")
                    fake.model_requests.append(self.path)
                if fake._authorised(self, b""):
                    fake._models(self)

        self.serve(Handler)
        return self

    # -- behaviour ------------------------------------------------------------------

    def _route(
        self, handler: BaseHTTPRequestHandler, body: dict[str, Any]
    ) -> dict[str, Any] | None:
        """The Messages request a POST carries, or None once answered (404 off the route).
        A provider's fake maps its own route onto the same request (bedrock_server.py)."""
        if handler.path.split("?")[0] != "/v1/messages":
            self._send_error(handler, error(404, "not_found_error", f"no route {handler.path}"))
            return None
        return body

    def _authorised(self, handler: BaseHTTPRequestHandler, raw: bytes) -> bool:
        """The key arrives as x-api-key or (newer SDKs) as a bearer token. `raw` is the
        request body (a signing provider's fake checks the signature over it)."""
        bearer = (handler.headers.get("authorization") or "").removeprefix("Bearer ")
        if self.api_key is None or self.api_key in (handler.headers.get("x-api-key"), bearer):
            return True
        self._send_error(handler, error(401, "authentication_error", "invalid x-api-key"))
        return False

    def _models(self, handler: BaseHTTPRequestHandler) -> None:
        with self._lock:
            step = self.models_script.pop(0) if self.models_script else None
        if step is not None and "hang" in step:
            time.sleep(step["hang"])
            return
        if step is not None:
            self._send_error(handler, step)
            return
        if not handler.path.split("?")[0].endswith("/v1/models"):
            self._send_error(handler, error(404, "not_found_error", f"no route {handler.path}"))
            return
        model = {
            "type": "model",
            "id": "claude-sonnet-5-5",
            "display_name": "Claude Sonnet 5.5",
            "created_at": "2026-01-01T00:00:00Z",
        }
        page = {"data": [model], "has_more": False, "first_id": model["id"], "last_id": model["id"]}
        self._send_json(handler, 200, page)

    def _handle(self, handler: BaseHTTPRequestHandler, body: dict[str, Any]) -> None:
        with self._lock:
            self.requests.append(body)
            self.headers.append({k.lower(): v for k, v in handler.headers.items()})
            step = (
                self.script.pop(0)
                if self.script
                else error(500, "api_error", "test script exhausted", **{"x-should-retry": "false"})
            )
            if callable(step):
                step = step(body)
            usage = self._usage(body)
        if "hang" in step:
            time.sleep(step["hang"])
            return
        if "status" not in step and usage["total"] > self.context_limit:
            self.over_limit += 1
            step = error(
                400,
                "invalid_request_error",
                f"prompt is too long: {usage['total']} tokens > {self.context_limit}",
            )
        if "status" in step:
            self._send_error(handler, step)
            return
        content = []
        for block in step["content"]:
            block = dict(block)
            if block["type"] == "tool_use":
                block.setdefault("id", f"toolu_{next(self._ids):06d}")
            content.append(block)
        message = {
            "id": f"msg_{next(self._ids):06d}",
            "type": "message",
            "role": "assistant",
            "model": body.get("model", "test-model"),
            "content": content,
            "stop_reason": step["stop_reason"],
            "stop_sequence": None,
            "usage": {
                "input_tokens": usage["input"],
                "output_tokens": max(1, _tokens(content)),
                "cache_read_input_tokens": usage["read"],
                "cache_creation_input_tokens": usage["write"],
            },
        }
        with self._lock:
            self.usages.append(dict(message["usage"]))
        if body.get("stream"):
            with contextlib.suppress(OSError):  # the client gave up and hung up: fine
                self._send_stream(
                    handler,
                    message,
                    bool(step.get("truncate")),
                    step.get("stall", 0),
                    step.get("drip"),
                    step.get("broken"),
                )
            return
        if step.get("truncate"):  # what survives of the cut-off JSON, as the API parses it
            for block in content:
                if block["type"] == "tool_use":
                    block["input"] = _halved(block["input"])
        self._send_json(handler, 200, message)

    def _usage(self, body: dict[str, Any]) -> dict[str, int]:
        """Prompt tokens split as the real API reports them, from simulated caching."""
        blocks: list[tuple[Any, bool]] = []
        for t in body.get("tools", []):
            blocks.append((_strip_cache(t), "cache_control" in t))
        system = body.get("system", [])
        if isinstance(system, str):
            system = [{"type": "text", "text": system}]
        for b in system:
            blocks.append((_strip_cache(b), "cache_control" in b))
        for m in body.get("messages", []):
            content = m["content"]
            if isinstance(content, str):
                content = [{"type": "text", "text": content}]
            for b in content:
                blocks.append(({"role": m["role"], **_strip_cache(b)}, "cache_control" in b))
        digest = hashlib.sha256()
        prefix_tokens, hit, last_mark, marks = 0, 0, 0, []
        for block, marked in blocks:
            digest.update(json.dumps(block, sort_keys=True).encode())
            prefix_tokens += _tokens(block)
            key = digest.hexdigest()
            if key in self._cache:
                hit = prefix_tokens
            if marked:
                last_mark = prefix_tokens
                marks.append(key)
        self._cache.update(marks)
        total = prefix_tokens
        read = min(hit, last_mark) if last_mark else 0
        write = max(0, last_mark - read)
        return {"total": total, "read": read, "write": write, "input": total - read - write}

    # -- wire formats ---------------------------------------------------------------

    def _send_json(
        self,
        handler: BaseHTTPRequestHandler,
        status: int,
        data: Any,
        headers: dict[str, str] | None = None,
    ) -> None:
        raw = json.dumps(data).encode()
        handler.send_response(status)
        handler.send_header("content-type", "application/json")
        handler.send_header("content-length", str(len(raw)))
        handler.send_header("request-id", f"req_{next(self._ids)}")
        for k, v in (headers or {}).items():
            handler.send_header(k, v)
        handler.end_headers()
        handler.wfile.write(raw)

    def _send_error(self, handler: BaseHTTPRequestHandler, step: dict[str, Any]) -> None:
        headers = {} if step.get("no_retry_after") else {"retry-after-ms": "1"}
        headers.update(step.get("headers", {}))
        self._send_json(handler, step["status"], {"type": "error", "error": step["error"]}, headers)

    def _send_stream(
        self,
        handler: BaseHTTPRequestHandler,
        message: dict[str, Any],
        truncate: bool = False,
        stall: float = 0,
        drip: tuple[float, int] | None = None,
        broken: dict[str, str] | None = None,
    ) -> None:
        self._stream_headers(handler)

        def event(kind: str, data: dict[str, Any]) -> None:
            handler.wfile.write(self._frame(kind, data))

        start = {
            **message,
            "content": [],
            "stop_reason": None,
            "usage": {**message["usage"], "output_tokens": 1},
        }
        event("message_start", {"type": "message_start", "message": start})
        if broken:
            event("error", {"type": "error", "error": broken})
            handler.wfile.flush()
            return
        if stall:
            handler.wfile.flush()
            time.sleep(stall)
            return
        for _ in range(drip[1] if drip else 0):
            event("ping", {"type": "ping"})
            handler.wfile.flush()
            time.sleep(drip[0] if drip else 0)
        for i, block in enumerate(message["content"]):
            if block["type"] == "tool_use":
                event(
                    "content_block_start",
                    {
                        "type": "content_block_start",
                        "index": i,
                        "content_block": {**block, "input": {}},
                    },
                )
                raw = json.dumps(block["input"])
                parts = [raw[: len(raw) // 2], raw[len(raw) // 2 :]]
                for part in parts[:1] if truncate else parts:
                    event(
                        "content_block_delta",
                        {
                            "type": "content_block_delta",
                            "index": i,
                            "delta": {"type": "input_json_delta", "partial_json": part},
                        },
                    )
            else:
                event(
                    "content_block_start",
                    {
                        "type": "content_block_start",
                        "index": i,
                        "content_block": {"type": "text", "text": ""},
                    },
                )
                event(
                    "content_block_delta",
                    {
                        "type": "content_block_delta",
                        "index": i,
                        "delta": {"type": "text_delta", "text": block["text"]},
                    },
                )
            event("content_block_stop", {"type": "content_block_stop", "index": i})
        event(
            "message_delta",
            {
                "type": "message_delta",
                "delta": {"stop_reason": message["stop_reason"], "stop_sequence": None},
                "usage": {"output_tokens": message["usage"]["output_tokens"]},
            },
        )
        event("message_stop", {"type": "message_stop"})
        handler.wfile.flush()

    def _stream_headers(self, handler: BaseHTTPRequestHandler) -> None:
        handler.send_response(200)
        handler.send_header("content-type", "text/event-stream")
        handler.send_header("cache-control", "no-cache")
        handler.end_headers()

    def _frame(self, kind: str, data: dict[str, Any]) -> bytes:
        """One stream event on the wire (server-sent events here)."""
        return f"event: {kind}\ndata: {json.dumps(data)}\n\n".encode()


def _halved(value: Any) -> Any:
    """`value` with every string cut to half its length (a cut-off tool input)."""
    if isinstance(value, str):
        return value[: len(value) // 2]
    if isinstance(value, dict):
        return {k: _halved(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_halved(v) for v in value]
    return value
