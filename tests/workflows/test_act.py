"""The real workflow files, run end to end by `act` on this machine (self-hosted
platform, no Docker), against the loopback GitHub and Anthropic servers, driven by
GitHub's own example payloads (tests/data/webhooks): the tick, validate, status and
revise workflows. Intake: test_act_intake.py; CI revision: test_act_ci.py."""

from __future__ import annotations

import os
import re
import subprocess

from tests.conftest import commit_all, git, payload
from tests.fakes.anthropic_server import FakeAnthropic, reply, tool
from tests.fakes.github_server import FakeGitHub
from tests.workflows.act import MARKS, assert_agent_job_read_only, run_act

pytestmark = MARKS


def test_tick_on_schedule_opens_an_agent_pr(fleet_repo) -> None:
    root, origin = fleet_repo
    with (
        FakeGitHub(permissions={"founder-ana": "admin"}) as gh,
        FakeAnthropic(
            [
                reply(tool("write_file", path="CONTRIBUTING.md", content="# Contributing\n")),
                reply(tool("finish", summary="Wrote the guide")),
            ]
        ) as model,
    ):
        out = run_act(
            root,
            "schedule",
            {"schedule": "17 * * * *"},
            gh,
            {"ANTHROPIC_BASE_URL": model.url},
            "fleet-tick.yml",
        )
        assert out.returncode == 0, out.stdout[-4000:] + out.stderr[-2000:]
        assert len(model.requests) == 2
    (pr,) = gh.pulls()
    assert pr["head"]["ref"] == "fleet/engineer/t-001" and not pr["draft"]
    assert "CONTRIBUTING.md" in git(origin, "ls-tree", "-r", "--name-only", "fleet/engineer/t-001")
    runs = git(origin, "ls-tree", "-r", "--name-only", "fleet-state", "runs/").split()
    assert len(runs) == 1  # claimed by the claim job, finished by the apply job
    assert '"outcome": "done"' in git(origin, "show", f"fleet-state:{runs[0]}")
    assert (
        "[fleet tick/Apply engineer / t-001]" in out.stdout and "engineer/t-001: done" in out.stdout
    )
    assert_agent_job_read_only(gh)
    assert gh.count("POST", "/pulls$") == 1  # opened by apply, with the write token


def test_validate_on_pull_request_annotates_and_comments_the_plan(fleet_repo) -> None:
    root, _origin = fleet_repo
    git(root, "checkout", "-q", "-b", "new-tasks")
    (root / "tasks/t-002.yaml").write_text(
        "id: t-002\ntitle: Add a code of conduct\nrole: engineer\n"
        "acceptance:\n  - check: test -f CODE_OF_CONDUCT.md\n"
    )
    (root / "tasks/t-003.yaml").write_text(
        "id: t-003\ntitle: Broken\nrole: janitor\nacceptance:\n  - review: ok\n"
    )
    commit_all(root, "Two new tasks")
    git(root, "push", "-q", "origin", "new-tasks")
    with FakeGitHub(permissions={"founder-ana": "admin"}) as gh:
        number = gh.open_pull("new-tasks", "Assign two tasks")
        body = payload(
            "pull_request.opened",
            number=number,
            pull_request__number=number,
            pull_request__head__ref="new-tasks",
            pull_request__base__ref="main",
        )
        out = run_act(root, "pull_request", body, gh, {}, "fleet-validate.yml")
        comments = [c["body"] for c in gh.comments if c["number"] == number]
    assert out.returncode != 0  # the broken task fails the check, as it should
    assert "::error file=tasks/t-003.yaml,line=3" in out.stdout
    assert "unknown role 'janitor'" in out.stdout
    assert len(comments) == 1
    assert "| t-002 | Add a code of conduct | engineer (anthropic)" in comments[0]
    assert "1 error(s)" in comments[0]


def test_status_workflow_reports_and_builds_the_dashboard(fleet_repo) -> None:
    root, origin = fleet_repo
    with FakeGitHub(permissions={"founder-ana": "admin"}) as gh:
        out = run_act(root, "schedule", {"schedule": "0 6 * * *"}, gh, {}, "fleet-status.yml")
    assert out.returncode == 0, out.stdout[-4000:] + out.stderr[-2000:]
    assert "Blocked on a human (0)" in out.stdout
    assert "Wrote _site/index.html (html)." in out.stdout
    assert "status/last.json" in git(origin, "ls-tree", "-r", "--name-only", "fleet-state")


def test_revise_on_a_review_runs_check_agent_and_apply_jobs(fleet_repo) -> None:
    """A maintainer's review on the agent PR: the check job claims, the agent job revises
    with a read-only token, the apply job pushes and replies without the model key."""
    from runner.worktree import agent_identity

    root, origin = fleet_repo
    branch = "fleet/engineer/t-001"
    git(root, "checkout", "-q", "-b", branch)
    (root / "CONTRIBUTING.md").write_text("# Contributing\n")
    git(root, "add", "CONTRIBUTING.md")
    identity = {**agent_identity("engineer"), "GIT_COMMITTER_DATE": "2026-01-01T00:00:00Z"}
    subprocess.run(
        ["git", "commit", "-q", "-m", "first draft"],
        cwd=root,
        check=True,
        env={**os.environ, **identity, "GIT_AUTHOR_DATE": "2026-01-01T00:00:00Z"},
    )
    git(root, "push", "-q", "origin", branch)
    git(root, "checkout", "-q", "main")
    with (
        FakeGitHub(permissions={"founder-ana": "admin"}) as gh,
        FakeAnthropic(
            [
                reply(tool("write_file", path="CONTRIBUTING.md", content="# How to help\n")),
                reply(tool("finish", summary="Retitled the guide")),
            ]
        ) as model,
    ):
        number = gh.open_pull(branch, "[fleet] engineer: contributing guide (t-001)")
        gh.user_review(number, "founder-ana", "Call it 'How to help'.")
        body = payload(
            "pull_request_review.submitted",
            pull_request__number=number,
            pull_request__head__ref=branch,
            pull_request__head__repo__full_name="acme/fleet",
            sender__login="founder-ana",
            sender__type="User",
        )
        out = run_act(
            root, "pull_request_review", body, gh, {"ANTHROPIC_BASE_URL": model.url},
            "fleet-revise.yml",
        )  # fmt: skip
        assert out.returncode == 0, out.stdout[-4000:] + out.stderr[-2000:]
        assert len(model.requests) == 2  # the agent job's; the apply job has no key
        assert "How to help" in model.requests[0]["messages"][0]["content"][0]["text"]
    assert git(origin, "show", f"{branch}:CONTRIBUTING.md") == "# How to help\n"
    assert "Revised by run" in gh.comments[-1]["body"]
    assert "its commits are pushed" in gh.comments[-1]["body"]
    for job in ("Check the feedback and claim", "Agent revises the PR", "Apply the revision"):
        assert re.search(rf"\[fleet revise/{job} *\] 🏁  Job succeeded", out.stdout), job
    assert_agent_job_read_only(gh)
    runs = git(origin, "ls-tree", "-r", "--name-only", "fleet-state", "runs/").split()
    assert len(runs) == 1 and '"outcome": "done"' in git(origin, "show", f"fleet-state:{runs[0]}")
