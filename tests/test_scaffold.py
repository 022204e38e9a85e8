"""Files the runner writes for people honour the umask (issue 12 #9: they were 0600)."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

from runner.scaffold import current_umask


@pytest.fixture
def umask_022():
    old = os.umask(0o022)
    yield
    os.umask(old)


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_written_files_are_0644_under_umask_022(
    repo: Path, tmp_path: Path, fleet_cli, monkeypatch, umask_022
) -> None:
    assert current_umask() == 0o022
    fresh = tmp_path / "fresh"
    assert fleet_cli("init", str(fresh)).exit_code == 0
    assert {_mode(p) for p in fresh.rglob("*") if p.is_file()} == {0o644}
    made = fleet_cli(
        "-C", str(repo), "task", "new", "--role", "cto", "--title", "ADR", "--review", "ok"
    )
    assert made.exit_code == 0, made.output
    assert _mode(repo / "tasks/t-013.yaml") == 0o644
    monkeypatch.setenv("FLEET_FORGE", "local")
    site = tmp_path / "_site"
    site.mkdir()
    out = fleet_cli("-C", str(repo), "status", "--format", "html", "-o", str(site / "index.html"))
    assert out.exit_code == 0, out.output
    assert _mode(site / "index.html") == 0o644


def test_a_stricter_umask_is_honoured(repo: Path, tmp_path: Path, fleet_cli) -> None:
    old = os.umask(0o077)
    try:
        assert fleet_cli("init", str(tmp_path / "private")).exit_code == 0
    finally:
        os.umask(old)
    assert _mode(tmp_path / "private/fleet/fleet.yaml") == 0o600
