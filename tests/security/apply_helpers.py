"""A hostile agent job, played by hand: its own clone, commits, bundle and outputs.

The apply phase must judge whatever an agent job hands it, so these helpers build the
outputs directory directly (real git, real bundle), including things the runner's own
agent phase would never write.
"""

from __future__ import annotations

import os
import subprocess
from pathlib import Path
from typing import Any

from runner import outputs
from runner.forge.select import open_forge
from runner.gitrepo import Git
from runner.publish import Applied, apply_outputs, claim
from runner.workspace import open_workspace
from runner.worktree import agent_identity
from tests.conftest import commit_all, git

WIDE_ROLE = """\
name: wide
description: A role that may write anything its globs allow (for apply tests).
engine: anthropic
model: claude-sonnet-5-5
directives: fleet/directives/cto.md
writable: ["**"]
commands: ["ls*"]
budget: {run_usd: 5.0, daily_usd: 8.0, max_turns: 40}
"""

WIDE_TASK = """\
id: t-200
title: Tidy the repository
role: wide
created: 2026-11-20
description: Tidy things.
acceptance:
  - check: test -f README.md
"""

ENV = {"PATH": "/usr/bin:/bin", "HOME": "/tmp", "FLEET_NOW": "2026-11-24T10:30:00Z"}


def add_wide_role(repo: Path, extra_fleet_yaml: str = "") -> None:
    (repo / "fleet/roles/wide.yaml").write_text(WIDE_ROLE)
    (repo / "tasks/t-200.yaml").write_text(WIDE_TASK)
    if extra_fleet_yaml:
        path = repo / "fleet/fleet.yaml"
        path.write_text(path.read_text() + extra_fleet_yaml)
    commit_all(repo, "Add the wide role")
    git(repo, "push", "-q", "origin", "main")


class AgentJob:
    """The agent side: a clone of origin with the work branch checked out."""

    def __init__(self, repo: Path, role: str = "wide", task: str = "t-200", **env: str) -> None:
        self.repo, self.role, self.task = repo, role, task
        self.env = {**ENV, **env}
        ws = open_workspace(repo, self.env)
        self.record = claim(ws, role, task, "manual")
        self.branch = f"fleet/{role}/{task}"
        self.root = repo.parent / f"agent-{self.record.run_id}"
        git(repo.parent, "clone", "-q", str(repo.parent / "origin.git"), str(self.root))
        git(self.root, "checkout", "-q", "-b", self.branch)
        self.start = git(self.root, "rev-parse", "HEAD").strip()
        self.out = repo.parent / f"outputs-{self.record.run_id}"
        self.gitlinks: list[tuple[str, str]] = []

    def write(self, path: str, content: str | bytes) -> None:
        full = self.root / path
        full.parent.mkdir(parents=True, exist_ok=True)
        full.write_bytes(content.encode() if isinstance(content, str) else content)

    def symlink(self, path: str, target: str) -> None:
        full = self.root / path
        full.parent.mkdir(parents=True, exist_ok=True)
        os.symlink(target, full)

    def gitlink(self, path: str, sha: str) -> None:
        self.gitlinks.append((path, sha))

    def commit(self, message: str = "work", identity: str | None = None) -> str:
        env = agent_identity(identity or self.role)
        git(self.root, "add", "-A")
        for path, sha in self.gitlinks:
            git(self.root, "update-index", "--add", "--cacheinfo", f"160000,{sha},{path}")
        self.gitlinks = []
        git(self.root, "commit", "-q", "--no-verify", "-m", message, env=env)
        return git(self.root, "rev-parse", "HEAD").strip()

    def outputs(self, **fields: Any) -> Path:
        """Write the outputs directory: the bundle of start..HEAD and outputs.json."""
        head = git(self.root, "rev-parse", "HEAD").strip()
        ref = f"refs/heads/{self.branch}"
        has = outputs.write_bundle(Git(self.root), self.out, ref, self.start)
        run = {
            **self.record.to_dict(),
            "outcome": "done",
            "reason": "all checks pass",
            "ended": "2026-11-24T10:40:00Z",
            **fields.pop("run", {}),
        }
        data = outputs.Outputs(
            run=run,
            checkpoint=outputs.CheckpointOut(self.start, "2026-11-24T10:30:00Z"),
            branch=outputs.BranchOut(self.branch, self.start, head) if has else None,
            pr=fields.pop(
                "pr", outputs.PullOut(f"[fleet] {self.role}: work ({self.task})", "Did it.", False)
            ),
            **fields,
        )
        outputs.write(self.out, data)
        return self.out


def apply(repo: Path, directory: Path, run_id: str | None = None, **env: str) -> Applied:
    ws = open_workspace(repo, {**ENV, **env})
    return apply_outputs(ws, open_forge(ws), directory, run_id)


def post_text_at(repo: Path, where: str, text: str) -> Applied:
    """A forged agent job whose one commit is clean but whose `text` sits in its PR body,
    an escalation or a comment (`where`: pr, escalation, comment), applied."""
    job = AgentJob(repo)
    job.write("docs/a.md", "a\n")
    job.commit()
    pr = outputs.PullOut("[fleet] wide: work (t-200)", "Did it.", False)
    escalations: list[outputs.EscalationOut] = []
    comments: list[outputs.CommentOut] = []
    if where == "pr":
        pr = outputs.PullOut(pr.title, text, False)
    elif where == "escalation":
        escalations = [outputs.EscalationOut("decision", "Which one?", text)]
    else:
        comments = [outputs.CommentOut(text)]
    return apply(repo, job.outputs(pr=pr, escalations=escalations, comments=comments))


def remote_branches(repo: Path) -> str:
    return subprocess.run(
        ["git", "ls-remote", "--heads", str(repo.parent / "origin.git")],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
