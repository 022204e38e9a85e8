"""Agent PRs that run CI (issue 14 item 5): the apply side authenticates as a GitHub App
(an installation token minted from the App's key, scoped to the repository and the
writer's permissions) instead of the Actions token; with the Actions token the PR says
that CI did not run and how to change it; `fleet doctor` says which mode is in use.
Against the fake GitHub, which verifies the App's JWT with its public key."""

from __future__ import annotations

from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from tests.fakes.github_server import FakeGitHub
from tests.security.apply_helpers import AgentJob, add_wide_role, apply


def _keys() -> tuple[str, str]:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    private = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    ).decode()
    public = (
        key.public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
        .decode()
    )
    return private, public


@pytest.fixture
def wide(repo: Path) -> Path:
    add_wide_role(repo)
    return repo


def _env(gh: FakeGitHub, **extra: str) -> dict[str, str]:
    return {
        "GITHUB_REPOSITORY": "acme/fleet",
        "GITHUB_API_URL": gh.url,
        "FLEET_GITHUB_WRITE_INTERVAL": "0",
        "FLEET_GITHUB_BACKOFF": "0",
        **extra,
    }


def test_apply_as_a_github_app_opens_the_pr_with_a_scoped_installation_token(wide) -> None:
    private, public = _keys()
    with FakeGitHub(permissions={"founder-ana": "admin"}, app_public_key=public) as gh:
        env = _env(gh, FLEET_GITHUB_APP_ID="1", FLEET_GITHUB_APP_PRIVATE_KEY=private)
        job = AgentJob(wide, **env)  # no GITHUB_TOKEN anywhere: the App's token only
        job.write("docs/guide.md", "# Guide\n")
        job.commit()
        applied = apply(wide, job.outputs(), **env)
        (pr,) = gh.pulls()
    assert applied.pr is not None and applied.pushed
    (request,) = gh.app_tokens.values()  # minted once for the process
    assert request == {
        "repositories": ["fleet"],
        "permissions": {"contents": "write", "pull_requests": "write", "issues": "write"},
    }
    assert "CI did not run" not in pr["body"]


def test_with_the_actions_token_the_pr_says_ci_did_not_run(wide) -> None:
    with FakeGitHub(permissions={"founder-ana": "admin"}) as gh:
        env = _env(gh, GITHUB_TOKEN=gh.token)
        job = AgentJob(wide, **env)
        job.write("docs/guide.md", "# Guide\n")
        job.commit()
        apply(wide, job.outputs(), **env)
        (pr,) = gh.pulls()
    assert "CI did not run on this pull request" in pr["body"]
    assert "FLEET_GITHUB_APP_ID" in pr["body"]


def test_doctor_says_which_mode_and_a_bad_key_is_a_config_error(
    repo: Path, fleet_cli, monkeypatch
) -> None:
    private, public = _keys()
    with FakeGitHub(permissions={"founder-ana": "admin"}, app_public_key=public) as gh:
        for k, v in _env(gh, GITHUB_TOKEN=gh.token).items():
            monkeypatch.setenv(k, v)
        plain = fleet_cli("-C", str(repo), "doctor")
        assert "forge auth" in plain.stdout and "GITHUB_TOKEN (the repository's CI" in plain.stdout
        # the shipped workflows pass unset secrets as empty values: GITHUB_TOKEN mode
        monkeypatch.setenv("FLEET_GITHUB_APP_ID", "")
        monkeypatch.setenv("FLEET_GITHUB_APP_PRIVATE_KEY", "")
        empty = fleet_cli("-C", str(repo), "doctor")
        assert (
            "GITHUB_TOKEN (the repository's CI" in empty.stdout and "is empty" not in empty.stdout
        )
        monkeypatch.setenv("FLEET_GITHUB_APP_ID", "1")  # the key's secret misnamed
        half = fleet_cli("-C", str(repo), "doctor")
        assert "GITHUB_TOKEN (the repository's CI" in half.stdout
        assert "FLEET_GITHUB_APP_PRIVATE_KEY is empty while the other is set" in half.stdout
        monkeypatch.setenv("FLEET_GITHUB_APP_ID", "1")
        monkeypatch.setenv("FLEET_GITHUB_APP_PRIVATE_KEY", private)
        app = fleet_cli("-C", str(repo), "doctor")
        assert "GitHub App 1 (installation token" in app.stdout, app.stdout
        monkeypatch.setenv("FLEET_GITHUB_APP_PRIVATE_KEY", "not-a-key-0123456789")
        bad = fleet_cli("-C", str(repo), "status")
    assert bad.exit_code == 2
    assert "FLEET_GITHUB_APP_PRIVATE_KEY is not a usable private key" in bad.output
    assert "not-a-key-0123456789" not in bad.output


def _closed_port_url() -> str:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    return f"http://127.0.0.1:{port}"


def test_minting_failures_say_what_is_wrong_with_the_right_exit_code(
    repo: Path, fleet_cli, monkeypatch
) -> None:
    """A new user's App set-up mistakes: a key of another App (GitHub: 401) was reported
    as 'not installed'; an unreachable API was an internal error; a 502 was 'not
    installed' with exit 2, though a re-run is what fixes it."""
    private, public = _keys()
    other, _ = _keys()
    with FakeGitHub(permissions={"founder-ana": "admin"}, app_public_key=public) as gh:
        for k, v in _env(gh, FLEET_GITHUB_APP_ID="1").items():
            monkeypatch.setenv(k, v)
        monkeypatch.setenv("FLEET_GITHUB_APP_PRIVATE_KEY", other)
        wrong = fleet_cli("-C", str(repo), "status")
        monkeypatch.setenv("FLEET_GITHUB_APP_PRIVATE_KEY", private)
        gh.fail("GET", r"/installation$", 502)
        down = fleet_cli("-C", str(repo), "status")
        monkeypatch.setenv("GITHUB_API_URL", _closed_port_url())
        gone = fleet_cli("-C", str(repo), "status")
    assert wrong.exit_code == 2, wrong.output
    assert "rejected the GitHub App 1's signed request (401)" in wrong.output
    assert "not installed" not in wrong.output and "what to do:" in wrong.output
    assert down.exit_code == 1, down.output
    assert "GitHub answered 502" in down.output and "not installed" not in down.output
    assert gone.exit_code == 1, gone.output
    assert "internal error" not in gone.output
    assert "cannot reach the GitHub API" in gone.output and "GITHUB_API_URL" in gone.output
    for result in (wrong, down, gone):
        assert "BEGIN PRIVATE KEY" not in result.output


def test_doctor_lists_its_checks_when_the_app_cannot_reach_github(
    repo: Path, fleet_cli, monkeypatch
) -> None:
    """Opening the workspace mints the App's token; an unreachable API ended `fleet
    doctor` with an internal error, and then with one bare error line, not its list."""
    private, _ = _keys()
    monkeypatch.setenv("GITHUB_REPOSITORY", "acme/fleet")
    monkeypatch.setenv("GITHUB_API_URL", _closed_port_url())
    monkeypatch.setenv("FLEET_GITHUB_APP_ID", "1")
    monkeypatch.setenv("FLEET_GITHUB_APP_PRIVATE_KEY", private)
    out = fleet_cli("-C", str(repo), "doctor")
    assert out.exit_code == 1, out.output
    assert "ok    git " in out.stdout and "FAIL  fleet " in out.stdout
    assert "cannot reach the GitHub API" in out.stdout
    assert "1 problem(s)" in out.stdout
