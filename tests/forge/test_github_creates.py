"""Creates are never retried blindly: a POST that GitHub applied but whose answer was lost
(a 502 from a proxy, a dropped connection) is found by its marker, not posted again."""

from __future__ import annotations

from pathlib import Path

import pytest

from runner.run import execute
from tests.conftest import commit_all
from tests.fakes.github_server import FakeGitHub
from tests.forge.test_github import PEOPLE, _escalate, _ws

pytestmark = pytest.mark.slow  # end-to-end (git, fake servers, whole runs): CI runs it


LOST_ANSWERS = [502, 0]  # 0: the connection drops after the write


@pytest.fixture
def gh():
    with FakeGitHub(permissions=dict(PEOPLE)) as fake:
        yield fake


@pytest.mark.parametrize("status", LOST_ANSWERS)
def test_an_issue_created_but_answered_502_is_not_duplicated(
    repo: Path, gh: FakeGitHub, status: int
) -> None:
    gh.fail_after("POST", r"/issues$", status)
    _, forge = _ws(repo, gh)
    issue = _escalate(forge)
    assert issue.created_now and issue.id == "#1"
    assert len(gh.open_issues("fleet:escalation")) == 1
    assert gh.count("POST", r"/issues$") == 1  # looked, found it, never posted again


@pytest.mark.parametrize("status", LOST_ANSWERS)
def test_a_pr_created_but_answered_502_is_not_duplicated(
    repo: Path, gh: FakeGitHub, status: int
) -> None:
    gh.fail_after("POST", r"/pulls$", status)
    ws, forge = _ws(repo, gh)
    outcome = execute(ws, forge, "devops", "t-001", trigger="test", client_factory=None)
    assert outcome.record.outcome == "done", outcome.record.reason
    assert outcome.pr is not None and outcome.pr.created_now
    assert len(gh.pulls()) == 1
    assert gh.count("POST", r"/pulls$") == 1


@pytest.mark.parametrize("status", LOST_ANSWERS)
def test_comments_created_but_answered_502_are_not_duplicated(
    repo: Path, gh: FakeGitHub, status: int
) -> None:
    _, forge = _ws(repo, gh)
    issue = _escalate(forge)
    gh.fail_after("POST", r"/issues/1/comments$", status, times=3)
    _escalate(forge)  # "Escalated again" comment
    forge.comment(issue.id, "A note.")
    assert forge.upsert_comment(1, "plan", "The plan.").startswith("posted")
    bodies = [c["body"] for c in gh.comments if c["number"] == 1]
    assert len(bodies) == 3
    assert sum("Escalated again" in b for b in bodies) == 1
    assert sum(b.startswith("A note.") for b in bodies) == 1
    assert sum(b.startswith("The plan.") for b in bodies) == 1
    assert gh.count("POST", r"/issues/1/comments$") == 3


def test_a_create_that_was_not_applied_is_tried_again(repo: Path, gh: FakeGitHub) -> None:
    gh.fail("POST", r"/issues$", 502)  # refused before anything was written
    _, forge = _ws(repo, gh)
    issue = _escalate(forge)
    assert issue.created_now
    assert len(gh.open_issues("fleet:escalation")) == 1
    assert gh.count("POST", r"/issues$") == 2


def test_a_draft_pr_leaves_draft_when_acceptance_passes(repo: Path, gh: FakeGitHub) -> None:
    task = repo / "tasks/t-001.yaml"
    good = task.read_text()
    task.write_text(good.replace('echo "tests: ok"', "exit 3"))
    commit_all(repo, "a failing pipeline")
    ws, forge = _ws(repo, gh)
    first = execute(ws, forge, "devops", "t-001", trigger="test", client_factory=None)
    assert first.record.outcome == "escalated" and first.pr is not None and first.pr.draft
    assert gh.pulls()[0]["draft"]
    task.write_text(good)
    commit_all(repo, "the pipeline fixed")
    ws, forge = _ws(repo, gh)
    second = execute(ws, forge, "devops", "t-001", trigger="test", client_factory=None)
    assert second.record.outcome == "done", second.record.reason
    assert second.pr is not None and second.pr.id == first.pr.id and not second.pr.draft
    assert len(gh.pulls()) == 1 and not gh.pulls()[0]["draft"]  # GitHub says so too
    assert gh.count("POST", r"^/graphql$") == 1  # markPullRequestReadyForReview
