"""S15 kill switch: FLEET_PAUSED (or `paused: true`) stops every acting command before
any model call or write, for real: a scripted Messages API and a fake GitHub count the
requests, and the repository's refs are compared before and after."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from runner import pause
from tests.conftest import commit_all, git
from tests.fakes.anthropic_server import FakeAnthropic, reply, tool
from tests.fakes.github_server import FakeGitHub

pytestmark = pytest.mark.slow  # end-to-end (git, fake servers, whole runs): CI runs it


PEOPLE = {"founder-ana": "admin"}


def _refs(repo: Path) -> str:
    origin = repo.parent / "origin.git"
    return git(repo, "for-each-ref") + git(origin, "for-each-ref")


@pytest.fixture
def armed(agent_repo: Path, monkeypatch, tmp_path: Path):
    """Every credential and endpoint a run would use, pointed at counting fakes."""
    script = [reply(tool("write_file", path="out/report.md", content="x")), reply(tool("finish"))]
    with FakeAnthropic(script) as model, FakeGitHub(permissions=dict(PEOPLE)) as gh:
        summary = tmp_path / "summary.md"
        for name, value in {
            "ANTHROPIC_API_KEY": "sk-test",
            "ANTHROPIC_BASE_URL": model.url,
            "STAGING_DATABASE_URL": "x",
            "GITHUB_TOKEN": gh.token,
            "GITHUB_REPOSITORY": "acme/fleet",
            "GITHUB_API_URL": gh.url,
            "GITHUB_ACTIONS": "true",
            "GITHUB_STEP_SUMMARY": str(summary),
            "FLEET_GITHUB_WRITE_INTERVAL": "0",
        }.items():
            monkeypatch.setenv(name, value)
        yield agent_repo, model, gh, summary


COMMANDS = [
    ["run", "--role", "tester", "--task", "t-100"],
    ["tick", "--due", "tester"],
    ["revise", "--pr", "1"],
    ["sla"],
    ["claim", "--role", "tester", "--task", "t-100"],
    [
        "run",
        "--phase",
        "agent",
        "--role",
        "tester",
        "--task",
        "t-100",
        "--run-id",
        "x",
        "--outputs",
        "/nonexistent/outputs",
    ],
    ["apply", "/nonexistent/outputs"],
]


@pytest.mark.parametrize("args", COMMANDS, ids=lambda a: "-".join(a[:3]))
def test_fleet_paused_stops_every_command_before_any_call_or_write(
    armed, fleet_cli, monkeypatch, args: list[str]
) -> None:
    repo, model, gh, summary = armed
    monkeypatch.setenv("FLEET_PAUSED", "true")
    before = _refs(repo)
    result = fleet_cli("-C", str(repo), *args)
    assert result.exit_code == 0, result.output
    assert "fleet is paused: FLEET_PAUSED is set" in result.output
    assert f"fleet {args[0]}" in result.output and "did nothing" in result.output
    assert model.requests == [] and model.model_requests == []  # no model call
    assert gh.log == []  # not even a read of the forge
    assert _refs(repo) == before  # no ledger record, no branch, no push
    assert "**Paused.**" in summary.read_text()


def test_paused_in_fleet_yaml_stops_a_run(armed, fleet_cli) -> None:
    repo, model, gh, _ = armed
    config = repo / "fleet/fleet.yaml"
    config.write_text(config.read_text() + "paused: true\n")
    commit_all(repo, "pause the fleet")
    before = _refs(repo)
    result = fleet_cli("-C", str(repo), "run", "--role", "tester", "--task", "t-100")
    assert result.exit_code == 0, result.output
    assert "fleet/fleet.yaml says paused: true" in result.output
    assert model.requests == [] and gh.log == [] and _refs(repo) == before
    assert fleet_cli("-C", str(repo), "validate").exit_code == 0  # a valid setting


def test_without_the_switch_the_same_run_calls_the_model(armed, fleet_cli, monkeypatch) -> None:
    """The control: the fakes do count, so the zeros above mean something."""
    repo, model, gh, _ = armed
    monkeypatch.setenv("FLEET_PAUSED", "false")
    result = fleet_cli("-C", str(repo), "run", "--role", "tester", "--task", "t-100")
    assert "paused" not in result.output
    assert model.requests and gh.log


def test_a_paused_plan_schedules_nothing_and_says_why(armed, fleet_cli, monkeypatch) -> None:
    repo, _, _, _ = armed
    monkeypatch.setenv("FLEET_PAUSED", "1")
    matrix = fleet_cli("-C", str(repo), "plan", "--due", "tester", "--format", "matrix")
    assert matrix.exit_code == 0 and json.loads(matrix.stdout) == {"include": []}
    assert "paused: FLEET_PAUSED is set" in matrix.stderr  # the log says why
    text = fleet_cli("-C", str(repo), "plan", "--due", "tester").output
    assert "0 run(s)" in text and "paused: FLEET_PAUSED is set" in text


def test_status_shows_the_pause_in_every_format(armed, fleet_cli, monkeypatch) -> None:
    repo, _, _, _ = armed
    monkeypatch.setenv("FLEET_PAUSED", "yes")
    for fmt in ("text", "markdown", "html"):
        out = fleet_cli("-C", str(repo), "status", "--format", fmt).output
        assert "FLEET_PAUSED is set" in out and ("PAUSED" in out or "Paused" in out), fmt
    data = json.loads(fleet_cli("-C", str(repo), "status", "--format", "json").output)
    assert data["paused"].startswith("FLEET_PAUSED is set")


@pytest.mark.parametrize(
    ("value", "paused"),
    [
        ("", False),
        ("0", False),
        ("false", False),
        ("OFF", False),
        ("no", False),
        ("1", True),
        ("true", True),
        ("yes", True),
        ("paused", True),
        ("flase", True),
    ],
)
def test_the_variable_fails_closed(value: str, paused: bool) -> None:
    assert (pause.reason({"FLEET_PAUSED": value}) is not None) is paused


def test_every_workflow_job_that_runs_fleet_sees_the_switch() -> None:
    """A job that runs `fleet` without `FLEET_PAUSED: ${{ vars.FLEET_PAUSED }}` in its
    env (job or step) would ignore the repository variable."""
    import yaml

    from runner.resources import data_dir

    missing = []
    for path in sorted(data_dir("workflows").glob("*.yml")):
        for name, job in yaml.safe_load(path.read_text())["jobs"].items():
            job_env = job.get("env") or {}
            for step in job.get("steps", []):
                runs_fleet = re.search(r"(?:^|&&|;|\|\|)\s*fleet\s", str(step.get("run", "")), re.M)
                env = {**job_env, **(step.get("env") or {})}
                if runs_fleet and "vars.FLEET_PAUSED" not in str(env.get("FLEET_PAUSED", "")):
                    missing.append(f"{path.name}: {name}: {step.get('name', step.get('run'))}")
    assert missing == []
