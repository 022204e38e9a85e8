"""Is the model key good? One cheap authenticated call, before a run writes anything.

A dead key found by the first model call has already cost a ledger record and an
escalation per task; `GET /v1/models?limit=1` costs no tokens and answers 401/403 for
a rejected key, so the run path can stop (or escalate once) before any side effect.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

from runner.agent.client import ModelTimeout, SpendLimitReached, deadline

Status = Literal["ok", "credential", "budget", "unavailable"]
PREFLIGHT_TIMEOUT_S = 60.0


@dataclass(frozen=True)
class PreflightResult:
    status: Status  # ok | credential (401/403: key rejected) | budget (spend limit) | unavailable
    detail: str = ""  # the API's message, or what failed
    http_status: int | None = None

    @property
    def ok(self) -> bool:
        return self.status == "ok"


def preflight(client: Any, *, timeout_s: float = PREFLIGHT_TIMEOUT_S) -> PreflightResult:
    """List one model with `client` (the SDK client the run will use).

    `unavailable` covers an outage, a timeout and any other refusal (a proxy behind
    ANTHROPIC_BASE_URL without /v1/models answers 404): the key was not proven bad, the
    run should not start, and nobody needs to rotate a secret."""
    import anthropic

    try:
        with deadline(timeout_s):
            client.models.list(limit=1)
    except (anthropic.AuthenticationError, anthropic.PermissionDeniedError) as exc:
        return PreflightResult("credential", _message(exc), exc.status_code)
    except SpendLimitReached as exc:  # no model call can succeed until the limit is raised
        return PreflightResult("budget", exc.message, exc.status)
    except anthropic.APIStatusError as exc:
        return PreflightResult("unavailable", _message(exc), exc.status_code)
    except (anthropic.APIConnectionError, ModelTimeout) as exc:
        return PreflightResult("unavailable", f"{type(exc).__name__}: {exc}"[:300])
    return PreflightResult("ok")


def _message(exc: Any) -> str:
    body = getattr(exc, "body", None)
    if isinstance(body, dict):
        error = body.get("error", body)
        if isinstance(error, dict) and error.get("message"):
            return str(error["message"])[:300]
    return str(exc)[:300]
