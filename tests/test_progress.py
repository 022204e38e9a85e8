"""The live progress comment (issue 14 item 2): one comment per run, created once and
edited as the run goes, throttled; the real run path, the scripted Messages API and the
fake GitHub (its PATCH requests counted), and the local forge's record."""

from __future__ import annotations

import json
import shutil
import time
from pathlib import Path

import pytest

from runner.forge.select import open_forge
from runner.outcome import anthropic_client
from runner.run import execute
from runner.run_outcome import RunOutcome
from runner.workspace import open_workspace
from tests.conftest import commit_all, git
from tests.fakes.anthropic_server import FakeAnthropic, reply, tool
from tests.fakes.github_server import FakeGitHub
from tests.forge.test_github import PEOPLE, _env
from tests.security.scripted import ENV as LOCAL_ENV
from tests.test_transcript_e2e import thirty_turns

pytestmark = pytest.mark.slow  # end-to-end (git, fake servers, whole runs): CI runs it


def failing() -> list:
    """A fresh script each time (the fake consumes the list it is given)."""
    return [
        reply(tool("write_file", path="out/other.md", content="x")),
        reply(tool("finish", summary="first try")),
        reply(tool("finish", summary="second try")),
    ]


def _progress(repo: Path, **settings: object) -> None:
    fleet = repo / "fleet/fleet.yaml"
    lines = [x for x in fleet.read_text().splitlines() if not x.startswith("progress:")]
    fleet.write_text("\n".join([*lines, f"progress: {json.dumps(settings)}"]) + "\n")
    commit_all(repo, "progress settings")
    git(repo, "push", "-q", "origin", "main")


def _run(repo: Path, gh: FakeGitHub | None, steps: list, now: str) -> RunOutcome:
    with FakeAnthropic(steps) as model:
        extra = {"ANTHROPIC_API_KEY": "sk-ant-test", "ANTHROPIC_BASE_URL": model.url}
        env = _env(gh, **extra) if gh else {**LOCAL_ENV, **extra}
        env.update(FLEET_NOW=now, STAGING_DATABASE_URL="postgres://x")
        ws = open_workspace(repo, env)
        return execute(ws, open_forge(ws), "tester", "t-100", trigger="test",
                       client_factory=anthropic_client(ws))  # fmt: skip


def _resumed_run(repo: Path, gh: FakeGitHub) -> tuple[RunOutcome, int, float]:
    """A failed first run leaves a draft PR and a failure escalation (closed: answered);
    the second run works 30 turns on the draft: its progress comment is there from the
    start. Returns the second run, its request count, and how long it took."""
    first = _run(repo, gh, failing(), "2026-11-24T10:30:00Z")
    assert first.pr is not None and first.pr.draft and first.issue is not None
    gh.close(int(first.issue.id.lstrip("#")))
    before, started = len(gh.log), time.monotonic()
    second = _run(repo, gh, thirty_turns(repo), "2026-11-24T11:30:00Z")
    return second, len(gh.log) - before, time.monotonic() - started


def _progress_comments(gh: FakeGitHub) -> list[dict]:
    return [c for c in gh.comments if "fleet:kind=progress-" in c["body"]]


def test_one_progress_comment_is_edited_a_bounded_number_of_times(agent_repo: Path) -> None:
    _progress(agent_repo, interval_s=2)
    with FakeGitHub(permissions=dict(PEOPLE)) as gh:
        second, _requests, took = _resumed_run(agent_repo, gh)
        patches = gh.count("PATCH", r"/issues/comments/\d+$")
    assert second.record.outcome == "done", second.record.reason
    (comment,) = [c for c in _progress_comments(gh) if second.record.run_id in c["body"]]
    assert comment["number"] == int(second.pr.id.lstrip("#"))  # on the run's PR
    assert len(_progress_comments(gh)) == 2  # one per run: the first run's, then this one
    # created once, then edited: at most one edit per interval, plus the final one
    assert 1 <= patches <= took / 2 + 2, (patches, took)
    assert comment.get("edits", 0) == patches
    body = comment["body"]
    checks = [line for line in body.splitlines() if "test -f out/report.md" in line]
    assert checks == ["- [x] `test -f out/report.md`"]
    assert "(for the reviewer)" in body and "**Outcome:** done" in body
    assert "**Turns** 30 of 40" in body and f"fleet runs show {second.record.run_id}" in body


def _fresh_copy(repo: Path, where: Path) -> Path:
    """The fleet and its origin, copied: each forge fake starts from an empty ledger."""
    shutil.copytree(repo.parent / "origin.git", where / "origin.git")
    shutil.copytree(repo, where / "acme")
    git(where / "acme", "remote", "set-url", "origin", str(where / "origin.git"))
    return where / "acme"


def test_without_throttle_every_step_is_an_edit_and_with_it_few(
    agent_repo: Path, tmp_path: Path
) -> None:
    """The same resumed 30-turn run: progress off, throttled, and unthrottled; the
    figures the README states."""
    counts = {}
    for n, (name, settings) in enumerate(
        (
            ("off", {"comment": False}),
            ("every 15 s", {"interval_s": 15}),
            ("unthrottled", {"interval_s": 0}),
        )
    ):
        repo = _fresh_copy(agent_repo, tmp_path / f"copy-{n}")
        _progress(repo, **settings)
        with FakeGitHub(permissions=dict(PEOPLE)) as gh:
            second, requests, _took = _resumed_run(repo, gh)
            counts[name] = (requests, gh.count("PATCH", r"/issues/comments/\d+$"))
        assert second.record.outcome == "done"
    print(f"GitHub requests of a resumed 30-turn run (total, progress edits): {counts}")
    assert counts["off"][1] == 0
    assert counts["every 15 s"][0] <= counts["off"][0] + 4  # find + create + final edit
    assert counts["unthrottled"][1] > 30  # an edit per step: what the throttle saves


def test_a_forge_error_on_a_progress_edit_never_fails_the_run(agent_repo: Path) -> None:
    _progress(agent_repo, interval_s=0)
    with FakeGitHub(permissions=dict(PEOPLE)) as gh:
        gh.fail("PATCH", r"/issues/comments/\d+$", 500, times=1000)
        second, _requests, _took = _resumed_run(agent_repo, gh)
        patches = gh.count("PATCH", r"/issues/comments/\d+$")
    assert second.record.outcome == "done" and second.pr is not None
    notes = [e for e in second.transcript.entries if "progress comment not updated" in str(e)]
    assert len(notes) == 3  # three failures in a row, then the reporter stops trying
    assert patches <= 3 * 6  # PyGithub's own retries of each, bounded


def test_the_local_forge_keeps_the_comment_as_a_record(agent_repo: Path) -> None:
    _progress(agent_repo, interval_s=0)
    out = _run(agent_repo, None, thirty_turns(agent_repo), "2026-11-24T10:30:00Z")
    assert out.record.outcome == "done"
    origin = agent_repo.parent / "origin.git"
    path = f"fleet-state:forge/progress/progress-{out.record.run_id}.json"
    record = json.loads(git(origin, "show", path))
    assert record["target"] == "local-pr:tester/t-100" and record["edits"] > 30
    assert "- [x] `test -f out/report.md`" in record["body"]
    assert "**Outcome:** done" in record["body"]


def test_every_check_ends_ticked_or_marked_failed(agent_repo: Path) -> None:
    """A run that stops before acceptance passes: its checks end marked failed."""
    out = _run(agent_repo, None, failing(), "2026-11-24T10:30:00Z")
    assert out.record.outcome == "escalated"
    origin = agent_repo.parent / "origin.git"
    body = json.loads(
        git(origin, "show", f"fleet-state:forge/progress/progress-{out.record.run_id}.json")
    )["body"]
    assert "- [ ] `test -f out/report.md` (failed)" in body
    assert "**Outcome:** escalated" in body and "- issue: local-issue:" in body


def test_a_task_from_an_issue_shows_progress_there_until_its_pr_exists(agent_repo: Path) -> None:
    task = agent_repo / "tasks/t-100.yaml"
    with FakeGitHub(permissions=dict(PEOPLE)) as gh:
        number = gh.open_issue("Write the report", "- [ ] check: test -f out/report.md\n")
        task.write_text(task.read_text() + f"issue: {number}\n")
        commit_all(agent_repo, "t-100 was drafted from an issue")
        git(agent_repo, "push", "-q", "origin", "main")
        out = _run(agent_repo, gh, thirty_turns(agent_repo), "2026-11-24T10:30:00Z")
    assert out.record.outcome == "done" and out.pr is not None
    on_issue = [c for c in _progress_comments(gh) if c["number"] == number]
    on_pr = [c for c in _progress_comments(gh) if c["number"] == int(out.pr.id.lstrip("#"))]
    assert len(on_issue) == 1 and len(on_pr) == 1  # one per place, created once each
    assert on_issue[0].get("edits", 0) >= 1  # it was there while the run worked
    for comment in on_issue + on_pr:
        assert "**Outcome:** done" in comment["body"] and out.pr.url in comment["body"]
