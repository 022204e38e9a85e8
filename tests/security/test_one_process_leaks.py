"""The one-process `fleet run` (the runner holds the write token itself) posts agent text
only after the apply job's secret scan: a credential the agent read and then wrote into
its PR summary or an escalation never reaches GitHub, and one `security` escalation says
where and what kind, never the value. Real parts: the scripted Messages API over HTTP,
real git, PyGithub against the fake GitHub."""

from __future__ import annotations

import json
from pathlib import Path

from tests.conftest import git
from tests.fakes.anthropic_server import FakeAnthropic, reply, text, tool
from tests.fakes.github_server import FakeGitHub
from tests.forge.test_github import PEOPLE, _env

PLANTED = "planted-staging-pw-4f9e2a"


def _run(repo: Path, fleet_cli, monkeypatch, script: list) -> tuple[FakeGitHub, FakeAnthropic]:
    with FakeGitHub(permissions=dict(PEOPLE)) as gh, FakeAnthropic(script) as model:
        env = _env(gh, STAGING_DATABASE_URL=PLANTED, ANTHROPIC_API_KEY="sk-ant-test")
        for k, v in {**env, "ANTHROPIC_BASE_URL": model.url}.items():
            monkeypatch.setenv(k, v)
        out = fleet_cli("-C", str(repo), "run", "--role", "tester", "--task", "t-100")
        assert out.exit_code in (0, 1), out.output
        assert PLANTED not in out.output
    return gh, model


def _leaked_anywhere(gh: FakeGitHub) -> bool:
    return PLANTED in json.dumps([gh.issues, gh.comments])


def test_a_secret_in_the_pr_summary_never_reaches_github(
    agent_repo: Path, fleet_cli, monkeypatch
) -> None:
    script = [
        reply(text("Checking the environment."), tool("run_command", command="env")),
        reply(tool("write_file", path="out/report.md", content="# Report\n")),
        reply(tool("finish", summary=f"Wrote the report. Staging password: {PLANTED}")),
    ]
    gh, model = _run(agent_repo, fleet_cli, monkeypatch, script)
    assert any(PLANTED in json.dumps(r) for r in model.requests)  # the agent really read it
    assert not _leaked_anywhere(gh)
    assert gh.pulls() == []  # the PR text held it: not opened
    (issue,) = [i for i in gh.issues.values() if "withheld" in i["title"]]
    assert "the PR" in issue["body"] and "known-secret" in issue["body"]
    assert "STAGING_DATABASE_URL" in issue["body"]  # the name, never the value
    # the summary the runner copies into the task file (`result:`) is redacted, so the
    # branch passes the push screen and is pushed; only the PR text is withheld
    origin = agent_repo.parent / "origin.git"
    assert git(origin, "show", "fleet/tester/t-100:out/report.md") == "# Report\n"
    assert PLANTED not in git(origin, "log", "-p", "--all")


def test_a_secret_the_agent_writes_into_a_file_is_not_pushed(
    agent_repo: Path, fleet_cli, monkeypatch
) -> None:
    script = [
        reply(tool("run_command", command="env")),
        reply(tool("write_file", path="out/report.md", content=f"# Report\ndb: {PLANTED}\n")),
        reply(tool("finish", summary="Wrote the report.")),
    ]
    gh, _ = _run(agent_repo, fleet_cli, monkeypatch, script)
    origin = agent_repo.parent / "origin.git"
    assert PLANTED not in git(origin, "log", "-p", "--all")
    assert not _leaked_anywhere(gh) and gh.pulls() == []
    (issue,) = [i for i in gh.issues.values() if "withheld" in i["title"]]
    assert "file out/report.md" in issue["body"] and "git branch -D" in issue["body"]


def test_a_secret_in_an_escalation_never_reaches_github(
    agent_repo: Path, fleet_cli, monkeypatch
) -> None:
    script = [
        reply(tool("run_command", command="env")),
        reply(tool("escalate", kind="decision", summary=f"Is {PLANTED} the right password?")),
    ]
    gh, _ = _run(agent_repo, fleet_cli, monkeypatch, script)
    assert not _leaked_anywhere(gh)
    origin = agent_repo.parent / "origin.git"
    assert PLANTED not in git(origin, "log", "-p", "fleet-state")  # nor the run record
    titles = [i["title"] for i in gh.issues.values()]
    assert len(titles) == 1 and "withheld" in titles[0], titles


def test_a_clean_summary_is_posted_as_before(agent_repo: Path, fleet_cli, monkeypatch) -> None:
    script = [
        reply(tool("write_file", path="out/report.md", content="# Report\n")),
        reply(tool("finish", summary="Wrote the report.")),
    ]
    gh, _ = _run(agent_repo, fleet_cli, monkeypatch, script)
    (pr,) = gh.pulls()
    assert "Wrote the report." in pr["body"]
    assert not [i for i in gh.issues.values() if "withheld" in i["title"]]
