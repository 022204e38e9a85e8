"""The built-in loop's scenario suite, once per provider: the same scripted sessions run
through `fleet run`'s path (execute) against the Anthropic API fake, a Bedrock runtime
fake (AnthropicBedrock, SigV4, event-stream), a Vertex fake (AnthropicVertex,
streamRawPredict) and an OpenAI-compatible fake (the openai package, chat completions).
Parametrised, not copied: each scenario says what happens in the provider-neutral terms
of the script and the outcome; `Wire` hides the wire.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from runner.forge.select import open_forge
from runner.outcome import anthropic_client
from runner.run import execute
from runner.workspace import open_workspace
from tests.conftest import commit_all, git
from tests.fakes.anthropic_server import FakeAnthropic, broken, error, reply, text, tool
from tests.fakes.bedrock_server import ACCESS_KEY, REGION, SECRET_KEY, FakeBedrock
from tests.fakes.openai_server import FakeOpenAI
from tests.fakes.vertex_server import TOKEN, FakeVertex

pytestmark = pytest.mark.slow  # end-to-end (git, fake servers, whole runs): CI runs it


PROVIDERS = ["anthropic", "bedrock", "vertex", "openai-compatible"]
KEY = "sk-provider-test-key"
# Every provider's secrets are in every run's environment: a role on one provider must
# never send another's (nor its own AWS secret, which only signs) to its endpoint.
DECOYS = {
    "ANTHROPIC_API_KEY": "sk-ant-decoy-never-sent-0000",
    "AWS_SECRET_ACCESS_KEY": "aws-decoy-secret-never-sent",
    "LOCAL_MODEL_KEY": "local-decoy-never-sent",
    "VERTEX_ACCESS_TOKEN": "ya29.decoy-never-sent",
    "GITHUB_TOKEN": "ghp_decoywritetokennever0000000000000000",
}
KEY_NAMES = {
    "anthropic": "ANTHROPIC_API_KEY",
    "bedrock": "AWS_ACCESS_KEY_ID",
    "vertex": "VERTEX_ACCESS_TOKEN",
    "openai-compatible": "LOCAL_MODEL_KEY",
}
# what each provider answers when the model is overloaded
OVERLOADED = {
    "anthropic": error(529, "overloaded_error", "Overloaded"),
    "bedrock": error(
        503, "ServiceUnavailableException", "Bedrock is unable to process your request."
    ),
    "vertex": error(529, "overloaded_error", "Overloaded"),
    "openai-compatible": error(503, "server_error", "The server is overloaded."),
}


@dataclass
class Wire:
    """One provider's fake and the environment that points the runner at it."""

    provider: str
    fake: Any
    env: dict[str, str]

    @property
    def model_calls(self) -> int:
        return len(self.fake.requests)

    def sent(self, i: int) -> str:
        """Request `i` as the model received it, as text (for provider-neutral checks)."""
        return json.dumps(self.fake.requests[i])


@contextmanager
def wire(
    provider: str, repo: Path, script: list[Any], *, good_key: bool = True, **fake_kw: Any
) -> Iterator[Wire]:
    base = {
        **DECOYS,
        "PATH": "/usr/bin:/bin",
        "HOME": "/tmp",
        "FLEET_FORGE": "local",
        "FLEET_NOW": "2026-11-24T10:30:00Z",
        "STAGING_DATABASE_URL": "postgres://staging-granted",
    }
    key = KEY if good_key else "sk-rejected"
    if provider == "bedrock":
        with FakeBedrock(script, **fake_kw) as fake:
            secret = SECRET_KEY if good_key else "not-the-secret"
            env = {
                **base,
                "AWS_ACCESS_KEY_ID": ACCESS_KEY,
                "AWS_SECRET_ACCESS_KEY": secret,
                "AWS_REGION": REGION,
                "ANTHROPIC_BEDROCK_BASE_URL": fake.url,
            }
            _configure(repo, provider, {})
            yield Wire(provider, fake, env)
    elif provider == "vertex":
        with FakeVertex(script, **fake_kw) as fake:
            settings = {"region": fake.region, "project": fake.project}
            _configure(repo, provider, {**settings, "api_key_env": "VERTEX_ACCESS_TOKEN"})
            token = TOKEN if good_key else "ya29.expired"
            env = {**base, "VERTEX_ACCESS_TOKEN": token, "ANTHROPIC_VERTEX_BASE_URL": fake.base_url}
            yield Wire(provider, fake, env)
    elif provider == "openai-compatible":
        with FakeOpenAI(script, api_key=KEY, **fake_kw) as fake:
            settings = {"base_url": fake.base_url, "api_key_env": "LOCAL_MODEL_KEY"}
            _configure(repo, provider, settings)
            yield Wire(provider, fake, {**base, "LOCAL_MODEL_KEY": key})
    else:
        with FakeAnthropic(script, api_key=KEY, **fake_kw) as fake:
            _configure(repo, provider, {})
            env = {**base, "ANTHROPIC_API_KEY": key, "ANTHROPIC_BASE_URL": fake.url}
            yield Wire(provider, fake, env)


def _configure(repo: Path, provider: str, settings: dict[str, str]) -> None:
    """fleet.yaml names the provider for every role (defaults.provider) and its settings."""
    cfg = repo / "fleet/fleet.yaml"
    text_ = cfg.read_text().replace("defaults:\n", f"defaults:\n  provider: {provider}\n", 1)
    if settings:
        text_ += f"providers:\n  {provider}: {json.dumps(settings)}\n"
    cfg.write_text(text_)
    commit_all(repo, f"provider {provider}")


def _run(repo: Path, w: Wire) -> Any:
    ws = open_workspace(repo, w.env)
    forge = open_forge(ws)
    outcome = execute(
        ws, forge, "tester", "t-100", trigger="test", client_factory=anthropic_client(ws)
    )
    return outcome, ws, forge


def _auth(w: Wire, name: str) -> bool:
    """Whether `name` is the credential this provider sends as is (its auth header)."""
    sent_as_is = {
        "anthropic": "ANTHROPIC_API_KEY",
        "vertex": "VERTEX_ACCESS_TOKEN",
        "openai-compatible": "LOCAL_MODEL_KEY",
    }
    return sent_as_is.get(w.provider) == name


@pytest.fixture(params=PROVIDERS)
def provider(request: pytest.FixtureRequest) -> str:
    return str(request.param)


def test_done_opens_a_ready_pr_with_usage_and_cost(agent_repo: Path, provider: str) -> None:
    script = [
        reply(text("Writing it."), tool("write_file", path="out/report.md", content="# Report\n")),
        reply(tool("finish", summary="Wrote out/report.md")),
    ]
    with wire(provider, agent_repo, script) as w:
        outcome, ws, _ = _run(agent_repo, w)
    record = outcome.record
    assert record.outcome == "done", record.reason
    assert outcome.pr is not None and not outcome.pr.draft
    assert git(agent_repo, "show", "fleet/tester/t-100:out/report.md") == "# Report\n"
    assert record.turns == 2 and w.model_calls == 2
    stored = [r for r in ws.runs() if r.run_id == record.run_id]
    assert record.provider == provider and [r.provider for r in stored] == [provider]
    assert record.usage["output_tokens"] > 0 and record.cost_usd > 0
    assert record.usage["cache_read_input_tokens"] > 0  # the second turn read the prefix
    assert "# Task t-100: Write the report" in w.sent(0) and "## Sync delta" in w.sent(0)
    sent = json.dumps([w.fake.requests, w.fake.headers])
    assert "postgres://staging-granted" not in sent
    secrets = {n: w.env[n] for n in DECOYS}  # decoys, or this provider's real values
    leaked = [n for n, v in secrets.items() if v in sent and not _auth(w, n)]
    assert leaked == []
    assert ws.ledger.checkpoint("tester").run_id == record.run_id


def test_acceptance_fails_then_passes(agent_repo: Path, provider: str) -> None:
    script = [
        reply(tool("finish", summary="Done already?")),
        reply(tool("write_file", path="out/report.md", content="x")),
        reply(tool("finish", summary="Now done")),
    ]
    with wire(provider, agent_repo, script) as w:
        outcome, _, _ = _run(agent_repo, w)
    assert outcome.record.outcome == "done" and outcome.record.attempts == 2
    assert "FAIL (exit 1)  test -f out/report.md" in w.sent(1)


def test_a_decision_escalates_and_blocks_the_task(agent_repo: Path, provider: str) -> None:
    script = [reply(tool("escalate", kind="decision", summary="Postgres or Redis for the queue?"))]
    with wire(provider, agent_repo, script) as w:
        outcome, ws, forge = _run(agent_repo, w)
    assert outcome.record.outcome == "escalated"
    assert outcome.issue.kind == "decision" and outcome.pr is None
    assert ws.states(ws.runs(), forge.view())["t-100"].state == "blocked"


def test_a_rejected_credential_is_one_credential_escalation_without_retries(
    agent_repo: Path, provider: str
) -> None:
    with wire(provider, agent_repo, [reply(tool("finish", summary="never"))], good_key=False) as w:
        outcome, _, _ = _run(agent_repo, w)
    assert outcome.record.outcome == "escalated", outcome.record.reason
    assert outcome.issue is not None and outcome.issue.kind == "credential"
    # filed under the provider's own key: a bad AWS key holds the Bedrock roles only
    assert KEY_NAMES[provider] in outcome.issue.title, outcome.issue.title
    assert w.model_calls == 0  # refused at the door (preflight or the signature check)
    assert len([c for c in w.fake.calls if c.startswith("POST")]) <= 1  # never retried


def test_an_overloaded_model_is_model_unavailable_after_the_sdk_retries(
    agent_repo: Path, provider: str
) -> None:
    with wire(provider, agent_repo, [OVERLOADED[provider]] * 3) as w:
        outcome, ws, forge = _run(agent_repo, w)
    assert w.model_calls == 3  # the first try and max_retries=2, then stop
    assert outcome.record.outcome == "model_unavailable" and outcome.issue is None
    assert ws.states(ws.runs(), forge.view())["t-100"].state == "open"


# what each provider sends when it fails in the middle of an answer
MID_ANSWER = {
    "anthropic": ("overloaded_error", "Overloaded"),
    "bedrock": ("throttlingException", "Too many tokens, please wait before trying again."),
    "vertex": ("overloaded_error", "Overloaded"),
    "openai-compatible": ("server_error", "The engine died while generating."),
}


def test_a_stream_that_fails_mid_answer_is_model_unavailable_with_the_work_kept(
    agent_repo: Path, provider: str
) -> None:
    """Before: the error event inside a 200 stream ended the run as `error`."""
    kind, message = MID_ANSWER[provider]
    script = [
        reply(tool("write_file", path="out/partial.md", content="half")),
        broken(reply(tool("finish", summary="never")), kind, message),
    ]
    with wire(provider, agent_repo, script) as w:
        outcome, ws, forge = _run(agent_repo, w)
    assert outcome.record.outcome == "model_unavailable", outcome.record.reason
    assert message in outcome.record.reason and outcome.issue is None
    assert git(agent_repo, "show", "fleet/tester/t-100:out/partial.md") == "half"
    assert ws.states(ws.runs(), forge.view())["t-100"].state != "blocked"


def test_the_budget_stops_the_run_and_keeps_the_work(agent_repo: Path, provider: str) -> None:
    task = agent_repo / "tasks/t-100.yaml"
    task.write_text(task.read_text() + "budget: {run_usd: 0.0001}\n")
    commit_all(agent_repo, "tiny budget")
    script = [
        reply(tool("write_file", path="out/partial.md", content="half")),
        reply(tool("finish", summary="never reached")),
    ]
    with wire(provider, agent_repo, script) as w:
        outcome, _, _ = _run(agent_repo, w)
    assert outcome.record.outcome == "budget" and w.model_calls == 1
    assert git(agent_repo, "show", "fleet/tester/t-100:out/partial.md") == "half"
    assert outcome.pr is not None and outcome.pr.draft


def test_the_same_failing_call_three_times_is_a_loop(agent_repo: Path, provider: str) -> None:
    with wire(provider, agent_repo, [reply(tool("read_file", path="missing.md"))] * 3) as w:
        outcome, _, _ = _run(agent_repo, w)
    assert outcome.record.outcome == "escalated" and outcome.issue.kind == "loop"
    assert w.model_calls == 3


WINDOW = 24_000


def test_a_long_session_compacts_and_never_exceeds_the_window(
    agent_repo: Path, provider: str
) -> None:
    cfg = agent_repo / "fleet/fleet.yaml"
    cfg.write_text(cfg.read_text().replace("context_window: 200000", f"context_window: {WINDOW}"))
    (agent_repo / "docs").mkdir(exist_ok=True)
    for n in range(1, 40):
        (agent_repo / f"docs/big-{n}.txt").write_text(
            "".join(f"line {i}: {'x' * 60}\n" for i in range(60))
        )
    commit_all(agent_repo, "big files, small window")
    turns = {"n": 0}

    def model(body: dict[str, Any]) -> dict[str, Any]:
        turns["n"] += 1
        if turns["n"] < 38:
            return reply(tool("read_file", path=f"docs/big-{turns['n']}.txt"))
        if turns["n"] == 38:
            return reply(tool("write_file", path="out/report.md", content="read it all"))
        return reply(tool("finish", summary="long session"))

    with wire(provider, agent_repo, [model] * 39, context_limit=WINDOW) as w:
        outcome, _, _ = _run(agent_repo, w)
    assert w.fake.over_limit == 0
    assert outcome.record.outcome == "done", outcome.record.reason
    assert outcome.record.turns == 39
    assert "[compacted to save context: read_file" in w.sent(-1)
    assert "# Task t-100" in w.sent(-1)  # the task is never cut


def test_the_dry_run_shows_the_request_the_provider_then_receives(
    agent_repo: Path, provider: str
) -> None:
    """`fleet run --dry-run` prints the first request; the real run then sends exactly
    that body (as the provider's fake received it, after the SDK's own changes)."""
    script = [reply(tool("escalate", kind="decision", summary="Which one?"))]
    with wire(provider, agent_repo, script) as w:
        ws = open_workspace(agent_repo, w.env)
        dry = execute(
            ws,
            open_forge(ws),
            "tester",
            "t-100",
            trigger="test",
            client_factory=anthropic_client(ws),
            dry_run=True,
        )
        _run(agent_repo, w)
    shown = json.loads(
        dry.dry_run.split(f"--- first request ({provider}) ---\n", 1)[1].split("\n", 2)[2]
    )
    received = dict(w.fake.requests[0])
    if provider == "bedrock":  # the fake logs the model and `stream` it read off the URL
        del received["model"], received["stream"]
    elif provider == "vertex":  # the model from the URL; Vertex keeps `stream` in the body
        del received["model"]
    assert shown == received


def test_an_openai_quota_429_is_a_budget_stop_without_a_retry(agent_repo: Path) -> None:
    """OpenAI's "insufficient_quota" 429 is no credit left, not a rate limit: the SDK's own
    429 retries (max_retries=2 here) must not repeat it, and the run stops as `budget`
    saying where the quota is raised (not the Anthropic Console)."""
    said = "You exceeded your current quota, please check your plan and billing details."
    quota = error(429, "insufficient_quota", said, {"error_code": "insufficient_quota"})
    with wire("openai-compatible", agent_repo, [quota] * 3) as w:
        outcome, ws, _ = _run(agent_repo, w)
    assert w.model_calls == 1  # asked once, never retried
    assert outcome.record.outcome == "budget" and said in outcome.record.reason
    assert outcome.issue is not None and outcome.issue.kind == "budget"
    (path,) = [p for p in ws.ledger.store.list("forge/issues/") if p.endswith("budget.json")]
    body = ws.ledger.store.read_json(path)["body"]
    assert "Billing" in body and "Anthropic Console" not in body
