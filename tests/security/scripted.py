"""One scripted run for the attack tests: the real engine, the real jail, the scripted
Messages API over HTTP, the local forge. Each test file names its role, task and script."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from runner.agent.jail import Jail, probe
from runner.forge.select import open_forge
from runner.outcome import anthropic_client
from runner.run import execute
from runner.run_outcome import RunOutcome
from runner.workspace import open_workspace
from tests.fakes.anthropic_server import FakeAnthropic

ENV = {
    "PATH": "/usr/bin:/bin",
    "HOME": "/tmp",
    "FLEET_FORGE": "local",
    "FLEET_NOW": "2026-11-24T10:30:00Z",
    "ANTHROPIC_API_KEY": "sk-ant-test",
    "STAGING_DATABASE_URL": "postgres://granted",
}


def run_scripted(
    repo: Path,
    steps: list,
    role: str = "tester",
    task: str = "t-100",
    extra_env: dict[str, str] | None = None,
) -> tuple[RunOutcome, FakeAnthropic]:
    with FakeAnthropic(steps) as fake:
        env = {**ENV, "ANTHROPIC_BASE_URL": fake.url, **(extra_env or {})}
        ws = open_workspace(repo, env)
        out = execute(
            ws, open_forge(ws), role, task, trigger="test", client_factory=anthropic_client(ws)
        )
    return out, fake


def dry_run_scripted(repo: Path, role: str = "tester", task: str = "t-100") -> RunOutcome:
    """`fleet run --dry-run` in process: nothing is called (the model URL is a dead port)."""
    ws = open_workspace(repo, {**ENV, "ANTHROPIC_BASE_URL": "http://127.0.0.1:9"})
    return execute(
        ws,
        open_forge(ws),
        role,
        task,
        trigger="test",
        client_factory=anthropic_client(ws),
        dry_run=True,
    )


def tool_results(request: dict) -> list[str]:
    """The text of each tool result in a request's last (user) turn."""
    blocks = [b for b in request["messages"][-1]["content"] if b.get("type") == "tool_result"]
    return [
        b["content"] if isinstance(b["content"], str) else json.dumps(b["content"]) for b in blocks
    ]


def require_jail() -> Jail:
    """The real sandbox, or skip the test; CI must have one (a skip there would hide
    that every jail test stopped running)."""
    jail = probe("auto")
    if not jail.isolated:
        if os.environ.get("CI"):
            pytest.fail(f"CI must run the real sandbox: {jail.reason}")
        pytest.skip(f"no sandbox on this machine: {jail.reason}")
    return jail
