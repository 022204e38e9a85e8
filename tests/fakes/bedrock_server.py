"""A scripted Amazon Bedrock runtime on loopback, for the anthropic SDK's `AnthropicBedrock`
client to talk to over real HTTP (point it here with `base_url`).

Written from Bedrock's documented wire protocol, not from the SDK:

- `POST /model/{modelId}/invoke` answers the Messages response as JSON;
  `POST /model/{modelId}/invoke-with-response-stream` answers
  `application/vnd.amazon.eventstream`: binary frames (a prelude of total and header
  lengths with its CRC32, typed headers `:event-type` `chunk`, `:message-type` `event`,
  `:content-type` `application/json`, a JSON payload `{"bytes": <base64 of one Messages
  stream event>}`, the frame's CRC32).
- The request body is the Messages request without `model` (it is in the path) and
  with `anthropic_version` (required; its value is the SDK's to choose).
- Requests are signed with AWS Signature Version 4 (service `bedrock`). The fake
  recomputes the signature from the secret it was given and refuses a mismatch (403
  `InvalidSignatureException`) or an unknown access key (403
  `UnrecognizedClientException`); a bearer token (`AWS_BEARER_TOKEN_BEDROCK`) is
  checked as is.
- Errors are Bedrock's: a status, `x-amzn-ErrorType`, and `{"message": ...}`.

The script, prompt caching, context limit and faults are FakeAnthropic's: the same
scenario runs on either wire.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import re
import struct
import zlib
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler
from typing import Any
from urllib.parse import quote, unquote

from tests.fakes.anthropic_server import FakeAnthropic

ACCESS_KEY = "AKIAFLEETTEST0000001"
SECRET_KEY = "fleet-test-secret-access-key-000000000000"
REGION = "us-east-1"
ROUTE = re.compile(r"^/model/(?P<model>[^/]+)/(?P<op>invoke|invoke-with-response-stream)$")
# Bedrock's error type per status, for scripted errors (its 429 and 503 are what an
# overloaded or throttled model answers; it has no 401: a bad key is a 403).
ERROR_TYPES = {
    400: "ValidationException",
    403: "AccessDeniedException",
    404: "ResourceNotFoundException",
    408: "ModelTimeoutException",
    424: "ModelErrorException",
    429: "ThrottlingException",
    500: "InternalServerException",
    503: "ServiceUnavailableException",
}


def error(status: int, kind: str, message: str) -> dict[str, Any]:
    """A scripted Bedrock error (`kind` is its x-amzn-ErrorType)."""
    return {"status": status, "error": {"type": kind, "message": message}, "headers": {}}


@dataclass
class FakeBedrock(FakeAnthropic):
    access_key: str = ACCESS_KEY
    secret_key: str = SECRET_KEY
    bearer: str | None = None  # when set, `Authorization: Bearer <it>` is accepted too

    def _route(
        self, handler: BaseHTTPRequestHandler, body: dict[str, Any]
    ) -> dict[str, Any] | None:
        match = ROUTE.match(handler.path.split("?")[0])
        if match is None:
            self._send_error(handler, error(404, "UnknownOperationException", handler.path))
            return None
        if "model" in body or not body.get("anthropic_version"):
            self._send_error(
                handler,
                error(400, "ValidationException", "malformed input request: model/version"),
            )
            return None
        stream = match["op"] == "invoke-with-response-stream"
        return {**body, "model": unquote(match["model"]), "stream": stream}

    def _authorised(self, handler: BaseHTTPRequestHandler, raw: bytes) -> bool:
        auth = handler.headers.get("authorization") or ""
        if self.bearer is not None and auth == f"Bearer {self.bearer}":
            return True
        fields = dict(re.findall(r"(\w+)=([^,\s]+)", auth.removeprefix("AWS4-HMAC-SHA256 ")))
        if not auth.startswith("AWS4-HMAC-SHA256 ") or not fields.get("Credential"):
            self._send_error(
                handler, error(403, "AccessDeniedException", "Missing Authentication Token")
            )
            return False
        key, date, region, service, _ = fields["Credential"].split("/")
        if key != self.access_key:
            self._send_error(
                handler,
                error(
                    403,
                    "UnrecognizedClientException",
                    "The security token included in the request is invalid.",
                ),
            )
            return False
        expected = sigv4(
            handler, raw, fields["SignedHeaders"], self.secret_key, date, region, service
        )
        if not hmac.compare_digest(expected, fields.get("Signature", "")):
            self._send_error(
                handler,
                error(
                    403,
                    "InvalidSignatureException",
                    "The request signature we calculated does not match the signature you "
                    "provided. Check your AWS Secret Access Key and signing method.",
                ),
            )
            return False
        return True

    def _models(self, handler: BaseHTTPRequestHandler) -> None:
        self._send_error(handler, error(404, "UnknownOperationException", handler.path))

    # -- wire formats ---------------------------------------------------------------

    def _send_error(self, handler: BaseHTTPRequestHandler, step: dict[str, Any]) -> None:
        status = step["status"]
        kind = step["error"].get("type", "")
        kind = (
            kind
            if kind and kind[0].isupper()
            else ERROR_TYPES.get(status, "InternalServerException")
        )
        raw = json.dumps({"message": step["error"]["message"]}).encode()
        handler.send_response(status)
        handler.send_header("content-type", "application/json")
        handler.send_header("content-length", str(len(raw)))
        handler.send_header(
            "x-amzn-ErrorType", f"{kind}:http://internal.amazon.com/coral/com.amazon.bedrock/"
        )
        handler.send_header("x-amzn-RequestId", f"req-{next(self._ids)}")
        for k, v in step.get("headers", {}).items():
            handler.send_header(k, v)
        handler.end_headers()
        handler.wfile.write(raw)

    def _stream_headers(self, handler: BaseHTTPRequestHandler) -> None:
        handler.send_response(200)
        handler.send_header("content-type", "application/vnd.amazon.eventstream")
        handler.send_header("x-amzn-bedrock-content-type", "application/json")
        handler.end_headers()

    def _frame(self, kind: str, data: dict[str, Any]) -> bytes:
        if kind == "ping":  # Bedrock has no pings: keep the stream alive with nothing
            return b""
        if kind == "error":  # an exception frame, e.g. throttlingException mid-stream
            headers = {
                ":message-type": "exception",
                ":exception-type": data["error"]["type"],
                ":content-type": "application/json",
            }
            return frame(headers, json.dumps({"message": data["error"]["message"]}).encode())
        payload = json.dumps({"bytes": base64.b64encode(json.dumps(data).encode()).decode()})
        return frame(
            {":event-type": "chunk", ":content-type": "application/json", ":message-type": "event"},
            payload.encode(),
        )


def frame(headers: dict[str, str], payload: bytes) -> bytes:
    """One AWS event-stream message: prelude, prelude CRC, headers, payload, message CRC."""
    head = b""
    for name, value in headers.items():
        raw_name, raw_value = name.encode(), value.encode()
        head += struct.pack("!B", len(raw_name)) + raw_name
        head += struct.pack("!BH", 7, len(raw_value)) + raw_value  # type 7: string
    total = 12 + len(head) + len(payload) + 4
    prelude = struct.pack("!II", total, len(head))
    prelude += struct.pack("!I", zlib.crc32(prelude))
    message = prelude + head + payload
    return message + struct.pack("!I", zlib.crc32(message))


def sigv4(
    handler: BaseHTTPRequestHandler,
    raw: bytes,
    signed_headers: str,
    secret: str,
    date: str,
    region: str,
    service: str,
) -> str:
    """The Signature Version 4 signature of the received request, as the documented
    algorithm computes it (canonical request, string to sign, derived signing key)."""
    path, _, query = handler.path.partition("?")
    names = signed_headers.split(";")
    canonical_headers = "".join(
        f"{n}:{' '.join((handler.headers.get(n) or '').split())}\n" for n in names
    )
    canonical_query = "&".join(
        sorted(
            f"{quote(k, safe='-_.~')}={quote(v, safe='-_.~')}"
            for k, _, v in (p.partition("=") for p in query.split("&") if p)
        )
    )
    canonical = "\n".join(
        [
            handler.command,
            quote(path, safe="/~"),
            canonical_query,
            canonical_headers,
            signed_headers,
            hashlib.sha256(raw).hexdigest(),
        ]
    )
    amz_date = handler.headers.get("x-amz-date") or ""
    scope = f"{date}/{region}/{service}/aws4_request"
    to_sign = "\n".join(
        ["AWS4-HMAC-SHA256", amz_date, scope, hashlib.sha256(canonical.encode()).hexdigest()]
    )
    key = f"AWS4{secret}".encode()
    for part in (date, region, service, "aws4_request"):
        key = hmac.new(key, part.encode(), hashlib.sha256).digest()
    return hmac.new(key, to_sign.encode(), hashlib.sha256).hexdigest()
