"""The whole loop offline: run, merge, the next task becomes ready; escalate, answer."""

from __future__ import annotations

import json
from pathlib import Path

import yaml

from tests.conftest import commit_all, git, payload

ENV = {"FLEET_FORGE": "local", "FLEET_NOW": "2026-11-24T10:30:00Z"}


def _env(monkeypatch, **extra: str) -> None:
    for k, v in {**ENV, **extra}.items():
        monkeypatch.setenv(k, v)


def test_merge_completes_the_task_and_unlocks_its_dependant(
    repo: Path, fleet_cli, monkeypatch
) -> None:
    _env(monkeypatch)
    assert fleet_cli("-C", str(repo), "run", "--role", "devops", "--task", "t-001").exit_code == 0
    out = fleet_cli("-C", str(repo), "local", "merge", "devops/t-001")
    assert out.exit_code == 0, out.output
    assert "status: done" in (repo / "tasks/t-001.yaml").read_text()
    assert "status: done" in git(repo.parent / "origin.git", "show", "main:tasks/t-001.yaml")
    plan = json.loads(
        fleet_cli(
            "-C", str(repo), "plan", "--role", "devops", "--due", "devops", "--format", "json"
        ).stdout
    )  # the merge's push makes it due
    assert [p["task"] for p in plan["picks"]] == ["t-002"]
    again = fleet_cli("-C", str(repo), "local", "merge", "devops/t-001")
    assert again.exit_code == 2 and "no open local PR" in again.output


def test_answer_closes_the_escalation_and_reaches_the_delta(
    repo: Path, fleet_cli, monkeypatch
) -> None:
    _env(monkeypatch)
    run = fleet_cli("-C", str(repo), "run", "--role", "fullstack", "--task", "t-006")
    # one escalation per credential (not per task), filed under the role that needs it
    issue = "local-issue:fullstack/credential-STAGING_DATABASE_URL/credential"
    assert f"escalation {issue}" in run.stdout
    out = fleet_cli("-C", str(repo), "local", "answer", issue, "Use the staging vault key.")
    assert out.exit_code == 0, out.output
    plan = json.loads(
        fleet_cli(
            "-C", str(repo), "plan", "--role", "fullstack", "--due", "fullstack", "--format", "json"
        ).stdout
    )
    assert [p["task"] for p in plan["picks"]] == ["t-006"]  # no longer blocked
    delta = fleet_cli("-C", str(repo), "sync", "fullstack").stdout
    assert "Answers on your escalations (1)" in delta
    assert "Use the staging vault key." in delta


def test_local_commands_refuse_other_forges(repo: Path, fleet_cli, monkeypatch) -> None:
    _env(monkeypatch, FLEET_FORGE="github")
    out = fleet_cli("-C", str(repo), "local", "merge", "devops/t-001")
    assert out.exit_code == 2 and "local forge only" in out.output


def test_conflicting_merge_shows_gits_conflict_and_what_to_do(
    repo: Path, fleet_cli, monkeypatch
) -> None:
    _env(monkeypatch)
    assert fleet_cli("-C", str(repo), "run", "--role", "devops", "--task", "t-001").exit_code == 0
    (repo / "ci").mkdir()
    (repo / "ci/pipeline.sh").write_text("#!/bin/sh\necho founder's own pipeline\n")
    commit_all(repo, "Founder writes the pipeline first")
    before = git(repo, "rev-parse", "HEAD")
    out = fleet_cli("-C", str(repo), "local", "merge", "devops/t-001")
    assert out.exit_code == 1, out.output
    # git reports the conflict on stdout; the message must carry it, not end in ": "
    assert "CONFLICT (add/add): Merge conflict in ci/pipeline.sh" in out.stderr
    assert (
        "fleet: what to do:" in out.stderr and "git merge --no-ff fleet/devops/t-001" in out.stderr
    )
    assert git(repo, "rev-parse", "HEAD") == before  # the merge was aborted
    assert git(repo, "status", "--porcelain", "--untracked-files=no") == ""
    # following the advice: merge by hand, then record it
    git(repo, "fetch", "-q", ".", "fleet/devops/t-001")
    git(repo, "checkout", "FETCH_HEAD", "--", "ci/pipeline.sh")  # take the agent's file
    git(repo, "commit", "-q", "-m", "Founder takes the agent's pipeline")
    git(repo, "merge", "--no-ff", "-q", "-s", "ours", "fleet/devops/t-001", "-m", "by hand")
    again = fleet_cli("-C", str(repo), "local", "merge", "devops/t-001")
    assert again.exit_code == 0, again.output


def test_merge_takes_the_work_branch_a_run_in_another_clone_pushed(
    repo: Path, fleet_cli, monkeypatch
) -> None:
    """The runner ran elsewhere (CI, act, a teammate's clone) and pushed the work branch
    to origin only: the merge said `not something we can merge` and advised a `git
    merge` that failed the same way."""
    _env(monkeypatch)
    other = repo.parent / "runner-clone"
    git(repo.parent, "clone", "-q", str(repo.parent / "origin.git"), str(other))
    ran = fleet_cli("-C", str(other), "run", "--role", "devops", "--task", "t-001")
    assert ran.exit_code == 0, ran.output
    assert git(repo, "branch", "--list", "fleet/devops/t-001") == ""
    out = fleet_cli("-C", str(repo), "local", "merge", "devops/t-001")
    assert out.exit_code == 0, out.output
    assert "t-001 is done" in out.stdout
    assert "status: done" in (repo / "tasks/t-001.yaml").read_text()
    assert "status: done" in git(repo.parent / "origin.git", "show", "main:tasks/t-001.yaml")


def _asked_on_issue_7(monkeypatch, tmp_path: Path) -> None:
    """A maintainer's `@fleet cto ...` on issue #7 with one check, as GitHub delivers it."""
    body = "Write it.\n\n- [ ] check: test -f docs/adr/0009-cache.md\n"
    event = payload("issue_comment.created", comment__body="@fleet cto write the ADR")
    event["issue"].update(number=7, title="Caching ADR", body=body)
    (tmp_path / "event.json").write_text(json.dumps(event))
    monkeypatch.setenv("GITHUB_EVENT_NAME", "issue_comment")
    monkeypatch.setenv("GITHUB_EVENT_PATH", str(tmp_path / "event.json"))


def test_merging_a_task_pr_drafted_from_an_issue_assigns_the_task(
    repo: Path, fleet_cli, monkeypatch, tmp_path: Path
) -> None:
    """`fleet intake` on the local forge pushes the draft to origin only, and the merge's
    message said `issue-7 is done` (the branch's last part) for a task PR, which assigns a
    task and completes nothing."""
    _env(monkeypatch)
    _asked_on_issue_7(monkeypatch, tmp_path)
    drafted = fleet_cli("-C", str(repo), "intake")
    assert "drafted issue-7 for cto in local-pr:cto/issue-7" in drafted.output, drafted.output
    monkeypatch.delenv("GITHUB_EVENT_NAME")
    out = fleet_cli("-C", str(repo), "local", "merge", "cto/issue-7")
    assert out.exit_code == 0, out.output
    assert "issue-7 is assigned to cto." in out.stdout and "is done" not in out.stdout
    assert yaml.safe_load((repo / "tasks/issue-7.yaml").read_text())["role"] == "cto"


def test_merge_refuses_while_the_remote_base_is_ahead(repo: Path, fleet_cli, monkeypatch) -> None:
    """Merging onto a stale base used to merge, then fail on the refused push with git's
    error alone (the PR left open, the merge done locally)."""
    _env(monkeypatch)
    assert fleet_cli("-C", str(repo), "run", "--role", "devops", "--task", "t-001").exit_code == 0
    other = repo.parent / "teammate"
    git(repo.parent, "clone", "-q", str(repo.parent / "origin.git"), str(other))
    (other / "NOTES.md").write_text("a teammate's commit\n")
    commit_all(other, "Teammate's commit")
    git(other, "push", "-q", "origin", "main")
    before = git(repo, "rev-parse", "HEAD")
    out = fleet_cli("-C", str(repo), "local", "merge", "devops/t-001")
    assert out.exit_code == 2, out.output
    assert "main is behind origin/main" in out.stderr and "git pull origin main" in out.stderr
    assert git(repo, "rev-parse", "HEAD") == before
    git(repo, "pull", "-q", "--no-rebase", "origin", "main")
    again = fleet_cli("-C", str(repo), "local", "merge", "devops/t-001")
    assert again.exit_code == 0, again.output


def test_revise_needs_the_github_forge(repo: Path, fleet_cli, monkeypatch) -> None:
    for k, v in ENV.items():
        monkeypatch.setenv(k, v)
    result = fleet_cli("-C", str(repo), "revise", "--pr", "1")
    assert result.exit_code == 1
    assert "use the GitHub forge" in result.output


def test_intake_without_a_remote_fails_saying_what_to_do(
    example: Path, fleet_cli, monkeypatch, tmp_path: Path
) -> None:
    """It printed 'no base branch or remote to draft on' and exited 0: the maintainer who
    asked would wait for a task PR that never comes, and the job stayed green."""
    git(example, "init", "-q", "-b", "main")
    commit_all(example, "Fleet, no remote")
    _env(monkeypatch)
    _asked_on_issue_7(monkeypatch, tmp_path)
    out = fleet_cli("-C", str(example), "intake")
    assert out.exit_code == 2, out.output
    assert "issue #7: no base branch or remote" in out.output and "origin remote" in out.output


def test_an_answer_in_the_same_second_as_the_cursor_reaches_the_next_delta(repo: Path) -> None:
    """Times are whole seconds: an answer written in the second a run read its cursor
    (a fast run, answered at once, as `fleet demo` does) was skipped by `created > since`,
    and the resumed run never saw it."""
    from datetime import UTC, datetime

    from runner.forge.local import LOCAL_HUMAN, LocalForge
    from runner.gitrepo import Git
    from runner.state import StateStore

    now = datetime(2026, 11, 24, 10, 30, tzinfo=UTC)
    forge = LocalForge(StateStore(Git(repo)), lambda: now)
    cursor = forge.cursor()
    issue = forge.escalate(
        role="cto", task="t-005", kind="decision", title="Which queue?", body="?", assignees=()
    )
    forge.reply(issue.id, "ana", "Postgres.", close=True, via=LOCAL_HUMAN)
    (event,) = forge.events_since("cto", cursor)
    assert event.body == "Postgres." and event.trusted
