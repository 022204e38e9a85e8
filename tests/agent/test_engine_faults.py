"""The anthropic engine against a misbehaving Messages API: cut-off tool calls, paused
turns, an enforced spend limit, cycles of successful calls, hangs before headers and in
the middle of a stream. Real SDK, real HTTP, the scripted fake; short timeouts."""

from __future__ import annotations

import re
import time
from pathlib import Path

import pytest

from tests.agent.test_engine import _results, _run
from tests.conftest import commit_all, git
from tests.fakes.anthropic_server import (
    FakeAnthropic,
    drip,
    error,
    hang,
    reply,
    spend_limit,
    stall,
    text,
    tool,
    truncated,
)

pytestmark = pytest.mark.slow  # end-to-end (git, fake servers, whole runs): CI runs it


BRANCH = "fleet/tester/t-100"
REPORT = "# Report\n\n" + "".join(f"Finding {i}: all good.\n" for i in range(40))


def _configure(repo: Path, **values: object) -> None:
    """Set `defaults:` keys of fleet.yaml (e.g. short model timeouts) and commit."""
    cfg = repo / "fleet/fleet.yaml"
    text = cfg.read_text()
    for name, value in values.items():
        line = f"  {name}: {str(value).lower() if isinstance(value, bool) else value}"
        text, n = re.subn(rf"(?m)^  {name}:.*$", line, text)
        if not n:
            text = text.replace("defaults:\n", f"defaults:\n{line}\n", 1)
    cfg.write_text(text)
    commit_all(repo, "test settings")


def _versions(repo: Path, path: str) -> list[str]:
    """Every version of `path` committed on the work branch."""
    out = []
    for commit in git(repo, "rev-list", f"main..{BRANCH}").split():
        if git(repo, "ls-tree", "--name-only", commit, path).strip():
            out.append(git(repo, "show", f"{commit}:{path}"))
    return out


@pytest.mark.parametrize("stream", [True, False])
def test_a_tool_call_cut_off_by_max_tokens_is_never_executed(
    agent_repo: Path, stream: bool
) -> None:
    if not stream:
        _configure(agent_repo, stream=False)
    with FakeAnthropic(
        [
            truncated(tool("write_file", path="out/report.md", content=REPORT)),
            reply(tool("write_file", path="out/report.md", content=REPORT)),
            reply(tool("finish", summary="Wrote the report")),
        ]
    ) as fake:
        outcome, ws, _ = _run(agent_repo, fake)
    refused = _results(fake.requests[1])[0]
    assert refused["is_error"] and "cut off" in refused["content"]
    assert outcome.record.outcome == "done", outcome.record.reason
    assert _versions(agent_repo, "out/report.md") == [REPORT] * len(
        _versions(agent_repo, "out/report.md")
    )
    assert _versions(agent_repo, "out/report.md")  # the complete file, and only it
    assert ws.runs()[-1].truncated_calls == 1


def test_cut_off_three_times_is_a_loop_with_nothing_written(agent_repo: Path) -> None:
    cut = truncated(tool("write_file", path="out/report.md", content=REPORT))
    with FakeAnthropic([cut] * 3) as fake:
        outcome, _, _ = _run(agent_repo, fake)
    assert outcome.record.outcome == "escalated" and outcome.issue.kind == "loop"
    assert "cut off by max_tokens" in outcome.record.reason
    assert len(fake.requests) == 3
    assert git(agent_repo, "branch", "--list", BRANCH) == ""  # nothing was ever written


def test_pause_turn_is_continued_not_ended_as_a_loop(agent_repo: Path) -> None:
    paused = reply(text("Still searching the web..."), stop_reason="pause_turn")
    with FakeAnthropic(
        [
            paused,
            paused,
            paused,
            reply(tool("write_file", path="out/report.md", content="# Report\n")),
            reply(tool("finish", summary="done after pauses")),
        ]
    ) as fake:
        outcome, _, _ = _run(agent_repo, fake)
    assert outcome.record.outcome == "done", outcome.record.reason
    # each continuation sends the paused assistant content back, and no nudge from us
    again = fake.requests[1]["messages"]
    assert again[-1]["role"] == "assistant"
    assert again[-1]["content"][0]["text"] == "Still searching the web..."
    assert all(m["role"] != "user" for m in fake.requests[3]["messages"][1:])


def test_enforced_spend_limit_is_one_budget_escalation_without_retries(agent_repo: Path) -> None:
    with FakeAnthropic([spend_limit()] * 3) as fake:
        outcome, ws, forge = _run(agent_repo, fake)
    assert len(fake.requests) == 1  # max_retries is 2: the SDK did not retry it
    assert outcome.record.outcome == "budget"
    assert outcome.issue is not None and outcome.issue.kind == "budget"
    assert "enforced spend limit" in outcome.record.reason
    assert ws.states(ws.runs(), forge.view())["t-100"].state != "blocked"  # a notice


def test_workspace_usage_limit_400_is_a_budget_stop_too(agent_repo: Path) -> None:
    limit = error(
        400,
        "invalid_request_error",
        "You have reached your specified workspace API usage limits. "
        "You will regain access on 2026-12-01 at 00:00 UTC.",
    )
    with FakeAnthropic([limit]) as fake:
        outcome, _, _ = _run(agent_repo, fake)
    assert len(fake.requests) == 1
    assert outcome.record.outcome == "budget" and outcome.issue.kind == "budget"


def test_an_ordinary_rate_limit_is_still_retried(agent_repo: Path) -> None:
    limited = error(429, "rate_limit_error", "Number of request tokens has exceeded your limit")
    with FakeAnthropic(
        [
            limited,
            reply(tool("write_file", path="out/report.md", content="x")),
            reply(tool("finish", summary="ok")),
        ]
    ) as fake:
        outcome, _, _ = _run(agent_repo, fake)
    assert outcome.record.outcome == "done" and len(fake.requests) == 3


def test_a_cycle_of_successful_calls_is_a_loop(agent_repo: Path) -> None:
    a = reply(tool("read_file", path="tasks/t-100.yaml"))
    b = reply(tool("list_files", pattern="fleet/**"))
    with FakeAnthropic([a, b] * 20) as fake:
        outcome, _, _ = _run(agent_repo, fake)
    assert outcome.record.outcome == "escalated" and outcome.issue.kind == "loop"
    assert len(fake.requests) == 6  # three rounds of the two-call cycle, not max_turns
    assert "a cycle of 2 call(s)" in outcome.record.reason
    assert 'read_file {"path": "tasks/t-100.yaml"} -> list_files' in outcome.record.reason


def test_a_hang_before_headers_ends_as_model_unavailable_in_bounded_time(
    agent_repo: Path,
) -> None:
    _configure(agent_repo, model_read_timeout_s=0.3, model_total_timeout_s=2)
    with FakeAnthropic(
        [reply(tool("write_file", path="out/report.md", content="half a report"))] + [hang(60)] * 3
    ) as fake:
        began = time.monotonic()
        outcome, ws, _ = _run(agent_repo, fake)
        took = time.monotonic() - began
    assert outcome.record.outcome == "model_unavailable", outcome.record.reason
    assert "timed out" in outcome.record.reason
    assert took < 30  # bounded by the configured timeouts, not the SDK's 10 minutes
    assert git(agent_repo, "show", f"{BRANCH}:out/report.md") == "half a report"
    assert ws.ledger.checkpoint("tester") is None


def test_the_total_timeout_caps_an_attempt_whose_read_timeout_is_longer(
    agent_repo: Path,
) -> None:
    """Only the guard's per-attempt cap can stop this attempt early: the read timeout
    (60 s) outlives the whole call's budget (1.5 s). The cap is applied only to such an
    attempt (runner/agent/client.py `_longest`), so it must still be applied here."""
    _configure(agent_repo, model_read_timeout_s=60, model_total_timeout_s=1.5)
    with FakeAnthropic(
        [reply(tool("write_file", path="out/report.md", content="half a report")), hang(60)]
    ) as fake:
        began = time.monotonic()
        outcome, _, _ = _run(agent_repo, fake)
        took = time.monotonic() - began
    assert outcome.record.outcome == "model_unavailable", outcome.record.reason
    assert len(fake.requests) == 2  # the hung attempt was cut, not retried
    assert took < 30  # the read timeout alone would take 60 s


def test_a_hang_mid_stream_ends_as_model_unavailable_not_a_traceback(agent_repo: Path) -> None:
    _configure(agent_repo, model_read_timeout_s=0.3, model_total_timeout_s=5)
    stalled = stall(reply(tool("finish", summary="never arrives")), 60)
    with FakeAnthropic(
        [reply(tool("write_file", path="out/report.md", content="work so far")), stalled]
    ) as fake:
        outcome, ws, _ = _run(agent_repo, fake)
    assert outcome.record.outcome == "model_unavailable", outcome.record.reason
    assert len(fake.requests) == 2
    assert git(agent_repo, "show", f"{BRANCH}:out/report.md") == "work so far"
    record = ws.runs()[-1]
    assert record.outcome == "model_unavailable" and record.ended


def test_a_stream_that_never_ends_is_cut_at_the_total_timeout(agent_repo: Path) -> None:
    _configure(agent_repo, model_read_timeout_s=1, model_total_timeout_s=1.5)
    slow = drip(reply(tool("finish", summary="never arrives")), every=0.1, times=600)
    with FakeAnthropic(
        [reply(tool("write_file", path="out/report.md", content="work so far")), slow]
    ) as fake:
        began = time.monotonic()
        outcome, _, _ = _run(agent_repo, fake)
        took = time.monotonic() - began
    assert outcome.record.outcome == "model_unavailable", outcome.record.reason
    assert "ran past 1.5s" in outcome.record.reason
    assert took < 30  # the drip alone lasts 60 s
    assert git(agent_repo, "show", f"{BRANCH}:out/report.md") == "work so far"
