from __future__ import annotations

import re
import subprocess
from pathlib import Path

from runner.resources import data_dir


def _undated(text: str) -> str:
    return re.sub(r"(?m)^created: .*$", "created: -", text)


def test_init_minimal_validates(tmp_path: Path, fleet_cli) -> None:
    result = fleet_cli("init", str(tmp_path / "new"), "--name", "my fleet")
    assert result.exit_code == 0, result.output
    root = tmp_path / "new"
    assert (root / ".github/workflows").is_dir()
    assert (root / "schemas/task.schema.json").is_file()
    assert "name: my fleet" in (root / "fleet/fleet.yaml").read_text()
    assert fleet_cli("-C", str(root), "validate").exit_code == 0


def test_init_example_matches_this_repository(tmp_path: Path, fleet_cli) -> None:
    assert fleet_cli("init", str(tmp_path), "--example").exit_code == 0
    for rel in ("fleet/roles/ceo.yaml", "tasks/t-012.yaml", "fleet/directives/all.md"):
        ours, shipped = (tmp_path / rel).read_text(), (data_dir("fleet").parent / rel).read_text()
        assert _undated(ours) == _undated(shipped)
    assert len(list((tmp_path / "fleet/roles").glob("*.yaml"))) == 7
    assert len(list((tmp_path / "tasks").glob("*.yaml"))) >= 12


def test_yaml_files_carry_schema_lines(tmp_path: Path, fleet_cli) -> None:
    fleet_cli("init", str(tmp_path), "--example")
    for path in [*tmp_path.glob("fleet/**/*.yaml"), *tmp_path.glob("tasks/*.yaml")]:
        first = path.read_text().splitlines()[0]
        assert first.startswith("# yaml-language-server: $schema="), path
        target = (path.parent / first.split("$schema=")[1]).resolve()
        assert target.is_file(), (path, target)


def test_init_refuses_to_overwrite_and_names_files(tmp_path: Path, fleet_cli) -> None:
    fleet_cli("init", str(tmp_path))
    (tmp_path / "tasks/t-001.yaml").write_text("# mine\n")
    again = fleet_cli("init", str(tmp_path))
    assert again.exit_code == 1
    assert "tasks/t-001.yaml" in again.stderr
    assert (tmp_path / "tasks/t-001.yaml").read_text() == "# mine\n"
    forced = fleet_cli("init", str(tmp_path), "--force")
    assert forced.exit_code == 0
    assert (tmp_path / "tasks/t-001.yaml").read_text() != "# mine\n"


def test_init_twice_is_a_no_op(tmp_path: Path, fleet_cli) -> None:
    fleet_cli("init", str(tmp_path), "--example")
    again = fleet_cli("init", str(tmp_path), "--example")
    assert again.exit_code == 0
    assert "0 file(s) written" in again.stdout


def test_example_tasks_are_dated_so_a_new_fleet_starts_without_breaches(
    tmp_path: Path, fleet_cli, monkeypatch
) -> None:
    """Shipped fixed `created:` dates greeted a new user with SLA breaches on day one;
    init dates them today, and a re-run another day changes nothing."""
    monkeypatch.setenv("FLEET_NOW", "2027-03-10T09:00:00Z")
    assert fleet_cli("init", str(tmp_path), "--example").exit_code == 0
    dates = [
        line.split(": ")[1]
        for path in (tmp_path / "tasks").glob("*.yaml")
        for line in path.read_text().splitlines()
        if line.startswith("created: ")
    ]
    assert set(dates) == {"2027-03-10"}
    subprocess.run(["git", "init", "-q", "-b", "main", str(tmp_path)], check=True)
    sla = fleet_cli("-C", str(tmp_path), "sla")
    assert sla.exit_code == 0 and "past its" not in sla.output, sla.output
    monkeypatch.setenv("FLEET_NOW", "2027-04-01T09:00:00Z")
    again = fleet_cli("init", str(tmp_path), "--example")
    assert again.exit_code == 0 and "0 file(s) written" in again.stdout, again.output
