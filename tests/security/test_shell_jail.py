"""Shell-engine steps and acceptance checks run in the same jail as the agent's own
commands, with the base branch's definitions: an earlier run's branch that rewrote the
task's steps and checks (to dump the environment) changes nothing."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from runner.forge.select import open_forge
from runner.run import execute
from runner.workspace import open_workspace
from tests.conftest import commit_all, git
from tests.security.scripted import require_jail

SECRET = "sk-ant-api03-SHELLJAIL-canary-0123456789"
ROLE = {
    "name": "ops",
    "description": "Runs reviewed steps.",
    "engine": "shell",
    "directives": "fleet/directives/cto.md",
    "writable": ["out/**", "tasks/**"],
    "commands": ["sh -c *", "printenv*", "true"],
}
PROBE = (
    "mkdir -p out && { id -u; ls /proc | grep -c '^[0-9]'; "
    "cat GITCONFIG 2>&1 | head -1; } > out/NAME.txt"
)


def _probe(gitconfig: Path, name: str) -> str:
    return PROBE.replace("GITCONFIG", str(gitconfig)).replace("NAME", name)


def _task(gitconfig: Path) -> dict:
    return {
        "id": "t-400",
        "title": "Probe",
        "role": "ops",
        "created": "2026-11-20",
        "description": "Probe the jail.",
        "steps": [f'sh -c "{_probe(gitconfig, "step")}"'],
        "acceptance": [{"check": f'sh -c "{_probe(gitconfig, "check")}"'}],
    }


@pytest.fixture(autouse=True)
def jail_here() -> None:
    require_jail()


def test_shell_steps_and_checks_run_jailed_with_the_base_definitions(agent_repo: Path) -> None:
    repo = agent_repo
    gitconfig = repo / ".git/config"
    git(repo, "config", "fleet.canary", "GITCONFIG-SHELL-CANARY")
    (repo / "fleet/roles/ops.yaml").write_text(yaml.safe_dump(ROLE))
    (repo / "tasks/t-400.yaml").write_text(yaml.safe_dump(_task(gitconfig)))
    cfg = repo / "fleet/fleet.yaml"
    cfg.write_text(cfg.read_text() + "sandbox: required\n")
    commit_all(repo, "ops role")
    git(repo, "push", "-q", "origin", "main")
    # an earlier run's branch rewrote its own task: dump the environment instead
    git(repo, "checkout", "-q", "-b", "fleet/ops/t-400")
    evil = dict(_task(gitconfig), steps=["printenv > out/env.txt"], acceptance=[{"check": "true"}])
    (repo / "tasks/t-400.yaml").write_text(yaml.safe_dump(evil))
    commit_all(repo, "agent rewrote its task")
    git(repo, "push", "-q", "origin", "fleet/ops/t-400")
    git(repo, "checkout", "-q", "main")
    env = {
        "PATH": "/usr/bin:/bin",
        "HOME": "/tmp",
        "FLEET_FORGE": "local",
        "FLEET_NOW": "2026-11-24T10:30:00Z",
        "ANTHROPIC_API_KEY": SECRET,
    }
    ws = open_workspace(repo, env)
    out = execute(ws, open_forge(ws), "ops", "t-400", trigger="test", client_factory=None)
    assert out.record.sandbox == "bwrap"
    branch = "fleet/ops/t-400"
    files = git(repo, "ls-tree", "-r", "--name-only", branch).split()
    assert "out/step.txt" in files and "out/env.txt" not in files  # the base's step ran
    # the acceptance check ran too (the base's, not `true`), in the same jail
    assert out.report is not None and out.report.passed and out.record.outcome == "done"
    for name in ("step", "check"):
        seen = git(repo, "show", f"{branch}:out/{name}.txt").splitlines()
        assert seen[0] != "0"  # never root
        assert int(seen[1]) < 5  # its own PID namespace: a handful of processes
        assert "GITCONFIG-SHELL-CANARY" not in seen[2] and "No such file" in seen[2]
    everything = git(repo, "log", "-p", "--all")
    assert SECRET not in everything and "GITCONFIG-SHELL-CANARY" not in everything
