"""One invalid task file never stops the fleet: `fleet validate` fails on it, while plan,
status (every format), sla and tick go on with the rest and show it as a problem.

Reproduces issue 12 #3: an agent's proposed task for a shell role without `steps:`,
merged, made status, plan and sla exit 2."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.conftest import commit_all, git

NOW = "2026-11-24T10:30:00Z"
BROKEN = """\
# yaml-language-server: $schema=../schemas/task.schema.json
id: t-050
title: Rotate the deploy keys
role: devops
created: 2026-11-20
created_by: cto
parent: t-005
acceptance:
  - check: test -f ci/keys.txt
"""


@pytest.fixture
def broken(repo: Path, monkeypatch) -> Path:
    """The example fleet with the merged proposal (shell role, no steps) on main."""
    monkeypatch.setenv("FLEET_NOW", NOW)
    monkeypatch.setenv("FLEET_FORGE", "local")
    (repo / "tasks/t-050.yaml").write_text(BROKEN)
    commit_all(repo, "Merge cto/t-005: propose t-050")
    git(repo, "push", "-q", "origin", "main")
    return repo


def test_validate_still_fails_on_it(broken: Path, fleet_cli) -> None:
    out = fleet_cli("-C", str(broken), "validate")
    assert out.exit_code == 1
    assert "tasks/t-050.yaml" in out.stdout and "steps" in out.stdout


def test_plan_goes_on_and_never_schedules_it(broken: Path, fleet_cli) -> None:
    out = fleet_cli("-C", str(broken), "plan")
    assert out.exit_code == 0, out.output
    assert "RUN  t-005" in out.stdout and "RUN  t-001" in out.stdout
    assert "tasks/t-050.yaml:4:1" in out.stdout and "no 'steps:'" in out.stdout
    matrix = json.loads(fleet_cli("-C", str(broken), "plan", "--format", "matrix").stdout)
    assert "t-050" not in {m["task"] for m in matrix["include"]}
    data = json.loads(fleet_cli("-C", str(broken), "plan", "--format", "json").stdout)
    assert [p["path"] for p in data["problems"]] == ["tasks/t-050.yaml"]
    asked = fleet_cli("-C", str(broken), "plan", "--task", "t-050", "--format", "json")
    reasons = [d["reason"] for d in json.loads(asked.stdout)["decisions"]]
    assert len(reasons) == 1 and "tasks/t-050.yaml is invalid" in reasons[0]


@pytest.mark.parametrize("fmt", ["text", "markdown", "json", "html"])
def test_status_shows_it_as_a_problem(broken: Path, fleet_cli, fmt: str) -> None:
    out = fleet_cli("-C", str(broken), "status", "--format", fmt)
    assert out.exit_code == 0, out.output
    assert "tasks/t-050.yaml" in out.stdout
    assert "no &#x27;steps:&#x27;" in out.stdout if fmt == "html" else "no 'steps:'" in out.stdout
    if fmt == "json":
        data = json.loads(out.stdout)
        assert data["problems"][0]["path"] == "tasks/t-050.yaml"
        assert data["problems"][0]["code"] == "engine-mismatch"
        states = {r["id"] for rows in data["by_state"].values() for r in rows}
        assert "t-050" not in states and "t-005" in states


def test_running_it_says_why_not(broken: Path, fleet_cli) -> None:
    out = fleet_cli("-C", str(broken), "run", "--role", "devops", "--task", "t-050")
    assert out.exit_code == 2
    assert "task file tasks/t-050.yaml is invalid" in out.output and "steps" in out.output


def test_sla_goes_on(broken: Path, fleet_cli) -> None:
    out = fleet_cli("-C", str(broken), "sla", "--dry-run")
    assert out.exit_code == 0, out.output


def test_tick_goes_on_without_it(broken: Path, fleet_cli) -> None:
    out = fleet_cli("-C", str(broken), "tick", "--dry-run")
    assert out.exit_code == 0, out.output
    assert "Dry run: devops on t-001" in out.stdout and "on t-050" not in out.stdout
    assert "tasks/t-050.yaml:4:1" in out.stderr


def test_a_broken_fleet_file_stays_fatal(broken: Path, fleet_cli) -> None:
    (broken / "fleet/roles/devops.yaml").write_text("name: devops\n")
    out = fleet_cli("-C", str(broken), "plan")
    assert out.exit_code == 2
    assert "fleet/roles/devops.yaml" in out.stderr and "fleet validate" in out.stderr
