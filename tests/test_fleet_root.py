"""The fleet root is the directory holding fleet/fleet.yaml, and it must be the root of a
git work tree: a fleet nested in another checkout must never write into the outer one."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.conftest import commit_all, git


@pytest.fixture
def outer(tmp_path: Path, monkeypatch) -> Path:
    """An unrelated project checkout with one commit, and a fleet scaffolded inside it."""
    monkeypatch.setenv("FLEET_FORGE", "local")
    monkeypatch.setenv("FLEET_NOW", "2026-11-24T10:30:00Z")
    for key, value in {
        "GIT_AUTHOR_NAME": "Ana Founder",
        "GIT_AUTHOR_EMAIL": "ana@example.com",
        "GIT_COMMITTER_NAME": "Ana Founder",
        "GIT_COMMITTER_EMAIL": "ana@example.com",
    }.items():
        monkeypatch.setenv(key, value)
    root = tmp_path / "project"
    root.mkdir()
    git(root, "init", "-q", "-b", "main")
    (root / "README.md").write_text("an unrelated project\n")
    commit_all(root, "Project")
    return root


def _outer_state(root: Path) -> tuple[str, str, str]:
    return (
        git(root, "rev-parse", "HEAD"),
        git(root, "for-each-ref", "--format=%(refname)"),
        git(root, "status", "--porcelain"),
    )


def test_tick_in_a_fleet_nested_in_another_checkout_refuses_and_writes_nothing(
    outer: Path, fleet_cli
) -> None:
    fleet = outer / "my-fleet"
    init = fleet_cli("init", str(fleet), "--example")
    assert init.exit_code == 0, init.output
    assert f"inside the repository at {outer}" in init.stdout  # init says so up front
    before = _outer_state(outer)
    for args in (["tick", "--due", "devops"], ["run", "--role", "devops"], ["status"]):
        result = fleet_cli("-C", str(fleet), *args)
        assert result.exit_code == 2, (args, result.output)
        assert f"fleet: the fleet at {fleet} is inside the git repository at {outer}" in (
            result.stderr
        )
        assert "fleet: what to do: make the fleet a repository of its own" in result.stderr
    assert _outer_state(outer) == before  # no commit, no branch, no fleet-state, no file


def test_doctor_fails_the_fleet_root_check(outer: Path, fleet_cli) -> None:
    fleet = outer / "my-fleet"
    fleet_cli("init", str(fleet))
    result = fleet_cli("-C", str(fleet), "doctor", "--format", "json")
    assert result.exit_code == 1, result.output
    checks = {c["name"]: c for c in json.loads(result.stdout)}
    assert checks["fleet root"]["level"] == "fail"
    assert f"inside the git repository at {outer}" in checks["fleet root"]["detail"]


def test_following_the_advice_makes_the_fleet_its_own_repository(outer: Path, fleet_cli) -> None:
    fleet = outer / "my-fleet"
    fleet_cli("init", str(fleet), "--example")
    git(fleet, "init", "-q", "-b", "main")
    commit_all(fleet, "Fleet")
    before = _outer_state(outer)
    doctor = fleet_cli("-C", str(fleet), "doctor", "--format", "json")
    checks = {c["name"]: c for c in json.loads(doctor.stdout)}
    assert checks["fleet root"]["level"] == "ok", checks
    tick = fleet_cli("-C", str(fleet), "tick", "--due", "devops")
    assert "devops/t-001: done" in tick.stdout, tick.output  # (model roles: no key, exit 1)
    assert "fleet/devops/t-001" in git(fleet, "branch", "--list", "fleet/*")
    assert git(fleet, "rev-parse", "--verify", "-q", "fleet-state").strip()
    assert _outer_state(outer)[:2] == before[:2]  # the outer repository is untouched


def test_a_fleet_outside_any_repository_is_a_config_error(tmp_path: Path, fleet_cli) -> None:
    fleet = tmp_path / "loose"
    fleet_cli("init", str(fleet))
    result = fleet_cli("-C", str(fleet), "plan")
    assert result.exit_code == 2
    assert result.stderr.startswith(f"fleet: {fleet} is not a git repository")
    assert "git init -b main" in result.stderr
