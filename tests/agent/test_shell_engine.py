"""The shell engine on real repositories with the local forge."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from runner.forge.select import open_forge
from runner.run import execute
from runner.workspace import open_workspace
from tests.conftest import commit_all, git

pytestmark = pytest.mark.slow  # end-to-end (git, fake servers, whole runs): CI runs it


ENV = {"PATH": "/usr/bin:/bin", "FLEET_FORGE": "local", "FLEET_NOW": "2026-11-24T10:30:00Z"}


def _run(repo: Path, role: str = "devops", task: str = "t-001"):
    ws = open_workspace(repo, ENV)
    forge = open_forge(ws)
    return execute(ws, forge, role, task, trigger="test", client_factory=None), ws, forge


def _set_steps(repo: Path, steps: list[str]) -> None:
    path = repo / "tasks/t-001.yaml"
    text = path.read_text()
    head, _, rest = text.partition("steps:\n")
    _, _, tail = rest.partition("acceptance:\n")
    path.write_text(
        head + "steps:\n" + "".join(f"  - {s!r}\n" for s in steps) + "acceptance:\n" + tail
    )
    commit_all(repo, "change steps")


def test_steps_run_and_the_pr_completes_the_task(repo: Path) -> None:
    outcome, ws, forge = _run(repo)
    assert outcome.record.outcome == "done"
    assert outcome.pr is not None and not outcome.pr.draft
    assert git(repo, "show", "fleet/devops/t-001:ci/pipeline.sh").startswith("#!/bin/sh")
    assert "status: done" in git(repo, "show", "fleet/devops/t-001:tasks/t-001.yaml")
    assert git(repo, "status", "--porcelain") == ""  # the user's checkout is untouched
    assert ws.states(ws.runs(), forge.view())["t-001"].state == "review"
    again, _, _ = _run(repo)  # re-running updates the same PR
    assert again.pr.id == outcome.pr.id and not again.pr.created_now


def test_a_step_outside_the_allow_list_is_escalated_not_run(repo: Path) -> None:
    _set_steps(repo, ["mkdir -p ci", "curl -o ci/x http://127.0.0.1:9/"])
    outcome, _, _ = _run(repo)
    assert outcome.record.outcome == "escalated"
    assert outcome.issue.kind == "blocked"
    assert "allow-list" in outcome.record.reason or "not allowed" in outcome.record.reason


def test_writes_outside_writable_paths_are_reverted(repo: Path) -> None:
    _set_steps(repo, ["mkdir -p ci", "printf x > README.txt", "printf y > ci/ok.sh"])
    outcome, _, forge = _run(repo)
    assert outcome.record.outcome == "escalated"
    assert outcome.issue.kind == "failure"
    files = git(repo, "ls-tree", "-r", "--name-only", "fleet/devops/t-001").split()
    assert "README.txt" not in files  # reverted
    assert "ci/ok.sh" in files  # what the role may write is kept for the reviewer
    issue = forge.store.read_json("forge/issues/devops/t-001/failure.json")
    assert "- README.txt" in issue["body"]


def test_failing_checks_are_retried_then_escalated_with_evidence(repo: Path) -> None:
    _set_steps(repo, ["mkdir -p ci", "printf 'exit 3' > ci/pipeline.sh", "chmod +x ci/pipeline.sh"])
    outcome, ws, forge = _run(repo)
    assert outcome.record.outcome == "escalated"
    assert outcome.record.attempts == 2
    assert outcome.issue.kind == "failure"
    assert outcome.pr is not None and outcome.pr.draft
    assert ws.states(ws.runs(), forge.view())["t-001"].state == "blocked"


def test_dry_run_prints_prompt_and_tools_and_calls_nothing(
    repo: Path, fleet_cli, monkeypatch
) -> None:
    for k, v in ENV.items():
        monkeypatch.setenv(k, v)
    out = fleet_cli("-C", str(repo), "run", "--role", "cto", "--dry-run")
    assert out.exit_code == 0, out.output
    assert "Dry run: cto on t-005" in out.stdout
    assert "Tools: read_file, list_files" in out.stdout
    assert "# Task t-005" in out.stdout and "## Sync delta" in out.stdout
    assert git(repo, "branch", "--list", "fleet-state") == ""  # no ledger write


def test_run_without_api_key_is_a_configuration_error(repo: Path, fleet_cli, monkeypatch) -> None:
    for k, v in ENV.items():
        monkeypatch.setenv(k, v)
    monkeypatch.delenv("ANTHROPIC_API_KEY", raising=False)
    out = fleet_cli("-C", str(repo), "run", "--role", "cto")
    assert out.exit_code == 2
    assert "ANTHROPIC_API_KEY" in out.stderr


def test_demo_runs_offline_without_credentials(tmp_path: Path) -> None:
    env = {
        k: v for k, v in os.environ.items() if not k.startswith(("ANTHROPIC", "GITHUB", "FLEET"))
    }
    env["HOME"] = str(tmp_path)
    out = subprocess.run(
        [sys.executable, "-m", "runner", "demo"],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert out.returncode == 0, out.stderr
    assert "devops/t-001: done" in out.stdout
    assert "security/t-003: done" in out.stdout
    assert "open PR local-pr:devops/t-001" in out.stdout


def test_run_of_a_task_already_in_review_says_why_and_succeeds(
    repo: Path, fleet_cli, monkeypatch
) -> None:
    for k, v in ENV.items():
        monkeypatch.setenv(k, v)
    first = fleet_cli("-C", str(repo), "run", "--role", "devops", "--task", "t-001")
    assert first.exit_code == 0 and "devops/t-001: done" in first.stdout
    again = fleet_cli("-C", str(repo), "run", "--role", "devops", "--task", "t-001")
    assert again.exit_code == 0
    assert "nothing to run: devops/t-001: in review: PR local-pr:devops/t-001" in again.stdout
