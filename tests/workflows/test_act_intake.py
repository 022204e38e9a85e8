"""fleet-intake.yml under `act`, driven by GitHub's `issues.labeled` and
`issue_comment.created` examples: the read-only check job decides, the draft job (write
token, no model key) opens one task PR or replies once; outsiders, PR comments and bots
get nothing."""

from __future__ import annotations

import re
from pathlib import Path

from runner import scaffold
from tests.conftest import commit_all, git, payload
from tests.fakes.anthropic_server import FakeAnthropic
from tests.fakes.github_server import FakeGitHub
from tests.workflows.act import MARKS, run_act

pytestmark = MARKS


def test_a_labeled_issue_drafts_one_task_pr_in_the_intake_job(fleet_repo) -> None:
    """GitHub's `issues.labeled` example through fleet-intake.yml: the read-only check job
    decides (the sender's access), the draft job (write token, no model key) opens one
    task PR; the same event delivered again opens nothing new, and the model is never
    called."""
    root, origin = fleet_repo
    body = "Write a contributing guide.\n\n- [ ] check: test -f CONTRIBUTING.md\n"
    with FakeGitHub(permissions={"founder-ana": "admin"}) as gh, FakeAnthropic([]) as model:
        number = gh.open_issue("Contributing guide", body)
        event = payload("issues.labeled", label__name="fleet:task")
        event["issue"].update(number=number, title="Contributing guide", body=body)
        event["issue"]["labels"] = [{"name": "fleet:task"}, {"name": "fleet:role/engineer"}]
        event["sender"]["login"] = "founder-ana"
        for _ in range(2):
            out = run_act(
                root, "issues", event, gh, {"ANTHROPIC_BASE_URL": model.url}, "fleet-intake.yml"
            )
            assert out.returncode == 0, out.stdout[-4000:] + out.stderr[-2000:]
        assert model.requests == []
    (pr,) = gh.pulls()
    assert pr["head"]["ref"] == f"fleet-task/issue-{number}"
    assert "already drafted" in out.stdout  # the second delivery
    drafted = git(origin, "ls-tree", "-r", "--name-only", pr["head"]["ref"], "tasks/").split()
    assert (
        len(drafted)
        == len(git(origin, "ls-tree", "-r", "--name-only", "main", "tasks/").split()) + 1
    )


def with_cto(root: Path) -> None:
    """The minimal fleet plus a `cto` role, the role the comments below ask for."""
    role = scaffold.MINIMAL_ROLE.replace("name: engineer", "name: cto")
    (root / "fleet/roles/cto.yaml").write_text(role)
    (root / "fleet/directives/cto.md").write_text("# CTO\n\n- Decide, then write it down.\n")
    commit_all(root, "a cto role")
    git(root, "push", "-q", "origin", "main")


def comment_event(number: int, title: str, body: str, comment: str, login: str) -> dict:
    """GitHub's `issue_comment.created` example on issue `number` (not a PR), by `login`."""
    event = payload("issue_comment.created")
    event["issue"].update(number=number, title=title, body=body)
    event["issue"].pop("pull_request", None)
    event["comment"]["body"] = comment
    event["comment"]["user"]["login"] = event["sender"]["login"] = login
    return event


def test_a_collaborators_mention_drafts_one_task_pr_and_a_redelivery_nothing(fleet_repo) -> None:
    """`@fleet cto ...` by a user with write access: the check job (read-only token)
    decides, the draft job opens one task PR whose file carries the issue's criteria and
    the comment's instructions; the same delivery again opens nothing new; no model."""
    root, origin = fleet_repo
    with_cto(root)
    body = "Pick a database.\n\n- [ ] review: the choice is written down with its reasons\n"
    with FakeGitHub(permissions={"founder-ana": "write"}) as gh, FakeAnthropic([]) as model:
        number = gh.open_issue("Choose a database", body)
        event = comment_event(
            number, "Choose a database", body, "@fleet cto compare two, keep it short",
            "founder-ana",
        )  # fmt: skip
        for _ in range(2):
            out = run_act(
                root, "issue_comment", event, gh, {"ANTHROPIC_BASE_URL": model.url},
                "fleet-intake.yml",
            )  # fmt: skip
            assert out.returncode == 0, out.stdout[-4000:] + out.stderr[-2000:]
        assert model.requests == []
        assert all(w == "GET" for w, _, _ in gh.read_log)  # the check job wrote nothing
    (pr,) = gh.pulls()
    assert pr["head"]["ref"] == f"fleet-task/issue-{number}"
    assert "already drafted" in out.stdout  # the second delivery
    (drafted,) = set(
        git(origin, "ls-tree", "-r", "--name-only", pr["head"]["ref"], "tasks/").split()
    ) - set(git(origin, "ls-tree", "-r", "--name-only", "main", "tasks/").split())
    text = git(origin, "show", f"{pr['head']['ref']}:{drafted}")
    assert "role: cto" in text and "the choice is written down" in text
    assert "compare two, keep it short" in text
    replies = [c for c in gh.comments if c["number"] == number]
    assert len(replies) == 1 and "Drafted task" in replies[0]["body"]


def test_a_non_collaborators_mention_does_nothing_and_a_missing_checklist_is_asked_once(
    fleet_repo,
) -> None:
    """An outsider's `@fleet cto ...`: the check job says no, the draft job never starts
    (no PR, no reply, no write request at all); a comment on a PR or by a bot starts no
    job. A collaborator's request on an issue with no acceptance criteria: exactly one
    reply asking for them, and no PR."""
    root, _origin = fleet_repo
    with_cto(root)
    with FakeGitHub(permissions={"founder-ana": "admin"}) as gh, FakeAnthropic([]) as model:
        number = gh.open_issue("Rewrite it in Rust", "Everything, today.", login="stranger")
        writes_before = len([m for m, _ in gh.log if m != "GET"])
        event = comment_event(
            number, "Rewrite it in Rust", "Everything, today.", "@fleet cto do it now",
            "stranger",
        )  # fmt: skip
        out = run_act(
            root, "issue_comment", event, gh, {"ANTHROPIC_BASE_URL": model.url},
            "fleet-intake.yml",
        )  # fmt: skip
        assert out.returncode == 0, out.stdout[-4000:] + out.stderr[-2000:]
        assert "no write access" in out.stdout
        assert not re.search(r"\[fleet intake/Draft the task *\] .*Job succeeded", out.stdout)
        assert gh.pulls() == [] and [c for c in gh.comments if c["number"] == number] == []
        assert len([m for m, _ in gh.log if m != "GET"]) == writes_before

        # a maintainer's comment on a pull request, and a bot's: no job starts at all
        on_pr = comment_event(number, "x", "x", "@fleet cto do it", "founder-ana")
        on_pr["issue"]["pull_request"] = {"url": "https://api.github.com/repos/acme/fleet/pulls/1"}
        by_bot = comment_event(number, "x", "x", "@fleet cto do it", "github-actions[bot]")
        by_bot["sender"]["type"] = "Bot"
        requests = len(gh.log)
        for event in (on_pr, by_bot):
            out = run_act(
                root, "issue_comment", event, gh, {"ANTHROPIC_BASE_URL": model.url},
                "fleet-intake.yml",
            )  # fmt: skip
            assert out.returncode == 0, out.stdout[-4000:] + out.stderr[-2000:]
            assert "Job succeeded" not in out.stdout and "fleet plan" not in out.stdout
        assert len(gh.log) == requests  # not even a read

        vague = gh.open_issue("Make it faster", "It is slow.")
        event = comment_event(
            vague, "Make it faster", "It is slow.", "/fleet cto please look", "founder-ana"
        )
        out = run_act(
            root, "issue_comment", event, gh, {"ANTHROPIC_BASE_URL": model.url},
            "fleet-intake.yml",
        )  # fmt: skip
        assert out.returncode == 0, out.stdout[-4000:] + out.stderr[-2000:]
        assert model.requests == []
    (reply,) = [c for c in gh.comments if c["number"] == vague]
    assert "acceptance criteria" in reply["body"] and "- [ ] check:" in reply["body"]
    assert gh.pulls() == []
