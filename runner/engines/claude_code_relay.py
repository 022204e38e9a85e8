"""The model API relay: how the jailed Claude Code CLI reaches the Messages API without
holding the key or any network.

The CLI runs in a jail with no network at all (unless the role says `network: allow`)
and a placeholder key. It speaks plain HTTP over a Unix socket (`ANTHROPIC_UNIX_SOCKET`,
with `ANTHROPIC_BASE_URL=http://localhost`), bound into the jail; the runner serves that
socket from outside: it forwards `POST /v1/messages` (and only that: anything else is a
404) to the real API with the real key, and streams the answer back as it arrives. So
whatever the agent gets executed can reach the model API through the CLI's socket, and
nothing else, and never sees the key.

The relay also meters what it forwards (the usage in each answer, priced from the
fleet's table) and refuses further calls once that reaches the run's budget: the CLI's
own `--max-budget-usd` binds the CLI, not a command that talks to the socket directly.
"""

from __future__ import annotations

import contextlib
import http.client
import json
import socketserver
import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from runner.agent.cost import USAGE_KEYS, Usage
from runner.model import Price

DEFAULT_UPSTREAM = "https://api.anthropic.com"
ALLOWED = ("/v1/messages",)  # the CLI's model calls; anything else is refused
# request headers never forwarded: the runner sets the key; hop-by-hop ones are its own
DROPPED_IN = {"host", "x-api-key", "authorization", "content-length", "connection",
              "accept-encoding", "keep-alive", "transfer-encoding"}  # fmt: skip
DROPPED_OUT = {"content-length", "transfer-encoding", "connection", "content-encoding",
               "keep-alive"}  # fmt: skip


@dataclass
class Relay:
    """A Unix-socket HTTP relay to `upstream` with `key`, as a context manager."""

    socket_path: Path
    upstream: str
    key: str
    connect_timeout_s: float = 10.0
    read_timeout_s: float = 60.0
    price: Price | None = None
    budget_usd: float | None = None  # refuse calls once the metered cost reaches it
    calls: list[str] = field(default_factory=list)  # "METHOD path -> status", in order
    refused: list[str] = field(default_factory=list)
    usage: Usage = field(default_factory=Usage)  # of every answer forwarded
    exhausted: bool = False
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def __enter__(self) -> Relay:
        relay = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.0"  # the answer ends when the connection closes

            def log_message(self, *args: Any) -> None:
                pass

            def do_POST(self) -> None:
                relay._forward(self)

            def do_GET(self) -> None:
                relay._forward(self)

            def do_HEAD(self) -> None:
                relay._forward(self)

            def address_string(self) -> str:
                return "jail"

        class Server(socketserver.ThreadingMixIn, socketserver.UnixStreamServer):
            daemon_threads = True

        self.server = Server(str(self.socket_path), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()
        with contextlib.suppress(OSError):
            self.socket_path.unlink()

    def _forward(self, handler: BaseHTTPRequestHandler) -> None:
        path = handler.path
        if handler.command != "POST" or path.split("?")[0] not in ALLOWED:
            with self._lock:
                self.refused.append(f"{handler.command} {path}")
            _error(handler, 404, f"the fleet relay only forwards POST /v1/messages, not {path}")
            return
        length = int(handler.headers.get("content-length") or 0)
        body = handler.rfile.read(length)
        if self.budget_usd is not None and self.spent_usd() >= self.budget_usd:
            with self._lock:
                self.exhausted = True
                self.refused.append(f"POST {path} (budget)")
            _error(handler, 400, "the run's budget is spent; the fleet relay forwards no more")
            return
        headers = {k: v for k, v in handler.headers.items() if k.lower() not in DROPPED_IN}
        headers["x-api-key"] = self.key
        try:
            conn = self._connect()
            conn.request("POST", self._prefix() + path, body=body, headers=headers)
            resp = conn.getresponse()
        except OSError as exc:  # the API is unreachable: the CLI sees a 502 and retries
            _error(handler, 502, f"the fleet relay could not reach the model API: {exc}")
            return
        with self._lock:
            self.calls.append(f"POST {path} -> {resp.status}")
        meter = Meter()
        with contextlib.closing(conn), contextlib.suppress(OSError):
            handler.send_response(resp.status)
            for name, value in resp.getheaders():
                if name.lower() not in DROPPED_OUT:
                    handler.send_header(name, value)
            handler.end_headers()
            while chunk := resp.read1(65536):
                meter.feed(chunk)
                handler.wfile.write(chunk)
                handler.wfile.flush()
        with self._lock:
            self.usage.add(meter.usage())

    def spent_usd(self) -> float:
        with self._lock:
            return self.usage.cost(self.price)

    def _connect(self) -> http.client.HTTPConnection:
        parts = urlsplit(self.upstream)
        host = parts.hostname or "localhost"
        cls = http.client.HTTPSConnection if parts.scheme == "https" else http.client.HTTPConnection
        conn = cls(host, parts.port, timeout=self.connect_timeout_s)
        conn.connect()
        if conn.sock is not None:
            conn.sock.settimeout(self.read_timeout_s)
        return conn

    def _prefix(self) -> str:
        return urlsplit(self.upstream).path.rstrip("/")


@dataclass
class Meter:
    """The usage of one answer, from its bytes as they pass: a stream's message_start
    (prompt tokens) and last message_delta (output tokens), or a JSON body's usage."""

    _buffer: bytes = b""
    _start: dict[str, Any] = field(default_factory=dict)
    _output: int = 0
    _whole: bytearray = field(default_factory=bytearray)

    def feed(self, chunk: bytes) -> None:
        if len(self._whole) < 1_000_000:
            self._whole += chunk
        self._buffer += chunk.replace(b"\r\n", b"\n")
        *events, self._buffer = self._buffer.split(b"\n\n")
        for event in events:
            for line in event.split(b"\n"):
                if line.startswith(b"data:"):
                    self._event(line[5:])

    def _event(self, raw: bytes) -> None:
        with contextlib.suppress(ValueError):
            data = json.loads(raw)
            if not isinstance(data, dict):
                return
            if data.get("type") == "message_start":
                self._start = dict((data.get("message") or {}).get("usage") or {})
            elif data.get("type") == "message_delta":
                self._output = int((data.get("usage") or {}).get("output_tokens") or 0)

    def usage(self) -> Usage:
        raw = self._start
        if not raw:  # not a stream: the JSON answer's usage, if it is one
            with contextlib.suppress(ValueError):
                body = json.loads(bytes(self._whole))
                raw = body.get("usage") or {} if isinstance(body, dict) else {}
        out = Usage(**{k: int(raw.get(k) or 0) for k in USAGE_KEYS})
        if self._start:
            out.output_tokens = max(self._output, out.output_tokens)
        return out


def _error(handler: BaseHTTPRequestHandler, status: int, message: str) -> None:
    kind = "not_found_error" if status == 404 else "api_error"
    kind = "invalid_request_error" if status == 400 else kind
    raw = json.dumps({"type": "error", "error": {"type": kind, "message": message}}).encode()
    with contextlib.suppress(OSError):
        handler.send_response(status)
        handler.send_header("content-type", "application/json")
        handler.send_header("content-length", str(len(raw)))
        handler.end_headers()
        handler.wfile.write(raw)
