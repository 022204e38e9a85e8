"""Where the built-in loop's model calls go: the Anthropic API, Amazon Bedrock, Google
Vertex AI, or any OpenAI-compatible chat-completions endpoint (vLLM, Ollama, llama.cpp's
server, a gateway).

Why through the anthropic SDK's own Bedrock and Vertex clients: they speak each cloud's
wire protocol (SigV4 and the event-stream framing; Google OAuth and rawPredict) and
return the same Messages objects and errors, so the loop, its limits and its tests are
the provider-independent part. The OpenAI-compatible path goes through the `openai`
package wrapped in the same surface (runner/engines/openai_compat.py).

Credentials come from each provider's standard environment variables, read here from
the workspace's environment (the edge) and passed to the client explicitly. Each
provider configuration has exactly one set of names it needs, so the run path can refuse
to start without them, `fleet doctor` can say which are missing, and a rejected one is
one escalation named after its first variable (roles that share it share its fate):

- anthropic: ANTHROPIC_API_KEY (ANTHROPIC_BASE_URL for a proxy);
- bedrock: AWS_ACCESS_KEY_ID + AWS_SECRET_ACCESS_KEY (+ AWS_SESSION_TOKEN: what
  aws-actions/configure-aws-credentials exports, OIDC included), or a Bedrock API key
  in the variable `api_key_env:` names (AWS_BEARER_TOKEN_BEDROCK by convention); the
  region from `region:` or AWS_REGION;
- vertex: GOOGLE_APPLICATION_CREDENTIALS (google-auth's default credentials: what
  google-github-actions/auth exports), or an access token in the variable
  `api_key_env:` names; the region from `region:` or CLOUD_ML_REGION, the project from
  `project:` or ANTHROPIC_VERTEX_PROJECT_ID;
- openai-compatible: the key in the variable `api_key_env:` names (none for a local
  server without one), the endpoint from `base_url:`.

No SDK is imported at module level: `fleet --help` and `fleet validate` import none.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from runner.agent import client as sdk
from runner.model import ProviderSettings, Role

NAMES = ("anthropic", "bedrock", "vertex", "openai-compatible")
DEFAULT = "anthropic"

# The variables each provider authenticates with, unless `api_key_env` names one.
KEYS: dict[str, tuple[str, ...]] = {
    "anthropic": ("ANTHROPIC_API_KEY",),
    "bedrock": ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"),
    "vertex": ("GOOGLE_APPLICATION_CREDENTIALS",),
    "openai-compatible": (),
}
# Which providers answer the key preflight (a cheap authenticated GET of one model):
# Bedrock's and Vertex's runtime endpoints have no such call; their first model call
# finds a dead credential instead, and the loop escalates it the same way.
PREFLIGHT = {"anthropic": True, "bedrock": False, "vertex": False, "openai-compatible": True}
# What a missing package is installed as.
EXTRAS = {
    "bedrock": "boto3 (pip install 'anthropic[bedrock]')",
    "vertex": "google-auth (pip install 'anthropic[vertex]')",
}


Settings = ProviderSettings  # fleet.yaml `providers: {<name>: {...}}`


def of(role: Role) -> tuple[str, Settings]:
    """The provider a role's model calls go to, and its settings."""
    return role.provider or DEFAULT, role.provider_settings


def keys(provider: str, settings: Settings) -> tuple[str, ...]:
    """The variables holding `provider`'s credentials for these settings."""
    if settings.api_key_env and provider != "anthropic":
        return (settings.api_key_env,)
    return KEYS[provider]


def required(provider: str, settings: Settings) -> tuple[str, ...]:
    """Every variable a run on `provider` needs set: its keys, then where to call (the
    region or project fleet.yaml does not say). The first names a rejected credential."""
    names = keys(provider, settings)
    return names + tuple(n for n in _placement(provider, settings) if n not in names)


def missing(provider: str, settings: Settings, environ: Mapping[str, str]) -> list[str]:
    """What to set before a role on `provider` can run ([] when nothing)."""
    return [n for n in required(provider, settings) if not environ.get(n)]


def describe(provider: str, settings: Settings, environ: Mapping[str, str]) -> str:
    """One line for `fleet doctor`: where the calls go and how they authenticate."""
    ways = " + ".join(keys(provider, settings)) or "no key"
    where = (
        settings.base_url
        or {
            "anthropic": environ.get("ANTHROPIC_BASE_URL") or "https://api.anthropic.com",
            "bedrock": f"bedrock-runtime in {_region(provider, settings, environ) or '?'}",
            "vertex": f"Vertex AI in {_region(provider, settings, environ) or '?'}",
            "openai-compatible": "(base_url not set)",
        }[provider]
    )
    return f"{provider}: {where}; credentials: {ways}"


def build(
    provider: str,
    settings: Settings,
    environ: Mapping[str, str],
    *,
    max_retries: int,
    timeouts: sdk.Timeouts,
    stream: bool = True,
) -> Any:
    """The client the loop calls for `provider`, with the runner's timeouts and guard."""
    if provider == "openai-compatible":
        from runner.engines import openai_compat

        key = environ.get(settings.api_key_env or "", "")
        base = settings.base_url or ""
        return openai_compat.build(
            key, base, max_retries=max_retries, timeouts=timeouts, stream=stream
        )
    if provider == "anthropic":
        return sdk.build(
            environ.get("ANTHROPIC_API_KEY", ""),
            environ.get("ANTHROPIC_BASE_URL") or settings.base_url,
            max_retries=max_retries,
            timeouts=timeouts,
            stream=stream,
        )
    import anthropic

    timeout, guard = sdk.guarded(timeouts, stream)
    common: dict[str, Any] = {"max_retries": max_retries, "timeout": timeout, "middleware": [guard]}
    token = environ.get(settings.api_key_env) if settings.api_key_env else None
    if provider == "bedrock":
        # a Bedrock API key when api_key_env names one, else the AWS keys; never both
        # (the SDK refuses both, and would read AWS_BEARER_TOKEN_BEDROCK from the process)
        static = token is None
        return anthropic.AnthropicBedrock(
            aws_access_key=environ.get("AWS_ACCESS_KEY_ID") if static else None,
            aws_secret_key=environ.get("AWS_SECRET_ACCESS_KEY") if static else None,
            aws_session_token=environ.get("AWS_SESSION_TOKEN") if static else None,
            api_key=token,
            aws_region=_region(provider, settings, environ),
            base_url=settings.base_url or environ.get("ANTHROPIC_BEDROCK_BASE_URL"),
            **common,
        )
    return anthropic.AnthropicVertex(
        region=_region(provider, settings, environ) or "",
        project_id=settings.project or environ.get("ANTHROPIC_VERTEX_PROJECT_ID") or "",
        access_token=token,
        base_url=settings.base_url or environ.get("ANTHROPIC_VERTEX_BASE_URL"),
        **common,
    )


def endpoint(provider: str, settings: Settings, environ: Mapping[str, str], model: str) -> str:
    """The URL a streamed model call is sent to (for dry runs)."""
    region = _region(provider, settings, environ) or "<region>"
    if provider == "openai-compatible":
        return f"{(settings.base_url or '<base_url>').rstrip('/')}/chat/completions"
    if provider == "bedrock":
        base = settings.base_url or f"https://bedrock-runtime.{region}.amazonaws.com"
        return f"{base}/model/{model}/invoke-with-response-stream"
    if provider == "vertex":
        base = settings.base_url or f"https://{region}-aiplatform.googleapis.com/v1"
        project = settings.project or environ.get("ANTHROPIC_VERTEX_PROJECT_ID") or "<project>"
        return (
            f"{base}/projects/{project}/locations/{region}/publishers/anthropic/models/"
            f"{model}:streamRawPredict"
        )
    base = environ.get("ANTHROPIC_BASE_URL") or settings.base_url or "https://api.anthropic.com"
    return f"{base.rstrip('/')}/v1/messages"


def wire_request(
    provider: str, settings: Settings, environ: Mapping[str, str], kwargs: dict[str, Any]
) -> tuple[str, list[str], dict[str, Any]]:
    """(URL, headers, body) of a streamed model call as `provider` receives it: what
    `fleet run --dry-run` shows. Header values that carry credentials are named, never
    shown."""
    url = endpoint(provider, settings, environ, kwargs["model"])
    if provider == "openai-compatible":
        from runner.engines import openai_compat

        body = {
            **openai_compat.request(kwargs),
            "stream": True,
            "stream_options": {"include_usage": True},
        }
        key = settings.api_key_env
        return url, [f"Authorization: Bearer ${key}" if key else "(no key)"], body
    if provider == "anthropic":
        return url, ["x-api-key: $ANTHROPIC_API_KEY"], {**kwargs, "stream": True}
    # the SDK's Bedrock and Vertex clients move the model into the URL and add the API
    # version; Bedrock's streaming is the URL too, Vertex keeps `stream` in the body
    from anthropic._constants import ANTHROPIC_API_VERSION

    body = {k: v for k, v in kwargs.items() if k != "model"}
    body["anthropic_version"] = ANTHROPIC_API_VERSION
    if provider == "vertex":
        token = settings.api_key_env
        who = f"${token}" if token else "(a token from GOOGLE_APPLICATION_CREDENTIALS)"
        return url, [f"Authorization: Bearer {who}"], {**body, "stream": True}
    if settings.api_key_env:
        return url, [f"Authorization: Bearer ${settings.api_key_env}"], body
    return url, ["Authorization: AWS4-HMAC-SHA256 (SigV4 with $AWS_ACCESS_KEY_ID)"], body


def _placement(provider: str, settings: Settings) -> tuple[str, ...]:
    """Variables that say where (not who): required unless fleet.yaml says it."""
    if provider == "bedrock" and not settings.region:
        return ("AWS_REGION",)
    if provider == "vertex":
        return (() if settings.region else ("CLOUD_ML_REGION",)) + (
            () if settings.project else ("ANTHROPIC_VERTEX_PROJECT_ID",)
        )
    return ()


def _region(provider: str, settings: Settings, environ: Mapping[str, str]) -> str | None:
    if settings.region:
        return settings.region
    if provider == "bedrock":
        return environ.get("AWS_REGION")
    if provider == "vertex":
        return environ.get("CLOUD_ML_REGION")
    return None


def package_missing(provider: str, settings: Settings) -> str:
    """What to install for `provider` when a package it needs is absent ("" when none)."""
    import importlib.util

    wanted = {"bedrock": "botocore", "openai-compatible": "openai"}.get(provider)
    if provider == "vertex" and not settings.api_key_env:
        wanted = "google.auth"
    if wanted is None or importlib.util.find_spec(wanted.split(".")[0]) is not None:
        return ""
    return f"the {wanted} package is not installed: {EXTRAS.get(provider, 'pip install ' + wanted)}"


def bedrock_model(model: str) -> bool:
    """Whether `model` looks like a Bedrock model id: `<vendor>.<model>` (an inference
    profile adds a region prefix, `us.<vendor>.<model>`) or an ARN; a first-party name
    such as `claude-sonnet-5-5` is refused by Bedrock at the first call."""
    return model.startswith("arn:") or "." in model
