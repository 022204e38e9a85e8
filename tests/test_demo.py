"""`fleet demo --keep DIR`: kept demos are never overwritten, and the advice it prints works."""

from __future__ import annotations

import os
from pathlib import Path

import pytest


@pytest.fixture
def demo_env(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.setenv("GIT_CONFIG_GLOBAL", os.devnull)


def test_keep_twice_refuses_cleanly_and_leaves_the_first_demo(
    tmp_path: Path, fleet_cli, demo_env
) -> None:
    keep = tmp_path / "demo"
    first = fleet_cli("demo", "--keep", str(keep))
    assert first.exit_code == 0, first.output
    head = (keep / "acme/.git/HEAD").read_text()
    again = fleet_cli("demo", "--keep", str(keep))
    assert again.exit_code == 2, again.output
    assert again.stderr.startswith(f"fleet: {keep / 'acme'} already exists")
    assert "pass --keep a new directory" in again.stderr
    assert (keep / "acme/.git/HEAD").read_text() == head


def test_the_next_steps_the_demo_prints_succeed(tmp_path: Path, fleet_cli, demo_env) -> None:
    keep = tmp_path / "demo"
    out = fleet_cli("demo", "--keep", str(keep))
    assert "`fleet local merge devops/t-001`" in out.stdout
    assert "`fleet run --role devops`" in out.stdout
    acme = str(keep / "acme")
    results = [
        fleet_cli("-C", acme, *args)
        for args in (["local", "merge", "devops/t-001"], ["run", "--role", "devops"], ["status"])
    ]
    assert [r.exit_code for r in results] == [0, 0, 0], [r.output for r in results]
    assert "devops/t-002: done" in results[1].stdout
