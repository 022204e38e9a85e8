"""SLA breaches escalate once, and the escalation closes itself when the task moves on."""

from __future__ import annotations

import json
from pathlib import Path

from runner.gitrepo import Git
from runner.state import StateStore
from tests.conftest import commit_all
from tests.report.conftest import ENV, _at, _mark_done


def _notices(root: Path) -> dict[str, dict]:
    store = StateStore(Git(root))
    out = {}
    for path in store.list("forge/issues/"):
        record = store.read_json(path)
        if record["kind"] in ("sla", "budget"):
            out[record["task"] or record["role"]] = record
    return out


def test_breaches_escalate_once_with_the_likely_cause(
    fixture_repo: Path,
    fleet_cli,
    monkeypatch,
) -> None:
    for k, v in ENV.items():
        monkeypatch.setenv(k, v)
    first = fleet_cli("-C", str(fixture_repo), "sla")
    assert first.exit_code == 0, first.output
    notices = _notices(fixture_repo)
    assert set(notices) == {"t-002", "t-004", "t-008", "t-009", "t-010"}
    review = notices["t-009"]
    # the title names the task once (issue 12 #9: "t-009 review ... (t-009)")
    assert review["title"] == "[fleet] research: review for 51h, past its 48h SLA (t-009)"
    assert "Likely cause: waiting on review" in review["body"]
    assert "Likely cause: waiting on a human" in notices["t-008"]["body"]
    assert "Likely cause: no runs" in notices["t-002"]["body"]
    again = fleet_cli("-C", str(fixture_repo), "sla")
    assert again.stdout.count("open: ") == 5 and "escalated" not in again.stdout
    assert all(not n["comments"] for n in _notices(fixture_repo).values())
    # an sla notice does not block the task it is about
    status = json.loads(fleet_cli("-C", str(fixture_repo), "status", "--format", "json").stdout)
    assert [r["id"] for r in status["by_state"]["review"]] == ["t-009"]


def test_the_escalation_closes_itself_when_the_task_moves_on(
    fixture_repo: Path,
    fleet_cli,
    monkeypatch,
) -> None:
    for k, v in ENV.items():
        monkeypatch.setenv(k, v)
    fleet_cli("-C", str(fixture_repo), "sla")
    _mark_done(fixture_repo, "t-009")  # the PR was merged
    commit_all(fixture_repo, "Merge research/t-009", **_at("2026-11-24T11:30:00Z"))
    store = StateStore(Git(fixture_repo))
    pr = store.read_json("forge/prs/research/t-009.json")
    pr.update(state="merged", closed="2026-11-24T11:30:00Z")
    store.write({"forge/prs/research/t-009.json": json.dumps(pr).encode()}, "merged")
    out = fleet_cli("-C", str(fixture_repo), "sla")
    assert "closed local-issue:research/t-009/sla: Resolved: t-009 is now done." in out.stdout
    closed = _notices(fixture_repo)["t-009"]
    assert closed["state"] == "closed"
    assert closed["comments"][-1]["body"] == "Resolved: t-009 is now done."


def test_budget_overruns_escalate(fixture_repo: Path, fleet_cli, monkeypatch) -> None:
    role = fixture_repo / "fleet/roles/ceo.yaml"
    role.write_text(
        role.read_text().replace("run_usd: 3.00, daily_usd: 6.00", "run_usd: 1.00, daily_usd: 1.00")
    )
    commit_all(fixture_repo, "lower the ceo budget", **_at("2026-11-24T11:00:00Z"))
    for k, v in ENV.items():
        monkeypatch.setenv(k, v)
    out = fleet_cli("-C", str(fixture_repo), "sla", "--dry-run")
    assert "would escalate: ceo: spent $1.25 of $1.00 today" in out.stdout
    assert "ceo" not in _notices(fixture_repo)  # a dry run writes nothing
