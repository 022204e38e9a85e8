"""`fleet doctor` says which jail agent-run commands get, or why none and what to do,
and fails when fleet.yaml says `sandbox: required` and none works."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from runner.agent.jail import advice, foreign_user, probe
from tests.conftest import commit_all
from tests.security.scripted import require_jail


def _sandbox_check(fleet_cli, repo: Path) -> tuple[int, dict]:
    out = fleet_cli("-C", str(repo), "doctor", "--format", "json")
    checks = {c["name"]: c for c in json.loads(out.stdout)}
    return out.exit_code, checks["sandbox"]


def _mode(repo: Path, mode: str) -> None:
    cfg = repo / "fleet/fleet.yaml"
    cfg.write_text(cfg.read_text() + f"sandbox: {mode}\n")
    commit_all(repo, f"sandbox: {mode}")


def _without_bwrap(tmp_path: Path, monkeypatch) -> None:
    """This machine as one without bubblewrap: a PATH with git and nothing else."""
    bindir = tmp_path / "bin"
    bindir.mkdir()
    for name in ("git", "sh"):
        (bindir / name).symlink_to(f"/usr/bin/{name}")
    monkeypatch.setenv("PATH", str(bindir))


@pytest.fixture(autouse=True)
def local_forge(monkeypatch) -> None:
    monkeypatch.setenv("FLEET_FORGE", "local")


def test_doctor_names_the_jail_in_use(repo: Path, fleet_cli) -> None:
    jail = require_jail()
    _mode(repo, "required")
    code, check = _sandbox_check(fleet_cli, repo)
    assert check["level"] == "ok" and code == 0
    assert "bubblewrap" in check["detail"] and "network off" in check["detail"]
    assert f"uid {jail.uid}" in check["detail"]  # type: ignore[attr-defined]


def test_doctor_fails_when_required_and_none_works(
    repo: Path, fleet_cli, tmp_path: Path, monkeypatch
) -> None:
    _mode(repo, "required")
    _without_bwrap(tmp_path, monkeypatch)
    code, check = _sandbox_check(fleet_cli, repo)
    assert code == 1 and check["level"] == "fail"
    assert "sandbox: required" in check["detail"]
    assert "apt-get install bubblewrap" in check["detail"]
    text = fleet_cli("-C", str(repo), "doctor")
    assert "FAIL  sandbox" in text.stdout


def test_doctor_warns_when_auto_and_none_works(
    repo: Path, fleet_cli, tmp_path: Path, monkeypatch
) -> None:
    _without_bwrap(tmp_path, monkeypatch)
    code, check = _sandbox_check(fleet_cli, repo)
    assert check["level"] == "warn" and code == 0
    assert "unsandboxed" in check["detail"] and "apt-get install bubblewrap" in check["detail"]


def test_doctor_warns_when_off(repo: Path, fleet_cli) -> None:
    _mode(repo, "off")
    _, check = _sandbox_check(fleet_cli, repo)
    assert check["level"] == "warn" and "sandbox: off" in check["detail"]


def test_advice_names_the_apparmor_restriction_only_where_it_applies() -> None:
    userns = "bubblewrap cannot create namespaces here (setting up uid map: Permission denied)"
    ubuntu = advice(userns, apparmor_restricts_userns=True)
    assert "kernel.apparmor_restrict_unprivileged_userns=0" in ubuntu
    assert "AppArmor profile" in ubuntu
    other = advice(userns, apparmor_restricts_userns=False)
    assert "apparmor" not in other.lower() and "unprivileged_userns_clone" in other
    missing = advice("bubblewrap (bwrap) is not installed", apparmor_restricts_userns=False)
    assert "apt-get install bubblewrap" in missing and "sysctl" not in missing


def test_doctor_warns_when_the_jail_cannot_reach_the_object_store(repo: Path, fleet_cli) -> None:
    """pytest's temporary directories are private to root: a jail that drops to another
    user cannot mount the object store, so git inside it would not work."""
    jail = probe("auto")
    if foreign_user(jail) is None:
        pytest.skip("the jail runs as the runner's own user here: the store is reachable")
    out = fleet_cli("-C", str(repo), "doctor", "--format", "json")
    check = {c["name"]: c for c in json.loads(out.stdout)}["sandbox git"]
    assert check["level"] == "warn" and "chmod o+x" in check["detail"]
