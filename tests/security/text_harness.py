"""A run of the `tester` role through the scripted Messages API and the fake GitHub, for
the untrusted-text attacks (hidden text, trust, mentions, markers)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from runner.commands.run import anthropic_client
from runner.forge.select import open_forge
from runner.run import execute
from runner.workspace import open_workspace
from tests.fakes.anthropic_server import FakeAnthropic
from tests.fakes.github_server import FakeGitHub

PEOPLE = {"founder-ana": "admin", "founder-ben": "write", "outsider": "read"}


def env(gh: FakeGitHub | None, fake: FakeAnthropic | None = None, **extra: str) -> dict[str, str]:
    base = {
        "PATH": "/usr/bin:/bin",
        "HOME": "/tmp",
        "FLEET_NOW": "2026-11-24T10:30:00Z",
        "STAGING_DATABASE_URL": "postgres://staging-granted",
        **extra,
    }
    if gh is not None:
        base |= {
            "GITHUB_TOKEN": gh.token,
            "GITHUB_REPOSITORY": "acme/fleet",
            "GITHUB_API_URL": gh.url,
            "FLEET_GITHUB_WRITE_INTERVAL": "0",
            "FLEET_GITHUB_BACKOFF": "0",
        }
    else:
        base["FLEET_FORGE"] = "local"
    if fake is not None:
        base |= {"ANTHROPIC_API_KEY": "sk-ant-test-key", "ANTHROPIC_BASE_URL": fake.url}
    return base


def run_tester(
    repo: Path,
    gh: FakeGitHub | None,
    fake: FakeAnthropic,
    task: str = "t-100",
    **kwargs: Any,
):
    ws = open_workspace(repo, env(gh, fake))
    forge = open_forge(ws)
    outcome = execute(
        ws, forge, "tester", task, trigger="test", client_factory=anthropic_client(ws), **kwargs
    )
    return outcome, ws, forge


def first_turn(fake: FakeAnthropic) -> str:
    """The text of the first user turn the model received (from the request body)."""
    return "".join(
        b.get("text", "") for b in fake.requests[0]["messages"][0]["content"] if isinstance(b, dict)
    )


def system_text(fake: FakeAnthropic) -> str:
    return "\n".join(b["text"] for b in fake.requests[0]["system"])


def tool_results(request: dict[str, Any]) -> list[dict[str, Any]]:
    return [b for b in request["messages"][-1]["content"] if b.get("type") == "tool_result"]
