"""Task verbs for recovery (fleet task list|show|retry|cancel) on real git repositories,
with the local forge and the GitHub forge (loopback fake)."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import pytest

from runner.cli_base import STATES
from runner.forge.select import open_forge
from runner.gitrepo import Git
from runner.lease import Lease, LeaseTerms
from runner.lifecycle import STATES as LIFECYCLE_STATES
from runner.records import RunRecord
from runner.state import Ledger, StateStore
from runner.workspace import open_workspace
from tests.conftest import commit_all, git
from tests.fakes.github_server import FakeGitHub

pytestmark = pytest.mark.slow  # end-to-end (git, fake servers, whole runs): CI runs it


NOW = "2026-11-24T10:30:00Z"


@pytest.fixture
def local(monkeypatch) -> None:
    monkeypatch.setenv("FLEET_FORGE", "local")
    monkeypatch.setenv("FLEET_NOW", NOW)


def _json(fleet_cli, repo: Path, *args: str):
    result = fleet_cli("-C", str(repo), *args, "--format", "json")
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


def _state(fleet_cli, repo: Path, task: str) -> dict:
    return _json(fleet_cli, repo, "task", "show", task)


def test_cli_state_choices_are_the_lifecycle_states() -> None:
    assert STATES == LIFECYCLE_STATES


def test_list_filters_by_state_and_role(repo: Path, fleet_cli, local) -> None:
    rows = _json(fleet_cli, repo, "task", "list")
    assert {r["id"] for r in rows} >= {"t-001", "t-002", "t-005"}
    first = next(r for r in rows if r["id"] == "t-001")
    assert (first["state"], first["ready"], first["role"]) == ("open", True, "devops")
    assert fleet_cli("-C", str(repo), "run", "--role", "devops", "--task", "t-001").exit_code == 0
    review = _json(fleet_cli, repo, "task", "list", "--state", "review")
    assert [r["id"] for r in review] == ["t-001"]
    devops = _json(fleet_cli, repo, "task", "list", "--role", "devops")
    assert {r["role"] for r in devops} == {"devops"} and len(devops) >= 2
    text = fleet_cli("-C", str(repo), "task", "list", "--role", "devops").stdout
    assert "t-001" in text and "PR local-pr:devops/t-001 awaits review" in text
    # t-002 waits on t-001 (in review): said as `fleet plan` says it, not "not started"
    assert "t-002      devops       open (waiting)" in text, text
    assert "waiting on t-001; not started" in text
    (t2,) = [r for r in devops if r["id"] == "t-002"]
    assert t2["waiting_on"] == ["t-001"] and not t2["ready"]
    assert fleet_cli("-C", str(repo), "task", "list", "--role", "nobody").exit_code == 2


def test_show_has_state_runs_cost_pr_and_the_last_delta(repo: Path, fleet_cli, local) -> None:
    assert fleet_cli("-C", str(repo), "run", "--role", "devops", "--task", "t-001").exit_code == 0
    info = _state(fleet_cli, repo, "t-001")
    assert info["state"] == "review" and "awaits review" in info["reason"]
    assert [r["outcome"] for r in info["runs"]] == ["done"]
    assert info["runs"][0]["branch"] == "fleet/devops/t-001"
    assert info["pr"]["id"] == "local-pr:devops/t-001"
    assert info["last_delta"] and "commit(s)" in info["last_delta"]
    text = fleet_cli("-C", str(repo), "task", "show", "t-001").stdout
    assert "state: review" in text and "PR local-pr:devops/t-001" in text
    assert "runs: 1, cost $0.0000" in text and "last delta:" in text
    missing = fleet_cli("-C", str(repo), "task", "show", "t-999")
    assert missing.exit_code == 2 and "unknown task 't-999'" in missing.stderr


def test_retry_abandons_a_dead_running_record_only_when_told(repo: Path, fleet_cli, local) -> None:
    """A killed run leaves `running` behind and the task is refused for hours; retry
    refuses to guess it is dead, --force marks it abandoned and the task runs again."""
    store = StateStore(Git(repo))
    ledger = Ledger(store)
    path = "runs/2026-11-24/r-dead.json"
    held = datetime(2026, 11, 24, 10, 29, tzinfo=UTC)  # its lease has minutes left
    lease = Lease(store, "t-001", "devops", "r-dead", path, lambda: held, LeaseTerms())
    assert lease.acquire() is None
    ledger.start(RunRecord("r-dead", "devops", "t-001", "2026-11-24T10:00:00Z", trigger="test"))
    plan = _json(fleet_cli, repo, "plan", "--role", "devops", "--due", "devops")
    assert plan["picks"] == []  # stuck: the dead run looks live (its lease has not expired)
    refused = fleet_cli("-C", str(repo), "task", "retry", "t-001")
    assert refused.exit_code == 1
    assert "run r-dead of t-001" in refused.stderr and "--force" in refused.stderr
    done = fleet_cli("-C", str(repo), "task", "retry", "t-001", "--force")
    assert done.exit_code == 0, done.output
    assert "run r-dead: marked abandoned" in done.stdout
    record = next(r for r in Ledger(StateStore(Git(repo))).runs() if r.run_id == "r-dead")
    assert record.outcome == "error" and record.reason.startswith("abandoned")
    assert record.ended == NOW
    plan = _json(fleet_cli, repo, "plan", "--role", "devops", "--due", "devops")
    assert [p["task"] for p in plan["picks"]] == ["t-001"]


def test_retry_reopens_a_failed_out_task_but_leaves_questions_open(
    repo: Path, fleet_cli, local, monkeypatch
) -> None:
    ws = open_workspace(repo)
    forge = open_forge(ws)
    for kind in ("failure", "decision"):
        forge.escalate(
            role="devops",
            task="t-001",
            kind=kind,
            title=f"[fleet] devops: {kind} (t-001)",
            body="evidence",
            assignees=(),
        )
    assert _state(fleet_cli, repo, "t-001")["state"] == "blocked"
    first = fleet_cli("-C", str(repo), "task", "retry", "t-001")
    assert first.exit_code == 0, first.output
    assert "escalation local-issue:devops/t-001/failure (failure): closed" in first.stdout
    assert "(decision) asks a question and stays open" in first.stdout
    info = _state(fleet_cli, repo, "t-001")
    assert info["state"] == "blocked" and [e["kind"] for e in info["escalations"]] == ["decision"]
    answer = ["local", "answer", "local-issue:devops/t-001/decision", "go ahead"]
    assert fleet_cli("-C", str(repo), *answer).exit_code == 0
    again = fleet_cli("-C", str(repo), "task", "retry", "t-001")
    assert "nothing stuck to clear" in again.stdout
    assert "fleet run --role devops --task t-001" in again.stdout
    assert _state(fleet_cli, repo, "t-001")["state"] == "open"


def test_retry_of_a_done_task_is_a_usage_error(repo: Path, fleet_cli, local) -> None:
    fleet_cli("-C", str(repo), "run", "--role", "devops", "--task", "t-001")
    assert fleet_cli("-C", str(repo), "local", "merge", "devops/t-001").exit_code == 0
    result = fleet_cli("-C", str(repo), "task", "retry", "t-001")
    assert result.exit_code == 2 and "is done in its task file" in result.stderr


def test_cancel_with_the_local_forge_is_a_commit_on_the_base_branch(
    repo: Path, fleet_cli, local
) -> None:
    result = fleet_cli("-C", str(repo), "task", "cancel", "t-002", "--reason", "not needed")
    assert result.exit_code == 0, result.output
    assert git(repo, "log", "-1", "--format=%s").strip() == "Cancel t-002: not needed"
    assert git(repo, "show", "--name-only", "--format=", "HEAD").split() == ["tasks/t-002.yaml"]
    text = (repo / "tasks/t-002.yaml").read_text()
    assert "status: cancelled" in text and 'result: "cancelled: not needed"' in text
    assert "status: cancelled" in git(repo.parent / "origin.git", "show", "main:tasks/t-002.yaml")
    assert fleet_cli("-C", str(repo), "validate").exit_code == 0
    assert _state(fleet_cli, repo, "t-002")["state"] == "cancelled"
    again = fleet_cli("-C", str(repo), "task", "cancel", "t-002")
    assert again.exit_code == 0 and "already cancelled" in again.stdout


def test_cancel_with_the_github_forge_is_a_pull_request(repo: Path, fleet_cli, monkeypatch) -> None:
    with FakeGitHub(permissions={"founder-ana": "admin"}) as gh:
        for key, value in {
            "FLEET_NOW": NOW,
            "GITHUB_TOKEN": gh.token,
            "GITHUB_REPOSITORY": "acme/fleet",
            "GITHUB_API_URL": gh.url,
            "FLEET_GITHUB_WRITE_INTERVAL": "0",
            "FLEET_GITHUB_BACKOFF": "0",
        }.items():
            monkeypatch.setenv(key, value)
        head = git(repo, "rev-parse", "HEAD")
        result = fleet_cli("-C", str(repo), "task", "cancel", "t-002", "--reason", "dup")
        assert result.exit_code == 0, result.output
        pulls = gh.pulls()
    assert len(pulls) == 1 and pulls[0]["head"]["ref"] == "fleet-cancel/t-002"
    assert pulls[0]["title"] == "Cancel t-002: dup"
    assert git(repo, "rev-parse", "HEAD") == head  # the checkout is not touched
    origin = repo.parent / "origin.git"
    assert "status: cancelled" in git(origin, "show", "fleet-cancel/t-002:tasks/t-002.yaml")
    assert "status: cancelled" not in git(origin, "show", "main:tasks/t-002.yaml")


def test_an_invalid_task_file_is_listed_and_explained_not_fatal(
    repo: Path, fleet_cli, local
) -> None:
    (repo / "tasks/t-050.yaml").write_text("id: t-050\ntitle: Broken\nrole: devops\n")
    commit_all(repo, "A task without acceptance criteria")
    listing = fleet_cli("-C", str(repo), "task", "list")
    assert listing.exit_code == 0, listing.output
    assert "t-050" in listing.stdout and "invalid" in listing.stdout
    shown = fleet_cli("-C", str(repo), "task", "show", "t-050")
    assert shown.exit_code == 2
    assert "task file tasks/t-050.yaml is invalid" in shown.stderr


def test_retry_of_a_task_blocked_on_a_fleet_wide_credential_names_the_question(
    repo: Path, fleet_cli, local
) -> None:
    """The missing-credential escalation is filed for the fleet, not the task: retry said
    only "(nothing stuck to clear)", not which issue to answer."""
    ran = fleet_cli("-C", str(repo), "run", "--role", "fullstack", "--task", "t-006")
    assert ran.exit_code == 0, ran.output
    issue = "local-issue:fullstack/credential-STAGING_DATABASE_URL/credential"
    out = fleet_cli("-C", str(repo), "task", "retry", "t-006")
    assert out.exit_code == 0, out.output
    assert f"escalation {issue} (credential) asks a question and stays open" in out.stdout
    assert _state(fleet_cli, repo, "t-006")["state"] == "blocked"
