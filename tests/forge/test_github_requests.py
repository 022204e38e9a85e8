"""What a run costs in GitHub API requests, measured against the fake GitHub through the
real CLI, and held to the figures the README states (so the README stays true)."""

from __future__ import annotations

import re
from collections import Counter
from pathlib import Path

from tests.fakes.anthropic_server import FakeAnthropic, reply, tool
from tests.fakes.github_server import FakeGitHub
from tests.forge.test_github import PEOPLE, _agent_pr, _env

README = Path(__file__).resolve().parents[2] / "README.md"


def stated(what: str) -> int:
    """The figure the README states for `what` (e.g. "a first shell-engine run")."""
    match = re.search(rf"{re.escape(what)}: (\d+) requests", README.read_text())
    assert match, f"the README states no request figure for {what!r}"
    return int(match[1])


def _measure(gh: FakeGitHub, act) -> tuple[int, Counter]:
    start = len(gh.log)
    act()
    calls = gh.log[start:]
    return len(calls), Counter(f"{m} {p.split('?')[0]}" for m, p in calls)


def test_a_shell_engine_run_costs_what_the_readme_says(repo: Path, fleet_cli, monkeypatch) -> None:
    with FakeGitHub(permissions=dict(PEOPLE)) as gh:
        for k, v in _env(gh).items():
            monkeypatch.setenv(k, v)

        def run() -> None:
            out = fleet_cli("-C", str(repo), "run", "--role", "devops", "--task", "t-001")
            assert out.exit_code == 0 and "done" in out.output, out.output

        count, calls = _measure(gh, run)
        print(f"fleet run (shell engine, first run): {count} requests: {dict(calls)}")
        assert 0 < count <= stated("a first shell-engine `fleet run`")
        assert calls["POST /repos/acme/fleet/pulls"] == 1


def test_a_revise_costs_what_the_readme_says(agent_repo: Path, fleet_cli, monkeypatch) -> None:
    with FakeGitHub(permissions=dict(PEOPLE)) as gh:
        number = _agent_pr(agent_repo, gh)
        gh.user_review(number, "founder-ana", "Add a title line to the report.")
        script = [
            reply(tool("write_file", path="out/report.md", content="# T\nv2\n")),
            reply(tool("finish", summary="added the title")),
        ]
        with FakeAnthropic(script) as model:
            env = _env(gh, ANTHROPIC_API_KEY="k", ANTHROPIC_BASE_URL=model.url)
            for k, v in {**env, "STAGING_DATABASE_URL": "x"}.items():
                monkeypatch.setenv(k, v)

            def revise() -> None:
                out = fleet_cli("-C", str(agent_repo), "revise", "--pr", str(number))
                assert out.exit_code == 0, out.output

            count, calls = _measure(gh, revise)
        print(f"fleet revise: {count} requests: {dict(calls)}")
        assert 0 < count <= stated("a `fleet revise`")
