"""The agent phase: one run with no forge or ledger write, ending in an outputs directory.

The run itself is `runner.run.execute`, unchanged; what changes is what it writes to.
The forge it gets only reads, and turns every write (open a PR, escalate, comment) into
an entry of the outputs; the ledger it gets reads the real one and turns `finish` into
the outputs' run record and checkpoint; the work branch commits locally and never
pushes. At the end (or when the run raises) the new commits are bundled and
`outputs.json` written, for `runner.publish.apply_outputs` to judge and publish.
"""

from __future__ import annotations

import contextlib
import dataclasses
from collections.abc import Callable
from pathlib import Path
from typing import Any

from runner import outputs as contract
from runner.clock import iso
from runner.forge.base import Forge, Issue, PullRequest
from runner.gitrepo import GitError
from runner.lifecycle import CREDENTIAL_SUBJECT
from runner.outputs import Outputs
from runner.records import Checkpoint, RunRecord
from runner.state import Ledger
from runner.workspace import Workspace


class OutputsForge:
    """Reads go to the real (read-only) forge; writes become outputs."""

    def __init__(self, inner: Forge, outs: Outputs, clock: Callable[[], str]) -> None:
        self.inner, self.outs, self.clock = inner, outs, clock
        self.name = inner.name

    def __getattr__(self, name: str) -> Any:  # events_since, pull_feedback, trusted, ...
        return getattr(self.inner, name)

    @property
    def api_calls(self) -> int:
        return self.inner.api_calls

    def open_pr(self, *, branch: str, title: str, body: str, draft: bool, **_: Any) -> PullRequest:
        self.outs.pr = contract.PullOut(title, body, draft)
        return PullRequest("(apply)", "", branch, title, draft, "open", self.clock(), True)

    def escalate(self, *, kind: str, title: str, body: str, task: str = "", **_: Any) -> Issue:
        credential = None
        if kind == "credential" and task.startswith(CREDENTIAL_SUBJECT):
            credential = task[len(CREDENTIAL_SUBJECT) :]
        self.outs.escalations.append(contract.EscalationOut(kind, title, body, credential))
        return Issue("(apply)", "", title, kind, "open", self.clock(), True)

    def comment(self, ref: str, body: str) -> None:
        self.outs.comments.append(contract.CommentOut(body))

    def progress_comment(self, target: str, key: str, body: str) -> str:
        """Nothing: the agent job holds no write credential; the apply job posts the
        run's final progress from what it verified (docs/security.md)."""
        return "left for the apply phase"

    def upsert_comment(self, number: int, key: str, body: str) -> str:
        self.comment(f"#{number}", body)
        return "left for the apply phase"


class OutputsLedger(Ledger):
    """Reads the real ledger; the run's own record goes into the outputs instead."""

    def __init__(self, real: Ledger, outs: Outputs) -> None:
        super().__init__(real.store)
        self.outs = outs
        self.transcript: dict[str, Any] | None = None  # written beside outputs.json

    def start(self, record: RunRecord, *args: Any, **kwargs: Any) -> None:
        self.outs.run = record.to_dict()  # the claim already wrote the running record

    def finish(
        self,
        record: RunRecord,
        checkpoint: Checkpoint | None = None,
        transcript: dict[str, Any] | None = None,
        **_: Any,
    ) -> None:
        self.outs.run = record.to_dict()
        self.transcript = transcript
        if checkpoint is not None:
            self.outs.checkpoint = contract.CheckpointOut(checkpoint.sha, checkpoint.events_since)


def branch_start(ws: Workspace, branch: str) -> str | None:
    """The commit the run's new commits build on: the remote work branch (resumed), else
    the local one, else the base branch."""
    if ws.remote:
        with contextlib.suppress(GitError):
            tracking = f"+refs/heads/{branch}:refs/remotes/{ws.remote}/{branch}"
            ws.git.run("fetch", "--quiet", "--no-tags", ws.remote, tracking)
        tip = ws.git.rev(f"refs/remotes/{ws.remote}/{branch}")
        if tip:
            return tip
    return ws.git.rev(f"refs/heads/{branch}") or ws.git.rev(ws.head_ref())


def run_agent_phase(
    ws: Workspace,
    forge: Forge,
    role: str,
    task: str,
    *,
    run_id: str,
    directory: Path,
    execute: Callable[..., Any],
    **kwargs: Any,
) -> Outputs:
    """Run `execute` (runner.run.execute) writing nothing but `directory`."""
    from runner.outputs import write, write_bundle, write_transcript

    outs = Outputs(run={"run_id": run_id, "role": role, "task": task, "outcome": "running"})
    branch = f"{ws.fleet.config.forge.branch_prefix}{role}/{task}"
    start = branch_start(ws, branch)
    ledger = OutputsLedger(ws.ledger, outs)
    view = dataclasses.replace(ws, ledger=ledger)
    capture = OutputsForge(forge, outs, lambda: iso(ws.now))
    try:
        execute(view, capture, role, task, run_id=run_id, push=False, **kwargs)
    finally:
        head = ws.git.rev(f"refs/heads/{branch}")
        if start and head and write_bundle(ws.git, directory, f"refs/heads/{branch}", start):
            outs.branch = contract.BranchOut(branch, start, head)
        if ledger.transcript is not None:
            outs.transcript = write_transcript(directory, ledger.transcript)
        if "started" not in outs.run:
            outs.run.update(started=iso(ws.now), reason="the agent phase failed before it began")
            outs.run["outcome"] = "error"
        write(directory, outs)
    return outs
