"""A cheap checkout (what the plan, claim and agent jobs now do: `fetch-depth: 1`, the base
branch's tip only) gives the same plan and delta as a full clone: the ledger is fetched
without history, work branches are known by name from the remote, and the sync range is
deepened on the base branch alone."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from runner.gitrepo import Git
from runner.records import Checkpoint, RunRecord
from runner.state import Ledger, StateStore
from tests.conftest import commit_all, git

pytestmark = pytest.mark.slow  # end-to-end (git, fake servers, whole runs): CI runs it


ROOT = Path(__file__).parents[1]
NOW = "2026-11-24T12:00:00Z"


def fleet(repo: Path, *args: str) -> str:
    env = {**os.environ, "FLEET_NOW": NOW, "FLEET_FORGE": "local", "PYTHONPATH": str(ROOT)}
    proc = subprocess.run(
        [sys.executable, "-m", "runner", "-C", str(repo), *args],
        capture_output=True,
        text=True,
        env=env,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return proc.stdout


def _history(repo: Path, tmp_path: Path) -> str:
    """40 commits on main, a work branch, a ledger of 12 commits; returns the checkpoint."""
    ledger = Ledger(StateStore(Git(repo)))
    for i in range(12):
        ledger.finish(RunRecord(f"r{i:02d}", "cto", "t-002", f"2026-11-2{i % 4}T10:00:00Z"))
    checkpoint = ""
    for i in range(40):
        (repo / "docs").mkdir(exist_ok=True)
        (repo / "docs" / f"n{i}.md").write_text(f"note {i}\n")
        commit_all(repo, f"note {i}")
        if i == 9:
            checkpoint = git(repo, "rev-parse", "HEAD").strip()
    cp = Checkpoint("cto", checkpoint, None, NOW, "r11")
    ledger.finish(RunRecord("r12", "cto", "t-002", NOW, outcome="done"), cp)
    git(repo, "push", "-q", "origin", "main", "main:refs/heads/fleet/cto/t-002")
    return checkpoint


def test_a_shallow_checkout_plans_and_syncs_like_a_full_clone(repo: Path, tmp_path: Path) -> None:
    _history(repo, tmp_path)
    origin = f"file://{repo.parent / 'origin.git'}"
    full, shallow = tmp_path / "full", tmp_path / "shallow"
    git(tmp_path, "-c", "protocol.file.allow=always", "clone", "-q", origin, str(full))
    git(tmp_path, "clone", "-q", "--depth=1", "--branch", "main", origin, str(shallow))
    assert git(shallow, "rev-parse", "--is-shallow-repository").strip() == "true"

    for args in (("plan", "--format", "json"), ("task", "list", "--format", "json")):
        assert json.loads(fleet(shallow, *args)) == json.loads(fleet(full, *args)), args
    tasks = json.loads(fleet(shallow, "task", "list", "--format", "json"))
    assert "in_progress" in str([t for t in tasks if "t-002" in str(t)])  # its work branch
    delta = json.loads(fleet(shallow, "sync", "cto", "--format", "json"))
    assert delta == json.loads(fleet(full, "sync", "cto", "--format", "json"))
    assert len(delta["commits"]) == 30  # deepened to the checkpoint

    # the ledger came without history, no other branch came at all
    state = "refs/remotes/origin/fleet-state"
    assert git(shallow, "rev-list", "--count", state).strip() == "1"
    assert git(shallow, "for-each-ref", "refs/remotes/origin/fleet/").strip() == ""

    # a write from the shallow checkout lands on top of the whole ledger
    Ledger(StateStore(Git(shallow))).finish(RunRecord("r13", "cto", "t-002", NOW))
    ids = {r.run_id for r in Ledger(StateStore(Git(full))).runs()}
    assert ids == {f"r{i:02d}" for i in range(14)}
    bare = repo.parent / "origin.git"
    assert int(git(bare, "rev-list", "--count", "fleet-state").strip()) == 14
