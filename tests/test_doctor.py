from __future__ import annotations

import json
from pathlib import Path

from runner.commands.doctor import git_version
from tests.fakes.github_server import FakeGitHub


def test_git_version_parsing() -> None:
    assert git_version("git version 2.39.5") == (2, 39)
    assert git_version("git version 2.30.1 (Apple Git-130)") == (2, 30)
    assert git_version("nonsense") == (0, 0)


def _checks(out) -> dict[str, dict]:
    return {c["name"]: c for c in json.loads(out.stdout)}


def test_doctor_on_a_local_checkout(repo: Path, fleet_cli, monkeypatch) -> None:
    monkeypatch.setenv("FLEET_FORGE", "local")
    monkeypatch.delenv("ANTHROPIC_API_KEY", raising=False)
    out = fleet_cli("-C", str(repo), "doctor", "--format", "json")
    assert out.exit_code == 0, out.output
    checks = _checks(out)
    assert checks["fleet"]["level"] == "ok"
    assert checks["engine anthropic"]["level"] == "warn"
    assert "ANTHROPIC_API_KEY is not set" in checks["engine anthropic"]["detail"]
    assert "STAGING_DATABASE_URL" in checks["role fullstack"]["detail"]
    assert checks["forge local"]["level"] == "ok"


def test_doctor_fails_on_a_rejected_token_and_a_broken_fleet(
    repo: Path, fleet_cli, monkeypatch
) -> None:
    with FakeGitHub() as gh:
        for k, v in {
            "GITHUB_TOKEN": "ghs_wrong",
            "GITHUB_REPOSITORY": "acme/fleet",
            "GITHUB_API_URL": gh.url,
            "FLEET_GITHUB_BACKOFF": "0",
        }.items():
            monkeypatch.setenv(k, v)
        out = fleet_cli("-C", str(repo), "doctor", "--format", "json")
        (repo / "tasks/t-001.yaml").write_text("id: t-001\n")
        broken = fleet_cli("-C", str(repo), "doctor")
    assert out.exit_code == 1
    assert "GITHUB_TOKEN was rejected" in _checks(out)["forge github"]["detail"]
    assert broken.exit_code == 1 and "FAIL  fleet" in broken.stdout
    assert "tasks/t-001.yaml" in broken.stdout


def _closed_port() -> int:
    """A loopback port nothing listens on (bound, then released)."""
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_doctor_reports_an_unreachable_github_api_as_a_failed_check(
    repo: Path, fleet_cli, monkeypatch
) -> None:
    """A GitHub API nobody answers (a wrong GITHUB_API_URL, no network) is the forge
    check failing with what to do, not a traceback; the other checks still report."""
    for k, v in {
        "GITHUB_TOKEN": "ghs_test_token",
        "GITHUB_REPOSITORY": "acme/fleet",
        "GITHUB_API_URL": f"http://127.0.0.1:{_closed_port()}",
        "FLEET_GITHUB_RETRIES": "1",
        "FLEET_GITHUB_BACKOFF": "0",
    }.items():
        monkeypatch.setenv(k, v)
    out = fleet_cli("-C", str(repo), "doctor", "--format", "json")
    assert out.exit_code == 1, out.output
    checks = _checks(out)
    forge = checks["forge github"]
    assert forge["level"] == "fail"
    assert "cannot reach the GitHub API" in forge["detail"]
    assert "GITHUB_API_URL" in forge["detail"]  # what to do
    assert checks["fleet"]["level"] == "ok" and checks["git"]["level"] == "ok"
    status = fleet_cli("-C", str(repo), "status")  # every command says the same, exit 1
    assert status.exit_code == 1
    assert "cannot reach the GitHub API" in status.output and "GITHUB_API_URL" in status.output


def test_doctor_names_an_mcp_server_command_it_cannot_find(
    repo: Path, fleet_cli, monkeypatch
) -> None:
    monkeypatch.setenv("FLEET_FORGE", "local")
    cto = repo / "fleet/roles/cto.yaml"
    cto.write_text(
        cto.read_text()
        + "mcp_servers:\n  docs: {command: no-such-mcp-server}\n  sh: {command: sh}\n"
        + "mcp_tools: ['docs/*', 'sh/*']\n"
    )
    out = fleet_cli("-C", str(repo), "doctor", "--format", "json")
    detail = json.dumps(out.output)
    assert "MCP server command not found on PATH (docs: no-such-mcp-server)" in detail, detail
    assert "sh: sh" not in detail


def test_doctor_asks_an_unavailable_github_once_more_not_five_times(
    repo: Path, fleet_cli, monkeypatch
) -> None:
    """A diagnosis waited out every retry with backoff (~30 s of silence with the
    defaults) before saying GitHub is unavailable; it asks once more. The setting, when
    given, still wins."""
    with FakeGitHub() as gh:
        gh.fail("GET", r"/pulls$", 502, times=100)
        for k, v in {
            "GITHUB_TOKEN": gh.token,
            "GITHUB_REPOSITORY": "acme/fleet",
            "GITHUB_API_URL": gh.url,
        }.items():
            monkeypatch.setenv(k, v)
        out = fleet_cli("-C", str(repo), "doctor", "--format", "json")
        asked = [p for m, p in gh.log if m == "GET" and p.split("?")[0].endswith("/pulls")]
        monkeypatch.setenv("FLEET_GITHUB_RETRIES", "0")
        fleet_cli("-C", str(repo), "doctor", "--format", "json")
        once = [p for m, p in gh.log if m == "GET" and p.split("?")[0].endswith("/pulls")]
        status = fleet_cli("-C", str(repo), "status")  # any command: exit 1, said, no bug
    assert status.exit_code == 1 and "internal error" not in status.output, status.output
    assert "server errors (5xx)" in status.output
    assert out.exit_code == 1, out.output  # a 5xx after the retries was an internal error
    forge = _checks(out)["forge github"]
    assert forge["level"] == "fail" and "server errors (5xx)" in forge["detail"], forge
    assert "run the command again later" in forge["detail"]
    assert len(asked) == 2, asked
    assert len(once) - len(asked) == 1
