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
