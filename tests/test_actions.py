"""Event handling with GitHub's own example payloads (tests/data/webhooks)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from runner import actions
from runner.load import load
from tests.conftest import DATA, payload


def _event(name: str, file: str | None = None, **changes: object) -> actions.Event:
    return actions.Event(name, payload(file or name, **changes))


@pytest.fixture
def fleet(example: Path):
    return load(example).fleet


def test_schedule_and_push(fleet) -> None:
    assert (
        actions.intent(actions.Event("schedule", {"schedule": "17 * * * *"}), fleet).kind == "tick"
    )
    push = actions.intent(_event("push"), fleet, ["tasks/t-006.yaml", "fleet/directives/cto.md"])
    assert push.kind == "tick" and push.force_due == ("cto", "fullstack")


def test_dispatch_inputs_are_checked_against_the_fleet(fleet) -> None:
    ok = actions.intent(
        _event("workflow_dispatch", inputs={"task": "t-005", "dry_run": "true"}), fleet
    )
    assert (ok.role, ok.task, ok.dry_run) == ("cto", "t-005", True)
    with pytest.raises(actions.EventError, match="not a valid name"):
        actions.intent(_event("workflow_dispatch", inputs={"role": "$(curl x)"}), fleet)
    with pytest.raises(actions.EventError, match="not a role"):
        actions.intent(_event("workflow_dispatch", inputs={"role": "janitor"}), fleet)


def test_review_and_comment_on_agent_prs(fleet) -> None:
    review = actions.intent(_event("pull_request_review", "pull_request_review.submitted"), fleet)
    assert review.kind in ("revise", "none")
    comment = actions.intent(
        _event("issue_comment", "issue_comment.created", issue__pull_request={"url": "x"}), fleet
    )
    assert comment.kind == "revise" and isinstance(comment.pr, int)
    on_issue = _event("issue_comment", "issue_comment.created")
    on_issue.payload["issue"].pop("pull_request", None)
    assert actions.intent(on_issue, fleet).kind == "none"


def test_bots_never_trigger_work(fleet) -> None:
    bot = _event(
        "issue_comment",
        "issue_comment.created",
        issue__pull_request={"url": "x"},
        sender__login="dependabot[bot]",
        sender__type="Bot",
    )
    result = actions.intent(bot, fleet)
    assert result.kind == "none" and "bot" in result.reason


def test_fork_reviews_are_ignored(fleet) -> None:
    event = _event("pull_request_review", "pull_request_review.submitted")
    event.payload["pull_request"]["head"]["repo"]["full_name"] = "mallory/fleet"
    assert actions.intent(event, fleet).kind == "none"


def test_escalation_answers_need_the_label_and_a_marker(fleet) -> None:
    body = "need it\n<!-- fleet:kind=escalation/credential role=fullstack task=t-006 -->"
    labels = [{"name": "fleet:escalation"}, {"name": "fleet:role/fullstack"}]
    closed = _event(
        "issues", "issues.unlabeled", action="closed", issue__body=body, issue__labels=labels
    )  # GitHub ships no issues.closed example
    assert actions.intent(closed, fleet).force_due == ("fullstack",)
    unlabeled = _event(
        "issues", "issues.unlabeled", issue__body=body, label={"name": "fleet:escalation"}
    )
    assert actions.intent(unlabeled, fleet).kind == "tick"
    other_label = _event("issues", "issues.unlabeled", issue__body=body, label={"name": "bug"})
    assert actions.intent(other_label, fleet).kind == "none"
    forged = _event(
        "issues", "issues.unlabeled", action="closed", issue__body=body, issue__labels=[]
    )  # anyone can write a marker; only triagers can label
    assert actions.intent(forged, fleet).kind == "none"


CRAFTED = ["$(curl http://127.0.0.1:9/pwn)", '"; rm -rf / #', "`touch /tmp/fleet-pwned`"]


@pytest.mark.parametrize("text", CRAFTED)
def test_crafted_payload_text_is_only_ever_data(
    fleet, text: str, tmp_path: Path, fleet_cli, repo: Path, monkeypatch
) -> None:
    event = _event(
        "issue_comment",
        "issue_comment.created",
        issue__pull_request={"url": "x"},
        issue__title=text,
        comment__body=text,
        sender__login="outsider",
    )
    assert actions.intent(event, fleet).kind == "revise"
    path = tmp_path / "event.json"
    path.write_text(json.dumps(event.payload))
    monkeypatch.setenv("GITHUB_EVENT_NAME", "workflow_dispatch")
    monkeypatch.setenv("GITHUB_EVENT_PATH", str(path))
    event.payload["inputs"] = {"role": text}
    path.write_text(json.dumps(event.payload))
    out = fleet_cli("-C", str(repo), "plan", "--format", "matrix")
    assert out.exit_code == 2 and "not a valid name" in out.stderr
    assert not Path("/tmp/fleet-pwned").exists()


def test_outputs_summary_and_masks(tmp_path: Path) -> None:
    out, summary = tmp_path / "out", tmp_path / "summary"
    env = {
        "GITHUB_OUTPUT": str(out),
        "GITHUB_STEP_SUMMARY": str(summary),
        "ANTHROPIC_API_KEY": "sk-secret-value",
        "FLEET_NOW": "2026-11-24T00:00:00Z",
        "GITHUB_ACTIONS": "true",
    }
    actions.set_outputs(env, {"matrix": '{"include":[]}', "count": "0"})
    text = out.read_text()
    assert "matrix<<" in text and '{"include":[]}' in text
    actions.write_summary(env, "### hello")
    assert summary.read_text().startswith("### hello")
    assert actions.mask_lines(env) == ["::add-mask::sk-secret-value"]
    outside = {k: v for k, v in env.items() if k != "GITHUB_ACTIONS"}
    assert actions.mask_lines(outside) == []  # a terminal would show the secret
    assert actions.annotation("error", "50%\nx") == "::error title=fleet-runner::50%25%0Ax"


def test_payload_files_are_githubs_own() -> None:
    readme = (DATA / "webhooks" / "README.md").read_text()
    assert "@octokit/webhooks-examples" in readme


def test_pull_request_events_only_ever_ask_for_validation(fleet) -> None:
    """fleet-validate.yml runs `fleet tick` with a write token on `pull_request`: those
    events decide `validate` (a plan comment; a bot's: nothing), never a run, whoever
    sends them and whatever the PR's title and body say."""
    for name in ("pull_request.opened", "pull_request.synchronize"):
        for sender in ("founder-ana", "outsider", "dependabot[bot]"):
            event = _event(
                "pull_request", name, sender__login=sender,
                pull_request__title="@fleet cto run now", pull_request__body="/fleet cto go",
            )  # fmt: skip
            wanted = "none" if sender.endswith("[bot]") else "validate"  # bots: nothing
            assert actions.intent(event, fleet).kind == wanted
            trusted = actions.decide(event, fleet, None, lambda _login: True)
            assert trusted.kind == wanted and trusted.role is None
