"""A scripted Vertex AI endpoint for Anthropic models on loopback, for the anthropic SDK's
`AnthropicVertex` client (point it here with `base_url`, ending in `/v1`).

From Vertex's documented API: `POST /v1/projects/{project}/locations/{region}/publishers/
anthropic/models/{model}:rawPredict` answers the Messages response as JSON, and
`...:streamRawPredict` streams the Messages events as server-sent events; the body is
the Messages request without `model` and with `anthropic_version`; the caller sends a
Google OAuth access token as `Authorization: Bearer`. The script, caching and faults are
FakeAnthropic's.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler
from typing import Any

from tests.fakes.anthropic_server import FakeAnthropic, error

TOKEN = "ya29.fleet-test-access-token"
ROUTE = re.compile(
    r"^/v1/projects/(?P<project>[^/]+)/locations/(?P<region>[^/]+)/publishers/anthropic/"
    r"models/(?P<model>[^/:]+):(?P<op>rawPredict|streamRawPredict)$"
)


@dataclass
class FakeVertex(FakeAnthropic):
    token: str = TOKEN
    project: str = "fleet-test"
    region: str = "us-east5"

    @property
    def base_url(self) -> str:
        return f"{self.url}/v1"

    def _route(
        self, handler: BaseHTTPRequestHandler, body: dict[str, Any]
    ) -> dict[str, Any] | None:
        match = ROUTE.match(handler.path.split("?")[0])
        if match is None or (match["project"], match["region"]) != (self.project, self.region):
            self._send_error(handler, error(404, "NOT_FOUND", f"no route {handler.path}"))
            return None
        if "model" in body or not body.get("anthropic_version"):
            self._send_error(handler, error(400, "invalid_request_error", "model/version"))
            return None
        return {**body, "model": match["model"], "stream": match["op"] == "streamRawPredict"}

    def _authorised(self, handler: BaseHTTPRequestHandler, raw: bytes) -> bool:
        if handler.headers.get("authorization") == f"Bearer {self.token}":
            return True
        self._send_error(
            handler,
            error(401, "UNAUTHENTICATED", "Request had invalid authentication credentials."),
        )
        return False
