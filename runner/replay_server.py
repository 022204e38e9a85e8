"""The replay on loopback: a Messages API server on 127.0.0.1 that `fleet demo` starts, so
the real anthropic SDK client talks to it over real HTTP (streamed or plain JSON).

It accepts only the demo's placeholder key (any other key gets the API's 401, so a real
key is never sent anywhere), answers the SDK's key preflight (`GET /v1/models`), and
answers each `POST /v1/messages` with the next recorded reply (runner/replay.py). A
request the recording does not expect gets a 400 whose message says what diverged and
where (the SDK does not retry a 400; the run stops as `error` with that message), and
the first such message is kept in `divergence` for the demo to report.

Only the standard library: the server is the SDK's counterpart, not a user of it.
"""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from runner.replay import Divergence, Recording, Replay

PLACEHOLDER_KEY = "fleet-demo-replay-key-not-a-real-key"


class ReplayServer:
    """A context manager: serving on `url` inside the block, shut down after it."""

    def __init__(self, recording: Recording) -> None:
        self.replay = Replay(recording)
        self.divergence = ""
        self.requests = 0
        self._lock = threading.Lock()

    def __enter__(self) -> ReplayServer:
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(self))
        self._server.daemon_threads = True
        # a short poll: shutting down waits for the loop's next look (0.5 s by default)
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True
        )
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    def respond(self, body: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        """(HTTP status, JSON body) for one Messages request."""
        with self._lock:
            self.requests += 1
            try:
                return 200, self.replay.answer(body)
            except Divergence as exc:
                message = f"replay diverged: {exc}"
                self.divergence = self.divergence or message
                return 400, _error("invalid_request_error", message)


def _error(kind: str, message: str) -> dict[str, Any]:
    return {"type": "error", "error": {"type": kind, "message": message}}


def _handler(server: ReplayServer) -> type[BaseHTTPRequestHandler]:
    """A handler class bound to `server` (http.server makes one handler per request from
    the class, so the replay it answers from is a class attribute)."""

    class Handler(_Handler):
        owner = server

    return Handler


class _Handler(BaseHTTPRequestHandler):
    owner: ReplayServer

    def log_message(self, *args: Any) -> None:
        pass

    def _key_ok(self) -> bool:
        bearer = (self.headers.get("authorization") or "").removeprefix("Bearer ")
        if PLACEHOLDER_KEY in (self.headers.get("x-api-key"), bearer):
            return True
        self._json(
            401,
            _error(
                "authentication_error",
                "the demo's replay server accepts only its own placeholder key",
            ),
        )
        return False

    def do_HEAD(self) -> None:
        self.send_response(200)
        self.send_header("content-length", "0")
        self.end_headers()

    def do_GET(self) -> None:
        if not self._key_ok():
            return
        if self.path.split("?")[0] != "/v1/models":
            self._json(404, _error("not_found_error", f"no route {self.path}"))
            return
        model = self.owner.replay.recording.model
        entry = {"type": "model", "id": model, "display_name": f"{model} (replay)"}
        page = {"data": [entry], "has_more": False, "first_id": model, "last_id": model}
        self._json(200, page)

    def do_POST(self) -> None:
        raw = self.rfile.read(int(self.headers.get("content-length", 0)))
        if not self._key_ok():
            return
        if self.path.split("?")[0] != "/v1/messages":
            self._json(404, _error("not_found_error", f"no route {self.path}"))
            return
        try:
            body = json.loads(raw or b"{}")
        except ValueError:
            self._json(400, _error("invalid_request_error", "the body is not JSON"))
            return
        status, answer = self.owner.respond(body)
        if status == 200 and body.get("stream"):
            self._stream(answer)
        else:
            self._json(status, answer)

    def _json(self, status: int, data: dict[str, Any]) -> None:
        raw = json.dumps(data).encode()
        self.send_response(status)
        self.send_header("content-type", "application/json")
        self.send_header("content-length", str(len(raw)))
        self.send_header("request-id", "req_replay")
        if status >= 400:
            self.send_header("x-should-retry", "false")
        self.end_headers()
        self.wfile.write(raw)

    def _stream(self, message: dict[str, Any]) -> None:
        self.send_response(200)
        self.send_header("content-type", "text/event-stream")
        self.send_header("cache-control", "no-cache")
        self.end_headers()
        for kind, data in _events(message):
            self.wfile.write(f"event: {kind}\ndata: {json.dumps(data)}\n\n".encode())
        self.wfile.flush()


def _events(message: dict[str, Any]) -> list[tuple[str, dict[str, Any]]]:
    """`message` as the API streams it: message_start, each block (start, one delta,
    stop), message_delta with the stop reason and output tokens, message_stop."""
    usage = message["usage"]
    start = {**message, "content": [], "stop_reason": None, "usage": {**usage, "output_tokens": 1}}
    events: list[tuple[str, dict[str, Any]]] = [
        ("message_start", {"type": "message_start", "message": start})
    ]
    for i, block in enumerate(message["content"]):
        if block["type"] == "tool_use":
            opened = {**block, "input": {}}
            delta = {"type": "input_json_delta", "partial_json": json.dumps(block["input"])}
        else:
            opened = {"type": "text", "text": ""}
            delta = {"type": "text_delta", "text": block["text"]}
        events += [
            (
                "content_block_start",
                {"type": "content_block_start", "index": i, "content_block": opened},
            ),
            ("content_block_delta", {"type": "content_block_delta", "index": i, "delta": delta}),
            ("content_block_stop", {"type": "content_block_stop", "index": i}),
        ]
    end = {"stop_reason": message["stop_reason"], "stop_sequence": None}
    events += [
        (
            "message_delta",
            {
                "type": "message_delta",
                "delta": end,
                "usage": {"output_tokens": usage["output_tokens"]},
            },
        ),
        ("message_stop", {"type": "message_stop"}),
    ]
    return events
