"""GitHub App authentication for the writing side: an installation token instead of the
Actions `GITHUB_TOKEN`.

A pull request opened with `GITHUB_TOKEN` triggers no workflow, so a repository's own
CI never runs on an agent PR. With `FLEET_GITHUB_APP_ID` and
`FLEET_GITHUB_APP_PRIVATE_KEY` set (the apply job's secrets), the runner signs a JWT as
the App, finds its installation on the repository and mints an installation token
scoped to that one repository and to the permissions a writer needs; pushes and API
calls then act as the App, and CI runs on its PRs like on anyone's. The token is minted
once per process and never written anywhere.
"""

from __future__ import annotations

from collections.abc import Mapping
from functools import cache
from typing import Any

from runner.errors import ConfigError, FleetError
from runner.secretscan import Secret

APP_ID, APP_KEY = "FLEET_GITHUB_APP_ID", "FLEET_GITHUB_APP_PRIVATE_KEY"
PERMISSIONS = {"contents": "write", "pull_requests": "write", "issues": "write"}


def configured(environ: Mapping[str, str]) -> bool:
    return bool(environ.get(APP_ID) and environ.get(APP_KEY))


def mode(environ: Mapping[str, str]) -> str:
    """How the GitHub forge authenticates, in words (`fleet doctor`, the PR note)."""
    if configured(environ):
        return f"GitHub App {environ.get(APP_ID)} (installation token; CI runs on agent PRs)"
    return "GITHUB_TOKEN (the repository's CI does not run on PRs the runner opens)"


def secrets(environ: Mapping[str, str]) -> list[Secret]:
    """The minted token as a known secret, for the apply phase's scan (it is in no
    environment variable, so `known_secrets` cannot find it)."""
    return [Secret("GITHUB_APP_TOKEN", token(environ) or "")] if configured(environ) else []


def token(environ: Mapping[str, str]) -> str | None:
    """The token the runner authenticates with: an App installation token when the App is
    configured, else `GITHUB_TOKEN`."""
    if not configured(environ):
        return environ.get("GITHUB_TOKEN")
    repository = environ.get("GITHUB_REPOSITORY", "")
    api = (environ.get("GITHUB_API_URL") or "https://api.github.com").rstrip("/")
    return _mint(api, repository, environ[APP_ID], environ[APP_KEY])


@cache
def _mint(api: str, repository: str, app_id: str, key: str) -> str:
    import requests
    from github import Auth

    if "/" not in repository:
        raise ConfigError(f"GITHUB_REPOSITORY={repository!r} is not owner/name")
    try:
        jwt = Auth.AppAuth(app_id, key.replace("\\n", "\n")).create_jwt()
    except Exception as exc:  # a malformed key: say which variable, never its value
        raise ConfigError(
            f"{APP_KEY} is not a usable private key ({type(exc).__name__})",
            hint="paste the App's .pem file whole into the secret",
        ) from None
    headers = {"Authorization": f"Bearer {jwt}", "Accept": "application/vnd.github+json"}
    found = _call(requests.get, f"{api}/repos/{repository}/installation", headers)
    if found.status_code == 401:  # GitHub could not verify the JWT: id and key disagree
        raise ConfigError(
            f"GitHub rejected the GitHub App {app_id}'s signed request (401): "
            f"{APP_ID} and {APP_KEY} are not the same App's, or the key was revoked",
            hint=f"set {APP_ID} to the App's id and {APP_KEY} to a current private key "
            "of that App (its settings page, Private keys)",
        )
    if found.status_code == 404:
        raise ConfigError(
            f"the GitHub App {app_id} is not installed on {repository} "
            f"(GET /repos/{repository}/installation: {found.status_code})",
            hint="install the App on the repository, or unset FLEET_GITHUB_APP_ID",
        )
    _unavailable(found, "find the App's installation")
    body: dict[str, Any] = {
        "repositories": [repository.split("/", 1)[1]],
        "permissions": dict(PERMISSIONS),
    }
    url = f"{api}/app/installations/{found.json()['id']}/access_tokens"
    minted = _call(requests.post, url, headers, json=body)
    if minted.status_code in (401, 403, 404, 422):
        raise ConfigError(
            f"the GitHub App {app_id} could not get an installation token for {repository} "
            f"({minted.status_code}): it needs contents, pull requests and issues: write",
            hint="grant the App those permissions (and accept them on the installation)",
        )
    _unavailable(minted, "mint the installation token")
    return str(minted.json()["token"])


def _call(method: Any, url: str, headers: dict[str, str], **kwargs: Any) -> Any:
    """One request of the minting; a network failure is the forge being unreachable (exit
    1, run again), not a bug and not the configuration."""
    import requests

    try:
        return method(url, headers=headers, timeout=30, **kwargs)
    except requests.RequestException as exc:
        raise FleetError(
            f"cannot reach the GitHub API at {url.split('/repos/')[0].split('/app/')[0]} "
            f"to authenticate as the GitHub App ({type(exc).__name__})",
            hint="check GITHUB_API_URL (unset means https://api.github.com) and the "
            "network, then run the command again",
        ) from None


def _unavailable(answer: Any, doing: str) -> None:
    """Any other answer than success (a 5xx, a rate limit) is GitHub's side: say so, and
    that a re-run is what to do, instead of blaming the App's installation."""
    if answer.status_code not in (200, 201):
        raise FleetError(
            f"GitHub answered {answer.status_code} when asked to {doing} for the GitHub App",
            hint="GitHub may be unavailable or rate-limiting: run the command again later",
        )
