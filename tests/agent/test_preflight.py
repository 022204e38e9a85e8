"""The key preflight against the fake Messages API, over real HTTP with the real SDK."""

from __future__ import annotations

from runner.agent import client
from runner.agent.preflight import preflight
from tests.fakes.anthropic_server import FakeAnthropic, error, hang, spend_limit

FAST = client.Timeouts(connect_s=1, read_s=0.3, total_s=2)


def _client(fake: FakeAnthropic, key: str = "sk-ant-good", retries: int = 0):
    return client.build(key, fake.url, max_retries=retries, timeouts=FAST)


def test_a_good_key_is_ok_with_one_cheap_listing() -> None:
    with FakeAnthropic(api_key="sk-ant-good") as fake:
        result = preflight(_client(fake))
    assert result.ok and result.status == "ok"
    assert fake.model_requests == ["/v1/models?limit=1"] and fake.requests == []


def test_a_rejected_key_is_a_credential_problem_without_retries() -> None:
    with FakeAnthropic(api_key="sk-ant-good") as fake:
        result = preflight(_client(fake, key="sk-ant-dead", retries=2))
    assert result.status == "credential" and result.http_status == 401
    assert "invalid x-api-key" in result.detail
    assert len(fake.model_requests) == 1


def test_a_key_without_permission_is_a_credential_problem() -> None:
    denied = error(403, "permission_error", "this key may not use the API")
    with FakeAnthropic(models_script=[denied]) as fake:
        result = preflight(_client(fake))
    assert (result.status, result.http_status) == ("credential", 403)


def test_an_outage_is_unavailable_after_the_sdk_retries() -> None:
    overloaded = error(529, "overloaded_error", "Overloaded")
    with FakeAnthropic(models_script=[overloaded] * 2) as fake:
        result = preflight(_client(fake, retries=1))
    assert result.status == "unavailable" and result.http_status == 529
    assert len(fake.model_requests) == 2


def test_a_hang_is_unavailable_within_the_timeouts() -> None:
    with FakeAnthropic(models_script=[hang(30)] * 3) as fake:
        result = preflight(_client(fake, retries=2), timeout_s=1.0)
    assert result.status == "unavailable" and not result.ok
    assert "Timeout" in result.detail
    assert 1 <= len(fake.model_requests) <= 3


def test_an_enforced_spend_limit_is_a_budget_stop_without_retries() -> None:
    with FakeAnthropic(models_script=[spend_limit()] * 3) as fake:
        result = preflight(_client(fake, retries=2))
    assert (result.status, result.http_status) == ("budget", 429)
    assert "enforced spend limit" in result.detail
    assert len(fake.model_requests) == 1
