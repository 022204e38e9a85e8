"""A stopped run's draft PR is resumed (issue 12 #1): a draft agent PR means the task is
in progress, so the next due run continues its branch with the sync delta (the answer to
an escalation included), and the PR leaves draft only when acceptance passes."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from runner.commands.run import anthropic_client
from runner.forge.select import open_forge
from runner.gitrepo import Git
from runner.run import execute
from runner.state import StateStore
from runner.workspace import open_workspace
from tests.conftest import commit_all, git
from tests.fakes.anthropic_server import FakeAnthropic, reply, tool
from tests.fakes.github_server import FakeGitHub

pytestmark = pytest.mark.slow  # end-to-end (git, fake servers, whole runs): CI runs it


NOW = "2026-11-24T10:30:00Z"
ANSWER = "Write out/report.md, not out/other.md."


def _first_turn(fake: FakeAnthropic) -> str:
    return json.dumps(fake.requests[0]["messages"][0]["content"])


def _env(monkeypatch, fake: FakeAnthropic, **extra: str) -> None:
    """FLEET_NOW fixes where each command's clock starts: steps a human takes later get a
    later time, as they would."""
    for k, v in {
        "FLEET_NOW": NOW,
        "FLEET_FORGE": "local",
        "ANTHROPIC_API_KEY": "sk-ant-test",
        "ANTHROPIC_BASE_URL": fake.url,
        "STAGING_DATABASE_URL": "postgres://x",
        **extra,
    }.items():
        monkeypatch.setenv(k, v)


def _plan(fleet_cli, repo: Path) -> dict[str, str]:
    data = json.loads(fleet_cli("-C", str(repo), "plan", "--format", "json").stdout)
    return {d["task"]: d["reason"] for d in data["picks"]}


def test_an_answered_failure_resumes_its_draft_on_the_local_forge(
    agent_repo: Path, fleet_cli, monkeypatch
) -> None:
    repo = agent_repo
    failing = [
        reply(tool("write_file", path="out/other.md", content="x")),
        reply(tool("finish", summary="1")),
        reply(tool("finish", summary="2")),
    ]
    with FakeAnthropic(failing) as fake:
        _env(monkeypatch, fake)
        first = fleet_cli("-C", str(repo), "run", "--role", "tester", "--task", "t-100")
    assert first.exit_code == 0, first.output
    assert "(draft)" in first.stdout and "failure" in first.stdout
    refused = fleet_cli("-C", str(repo), "local", "merge", "tester/t-100")
    assert refused.exit_code == 2 and "draft" in refused.output
    assert "fleet run --role tester --task t-100" in refused.output
    monkeypatch.setenv("FLEET_NOW", "2026-11-24T11:00:00Z")  # the founder answers later
    answered = fleet_cli(
        "-C", str(repo), "local", "answer", "local-issue:tester/t-100/failure", ANSWER
    )
    assert answered.exit_code == 0, answered.output
    # the draft is in progress: planned, not "in review"; SLA does not say "awaits review"
    assert "resumes its work branch" in _plan(fleet_cli, repo)["t-100"]
    status = json.loads(fleet_cli("-C", str(repo), "status", "--format", "json").stdout)
    assert "t-100" in [r["id"] for r in status["by_state"]["in_progress"]]
    assert "awaits review" not in fleet_cli("-C", str(repo), "sla", "--dry-run").output
    fixing = [
        reply(tool("write_file", path="out/report.md", content="# Report\n")),
        reply(tool("finish", summary="wrote the report")),
    ]
    with FakeAnthropic(fixing) as fake:
        _env(monkeypatch, fake, FLEET_NOW="2026-11-24T11:30:00Z")
        second = fleet_cli("-C", str(repo), "run", "--role", "tester", "--task", "t-100")
    assert second.exit_code == 0, second.output
    assert "tester/t-100: done" in second.stdout and "(draft)" not in second.stdout
    turn = _first_turn(fake)
    assert ANSWER in turn and "you are continuing from it" in turn  # the answer; the branch
    record = StateStore(Git(repo)).read_json("forge/prs/tester/t-100.json")
    assert record["draft"] is False and record["state"] == "open"
    branch_files = git(repo, "ls-tree", "-r", "--name-only", "fleet/tester/t-100", "out/")
    assert branch_files.split() == ["out/other.md", "out/report.md"]  # one branch, continued
    merged = fleet_cli("-C", str(repo), "local", "merge", "tester/t-100")
    assert merged.exit_code == 0, merged.output


def test_a_max_turns_draft_is_resumed_and_marked_ready_on_github(agent_repo: Path) -> None:
    repo = agent_repo
    task = repo / "tasks/t-100.yaml"
    task.write_text(task.read_text() + "budget: {max_turns: 2}\n")
    commit_all(repo, "t-100: two turns per run")
    git(repo, "push", "-q", "origin", "main")
    with FakeGitHub(permissions={"founder-ana": "admin"}) as gh:

        def run(script: list) -> tuple:
            with FakeAnthropic(script) as fake:
                env = {
                    "PATH": "/usr/bin:/bin",
                    "HOME": "/tmp",
                    "FLEET_NOW": NOW,
                    "GITHUB_TOKEN": gh.token,
                    "GITHUB_REPOSITORY": "acme/fleet",
                    "GITHUB_API_URL": gh.url,
                    "FLEET_GITHUB_WRITE_INTERVAL": "0",
                    "FLEET_GITHUB_BACKOFF": "0",
                    "ANTHROPIC_API_KEY": "k",
                    "ANTHROPIC_BASE_URL": fake.url,
                    "STAGING_DATABASE_URL": "x",
                }
                ws = open_workspace(repo, env)
                forge = open_forge(ws)
                outcome = execute(
                    ws,
                    forge,
                    "tester",
                    "t-100",
                    trigger="test",
                    client_factory=anthropic_client(ws),
                )
                return outcome, ws, forge, fake

        stopped, ws, forge, _ = run(
            [
                reply(tool("write_file", path="out/notes.md", content="notes\n")),
                reply(tool("write_file", path="out/more.md", content="more\n")),
                reply(tool("finish", summary="never reached")),
            ]
        )
        assert stopped.record.outcome == "max_turns", stopped.record.reason
        (pull,) = gh.pulls()
        assert pull["draft"]
        state = ws.states(ws.runs(), forge.view())["t-100"]
        assert state.state == "in_progress" and "draft PR" in state.reason
        done, ws, forge, fake = run(
            [
                reply(tool("write_file", path="out/report.md", content="# Report\n")),
                reply(tool("finish", summary="done")),
            ]
        )
        assert done.record.outcome == "done", done.record.reason
        assert "you are continuing from it" in _first_turn(fake)  # the stopped run's branch
        (pull,) = gh.pulls()
        assert not pull["draft"] and pull["state"] == "open"
        assert ws.states(ws.runs(), forge.view())["t-100"].state == "review"
