"""The hand-computed scenario for status, SLA and dashboard tests."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from runner.gitrepo import Git
from runner.records import RunRecord
from runner.state import Ledger, StateStore
from tests.conftest import commit_all, git

NOW = "2026-11-24T12:00:00Z"


def _at(when: str, role: str | None = None) -> dict[str, str]:
    who = {
        "GIT_AUTHOR_NAME": f"{role} (fleet)" if role else "Ana Founder",
        "GIT_AUTHOR_EMAIL": f"fleet-{role}@x" if role else "ana@example.com",
    }
    return {"GIT_AUTHOR_DATE": when, "GIT_COMMITTER_DATE": when, **who}


def _mark_done(root: Path, task: str) -> None:
    path = root / f"tasks/{task}.yaml"
    path.write_text(path.read_text().replace("\nrole: ", "\nstatus: done\nrole: ", 1))


@pytest.fixture
def fixture_repo(example: Path) -> Path:
    """The scenario the expected numbers below were computed from by hand."""
    root = example
    git(root, "init", "-q", "-b", "main")
    commit_all(root, "Set up the fleet", **_at("2026-11-01T09:00:00Z"))
    _mark_done(root, "t-003")
    commit_all(root, "Merge security/t-003", **_at("2026-11-10T09:00:00Z"))  # before the period
    _mark_done(root, "t-001")
    (root / "ci").mkdir()
    (root / "ci/pipeline.sh").write_text("echo ok\n")
    git(root, "add", "-A")
    git(
        root,
        "commit",
        "-q",
        "-m",
        "Complete t-001\n\nFleet-Role: devops",
        env=_at("2026-11-20T10:00:00Z", "devops"),
    )
    (root / "NOTES.md").write_text("founder notes\n")
    commit_all(root, "Founder notes", **_at("2026-11-21T09:00:00Z"))

    store = StateStore(Git(root))
    ledger = Ledger(store)
    usage = {
        "input_tokens": 1000,
        "output_tokens": 200,
        "cache_read_input_tokens": 3000,
        "cache_creation_input_tokens": 1000,
    }
    for record in (
        RunRecord(
            "r1",
            "cto",
            "t-005",
            "2026-11-23T08:00:00Z",
            "failed",
            cost_usd=0.50,
            usage=usage,
            reason="acceptance failed",
        ),
        RunRecord("r2", "devops", "t-001", "2026-11-20T09:00:00Z", "done"),
        RunRecord(
            "r3",
            "ceo",
            "t-010",
            "2026-11-24T07:00:00Z",
            "done",
            cost_usd=1.25,
            usage={
                "input_tokens": 500,
                "output_tokens": 300,
                "cache_read_input_tokens": 6000,
                "cache_creation_input_tokens": 500,
            },
            delegated=["t-013", "t-014"],
        ),
        RunRecord("r4", "fullstack", "t-006", "2026-11-10T07:00:00Z", "failed", cost_usd=2.0),
        RunRecord("r5", "cto", "t-005", "2026-11-24T08:00:00Z", "running"),
    ):
        ledger.start(record)

    def rec(path: str, **data: object) -> tuple[str, bytes]:
        return path, (json.dumps(data) + "\n").encode()

    store.write(
        dict(
            [
                rec(  # r5 is live: it holds its task's lease (runner.lease)
                    "leases/t-005.json",
                    task="t-005",
                    role="cto",
                    run_id="r5",
                    run_record="runs/2026-11-24/r5.json",
                    renewed="2026-11-24T11:59:00Z",
                    expires="2026-11-24T12:30:00Z",
                    heartbeat=True,
                ),
                rec(
                    "forge/prs/devops/t-001.json",
                    id="local-pr:devops/t-001",
                    branch="fleet/devops/t-001",
                    title="t-001",
                    draft=False,
                    state="merged",
                    created="2026-11-20T10:05:00Z",
                    closed="2026-11-20T12:00:00Z",
                    comments=[],
                ),
                rec(
                    "forge/prs/security/t-003.json",
                    id="local-pr:security/t-003",
                    branch="fleet/security/t-003",
                    title="t-003",
                    draft=False,
                    state="merged",
                    created="2026-11-09T09:00:00Z",
                    closed="2026-11-10T09:00:00Z",
                    comments=[],
                ),
                rec(
                    "forge/prs/research/t-009.json",
                    id="local-pr:research/t-009",
                    branch="fleet/research/t-009",
                    title="t-009",
                    draft=False,
                    state="open",
                    created="2026-11-22T09:00:00Z",
                    comments=[],
                ),
                rec(
                    "forge/issues/fullstack/t-006/credential.json",
                    id="local-issue:fullstack/t-006/credential",
                    kind="credential",
                    role="fullstack",
                    task="t-006",
                    title="need STAGING_DATABASE_URL",
                    state="open",
                    created="2026-11-23T12:00:00Z",
                    comments=[],
                ),
                rec(
                    "forge/issues/marketing/t-008/decision.json",
                    id="local-issue:marketing/t-008/decision",
                    kind="decision",
                    role="marketing",
                    task="t-008",
                    title="which launch date?",
                    state="open",
                    created="2026-11-22T12:00:00Z",
                    comments=[],
                ),
                rec(
                    "forge/issues/cto/t-005/failure.json",
                    id="local-issue:cto/t-005/failure",
                    kind="failure",
                    role="cto",
                    task="t-005",
                    title="tests fail",
                    state="closed",
                    created="2026-11-21T12:00:00Z",
                    closed="2026-11-22T12:00:00Z",
                    comments=[],
                ),
            ]
        ),
        "fabricated forge records",
    )
    return root


ENV = {"FLEET_FORGE": "local", "FLEET_NOW": NOW, "PATH": "/usr/bin:/bin"}
