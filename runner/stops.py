"""How a run ends when it cannot end well: cancelled, killed, or unable to push.

Each stop leaves the task resumable (the work on its branch, the checkpoint unmoved) or
asks a human once, and the ledger says which: no run stays `running` after it died.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from runner import bundle, faults
from runner.bodies import escalation_body, escalation_title
from runner.clock import iso
from runner.forge.base import Forge, Issue
from runner.gitrepo import Git, GitError
from runner.interrupt import Cancelled
from runner.lease import live_leases
from runner.lifecycle import CREDENTIAL_SUBJECT, MODEL_KEY
from runner.model import Role, Task
from runner.records import RunRecord
from runner.secretscan import Finding, Secret, redact, scan, scan_added
from runner.state import Ledger, run_path
from runner.worktree import WorkBranch, push_needs_human

PUSH_ATTEMPTS = 3  # consecutive runs whose push failed before a human is asked


def escalate(
    forge: Forge, role: Role, task: Task | None, kind: str, summary: str, record: RunRecord
) -> Issue:
    issue = forge.escalate(
        role=role.name,
        task=task.id if task else None,
        kind=kind,
        title=escalation_title(role.name, summary, task.id if task else None),
        body=escalation_body(role.name, task, kind, summary, record),
        assignees=role.escalate_to,
    )
    faults.hit("escalation")
    return issue


def killed(record: RunRecord, lease: Mapping[str, Any] | None, by: str) -> RunRecord | None:
    """`record` closed as killed, when it is still `running` but its run is gone."""
    if record.outcome != "running":
        return None
    record.outcome = "error"
    lease = lease or {}
    expired = f"its lease expired at {lease['expires']}" if lease else "it holds no lease"
    record.reason = f"killed: {expired} and it never recorded its end; {by}"
    record.ended = str(lease.get("renewed") or lease.get("expires") or record.started)
    return record


def reap(ledger: Ledger, runs: list[RunRecord], now: datetime) -> list[RunRecord]:
    """Close every `running` record whose run holds no live lease (killed, or its machine
    lost): a run takes its lease before its record and frees it after, so on one tip of
    the state branch a running record without a live lease is a dead run. Returns the
    records closed (also updated in `runs`)."""
    if not any(r.outcome == "running" for r in runs):
        return []
    live = {str(v.get("run_id")) for v in live_leases(ledger.store, now).values()}
    closed = []
    for run in runs:
        if run.outcome == "running" and run.run_id not in live:
            killed(run, None, "closed by a later command")
            if ledger.store.update(run_path(run), _close(run), f"run {run.run_id}: killed"):
                closed.append(run)
    return closed


def _close(run: RunRecord) -> Callable[[Any], Any]:
    """A change that closes `run` only if its record still says `running`. The record on
    the tip is rewritten, not `run`: an indexed read returns a summary of an older run,
    and writing it back would drop its usage, links and sync."""

    def change(old: Any) -> Any:
        if not (isinstance(old, dict) and old.get("outcome") == "running"):
            return None
        return {**old, "outcome": run.outcome, "reason": run.reason, "ended": run.ended}

    return change


def cancelled(
    ws_now: datetime,
    ledger: Ledger,
    task: Task,
    branch: WorkBranch,
    record: RunRecord,
    exc: Cancelled,
) -> None:
    """Commit and push what the run has, record it `cancelled`; the checkpoint stays, so
    the next run resumes the branch with the same delta."""
    if branch.path is not None:
        try:
            branch.commit(f"{task.id}: stopped (cancelled by {exc.signame})")
            branch.push()  # a commit made just before the signal may not be pushed yet
        except GitError as error:  # killed mid-git: what was committed before still counts
            branch.push_error = branch.push_error or f"could not commit: {error}"
    kept = f"; work so far is on {branch.branch}" if branch.commits or branch.resumed_from else ""
    unpushed = f" (not pushed: {branch.push_error[:200]})" if branch.push_error else ""
    record.outcome, record.reason = "cancelled", f"{exc}{kept}{unpushed}"
    record.ended = iso(ws_now)
    record.links.setdefault("branch", branch.branch)
    if branch.commits:
        record.links["commit"] = branch.commits[-1]
    ledger.finish(record)


def push_failed(
    forge: Forge,
    role: Role,
    task: Task,
    record: RunRecord,
    branch: WorkBranch,
    runs: list[RunRecord],
    base: str,
) -> Issue | None:
    """The work could not be pushed: a failed run, no PR for a branch the forge does not
    have, the work kept on the local branch for the next run to push (never forced).
    A refusal only a human can lift, or the same failure run after run, is escalated,
    with the work attached (on a hosted runner the local branch dies with the job)."""
    error = (branch.push_error or "").strip()
    record.outcome = "push_failed"
    record.reason = f"could not push {branch.branch}: {error[:300]}"
    hint = push_needs_human(error)
    earlier = 0
    for run in reversed([r for r in runs if r.task == task.id]):
        if run.outcome != "push_failed":
            break
        earlier += 1
    if hint is None and earlier + 1 < PUSH_ATTEMPTS:
        record.reason += "; the work is kept on the local branch and the next run pushes it"
        return None
    hint = hint or (
        f"the push failed {earlier + 1} runs in a row; check that the remote is reachable "
        "and accepts pushes to the fleet's branches"
    )
    summary = (
        f"The runner could not push the work branch `{branch.branch}`: {hint}. Then close "
        f"this issue; the next run pushes the work (it is never force-pushed).\n\n"
        f"The remote said:\n\n```\n{error[:2000]}\n```\n\n"
        + kept_work(branch.git, base, f"refs/heads/{branch.branch}")
    )
    return escalate(forge, role, task, "blocked", summary, record)


def kept_work(git: Git, base: str, ref: str, limit: int = 40_000) -> str:
    """The unpushed commits as a patch, fenced so no line of it can end the fence."""
    patch = git.run("format-patch", "--stdout", f"{base}..{ref}")
    fence = "`" * max(3, 1 + max((len(m) for m in re.findall(r"`+", patch)), default=0))
    if len(patch) > limit:
        stat = git.run("diff", "--stat", f"{base}...{ref}")
        size = f"{len(patch):,} bytes as a patch"
        return f"The work ({size}) is too large to attach:\n\n{fence}\n{stat}{fence}\n"
    return f"The work, as a patch (`git am` applies it):\n\n{fence}diff\n{patch}{fence}\n"


FLEET_SUBJECT = "fleet"  # the escalation's "role" when the problem is the fleet's, not a role's


def model_key_rejected(
    forge: Forge, role: Role, record: RunRecord, detail: str, name: str = MODEL_KEY
) -> Issue:
    """The model API rejected the key `name` (401/403): one escalation per fleet, keyed
    on the credential, not the task (the forge notes a repeat on the open one)."""
    summary = (
        f"The model API rejected {name} ({detail}). Every role that needs {name} is "
        f"stopped until it works: rotate the {name} secret (check the key, its workspace "
        "or account and its organisation's access), then close this issue."
    )
    what = "rejected by the model API"
    return _credential_issue(forge, role, record, name, what, summary, FLEET_SUBJECT)


def credential_missing(forge: Forge, role: Role, record: RunRecord, name: str) -> Issue:
    """A credential a role lists is not in the job's environment: one escalation per
    credential, not per task. It is filed under the role (so the answer reaches that
    role's delta) and holds every task of every role that needs the credential, so no
    other role files a second one while it is open."""
    summary = (
        f"{name} is not set in the job's environment, and role '{role.name}' (and any "
        "other role that lists it under credentials:) cannot work without it. Add it as "
        "a repository secret and pass it to the agent job's env, then close this issue."
    )
    return _credential_issue(forge, role, record, name, "is not set", summary, role.name)


def engine_key_missing(forge: Forge, role: Role, record: RunRecord, name: str) -> Issue:
    """A key the role's engine needs (the model key, a provider's variables) is not in
    the agent job's environment: a workflow's configuration, the same for every tick,
    so one escalation for the fleet holds every role that needs it, instead of an error
    run per role and tick that nobody is asked about."""
    summary = (
        f"{name} is not set in the agent job's environment, and every role whose engine "
        f"needs it (role '{role.name}' uses {role.engine}) is stopped until it is. Add it as "
        "a repository secret and pass it in the agent job's env (README: Engines and "
        "providers), then close this issue."
    )
    return _credential_issue(forge, role, record, name, "is not set", summary, FLEET_SUBJECT)


def _credential_issue(
    forge: Forge, role: Role, record: RunRecord, name: str, what: str, summary: str, owner: str
) -> Issue:
    subject = f"{CREDENTIAL_SUBJECT}{name}"
    issue = forge.escalate(
        role=owner,
        task=subject,
        kind="credential",
        title=escalation_title(owner, f"{name} {what}", subject),
        body=escalation_body(role.name, None, "credential", summary, record),
        assignees=role.escalate_to,
    )
    faults.hit("escalation")
    return issue


@dataclass
class Leaks:
    """The secret scan of what a one-process run posts (the apply job's rule, held where
    the runner has the write token itself): agent-written text that holds a secret, one
    the process knows or a token shape, is withheld, and one `security` escalation says
    where and what kind, never the value."""

    secrets: Sequence[Secret]
    findings: list[str] = field(default_factory=list)
    withheld: list[str] = field(default_factory=list)

    def clean(self, what: str, text: str) -> bool:
        """Whether `text` may be posted; if not, it is counted as withheld."""
        return self._note(what, scan(text, self.secrets, what))

    def commits(self, git: Git, start: str, head: str) -> bool:
        """Whether the work branch's commits `start..head` may be pushed (the screen of
        `WorkBranch.push`): apply's bundle scan of their whole objects (message, names,
        headers), the paths they touch and the lines they add: the files the agent writes
        are its own (the summary the runner copies is redacted before, `_finish_branch`),
        and whatever else reaches a commit is caught here before it leaves."""
        hits: list[Finding] = []
        for info in bundle.commits(git, start, head):
            where = f"commit {info.sha[:12]}"
            hits += scan(f"{info.header}\n\n{info.message}", self.secrets, where)
            parent = info.parents[0] if info.parents else start
            changed = bundle.changes(git, parent, info.sha)
            hits += [f for c in changed for f in scan(c.path, self.secrets, f"a path in {where}")]
            live = [c for c in changed if not c.deleted and c.new_mode != bundle.GITLINK]
            blobs = git.read_blobs([c.new_sha for c in live] + [c.old_sha for c in live])
            for c in live:
                new, old = blobs.get(c.new_sha) or b"", blobs.get(c.old_sha) or b""
                hits += scan_added(old, new, self.secrets, f"file {c.path} ({where})")
        return self._note("the work branch's commits (kept here, not pushed)", hits)

    def _note(self, what: str, hits: list[Finding]) -> bool:
        if hits:
            self.findings += [h.describe() for h in hits]
            self.withheld.append(what)
        return not hits


def withheld(
    forge: Forge, role: Role, task: Task, record: RunRecord, leaks: Leaks, branch: WorkBranch
) -> Issue:
    where = (
        f"The work stays on this machine's branch `{branch.branch}`, unpushed: look at it, "
        f"then delete it (`git branch -D {branch.branch}`), or the next run resumes it and "
        "is held again."
        if branch.held
        else "The work branch's commits were scanned and pushed; they hold no secret."
    )
    lines = [
        f"Run `{record.run_id}` ({role.name} on {task.id}) produced output that holds a "
        f"secret, so the runner did not publish it: {', '.join(leaks.withheld)}. {where}",
        "",
        "### Secrets found (where and kind; values are never shown)",
        *[f"- {f}" for f in leaks.findings[:50]],
        "",
        "### What to do",
        "Look at the run's transcript and at what the agent read: it may have been "
        "manipulated. If a real secret reached the agent, rotate it. Close this issue when "
        "it is handled; the task stays blocked until then.",
    ]
    return forge.escalate(
        role=role.name,
        task=task.id,
        kind="security",
        title=f"[fleet] {role.name}: outputs of {task.id} withheld (they held a secret)",
        body=redact("\n".join(lines), leaks.secrets),  # as apply's: nothing quoted leaks
        assignees=role.escalate_to,
    )
