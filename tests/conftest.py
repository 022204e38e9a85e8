from __future__ import annotations

import traceback
from pathlib import Path

import pytest
from click.testing import CliRunner

from runner import scaffold
from runner.cli import cli

DATA = Path(__file__).parent / "data"


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--slow",
        action="store_true",
        help="also run the tests marked slow (end-to-end: crash matrix, act, 20 writers, "
        "real CLIs); CI and the README's test command do",
    )


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """`pytest` alone is the edit loop: under two minutes. The slow end-to-end tests run with
    --slow (CI), with -m, or when their file or node id is named on the command line."""
    if config.getoption("--slow") or config.getoption("markexpr"):
        return
    named = {arg.split("::")[0] for arg in config.args if Path(arg.split("::")[0]).is_file()}
    slow = [
        item
        for item in items
        if item.get_closest_marker("slow")
        and str(item.path.relative_to(config.rootpath)) not in named
    ]
    if slow:
        config.hook.pytest_deselected(items=slow)
        dropped = set(map(id, slow))
        items[:] = [item for item in items if id(item) not in dropped]


def pytest_report_header(config: pytest.Config) -> str | None:
    if config.getoption("--slow") or config.getoption("markexpr"):
        return None
    return "fast selection: tests marked slow are deselected (--slow runs them; CI does)"


@pytest.fixture(autouse=True)
def hermetic_environment(monkeypatch, tmp_path_factory) -> None:
    """No test sees the caller's GitHub, Actions, Anthropic or fleet settings (the suite
    may itself run inside GitHub Actions); tests set what they need. Each test has its
    own task cache (runner/taskcache.py), never the user's."""
    import os

    for name in list(os.environ):
        if name.startswith(("GITHUB_", "ACTIONS_", "ANTHROPIC_", "FLEET_", "RUNNER_")):
            monkeypatch.delenv(name)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path_factory.mktemp("cache")))


@pytest.fixture
def example(tmp_path: Path) -> Path:
    """A fresh copy of the example fleet (no git)."""
    root = tmp_path / "acme"
    scaffold.write(root, scaffold.files(example=True, name="acme"))
    return root


@pytest.fixture
def fleet_cli():
    """Invoke `fleet` in-process; returns the click Result.

    Any exception other than SystemExit fails the test, and so does an internal error the
    CLI's handler caught (a SystemExit caused by a non-FleetError): a command may fail,
    but only in the ways it foresees."""
    runner = CliRunner()

    def invoke(*args: str):
        result = runner.invoke(cli, list(args), catch_exceptions=True)
        exc = result.exception
        cause = exc.__cause__ if isinstance(exc, SystemExit) else exc
        if cause is not None and not isinstance(cause, SystemExit):
            trace = "".join(traceback.format_exception(cause))
            pytest.fail(f"fleet {' '.join(args)} raised {cause!r}:\n{trace}\n{result.output}")
        return result

    return invoke


GIT_ENV = {
    "GIT_AUTHOR_NAME": "Ana Founder",
    "GIT_AUTHOR_EMAIL": "ana@example.com",
    "GIT_COMMITTER_NAME": "Ana Founder",
    "GIT_COMMITTER_EMAIL": "ana@example.com",
    "GIT_CONFIG_GLOBAL": "/dev/null",
    "GIT_CONFIG_NOSYSTEM": "1",
}


def git(root: Path, *args: str, env: dict[str, str] | None = None) -> str:
    import os
    import subprocess

    full = {**os.environ, **GIT_ENV, **(env or {})}
    proc = subprocess.run(["git", *args], cwd=root, capture_output=True, text=True, env=full)
    assert proc.returncode == 0, f"git {args}: {proc.stderr}"
    return proc.stdout


def commit_all(root: Path, message: str, **env: str) -> str:
    git(root, "add", "-A")
    git(root, "commit", "-q", "-m", message, env=env)
    return git(root, "rev-parse", "HEAD").strip()


@pytest.fixture
def repo(example: Path) -> Path:
    """The example fleet as a git repository on main, pushed to a bare `origin`."""
    origin = example.parent / "origin.git"
    git(example.parent, "init", "-q", "--bare", "-b", "main", str(origin))
    git(example, "init", "-q", "-b", "main")
    commit_all(example, "Initial fleet")
    git(example, "remote", "add", "origin", str(origin))
    git(example, "push", "-q", "origin", "main")
    return example


TESTER_ROLE = """\
name: tester
description: A role for engine tests.
engine: anthropic
model: claude-sonnet-5-5
directives: fleet/directives/cto.md
writable: ["out/**", "tasks/**"]
commands: ["env", "ls*", "cat *", "python3 *", "false"]
credentials: [STAGING_DATABASE_URL]
budget: {run_usd: 5.0, daily_usd: 8.0, max_turns: 40}
max_attempts: 2
"""

TESTER_TASK = """\
id: t-100
title: Write the report
role: tester
created: 2026-11-20
description: Write out/report.md.
acceptance:
  - check: test -f out/report.md
  - review: the report is readable
"""


@pytest.fixture
def agent_repo(repo: Path) -> Path:
    """The example fleet plus a `tester` role and task t-100, committed and pushed."""
    (repo / "fleet/roles/tester.yaml").write_text(TESTER_ROLE)
    (repo / "tasks/t-100.yaml").write_text(TESTER_TASK)
    commit_all(repo, "Add tester role")
    git(repo, "push", "-q", "origin", "main")
    return repo


def claim_run(fleet_cli, repo: Path, role: str = "tester", task: str = "t-100") -> str:
    """`fleet claim` (the plan job's claim): the run id it prints last."""
    claim = fleet_cli("-C", str(repo), "claim", "--role", role, "--task", task)
    assert claim.exit_code == 0, claim.output
    return claim.stdout.strip().splitlines()[-1]


def agent_phase(
    fleet_cli, repo: Path, run_id: str, outdir: Path, role: str = "tester", task: str = "t-100"
):
    """`fleet run --phase agent` for a claimed run, writing only `outdir`: the click Result."""
    return fleet_cli(
        "-C", str(repo), "run", "--role", role, "--task", task,
        "--phase", "agent", "--run-id", run_id, "--outputs", str(outdir),
    )  # fmt: skip


def payload(name: str, **changes: object) -> dict:
    """One of GitHub's example webhook payloads, pointed at the test repository acme/fleet;
    `a__b=value` sets payload["a"]["b"]."""
    import json

    data = json.loads((DATA / "webhooks" / f"{name}.json").read_text())
    data["repository"]["full_name"] = "acme/fleet"
    data["repository"]["name"] = "fleet"
    data["repository"]["owner"]["login"] = "acme"
    data["repository"]["default_branch"] = "main"
    for dotted, value in changes.items():
        target = data
        *path, last = dotted.split("__")
        for key in path:
            target = target[key]
        target[last] = value
    return data
