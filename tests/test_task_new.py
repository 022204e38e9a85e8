from __future__ import annotations

from pathlib import Path

from runner.tasks import next_id


def test_next_id_skips_to_the_highest_number() -> None:
    assert next_id([]) == "t-001"
    assert next_id(["t-001", "t-009", "setup-ci", "t-010x"]) == "t-010"


def test_task_new_writes_a_valid_task(example: Path, fleet_cli) -> None:
    result = fleet_cli(
        "-C",
        str(example),
        "task",
        "new",
        "--role",
        "cto",
        "--title",
        "Write ADR 2: caching",
        "--check",
        "test -f docs/adr/0002.md",
        "--review",
        "names the trade-offs",
        "--depends-on",
        "t-005",
    )
    assert result.exit_code == 0, result.output
    text = (example / "tasks/t-013.yaml").read_text()
    assert "title: 'Write ADR 2: caching'" in text
    assert fleet_cli("-C", str(example), "validate").exit_code == 0


def test_task_new_refuses_without_acceptance(example: Path, fleet_cli) -> None:
    result = fleet_cli("-C", str(example), "task", "new", "--role", "cto", "--title", "Vague")
    assert result.exit_code == 2
    assert "acceptance criteria" in result.output
    assert not (example / "tasks/t-013.yaml").exists()


def test_task_new_refuses_unknown_role(example: Path, fleet_cli) -> None:
    result = fleet_cli(
        "-C", str(example), "task", "new", "--role", "intern", "--title", "x", "--review", "y"
    )
    assert result.exit_code == 2
    assert "unknown role 'intern'" in result.output


def test_task_new_for_a_shell_role_needs_steps(example: Path, fleet_cli) -> None:
    args = ("-C", str(example), "task", "new", "--role", "devops", "--title", "Add a lint step")
    args += ("--check", "test -x ci/lint.sh")
    refused = fleet_cli(*args)
    assert refused.exit_code == 2
    assert "no 'steps:'" in refused.stderr and "--step" in refused.stderr
    assert not (example / "tasks/t-013.yaml").exists()
    written = fleet_cli(*args, "--step", "mkdir -p ci", "--step", "touch ci/lint.sh")
    assert written.exit_code == 0, written.output
    assert (
        "steps:\n- mkdir -p ci\n- touch ci/lint.sh\n" in (example / "tasks/t-013.yaml").read_text()
    )
    assert fleet_cli("-C", str(example), "validate").exit_code == 0
