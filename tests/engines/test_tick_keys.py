"""A tick without a model key says so once per missing key, naming the roles it stops,
and still runs the roles that need no key (before: one line per model role)."""

from __future__ import annotations

from pathlib import Path

from tests.conftest import commit_all


def test_a_missing_key_is_one_line_naming_its_roles(repo: Path, fleet_cli, monkeypatch) -> None:
    monkeypatch.delenv("ANTHROPIC_API_KEY", raising=False)
    monkeypatch.delenv("LOCAL_MODEL_KEY", raising=False)
    monkeypatch.setenv("FLEET_FORGE", "local")
    research = repo / "fleet/roles/research.yaml"
    research.write_text(research.read_text() + "provider: openai-compatible\n")
    cfg = repo / "fleet/fleet.yaml"
    cfg.write_text(
        cfg.read_text()
        + "providers:\n  openai-compatible:\n"
        + "    {base_url: 'http://127.0.0.1:9/v1', api_key_env: LOCAL_MODEL_KEY}\n"
    )
    commit_all(repo, "research on a local endpoint")
    result = fleet_cli(
        "-C",
        str(repo),
        "tick",
        "--due",
        "ceo",
        "--due",
        "cto",
        "--due",
        "research",
        "--due",
        "devops",
    )
    assert result.exit_code == 1
    lines = [line for line in result.stderr.splitlines() if "is not set" in line]
    assert len(lines) == 2, result.stderr
    anthropic, local = lines
    assert anthropic.startswith("ANTHROPIC_API_KEY is not set: role(s) ceo, cto")
    assert "research" not in anthropic and "add it as a repository secret" in anthropic
    assert local.startswith("LOCAL_MODEL_KEY is not set: role(s) research not run")
    assert "devops/t-001: done" in result.stdout  # a shell role needs no key and runs
