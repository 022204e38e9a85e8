"""The one error family and the CLI's one handler: what a failing command prints and
returns, with and without --debug, inside and outside GitHub Actions."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import click
import pytest
from click.testing import CliRunner

from runner.actions import EventError
from runner.agent.sandbox import ToolError
from runner.cli_base import FleetGroup
from runner.errors import ConfigError, FleetError, UsageError
from runner.forge.base import ForgeCredentialError, ForgeError
from runner.gitrepo import GitError
from runner.load import NotAFleet
from runner.state import StateConflict
from runner.sync import SyncError
from runner.workspace import ConfigError as WorkspaceConfigError


@pytest.mark.parametrize(
    ("cls", "code"),
    [
        (ConfigError, 2),
        (UsageError, 2),
        (EventError, 2),
        (NotAFleet, 2),
        (SyncError, 1),
        (StateConflict, 1),
        (ForgeError, 1),
        (ForgeCredentialError, 1),
        (ToolError, 1),
    ],
)
def test_every_runner_error_is_a_fleet_error_with_its_exit_code(cls: type, code: int) -> None:
    assert issubclass(cls, FleetError)
    assert cls("x").exit_code == code


def test_git_error_is_a_fleet_error_and_config_error_has_one_home() -> None:
    exc = GitError(["merge", "x"], 1, "CONFLICT (content)")
    assert isinstance(exc, FleetError) and exc.exit_code == 1
    assert WorkspaceConfigError is ConfigError


def test_hint_is_kept_and_optional() -> None:
    assert FleetError("boom").hint is None
    assert FleetError("boom", hint="do this").hint == "do this"


def _group(exc: BaseException) -> click.Group:
    """A group using the real handler, with one command that raises `exc`."""

    @click.group(cls=FleetGroup)
    @click.option("--debug", is_flag=True)
    def group(debug: bool) -> None:
        pass

    @group.command()
    def boom() -> None:
        raise exc

    return group


def _invoke(group: click.Group, *args: str, env: dict[str, str] | None = None):
    return CliRunner().invoke(group, list(args), env=env, catch_exceptions=True)


def test_fleet_error_is_one_line_with_what_to_do_and_its_exit_code() -> None:
    result = _invoke(_group(ConfigError("fleet.yaml: no such role", hint="add the role")), "boom")
    assert result.exit_code == 2
    assert result.stderr.splitlines() == [
        "fleet: fleet.yaml: no such role",
        "fleet: what to do: add the role",
    ]
    assert "Traceback" not in result.output


def test_unexpected_exception_is_an_internal_error_line_not_a_traceback() -> None:
    result = _invoke(_group(KeyError("role")), "boom")
    assert result.exit_code == 1
    assert "Traceback" not in result.output
    first, second = result.stderr.splitlines()
    assert first == "fleet: internal error: KeyError: 'role'"
    assert "--debug" in second and "FLEET_DEBUG=1" in second
    # the cause rides on the exit, which is how the test CLI helper fails a test on a bug
    assert isinstance(result.exception, SystemExit)
    assert isinstance(result.exception.__cause__, KeyError)


@pytest.mark.parametrize(
    ("args", "env"), [(("--debug", "boom"), None), (("boom",), {"FLEET_DEBUG": "1"})]
)
def test_debug_prints_the_traceback(args: tuple[str, ...], env: dict[str, str] | None) -> None:
    result = _invoke(_group(ValueError("bad")), *args, env=env)
    assert result.exit_code == 1
    assert "Traceback (most recent call last)" in result.stderr
    assert "fleet: internal error: ValueError: bad" in result.stderr


def test_inside_actions_the_error_is_also_a_job_annotation() -> None:
    result = _invoke(_group(ForgeError("token rejected")), "boom", env={"GITHUB_ACTIONS": "true"})
    assert result.exit_code == 1
    assert "::error title=fleet-runner::token rejected" in result.stdout
    assert "fleet: token rejected" in result.stderr


def test_file_system_refusal_is_reported_plainly() -> None:
    result = _invoke(_group(PermissionError(13, "Permission denied", "/x/y")), "boom")
    assert result.exit_code == 1
    assert result.stderr.splitlines() == ["fleet: Permission denied: /x/y"]


def test_outside_a_fleet_every_command_is_a_config_error(tmp_path: Path, fleet_cli) -> None:
    task_new = ["task", "new", "--role", "x", "--title", "t"]
    for args in (["plan"], ["status"], ["validate"], ["sla"], task_new):
        result = fleet_cli("-C", str(tmp_path), *args)
        assert result.exit_code == 2, (args, result.output)
        assert result.stderr.startswith("fleet: "), result.output
        assert "fleet init" in result.stderr


def test_real_config_error_through_the_installed_entry_point(repo: Path) -> None:
    """A bad FLEET_NOW, end to end in a child process: one line, exit 2, no traceback."""
    env = {"FLEET_NOW": "yesterday-ish", "PATH": "/usr/bin:/bin"}
    proc = subprocess.run(
        [sys.executable, "-m", "runner", "-C", str(repo), "plan"],
        capture_output=True,
        text=True,
        env=env,
    )
    assert proc.returncode == 2, proc.stderr
    assert proc.stderr.startswith("fleet: FLEET_NOW is not an ISO 8601 time"), proc.stderr
    assert "Traceback" not in proc.stderr
