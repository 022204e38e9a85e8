"""`provider:` in the files: the schemas name exactly the providers the runner has,
`fleet validate` says what is missing, `fleet doctor` what each provider needs here, and
`fleet run --dry-run` shows the first request as that provider would receive it."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from runner.engines import providers
from tests.conftest import commit_all

ROOT = Path(__file__).resolve().parents[2]


def test_the_schemas_name_exactly_the_runners_providers() -> None:
    role = json.loads((ROOT / "schemas/role.schema.json").read_text())
    fleet = json.loads((ROOT / "schemas/fleet.schema.json").read_text())
    assert tuple(role["properties"]["provider"]["enum"]) == providers.NAMES
    assert tuple(fleet["$defs"]["provider"]["enum"]) == providers.NAMES
    assert tuple(fleet["properties"]["providers"]["properties"]) == providers.NAMES


def _provider(repo: Path, provider: str, settings: str = "", role: str = "cto") -> None:
    path = repo / f"fleet/roles/{role}.yaml"
    path.write_text(path.read_text() + f"provider: {provider}\n")
    if settings:
        cfg = repo / "fleet/fleet.yaml"
        cfg.write_text(cfg.read_text() + f"providers:\n  {provider}: {settings}\n")


def test_validate_wants_an_endpoint_and_a_price_for_a_self_hosted_model(
    example: Path, fleet_cli
) -> None:
    _provider(example, "openai-compatible")
    role = example / "fleet/roles/cto.yaml"
    role.write_text(role.read_text() + "model: qwen3-coder\n")
    result = fleet_cli("-C", str(example), "validate")
    assert result.exit_code == 1
    assert "needs an endpoint: set providers.openai-compatible.base_url" in result.output
    assert "[provider-endpoint]" in result.output
    assert "model 'qwen3-coder' (openai-compatible) has no price" in result.output
    assert "prices: {qwen3-coder: {input: ..., output: ...}}" in result.output


def test_an_unpriced_model_is_an_error_not_a_warning(example: Path, fleet_cli) -> None:
    """Its cost would be 0, so no budget could stop it: a warning (exit 0) let a fleet
    run with its budgets silently off; a price of 0 is how to say a model is free."""
    role = example / "fleet/roles/cto.yaml"
    role.write_text(role.read_text() + "model: claude-unknown-9\n")
    result = fleet_cli("-C", str(example), "validate")
    assert result.exit_code == 1, result.output
    assert "error: model 'claude-unknown-9' (anthropic) has no price" in result.output
    assert "budgets cannot stop it" in result.output
    cfg = example / "fleet/fleet.yaml"
    text = cfg.read_text()
    head, sep, tail = text.partition("\nprices:")
    first, newline, rest = tail.partition("\n")
    free = "  claude-unknown-9: {input: 0, output: 0}\n"
    cfg.write_text(head + sep + first + newline + free + rest)
    again = fleet_cli("-C", str(example), "validate")
    assert again.exit_code == 0, again.output


def test_validate_refuses_an_unknown_provider_at_its_line(example: Path, fleet_cli) -> None:
    _provider(example, "azure")
    result = fleet_cli("-C", str(example), "validate")
    assert result.exit_code == 1 and "fleet/roles/cto.yaml" in result.output
    assert "provider" in result.output


def _doctor(repo: Path, fleet_cli, monkeypatch: pytest.MonkeyPatch, **env: str) -> list[dict]:
    for name in (
        "ANTHROPIC_API_KEY",
        "AWS_REGION",
        "AWS_DEFAULT_REGION",
        "AWS_BEARER_TOKEN_BEDROCK",
    ):
        monkeypatch.delenv(name, raising=False)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("FLEET_FORGE", "local")
    result = fleet_cli("-C", str(repo), "doctor", "--format", "json")
    return [c for c in json.loads(result.stdout) if c["name"] == "engine anthropic"]


def test_doctor_lists_each_providers_needs(repo: Path, fleet_cli, monkeypatch) -> None:
    _provider(repo, "bedrock", "{api_key_env: AWS_BEARER_TOKEN_BEDROCK}")
    commit_all(repo, "cto on bedrock")
    checks = _doctor(repo, fleet_cli, monkeypatch, AWS_BEARER_TOKEN_BEDROCK="bedrock-key")
    bedrock = [c for c in checks if "bedrock" in c["detail"]]
    assert len(bedrock) == 1 and bedrock[0]["level"] == "warn"
    detail = bedrock[0]["detail"]
    assert "AWS_REGION is not set" in detail and "(roles: cto)" in detail
    assert "credentials: AWS_BEARER_TOKEN_BEDROCK" in detail
    checks = _doctor(
        repo, fleet_cli, monkeypatch, AWS_BEARER_TOKEN_BEDROCK="bedrock-key", AWS_REGION="eu-west-1"
    )
    bedrock = [c for c in checks if "bedrock" in c["detail"]]
    assert bedrock[0]["level"] == "ok" and "eu-west-1" in bedrock[0]["detail"]
    # the other model roles are still on the Anthropic API, and say so separately
    anthropic = [c for c in checks if "ANTHROPIC_API_KEY is not set" in c["detail"]]
    assert anthropic and "cto" not in anthropic[0]["detail"]


@pytest.mark.parametrize(
    ("provider", "settings", "url", "auth"),
    [
        ("anthropic", "", "https://api.anthropic.com/v1/messages", "x-api-key: $ANTHROPIC_API_KEY"),
        (
            "bedrock",
            "{region: eu-west-1}",
            "https://bedrock-runtime.eu-west-1.amazonaws.com/model/claude-sonnet-5-5/invoke-with-response-stream",
            "AWS4-HMAC-SHA256",
        ),
        (
            "vertex",
            "{region: us-east5, project: acme-ai}",
            "https://us-east5-aiplatform.googleapis.com/v1/projects/acme-ai/locations/us-east5/"
            "publishers/anthropic/models/claude-sonnet-5-5:streamRawPredict",
            "Authorization: Bearer",
        ),
        (
            "openai-compatible",
            '{base_url: "http://127.0.0.1:8000/v1", api_key_env: VLLM_KEY}',
            "http://127.0.0.1:8000/v1/chat/completions",
            "Authorization: Bearer $VLLM_KEY",
        ),
    ],
)
def test_dry_run_shows_the_first_request_as_the_provider_receives_it(
    repo: Path, fleet_cli, provider: str, settings: str, url: str, auth: str
) -> None:
    _provider(repo, provider, settings)
    commit_all(repo, f"cto on {provider}")
    result = fleet_cli("-C", str(repo), "run", "--role", "cto", "--dry-run")
    assert result.exit_code == 0, result.output
    request = result.output.split(f"--- first request ({provider}) ---\n", 1)[1]
    line, header, body = request.split("\n", 2)
    assert line == f"POST {url}" and auth in header
    sent = json.loads(body)
    if provider == "openai-compatible":
        assert sent["model"] == "claude-sonnet-5-5" and sent["messages"][0]["role"] == "system"
        assert sent["tools"][0]["type"] == "function" and sent["stream_options"]["include_usage"]
    elif provider == "anthropic":
        assert sent["model"] == "claude-sonnet-5-5" and sent["tools"][-1]["cache_control"]
    else:  # the model travels in the URL; the cache breakpoints stay
        assert "model" not in sent and sent["anthropic_version"]
        assert sent["system"][-1]["cache_control"] == {"type": "ephemeral"}
    assert "sk-" not in request  # no credential value is ever printed


def test_settings_for_a_provider_no_role_names_are_a_warning(example: Path, fleet_cli) -> None:
    """providers.anthropic applies to roles that name the provider (or through
    defaults.provider); set alone, it would silently change nothing."""
    cfg = example / "fleet/fleet.yaml"
    cfg.write_text(
        cfg.read_text() + "providers:\n  anthropic: {base_url: 'https://gw.example/v1'}\n"
    )
    result = fleet_cli("-C", str(example), "validate")
    assert "[provider-unnamed]" in result.output and "not applied to role 'cto'" in result.output
    cfg.write_text(cfg.read_text().replace("defaults:\n", "defaults:\n  provider: anthropic\n", 1))
    assert "[provider-unnamed]" not in fleet_cli("-C", str(example), "validate").output


def test_a_first_party_model_name_on_bedrock_is_a_warning(example: Path, fleet_cli) -> None:
    _provider(example, "bedrock", "{region: us-east-1}")
    result = fleet_cli("-C", str(example), "validate")
    assert "model 'claude-sonnet-5-5' is not a Bedrock model id" in result.output
    role = example / "fleet/roles/cto.yaml"
    role.write_text(role.read_text() + "model: us.anthropic.claude-sonnet-5-5-v1:0\n")
    assert "[provider-model]" not in fleet_cli("-C", str(example), "validate").output
