from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

from runner.gitrepo import Git
from runner.lease import Lease, LeaseTerms
from runner.records import RunRecord
from runner.state import Ledger, StateStore


def test_plan_text_explains_every_task(repo: Path, fleet_cli, monkeypatch) -> None:
    monkeypatch.setenv("FLEET_NOW", "2026-11-24T10:30:00Z")
    out = fleet_cli("-C", str(repo), "plan")
    assert out.exit_code == 0, out.output
    assert "RUN  t-005" in out.stdout
    assert "waiting on t-001 (open)" in out.stdout
    matrix = json.loads(fleet_cli("-C", str(repo), "plan", "--format", "matrix").stdout)
    assert {"role": "devops", "task": "t-001"} in matrix["include"]


def test_plan_reads_the_ledger_and_work_branches(repo: Path, fleet_cli, monkeypatch) -> None:
    monkeypatch.setenv("FLEET_NOW", "2026-11-24T10:30:00Z")
    store = StateStore(Git(repo))
    held = datetime(2026, 11, 24, 10, 29, tzinfo=UTC)
    path = "runs/2026-11-24/r1.json"
    assert Lease(store, "t-005", "cto", "r1", path, lambda: held, LeaseTerms()).acquire() is None
    Ledger(store).start(RunRecord("r1", "cto", "t-005", "2026-11-24T10:00:00Z"))
    Git(repo).run("branch", "fleet/devops/t-001")
    data = json.loads(fleet_cli("-C", str(repo), "plan", "--format", "json").stdout)
    reasons = {d["task"]: d["reason"] for d in data["decisions"] if d["task"]}
    assert "already running (run r1)" in reasons["t-005"]
    picks = {p["task"]: p["reason"] for p in data["picks"]}
    assert "resumes its work branch" in picks["t-001"]


def test_plan_refuses_an_invalid_fleet_config(repo: Path, fleet_cli) -> None:
    (repo / "fleet/fleet.yaml").write_text("version: 1\n")
    out = fleet_cli("-C", str(repo), "plan")
    assert out.exit_code == 2
    assert "fleet/fleet.yaml" in out.stderr and "fleet validate" in out.stderr


def test_bad_fleet_now_is_a_usage_error(repo: Path, fleet_cli, monkeypatch) -> None:
    monkeypatch.setenv("FLEET_NOW", "yesterday")
    out = fleet_cli("-C", str(repo), "plan")
    assert out.exit_code == 2
    assert "FLEET_NOW" in out.stderr


def test_unknown_role_is_a_usage_error_worded_once(repo: Path, fleet_cli) -> None:
    """plan, run and sync answer an unknown role the same way: exit 2, the known roles."""
    messages = set()
    for args in (
        ["plan", "--role", "nobody"],
        ["plan", "--role", "cto", "--role", "nobody"],
        ["run", "--role", "nobody"],
        ["sync", "nobody"],
    ):
        result = fleet_cli("-C", str(repo), *args)
        assert result.exit_code == 2, (args, result.output)
        messages.add(result.stderr.strip())
    assert len(messages) == 1
    assert messages.pop().startswith("fleet: unknown role 'nobody' (roles: ceo, cto, devops")
