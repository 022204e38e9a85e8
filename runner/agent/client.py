"""The anthropic SDK client, built once at the edge, with the runner's own limits.

Why not the SDK defaults: its 10-minute read timeout per attempt, times the retries,
let one hang before headers cost half an hour; and it retries every 429, including
the one that says the organisation's spend limit is enforced, which no retry can fix.

- Timeouts are explicit: `connect_s` to open a connection, `read_s` of silence while
  waiting for headers or the next streamed chunk, and `total_s` for one model call
  across all its attempts and the whole stream (`deadline`, checked before each attempt
  and, by the engine, at every stream event).
- A spend-limit answer (429 `enforced_spend_limit_reached`, or 400 "You have reached
  your specified ... API usage limits") raises `SpendLimitReached` from a middleware
  inside the SDK's retry loop, so the SDK never retries it.

The SDK is imported inside functions: `fleet --help` and `fleet validate` import none.
"""

from __future__ import annotations

import contextvars
import json
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

SPEND_LIMIT_CODES = ("enforced_spend_limit_reached",)
# The API's wording for a spend limit the organisation or a workspace set (HTTP 400);
# matched in lower case.
SPEND_LIMIT_PHRASES = (
    "api usage limits",
    "spend limit",
)

_deadline: contextvars.ContextVar[float | None] = contextvars.ContextVar(
    "fleet_model_deadline", default=None
)


ANTHROPIC_FIX = "Raise the limit in the Anthropic Console (Settings > Limits)"


class SpendLimitReached(Exception):
    """The API refuses work until a spend limit is raised: a budget stop, never retried.
    `fix` says where the limit is raised (it differs per provider)."""

    def __init__(self, status: int, message: str, fix: str = ANTHROPIC_FIX) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.fix = fix


class ModelTimeout(Exception):
    """One model call ran past its total timeout (across attempts and the stream)."""


@dataclass(frozen=True)
class Timeouts:
    connect_s: float = 10.0
    read_s: float = 60.0
    total_s: float = 600.0

    @classmethod
    def of(cls, defaults: Any) -> Timeouts:
        return cls(
            connect_s=float(defaults.model_connect_timeout_s),
            read_s=float(defaults.model_read_timeout_s),
            total_s=float(defaults.model_total_timeout_s),
        )


def build(
    api_key: str,
    base_url: str | None,
    *,
    max_retries: int,
    timeouts: Timeouts,
    stream: bool = True,
) -> Any:
    """An `anthropic.Anthropic` with explicit timeouts and the spend-limit guard.

    A plain (non-streamed) response arrives in one piece after the whole generation, so
    without streaming the read timeout is the total timeout."""
    import anthropic

    timeout, guard = guarded(timeouts, stream)
    return anthropic.Anthropic(
        api_key=api_key,
        base_url=base_url or None,
        max_retries=max_retries,
        timeout=timeout,
        middleware=[guard],
    )


def guarded(timeouts: Timeouts, stream: bool) -> tuple[Any, Any]:
    """The client timeout (an httpx2.Timeout) and the guard middleware for it: what every
    anthropic SDK client the runner builds (first-party, Bedrock, Vertex) is given."""
    import httpx2

    read = timeouts.read_s if stream else timeouts.total_s
    timeout = httpx2.Timeout(connect=timeouts.connect_s, read=read, write=read, pool=read)
    return timeout, _Guard(timeout)


@contextmanager
def deadline(seconds: float) -> Iterator[float]:
    """Bound every request made inside the block to `seconds` from now, in total."""
    end = time.monotonic() + seconds
    token = _deadline.set(end)
    try:
        yield end
    finally:
        _deadline.reset(token)


def spend_limit(status: int, body: Any) -> str | None:
    """The API's message when `body` says a spend limit stops all work, else None."""
    error = body.get("error", body) if isinstance(body, Mapping) else None
    if not isinstance(error, Mapping):
        return None
    message = str(error.get("message") or "")
    details = error.get("details")
    code = details.get("error_code") if isinstance(details, Mapping) else None
    if status == 429 and code in SPEND_LIMIT_CODES:
        return message or str(code)
    if status in (400, 429) and any(p in message.lower() for p in SPEND_LIMIT_PHRASES):
        return message
    return None


@dataclass(frozen=True)
class _Guard:
    """SDK middleware, run once per attempt inside the SDK's retry loop (a plain
    callable, so this module needs no SDK import to define it)."""

    timeout: Any  # the client's httpx2.Timeout

    def __call__(self, request: Any, call_next: Any) -> Any:
        end = _deadline.get()
        if end is not None:
            left = end - time.monotonic()
            if left <= 0:
                raise ModelTimeout("the model call ran out of its total timeout")
            if _longest(self.timeout, request.timeout) > left:
                request = request.copy(timeout=_capped(self.timeout, request.timeout, left))
        response = call_next(request)
        if response.status_code in (400, 429):
            try:
                body = json.loads(response.http_response.read() or b"{}")
            except ValueError:
                body = None
            message = spend_limit(response.status_code, body)
            if message is not None:
                raise SpendLimitReached(response.status_code, message)
        return response


def _longest(default: Any, given: Any) -> float:
    """The attempt's longest timeout phase (inf for an unbounded one). Only an attempt
    that could outlive the deadline gets a capped copy: `APIRequest.copy` deep-copies
    the whole conversation, which would cost every turn a copy of the context for the
    rare call that runs near the end of its total timeout."""
    import httpx2

    timeout = given if isinstance(given, httpx2.Timeout | int | float) else default
    if isinstance(timeout, int | float):
        return float(timeout)
    phases = (timeout.connect, timeout.read, timeout.write, timeout.pool)
    return max(float("inf") if p is None else float(p) for p in phases)


def _capped(default: Any, given: Any, left: float) -> Any:
    """The attempt's timeout (the call's own, else the client's), no phase above `left`."""
    import httpx2

    timeout = given if isinstance(given, httpx2.Timeout | int | float) else default
    if isinstance(timeout, int | float):
        return min(float(timeout), left)
    return httpx2.Timeout(
        connect=min(timeout.connect or left, left),
        read=min(timeout.read or left, left),
        write=min(timeout.write or left, left),
        pool=min(timeout.pool or left, left),
    )


def remaining() -> float | None:
    """Seconds left of the current model call's total deadline (None outside one), for a
    client without middleware (runner/engines/openai_compat.py) to bound each request."""
    end = _deadline.get()
    return None if end is None else end - time.monotonic()


def capped(timeout: Any, left: float) -> Any:
    """`timeout` (an httpx2.Timeout) with no phase above `left` seconds."""
    return _capped(timeout, timeout, left)
