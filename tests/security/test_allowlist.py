"""Attack 2: the allow-list bent into arbitrary writes. Patterns are matched over argv,
token by token, and wildcards never stretch over options that write or execute."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from runner.agent.allowlist import allowed
from runner.commands.run import anthropic_client
from runner.forge.select import open_forge
from runner.run import execute
from runner.workspace import open_workspace
from tests.conftest import commit_all, git
from tests.fakes.anthropic_server import FakeAnthropic, reply, tool

CTO = ["git log*", "git diff*", "ls*"]
FSMONITOR = "git log -1 '--format=[core] fsmonitor = \"sh -c id>/tmp/x\"' --output=.git/config"


@pytest.mark.parametrize(
    "argv",
    [
        ["git", "log", "-1", "--format=[core] fsmonitor = x", "--output=.git/config"],
        ["git", "log", "--outp=.git/config"],  # git accepts unique abbreviations
        ["git", "log", "-o", "x"],
        ["git", "diff", "--ext-diff"],
        ["git", "diff", "--textconv"],
        ["git", "log", "--exec-path=/tmp"],
        ["git", "diff", "--no-index", "--output", ".github/workflows/evil.yml"],
        ["git", "log", "-c", "core.pager=sh"],
        ["git", "log", "--git-dir=/elsewhere"],
        ["git", "log", "--work-tree=/"],
        ["git", "log", "--config-env=core.pager=X"],
        ["ls", "-lo"],  # a short-option cluster containing -o
        ["ls;", "touch", "x"],  # the program token is `ls;`, not `ls`
        ["lsblk"],  # `ls*` is `ls` then arguments, not any program starting with ls
        ["git", "logx"],
    ],
)
def test_cto_patterns_refuse_options_that_write_or_execute(argv: list[str]) -> None:
    assert not allowed(argv, CTO)


@pytest.mark.parametrize(
    ("argv", "patterns"),
    [
        (["git", "log"], CTO),
        (["git", "log", "-1", "--format=%H %s"], CTO),
        (["git", "diff", "HEAD~1", "--stat"], CTO),
        (["ls", "-la", "docs"], CTO),
        (["pytest", "-q", "tests/test_x.py"], ["pytest*"]),
        (["sh", "ci/build.sh"], ["sh ci/*"]),
        (["sh", "-c", "echo hi"], ["sh -c *"]),  # named literally: allowed
        (["git", "-C", "docs", "log"], ["git -C docs log*"]),
        (["git", "log", "--output=out/log.txt"], ["git log --output=out/*"]),
        (["find", ".", "-name", "*.py"], ["find *"]),
    ],
)
def test_patterns_allow_what_they_name(argv: list[str], patterns: list[str]) -> None:
    assert allowed(argv, patterns)


def test_find_exec_is_refused_unless_named() -> None:
    assert not allowed(["find", ".", "-exec", "sh", "{}", ";"], ["find *"])
    assert not allowed(["find", ".", "-fprint", "/etc/x"], ["find *"])
    assert allowed(["find", ".", "-exec", "wc", "{}", ";"], ["find . -exec wc {} ;"])


def test_attack2_git_log_output_into_git_config_is_refused(agent_repo: Path) -> None:
    """A role allowed only `git log*`, `git diff*`, `ls*` tries to write .git/config
    (fsmonitor) and a workflow through `git log --output`; both are refused and nothing
    is written."""
    role = yaml.safe_load((agent_repo / "fleet/roles/tester.yaml").read_text())
    role["commands"] = CTO
    (agent_repo / "fleet/roles/tester.yaml").write_text(yaml.safe_dump(role))
    commit_all(agent_repo, "cto-like commands")
    git(agent_repo, "push", "-q", "origin", "main")
    workflow = "git log -1 --format=x --output=.github/workflows/evil.yml"
    with FakeAnthropic(
        [
            reply(tool("run_command", command=FSMONITOR)),
            reply(tool("run_command", command=workflow)),
            reply(tool("run_command", command="git log -1 --format=%s")),
            reply(tool("escalate", kind="blocked", summary="stop")),
        ]
    ) as fake:
        env = {
            "PATH": "/usr/bin:/bin",
            "HOME": "/tmp",
            "FLEET_FORGE": "local",
            "FLEET_NOW": "2026-11-24T10:30:00Z",
            "ANTHROPIC_API_KEY": "sk-ant-test",
            "STAGING_DATABASE_URL": "postgres://granted",
            "ANTHROPIC_BASE_URL": fake.url,
        }
        ws = open_workspace(agent_repo, env)
        out = execute(
            ws, open_forge(ws), "tester", "t-100", trigger="test",
            client_factory=anthropic_client(ws),
        )  # fmt: skip
    assert out.record.outcome == "escalated", out.record.reason
    for n in (1, 2):
        result = fake.requests[n]["messages"][-1]["content"][0]
        assert result["is_error"] and "not in this role's allow-list" in result["content"]
    assert "fsmonitor" not in (agent_repo / ".git/config").read_text()
    assert git(agent_repo, "branch", "--list", "fleet/tester/*") == ""  # nothing committed
