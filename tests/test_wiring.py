"""`fleet validate` says when the CI and intake workflows would go quiet: `workflow_run`
listening to a CI workflow name that no workflow has, and the intake check job's handle
differing from `forge.mention` (each failed silently before: no event, no job)."""

from __future__ import annotations

from pathlib import Path


def _validate(fleet_cli, root: Path):
    out = fleet_cli("-C", str(root), "validate")
    return out.exit_code, out.output


def test_a_ci_trigger_on_a_missing_workflow_name_is_a_warning(tmp_path: Path, fleet_cli) -> None:
    assert fleet_cli("init", str(tmp_path)).exit_code == 0
    assert "[ci-trigger]" not in _validate(fleet_cli, tmp_path)[1]  # no CI of its own yet
    ci = tmp_path / ".github/workflows/tests.yml"
    ci.write_text("name: Tests\non: [push]\njobs: {}\n")
    code, text = _validate(fleet_cli, tmp_path)
    assert code == 0  # a warning
    assert ".github/workflows/fleet-ci.yml:" in text and "[ci-trigger]" in text
    assert "named 'CI'" in text and "this repository has: 'Tests'" in text
    ci.write_text("name: CI\non: [push]\njobs: {}\n")
    assert "[ci-trigger]" not in _validate(fleet_cli, tmp_path)[1]


def test_an_intake_handle_other_than_the_mention_is_a_warning(tmp_path: Path, fleet_cli) -> None:
    assert fleet_cli("init", str(tmp_path)).exit_code == 0
    assert "[intake-handle]" not in _validate(fleet_cli, tmp_path)[1]
    config = tmp_path / "fleet/fleet.yaml"
    config.write_text(
        config.read_text().replace(
            "  label_prefix: fleet\n", "  label_prefix: fleet\n  mention: crew\n"
        )
    )
    code, text = _validate(fleet_cli, tmp_path)
    assert code == 0 and ".github/workflows/fleet-intake.yml:" in text
    assert "naming 'fleet', but forge.mention is 'crew'" in text and "[intake-handle]" in text
    intake = tmp_path / ".github/workflows/fleet-intake.yml"
    intake.write_text(intake.read_text().replace("comment.body, 'fleet')", "comment.body, 'crew')"))
    assert "[intake-handle]" not in _validate(fleet_cli, tmp_path)[1]


def test_init_lists_the_repositorys_own_workflows_for_fleet_ci(tmp_path: Path, fleet_cli) -> None:
    """`fleet init` in a repository that already has workflows makes fleet-ci.yml listen
    to them by name (any name, quoted), so its CI failures reach the fleet at once."""
    import yaml

    own = tmp_path / ".github/workflows"
    own.mkdir(parents=True)
    (own / "tests.yml").write_text("name: Tests\non: [push]\njobs: {}\n")
    (own / "lint.yml").write_text("name: 'Lint & types: \"strict\"'\non: [push]\njobs: {}\n")
    out = fleet_cli("init", str(tmp_path))
    assert out.exit_code == 0 and "these workflows fail: Lint & types" in out.output
    doc = yaml.safe_load((own / "fleet-ci.yml").read_text())
    trigger = doc.get("on", doc.get(True))["workflow_run"]
    assert trigger["workflows"] == ['Lint & types: "strict"', "Tests"]
    assert "[ci-trigger]" not in _validate(fleet_cli, tmp_path)[1]
