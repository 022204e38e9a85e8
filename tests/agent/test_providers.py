"""Each provider's client, as the runner builds it, against a loopback fake of that
provider's wire protocol: the real SDKs (anthropic's Bedrock and Vertex clients, openai)
over real HTTP, nothing patched."""

from __future__ import annotations

import json
from typing import Any

import anthropic
import pytest

from runner.agent import client as sdk
from runner.engines import openai_compat, providers
from runner.engines.providers import Settings
from tests.fakes.anthropic_server import error, reply, text, tool, truncated
from tests.fakes.bedrock_server import ACCESS_KEY, REGION, SECRET_KEY, FakeBedrock, frame
from tests.fakes.openai_server import FakeOpenAI
from tests.fakes.vertex_server import TOKEN, FakeVertex

TIMEOUTS = sdk.Timeouts(connect_s=5, read_s=10, total_s=30)
AWS = {"AWS_ACCESS_KEY_ID": ACCESS_KEY, "AWS_SECRET_ACCESS_KEY": SECRET_KEY, "AWS_REGION": REGION}
MODEL = "anthropic.claude-sonnet-5-5-v1:0"
REQUEST: dict[str, Any] = {
    "model": MODEL,
    "max_tokens": 100,
    "system": [
        {"type": "text", "text": "You are the tester.", "cache_control": {"type": "ephemeral"}}
    ],
    "tools": [{"name": "finish", "description": "Finish.", "input_schema": {"type": "object"}}],
    "messages": [{"role": "user", "content": [{"type": "text", "text": "Do t-100."}]}],
}


def _final(client: Any, **extra: Any) -> Any:
    with sdk.deadline(30), client.messages.stream(**{**REQUEST, **extra}) as stream:
        return stream.get_final_message()


def _bedrock(fake: FakeBedrock, environ: dict[str, str] | None = None) -> Any:
    settings = Settings(base_url=fake.url)
    return providers.build("bedrock", settings, environ or AWS, max_retries=0, timeouts=TIMEOUTS)


def test_bedrock_streams_over_event_stream_frames_with_a_verified_signature() -> None:
    with FakeBedrock(
        [reply(text("Done."), tool("finish", summary="ok")), reply(text("plain"))]
    ) as fake:
        client = _bedrock(fake)
        message = _final(client)
        plain = client.messages.create(**REQUEST)
    assert [b.type for b in message.content] == ["text", "tool_use"]
    assert message.content[1].input == {"summary": "ok"} and message.stop_reason == "tool_use"
    assert message.usage.input_tokens > 0 and message.usage.output_tokens > 0
    assert plain.content[0].text == "plain"
    assert fake.calls == [
        f"POST /model/{MODEL}/invoke-with-response-stream",
        f"POST /model/{MODEL}/invoke",
    ]
    # the model travels in the path; the body keeps the cache breakpoint for Bedrock's caching
    assert fake.requests[0]["system"][0]["cache_control"] == {"type": "ephemeral"}


def test_bedrock_wrong_secret_or_unknown_key_is_a_permission_error_not_retried() -> None:
    with FakeBedrock([reply(text("never"))]) as fake:
        wrong = _bedrock(fake, {**AWS, "AWS_SECRET_ACCESS_KEY": "not-the-secret"})
        with pytest.raises(anthropic.PermissionDeniedError, match="signature"):
            _final(wrong)
        unknown = _bedrock(fake, {**AWS, "AWS_ACCESS_KEY_ID": "AKIAUNKNOWN000000000"})
        with pytest.raises(anthropic.PermissionDeniedError, match="security token"):
            unknown.messages.create(**REQUEST)
    assert fake.requests == []  # refused before the model saw anything


def test_bedrock_bearer_token_and_throttling_retried_by_the_sdk() -> None:
    throttled = error(429, "ThrottlingException", "Too many requests, please wait.")
    with FakeBedrock([throttled, reply(text("after a retry"))], bearer="bedrock-api-key") as fake:
        client = providers.build(
            "bedrock",
            Settings(base_url=fake.url, region=REGION, api_key_env="AWS_BEARER_TOKEN_BEDROCK"),
            {"AWS_BEARER_TOKEN_BEDROCK": "bedrock-api-key"},
            max_retries=1,
            timeouts=TIMEOUTS,
        )
        message = _final(client)
    assert message.content[0].text == "after a retry" and len(fake.requests) == 2


def test_event_stream_frame_is_the_documented_layout() -> None:
    """Prelude (total length, headers length, CRC32 of both), headers, payload, CRC32:
    botocore's own decoder reads it back (a corrupt CRC would raise)."""
    from botocore.eventstream import EventStreamBuffer

    raw = frame({":event-type": "chunk", ":message-type": "event"}, b'{"bytes":"e30="}')
    buffer = EventStreamBuffer()
    buffer.add_data(raw)
    (message,) = list(buffer)
    assert message.headers[":event-type"] == "chunk" and message.payload == b'{"bytes":"e30="}'
    assert int.from_bytes(raw[:4], "big") == len(raw)


def test_vertex_streams_with_an_access_token_from_the_named_variable() -> None:
    with FakeVertex([reply(text("hi")), error(401, "UNAUTHENTICATED", "bad token")]) as fake:
        settings = Settings(
            base_url=fake.base_url, region=fake.region, project=fake.project, api_key_env="VTOKEN"
        )
        client = providers.build(
            "vertex", settings, {"VTOKEN": TOKEN}, max_retries=0, timeouts=TIMEOUTS
        )
        assert _final(client, model="claude-sonnet-5-5").content[0].text == "hi"
        bad = providers.build(
            "vertex", settings, {"VTOKEN": "expired"}, max_retries=0, timeouts=TIMEOUTS
        )
        with pytest.raises(anthropic.AuthenticationError):
            bad.messages.create(**{**REQUEST, "model": "claude-sonnet-5-5"})
    assert fake.calls[0].endswith("/models/claude-sonnet-5-5:streamRawPredict")


def _openai(fake: FakeOpenAI, key: str = "sk-local", retries: int = 0) -> Any:
    settings = Settings(base_url=fake.base_url, api_key_env="LOCAL_KEY")
    return providers.build(
        "openai-compatible", settings, {"LOCAL_KEY": key}, max_retries=retries, timeouts=TIMEOUTS
    )


@pytest.mark.parametrize("stream", [True, False])
def test_openai_compatible_maps_tools_results_and_usage(stream: bool) -> None:
    script = [
        reply(text("Reading."), tool("read_file", path="a.md")),
        reply(tool("finish", summary="ok")),
    ]
    with FakeOpenAI(script, api_key="sk-local") as fake:
        client = _openai(fake)
        first = _final(client) if stream else client.messages.create(**REQUEST)
        call = first.content[1]
        follow = {
            **REQUEST,
            "messages": [
                *REQUEST["messages"],
                {
                    "role": "assistant",
                    "content": [b.model_dump(exclude_none=True) for b in first.content],
                },
                {
                    "role": "user",
                    "content": [
                        {
                            "type": "tool_result",
                            "tool_use_id": call.id,
                            "content": "no such file",
                            "is_error": True,
                        },
                        {"type": "text", "text": "Keep going."},
                    ],
                },
            ],
        }
        second = _final(client, **follow) if stream else client.messages.create(**follow)
    assert (
        first.stop_reason == "tool_use"
        and call.name == "read_file"
        and call.input == {"path": "a.md"}
    )
    assert second.content[0].name == "finish"
    sent = fake.requests[1]
    assert [m["role"] for m in sent["messages"]] == ["system", "user", "assistant", "tool", "user"]
    assert sent["messages"][0]["content"] == "You are the tester."
    assert sent["messages"][2]["tool_calls"][0]["function"] == {
        "name": "read_file",
        "arguments": json.dumps({"path": "a.md"}),
    }
    assert sent["messages"][3] == {
        "role": "tool",
        "tool_call_id": call.id,
        "content": "ERROR: no such file",
    }
    assert sent["tools"][0]["function"]["parameters"] == {"type": "object"}
    assert "cache_control" not in json.dumps(sent)  # these servers cache prefixes on their own
    assert sent.get("stream", False) is stream
    # the second prompt starts with the first: read from the cache, not billed as input
    assert second.usage.cache_read_input_tokens > 0
    assert (
        second.usage.input_tokens + second.usage.cache_read_input_tokens > first.usage.input_tokens
    )


def test_openai_compatible_errors_are_the_loops_error_family() -> None:
    quota = error(
        429,
        "insufficient_quota",
        "You exceeded your current quota.",
        {"error_code": "insufficient_quota"},
    )
    script = [error(529, "overloaded", "busy"), error(400, "invalid_request_error", "bad"), quota]
    with FakeOpenAI(script, api_key="sk-local") as fake:
        with pytest.raises(anthropic.AuthenticationError):
            _openai(fake, key="sk-wrong").messages.create(**REQUEST)
        client = _openai(fake)
        with pytest.raises(anthropic.InternalServerError):
            _final(client)
        with pytest.raises(anthropic.BadRequestError):
            client.messages.create(**REQUEST)
        with pytest.raises(sdk.SpendLimitReached, match="quota"):
            client.messages.create(**REQUEST)
        assert client.models.list(limit=1).data[0].id == "test-model"


@pytest.mark.parametrize("stream", [True, False])
def test_openai_compatible_cut_off_call_reads_as_max_tokens(stream: bool) -> None:
    long = tool("write_file", path="out/report.md", content="x" * 200)
    with FakeOpenAI([truncated(long)]) as fake:
        client = _openai(fake)
        message = _final(client) if stream else client.messages.create(**REQUEST)
    assert message.stop_reason == "max_tokens" and message.content[-1].type == "tool_use"


def test_openai_compatible_total_deadline_bounds_each_request() -> None:
    with FakeOpenAI([{"hang": 5}]) as fake:
        client = openai_compat.build("k", fake.base_url, max_retries=0, timeouts=TIMEOUTS)
        with pytest.raises((sdk.ModelTimeout, anthropic.APITimeoutError)), sdk.deadline(0.5):
            client.messages.create(**REQUEST)


def test_each_provider_configuration_needs_one_set_of_variables() -> None:
    local = Settings(base_url="http://127.0.0.1:8000/v1", api_key_env="VLLM_KEY")
    assert providers.required("anthropic", Settings()) == ("ANTHROPIC_API_KEY",)
    assert providers.required("bedrock", Settings()) == (
        "AWS_ACCESS_KEY_ID",
        "AWS_SECRET_ACCESS_KEY",
        "AWS_REGION",
    )
    bearer = Settings(region="eu-west-1", api_key_env="AWS_BEARER_TOKEN_BEDROCK")
    assert providers.required("bedrock", bearer) == ("AWS_BEARER_TOKEN_BEDROCK",)
    assert providers.required("openai-compatible", local) == ("VLLM_KEY",)
    assert providers.required("openai-compatible", Settings(base_url="http://x")) == ()
    assert providers.missing("bedrock", Settings(region="eu-west-1"), AWS) == []
    assert providers.missing("vertex", Settings(), {}) == [
        "GOOGLE_APPLICATION_CREDENTIALS",
        "CLOUD_ML_REGION",
        "ANTHROPIC_VERTEX_PROJECT_ID",
    ]
    assert providers.missing("openai-compatible", local, {}) == ["VLLM_KEY"]


def test_an_endpoint_without_a_models_route_passes_the_key_preflight() -> None:
    """Some gateways have no GET /models: a 404 says nothing about the key, so the run
    goes on and its first model call is the check (before: every run stopped as
    model_unavailable, forever)."""
    from runner.agent.preflight import preflight

    with FakeOpenAI([], api_key="sk-local", models_route=False) as fake:
        assert preflight(_openai(fake)).status == "ok"
        assert preflight(_openai(fake, key="sk-wrong")).status == "credential"
        assert fake.model_requests == ["/v1/models", "/v1/models"]


@pytest.mark.parametrize("code", ["insufficient_quota", None])
def test_an_openai_quota_429_reaches_the_server_once(code: str | None) -> None:
    """Older answers set only `type`; either way the SDK's 429 retries are skipped, while
    a plain rate limit is still retried."""
    quota = error(
        429, "insufficient_quota", "You exceeded your current quota.", {"error_code": code}
    )
    rate = error(
        429, "rate_limit_exceeded", "Rate limit reached.", {"error_code": "rate_limit_exceeded"}
    )
    with FakeOpenAI([quota, rate, rate, rate]) as fake:
        client = _openai(fake, retries=2)
        with pytest.raises(sdk.SpendLimitReached, match="quota") as stop:
            client.messages.create(**REQUEST)
        assert len(fake.requests) == 1 and "Billing" in stop.value.fix
        with pytest.raises(anthropic.RateLimitError):
            client.messages.create(**REQUEST)
        assert len(fake.requests) == 4  # the rate limit: the first try and two retries


@pytest.mark.parametrize(
    ("model", "field"),
    [
        ("o3-mini", "max_completion_tokens"),
        ("o1", "max_completion_tokens"),
        ("o4-mini-2025-04-16", "max_completion_tokens"),
        ("gpt-5", "max_completion_tokens"),
        ("gpt-5.1-codex", "max_completion_tokens"),
        ("openai/gpt-5-mini", "max_completion_tokens"),  # a gateway's provider/model id
        ("gpt-4o", "max_tokens"),
        ("qwen3-coder-30b", "max_tokens"),  # self-hosted servers keep the classic field
        ("omni-7b", "max_tokens"),
    ],
)
def test_openai_reasoning_models_get_max_completion_tokens(model: str, field: str) -> None:
    """The API refuses `max_tokens` on its reasoning models (the fake answers 400 as the
    API does); every other model keeps `max_tokens`, which vLLM and Ollama read."""
    with FakeOpenAI([reply(text("ok"))]) as fake:
        answer = _openai(fake).messages.create(**{**REQUEST, "model": model, "max_tokens": 512})
    assert answer.content[0].text == "ok"
    (sent,) = fake.requests
    other = {"max_tokens", "max_completion_tokens"} - {field}
    assert sent[field] == 512 and not other & set(sent)
