"""The anthropic engine end to end: real SDK, real HTTP, a scripted Messages API."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from runner.commands.run import anthropic_client
from runner.forge.select import open_forge
from runner.run import execute
from runner.workspace import open_workspace
from tests.conftest import commit_all, git
from tests.fakes.anthropic_server import FakeAnthropic, error, reply, text, tool

pytestmark = pytest.mark.slow  # end-to-end (git, fake servers, whole runs): CI runs it


SECRETS = {
    "GITHUB_TOKEN": "ghp_supersecretgithubtoken000000000000",
    "AWS_SECRET_ACCESS_KEY": "aws-secret-value-123",
    "STAGING_DATABASE_URL": "postgres://staging-granted",
}


def _env(fake: FakeAnthropic, **extra: str) -> dict[str, str]:
    return {
        "PATH": "/usr/bin:/bin",
        "HOME": "/tmp",
        "FLEET_FORGE": "local",
        "FLEET_NOW": "2026-11-24T10:30:00Z",
        "ANTHROPIC_API_KEY": "sk-ant-test-key",
        "ANTHROPIC_BASE_URL": fake.url,
        **SECRETS,
        **extra,
    }


def _run(repo: Path, fake: FakeAnthropic, task: str = "t-100", role: str = "tester", **env):
    ws = open_workspace(repo, _env(fake, **env))
    forge = open_forge(ws)
    outcome = execute(ws, forge, role, task, trigger="test", client_factory=anthropic_client(ws))
    return outcome, ws, forge


def _results(request: dict) -> list[dict]:
    """The tool_result blocks of the last user message of a logged request."""
    return [b for b in request["messages"][-1]["content"] if b.get("type") == "tool_result"]


@pytest.mark.parametrize("stream", [True, False])
def test_task_completed_opens_a_pr_with_done_status(agent_repo: Path, stream: bool) -> None:
    if not stream:
        cfg = agent_repo / "fleet/fleet.yaml"
        cfg.write_text(
            cfg.read_text().replace("  max_retries: 2", "  max_retries: 2\n  stream: false")
        )
        commit_all(agent_repo, "no streaming")
    with FakeAnthropic(
        [
            reply(
                text("Writing it."), tool("write_file", path="out/report.md", content="# Report\n")
            ),
            reply(tool("finish", summary="Wrote out/report.md")),
        ]
    ) as fake:
        outcome, ws, forge = _run(agent_repo, fake)
    assert outcome.record.outcome == "done", outcome.record.reason
    assert outcome.pr is not None and not outcome.pr.draft
    assert ws.states(ws.runs(), forge.view())["t-100"].state == "review"
    branch = "fleet/tester/t-100"
    task_file = git(agent_repo, "show", f"{branch}:tasks/t-100.yaml")
    assert "status: done" in task_file and 'result: "Wrote out/report.md"' in task_file
    assert git(agent_repo, "show", f"{branch}:out/report.md") == "# Report\n"
    log = git(agent_repo, "log", "--format=%an|%B", f"main..{branch}")
    assert "tester (fleet)|" in log and "Fleet-Role: tester" in log
    # the first request: tools as contracted, rules in system, task + delta in the first turn
    first = fake.requests[0]
    assert [t["name"] for t in first["tools"]] == [
        "read_file",
        "list_files",
        "search",
        "write_file",
        "edit_file",
        "run_command",
        "run_acceptance",
        "propose_task",
        "escalate",
        "finish",
    ]
    turn = first["messages"][0]["content"][0]["text"]
    assert "# Task t-100: Write the report" in turn and "## Sync delta" in turn
    assert "`test -f out/report.md` must exit 0" in turn
    assert first["tools"][-1]["cache_control"] == {"type": "ephemeral"}
    assert first["system"][-1]["cache_control"] == {"type": "ephemeral"}
    body = json.dumps(fake.requests)
    assert not any(secret in body for secret in SECRETS.values())
    record = ws.runs()[-1]
    assert record.turns == 2 and record.usage["output_tokens"] > 0 and record.cost_usd > 0
    assert ws.ledger.checkpoint("tester").run_id == record.run_id


def test_acceptance_fails_then_passes(agent_repo: Path) -> None:
    with FakeAnthropic(
        [
            reply(tool("finish", summary="Done already?")),
            reply(tool("write_file", path="out/report.md", content="x")),
            reply(tool("finish", summary="Now done")),
        ]
    ) as fake:
        outcome, _, _ = _run(agent_repo, fake)
    assert outcome.record.outcome == "done"
    assert outcome.record.attempts == 2
    feedback = _results(fake.requests[1])[0]
    assert feedback["is_error"] and "FAIL (exit 1)  test -f out/report.md" in feedback["content"]


def test_acceptance_failing_twice_escalates_failure_with_a_draft_pr(agent_repo: Path) -> None:
    with FakeAnthropic(
        [
            reply(tool("write_file", path="out/other.md", content="x")),
            reply(tool("finish", summary="1")),
            reply(tool("finish", summary="2")),
        ]
    ) as fake:
        outcome, ws, forge = _run(agent_repo, fake)
    assert outcome.record.outcome == "escalated"
    assert outcome.issue.kind == "failure"
    assert outcome.pr is not None and outcome.pr.draft
    assert ws.states(ws.runs(), forge.view())["t-100"].state == "blocked"


def test_escalated_for_a_decision_blocks_the_task(agent_repo: Path) -> None:
    with FakeAnthropic(
        [reply(tool("escalate", kind="decision", summary="Postgres or Redis for the queue?"))]
    ) as fake:
        outcome, ws, forge = _run(agent_repo, fake)
    assert outcome.record.outcome == "escalated"
    assert outcome.issue.kind == "decision" and outcome.pr is None
    state = ws.states(ws.runs(), forge.view())["t-100"]
    assert state.state == "blocked" and "decision" in state.reason
    # escalating again updates the same issue
    with FakeAnthropic([reply(tool("escalate", kind="decision", summary="Again?"))]) as fake:
        again, _, _ = _run(agent_repo, fake)
    assert again.issue.id == outcome.issue.id and not again.issue.created_now


def test_dead_api_key_escalates_once_without_retries(agent_repo: Path) -> None:
    with FakeAnthropic([error(401, "authentication_error", "invalid x-api-key")]) as fake:
        outcome, _, _ = _run(agent_repo, fake)
    assert len(fake.requests) == 1
    assert outcome.record.outcome == "escalated"
    assert outcome.issue.kind == "credential"


def test_overloaded_api_ends_as_model_unavailable_without_blocking(agent_repo: Path) -> None:
    overloaded = error(529, "overloaded_error", "Overloaded")
    with FakeAnthropic([overloaded] * 3) as fake:
        outcome, ws, forge = _run(agent_repo, fake)
    assert len(fake.requests) == 3  # the first try and max_retries=2, then stop
    assert outcome.record.outcome == "model_unavailable"
    assert outcome.issue is None
    assert ws.states(ws.runs(), forge.view())["t-100"].state == "open"
    assert ws.ledger.checkpoint("tester") is None  # the delta was not used


def test_budget_stop_commits_what_it_has(agent_repo: Path) -> None:
    task = agent_repo / "tasks/t-100.yaml"
    task.write_text(task.read_text() + "budget: {run_usd: 0.0001}\n")
    commit_all(agent_repo, "tiny budget")
    with FakeAnthropic(
        [
            reply(tool("write_file", path="out/partial.md", content="half")),
            reply(tool("finish", summary="never reached")),
        ]
    ) as fake:
        outcome, _, _ = _run(agent_repo, fake)
    assert outcome.record.outcome == "budget"
    assert len(fake.requests) == 1
    assert git(agent_repo, "show", "fleet/tester/t-100:out/partial.md") == "half"
    assert outcome.pr is not None and outcome.pr.draft


def test_same_failing_call_three_times_is_a_loop(agent_repo: Path) -> None:
    with FakeAnthropic([reply(tool("read_file", path="missing.md"))] * 3) as fake:
        outcome, _, _ = _run(agent_repo, fake)
    assert outcome.record.outcome == "escalated"
    assert outcome.issue.kind == "loop"
    assert len(fake.requests) == 3


def test_writes_outside_the_globs_are_refused(agent_repo: Path, tmp_path: Path) -> None:
    attempts = [
        ".github/workflows/evil.yml",
        "../outside.txt",
        "app/main.py",
        ".git/config",
        "out/../../escape.txt",
    ]
    (agent_repo / "out").mkdir()
    steps = [reply(*[tool("write_file", path=p, content="x") for p in attempts])]
    steps += [
        reply(tool("write_file", path="out/report.md", content="ok")),
        reply(tool("finish", summary="ok")),
    ]
    with FakeAnthropic(steps) as fake:
        outcome, _, _ = _run(agent_repo, fake)
    results = _results(fake.requests[1])
    assert len(results) == len(attempts) and all(r["is_error"] for r in results)
    assert "not writable by this role" in results[0]["content"]
    assert "outside the repository" in results[1]["content"]
    assert outcome.record.outcome == "done"
    files = git(agent_repo, "ls-tree", "-r", "--name-only", "fleet/tester/t-100").split()
    assert not any(p.startswith((".github/workflows/evil", "app/")) for p in files)
    assert not (agent_repo.parent / "outside.txt").exists()


def test_commands_outside_the_allow_list_are_refused_and_no_shell(agent_repo: Path) -> None:
    with FakeAnthropic(
        [
            reply(tool("run_command", command="curl http://127.0.0.1:9/exfil")),
            reply(tool("run_command", command="ls; touch out/pwned")),
            reply(tool("escalate", kind="blocked", summary="stop")),
        ]
    ) as fake:
        _run(agent_repo, fake)
    refused = _results(fake.requests[1])[0]
    assert refused["is_error"] and "not in this role's allow-list" in refused["content"]
    no_shell = _results(fake.requests[2])[0]
    # argv matching: the token `ls;` is not the program `ls`, so no shell trick matches
    assert no_shell["is_error"] and "not in this role's allow-list" in no_shell["content"]
    # nothing was written, so the run left no work branch behind
    assert git(agent_repo, "branch", "--list", "fleet/tester/t-100") == ""


def test_secrets_are_absent_from_command_environments(agent_repo: Path) -> None:
    with FakeAnthropic(
        [
            reply(tool("run_command", command="env")),
            reply(tool("escalate", kind="blocked", summary="stop")),
        ]
    ) as fake:
        _run(agent_repo, fake)
    output = _results(fake.requests[1])[0]["content"]
    assert "PATH=" in output
    for name in ("GITHUB_TOKEN", "AWS_SECRET_ACCESS_KEY", "ANTHROPIC_API_KEY"):
        assert name not in output
    assert "STAGING_DATABASE_URL=postgres://staging-granted" in output  # granted by the role


def test_missing_role_credential_escalates_before_any_model_call(agent_repo: Path) -> None:
    with FakeAnthropic([]) as fake:
        outcome, _, _ = _run(agent_repo, fake, STAGING_DATABASE_URL="")
    assert fake.requests == []
    assert outcome.issue.kind == "credential"
    assert "STAGING_DATABASE_URL" in outcome.record.reason


def test_propose_task_writes_a_valid_task_into_the_pr(agent_repo: Path) -> None:
    with FakeAnthropic(
        [
            reply(
                tool(
                    "propose_task",
                    role="fullstack",
                    title="Add signup rate limit",
                    description="Limit signups per IP.",
                    acceptance=[],
                )
            ),
            reply(
                tool(
                    "propose_task",
                    role="fullstack",
                    title="Add signup rate limit",
                    description="Limit signups per IP.",
                    acceptance=[{"check": "python -m pytest tests/test_rate.py"}],
                )
            ),
            reply(tool("write_file", path="out/report.md", content="x")),
            reply(tool("finish", summary="delegated")),
        ]
    ) as fake:
        outcome, _, _ = _run(agent_repo, fake)
    assert _results(fake.requests[1])[0]["is_error"]  # no acceptance criteria: refused
    assert "proposed t-101" in _results(fake.requests[2])[0]["content"]
    task = git(agent_repo, "show", "fleet/tester/t-100:tasks/t-101.yaml")
    assert "parent: t-100" in task and "created_by: tester" in task
    assert outcome.record.outcome == "done"
    assert outcome.record.delegated == ["t-101"]  # counted as a message between roles


def test_propose_task_never_writes_a_file_that_fails_validation(agent_repo: Path) -> None:
    """Issue 12 #3: a proposal for a shell role without steps passed the schema, was
    merged, and made plan, status and sla exit 2."""
    with FakeAnthropic(
        [
            reply(
                tool(
                    "propose_task",
                    role="devops",
                    title="Rotate the deploy keys",
                    description="Rotate them.",
                    acceptance=[{"check": "test -f ci/keys.txt"}],
                )
            ),
            reply(tool("write_file", path="out/report.md", content="x")),
            reply(tool("finish", summary="done")),
        ]
    ) as fake:
        outcome, _, _ = _run(agent_repo, fake)
    refusal = _results(fake.requests[1])[0]
    assert refusal["is_error"] and "no 'steps:'" in refusal["content"]
    files = git(agent_repo, "ls-tree", "-r", "--name-only", "fleet/tester/t-100", "tasks/")
    assert "tasks/t-101.yaml" not in files.split()
    assert outcome.record.outcome == "done" and outcome.record.delegated == []


def test_the_run_line_says_why_once_and_counts_cache_writes(agent_repo: Path) -> None:
    """Issue 12 #9: "escalated (escalated (decision))", and no cache-write tokens."""
    from runner.outcome import render_outcome

    with FakeAnthropic(
        [reply(tool("escalate", kind="decision", summary="Postgres or Redis for the queue?"))]
    ) as fake:
        outcome, _, _ = _run(agent_repo, fake)
    line = render_outcome(outcome)
    assert line.startswith("tester/t-100: escalated (decision: Postgres or Redis for the queue?)")
    writes = outcome.record.usage["cache_creation_input_tokens"]
    assert writes > 0 and f"{writes:,} written to cache" in line
