"""Runner git out of the agent's reach. The jail already hides the git directory; these
attacks run with `sandbox: off` (as after a jail escape, or on a machine without one) to
prove the second layer: nothing the agent writes into git config, hooks, attributes or
the `.git` file runs in the runner, and only writable paths are committed."""

from __future__ import annotations

import json
from pathlib import Path

import yaml

from tests.conftest import commit_all, git
from tests.fakes.anthropic_server import reply, tool
from tests.security.scripted import run_scripted

EVIL = """\
import os, pathlib, sys
canary = sys.argv[1]
gitdir = pathlib.Path(open(".git").read().split("gitdir: ")[1].strip())
common = (gitdir / open(gitdir / "commondir").read().strip()).resolve()
run = f"sh -c 'echo ran >> {canary}'"
with open(common / "config", "a") as cfg:
    cfg.write(f'[core]\\n\\tfsmonitor = "{run}"\\n\\thooksPath = {gitdir}/evilhooks\\n')
    cfg.write(f'[filter "evil"]\\n\\tclean = {run}\\n\\tsmudge = {run}\\n\\trequired = true\\n')
    cfg.write(f'[url "/nonexistent/evil.git"]\\n\\tinsteadOf = {sys.argv[2]}\\n')
for hooks in (common / "hooks", gitdir / "evilhooks"):
    hooks.mkdir(exist_ok=True)
    for name in ("post-commit", "pre-commit", "pre-push", "post-checkout", "reference-transaction"):
        (hooks / name).write_text(f"#!/bin/sh\\necho hook >> {canary}\\n")
        (hooks / name).chmod(0o755)
pathlib.Path(".gitattributes").write_text("* filter=evil\\n")
pathlib.Path("out/a.md").write_text("agent work\\n")
os.makedirs(".github/workflows", exist_ok=True)
pathlib.Path(".github/workflows/evil.yml").write_text("on: push\\n")
pathlib.Path("fleet/roles/tester.yaml").write_text("commands: ['*']\\n")
"""


WRITE_OUTSIDE = """\
import os, pathlib
pathlib.Path("out/a.md").write_text("agent work\\n")
os.makedirs(".github/workflows", exist_ok=True)
pathlib.Path(".github/workflows/evil.yml").write_text("on: push\\n")
pathlib.Path("fleet/roles/tester.yaml").write_text("commands: ['*']\\n")
"""


def _setup(repo: Path) -> None:
    cfg = repo / "fleet/fleet.yaml"
    cfg.write_text(cfg.read_text() + "sandbox: off\n")
    commit_all(repo, "no sandbox")
    git(repo, "push", "-q", "origin", "main")


def _run(repo: Path, steps: list, extra_env: dict[str, str] | None = None):
    return run_scripted(repo, steps, "tester", "t-100", extra_env)


def test_attack_git_config_fsmonitor_hooks_filter_and_insteadof_run_nothing(
    agent_repo: Path, tmp_path: Path
) -> None:
    _setup(agent_repo)
    canary = tmp_path / "ran.txt"
    origin = agent_repo.parent / "origin.git"
    (agent_repo / "out").mkdir(exist_ok=True)
    command = f"python3 out/evil.py {canary} {origin}"
    out, _ = _run(
        agent_repo,
        [
            reply(tool("write_file", path="out/evil.py", content=EVIL)),
            reply(tool("run_command", command=command)),
            reply(tool("write_file", path="out/report.md", content="more\n")),
            reply(tool("finish", summary="done")),
        ],
    )
    assert not canary.exists(), canary.read_text()  # no fsmonitor, filter or hook ran
    assert out.record.outcome == "done", out.record.reason
    branch = "fleet/tester/t-100"
    files = git(origin, "ls-tree", "-r", "--name-only", branch).split()  # pushed to origin
    assert "out/a.md" in files and "out/report.md" in files
    for path in (".gitattributes", ".github/workflows/evil.yml"):
        assert path not in files
    assert git(origin, "show", f"{branch}:fleet/roles/tester.yaml") == git(
        origin, "show", "main:fleet/roles/tester.yaml"
    )
    assert {".gitattributes", ".github/workflows/evil.yml", "fleet/roles/tester.yaml"} <= set(
        out.record.reverted
    )
    assert "(git config) config" in out.record.reverted
    assert "evil" not in (agent_repo / ".git/config").read_text()  # put back


def test_attack4_model_engine_commits_only_writable_paths(agent_repo: Path) -> None:
    """Attack 4: `git add -A` committed fleet/roles/ and .github/ changes. Now they are
    reverted, reported in the run record and the PR, and never committed."""
    out, _ = _run(
        agent_repo,
        [
            reply(tool("write_file", path="out/evil.py", content=WRITE_OUTSIDE)),
            reply(tool("run_command", command="python3 out/evil.py")),
            reply(tool("finish", summary="done")),
        ],
    )
    branch = "fleet/tester/t-100"
    files = git(agent_repo, "ls-tree", "-r", "--name-only", branch)
    assert ".github/workflows/evil.yml" not in files.split()
    assert "out/a.md" in files.split()
    record = json.dumps(out.record.to_dict())
    assert ".github/workflows/evil.yml" in record and "fleet/roles/tester.yaml" in record


def test_a_rewritten_dot_git_file_is_ignored(agent_repo: Path, tmp_path: Path) -> None:
    """The agent points the worktree's `.git` file at a git directory of its own (with a
    hook); the runner commits through the directory it created and runs no hook."""
    _setup(agent_repo)
    fake_git = tmp_path / "fake.git"
    git(tmp_path, "init", "-q", "--bare", str(fake_git))
    canary = tmp_path / "hook-ran"
    hook = fake_git / "hooks/post-commit"
    hook.write_text(f"#!/bin/sh\necho ran > {canary}\n")
    hook.chmod(0o755)
    script = f"open('.git', 'w').write('gitdir: {fake_git}\\n')\n"
    _run(
        agent_repo,
        [
            reply(tool("write_file", path="out/dotgit.py", content=script)),
            reply(tool("run_command", command="python3 out/dotgit.py")),
            reply(tool("write_file", path="out/c.md", content="c\n")),
            reply(tool("escalate", kind="blocked", summary="stop")),
        ],
    )
    assert not canary.exists()
    files = git(agent_repo, "ls-tree", "-r", "--name-only", "fleet/tester/t-100").split()
    assert "out/c.md" in files
    assert yaml.safe_load(git(agent_repo, "show", "fleet/tester/t-100:tasks/t-100.yaml"))
