"""The privileged side of a run: claim it before the agent phase, publish after it.

Both hold the forge write credential and run no model and nothing the agent wrote. The
claim writes the `running` record that names the run's role and task (the agent phase
cannot change them); `apply_outputs` reviews the agent phase's outputs (`runner.apply`),
then pushes, opens or updates the PR, posts escalations and comments, and finishes the
run record. A finished record is the commit point: applying again does nothing.
"""

from __future__ import annotations

import contextlib
import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from runner import engines, lifecycle, progress, schema, stops, transcripts
from runner import outputs as contract
from runner.apply import Review, Rules, review
from runner.bodies import pr_title
from runner.clock import iso
from runner.errors import FleetError
from runner.forge import app_auth
from runner.forge.base import Forge, Issue, PullRequest
from runner.gitrepo import GitError
from runner.lease import Lease, LeaseTerms, release
from runner.model import Role, Task
from runner.neutralize import for_post
from runner.outputs import Outputs, OutputsError
from runner.records import RunRecord
from runner.secretscan import known_secrets, redact
from runner.state import Checkpoint, new_run_id, run_path
from runner.workspace import ConfigError, Workspace

ACTED = ("done", "escalated", "failed", "budget", "max_turns")  # outcomes that used the delta
AGENT_DEADLINE_S = 70 * 60  # the agent job's 60-minute timeout, and slack: its lease
_COMMENT = re.compile(r"<!--.*?-->", re.DOTALL)


@dataclass
class Applied:
    record: RunRecord
    pr: PullRequest | None = None
    issues: list[Issue] = field(default_factory=list)
    security: Issue | None = None
    pushed: bool = False
    already: bool = False  # the run was applied before: nothing was done now
    review: Review | None = None


def unmark(text: str) -> str:
    """Agent text without HTML comments, so a hidden `fleet:` marker (or any hidden
    text) appears only where the forge itself writes one."""
    return _COMMENT.sub("", text).replace("<!--", "&lt;!--")


def claim(ws: Workspace, role: str, task: str, trigger: str) -> RunRecord:
    """Write the run's `running` record before any agent code starts (its lease)."""
    if role not in ws.fleet.roles or task not in ws.fleet.tasks:
        raise ConfigError(f"cannot claim {role}/{task}: no such role or task on the base branch")
    r = ws.fleet.roles[role]
    record = RunRecord(
        run_id=new_run_id(role, ws.now),
        role=role,
        task=task,
        started=iso(ws.now),
        trigger=trigger,
        engine=r.engine,
        model=r.model if engines.get(r.engine).uses_model else None,
        provider=engines.get(r.engine).provider(r),
    )
    lease = Lease(
        ws.ledger.store,
        task,
        role,
        record.run_id,
        run_path(record),
        lambda: ws.now,
        LeaseTerms(AGENT_DEADLINE_S, AGENT_DEADLINE_S / 2),
        heartbeat=False,  # the agent job cannot write fleet-state: a fixed deadline
    )
    holder = lease.acquire()
    if holder is not None:
        raise FleetError(
            f"{role}/{task} is held by run {holder.get('run_id')} until "
            f"{holder.get('expires')}; not claimed again"
        )
    ws.ledger.start(record)
    return record


def claimed(ws: Workspace, run_id: str) -> RunRecord | None:
    """The ledger's record of `run_id` (written by the claim), if any."""
    suffix = f"/{run_id}.json"
    paths = [p for p in ws.ledger.store.list("runs/") if p.endswith(suffix)]
    for raw in ws.ledger.store.read_many(paths).values():
        try:
            data = json.loads(raw or b"")
        except ValueError:
            continue  # unreadable: as if absent
        if schema.is_readable(data, "run"):  # a newer runner's fields are ignored
            return RunRecord.from_dict(data)
    return None


def apply_outputs(ws: Workspace, forge: Forge, directory: Path, run_id: str | None) -> Applied:
    outs = contract.read(directory)
    if outs is not None and run_id and outs.run_id != run_id:
        raise OutputsError(f"the outputs are for run {outs.run_id!r}, not the claimed {run_id!r}")
    run_id = run_id or (outs.run_id if outs else None)
    if not run_id:
        raise OutputsError(f"{directory} holds no outputs.json and no --run-id was given")
    record = claimed(ws, run_id)
    if record is None:
        raise OutputsError(
            f"run {run_id} was never claimed on the ledger; only claimed runs are applied"
        )
    if record.outcome != "running":
        return Applied(record, already=True)
    if outs is None:
        return _finish(ws, forge, record, "error", _NO_OUTPUTS)
    if (outs.run.get("role"), outs.run.get("task")) != (record.role, record.task):
        return _finish(ws, forge, record, "error", "the outputs name another role or task")
    if record.role not in ws.fleet.roles or (record.task or "") not in ws.fleet.tasks:
        return _finish(ws, forge, record, "error", "its role or task is gone from the base branch")
    return _apply(ws, forge, directory, outs, record)


_NO_OUTPUTS = (
    "the agent job ended without writing outputs (cancelled, timed out or crashed "
    "before its first commit); see the agent job's log"
)


def _finish(ws: Workspace, forge: Forge, record: RunRecord, outcome: str, reason: str) -> Applied:
    record.outcome, record.reason, record.ended = outcome, reason, iso(ws.now)
    record.api_calls += forge.api_calls
    ws.ledger.finish(record)
    release(ws.ledger.store, record.task or "", record.run_id)
    return Applied(record)


def _apply(
    ws: Workspace, forge: Forge, directory: Path, outs: Outputs, claim_record: RunRecord
) -> Applied:
    fleet = ws.fleet
    role, task = fleet.roles[claim_record.role], fleet.tasks[claim_record.task or ""]
    branch = f"{fleet.config.forge.branch_prefix}{role.name}/{task.id}"
    rules = Rules(
        role,
        task,
        branch,
        ws.head_ref(),
        fleet.config.apply,
        frozenset(fleet.tasks),
        tuple(known_secrets(ws.environ) + app_auth.secrets(ws.environ)),
    )
    quarantine = f"refs/fleet/quarantine/{claim_record.run_id}"
    verdict = review(ws.git, directory, outs, rules, quarantine)
    record = _record(outs, claim_record)
    transcript = _transcript(directory, outs, record, rules, verdict)
    result = Applied(record, review=verdict)
    try:
        if outs.branch is not None and verdict.bundle_ok:
            result.pushed = _push(ws, outs, record)
        _post(ws, forge, outs, verdict, rules, result)
    finally:
        with contextlib.suppress(GitError):
            ws.git.run("update-ref", "-d", quarantine)
    if not verdict.clean:
        result.security = _security(forge, rules, record, verdict)
        record.links["issue"] = result.security.url or result.security.id
        if not verdict.bundle_ok:
            record.outcome = "escalated"
            record.reason = "apply refused the outputs; see the security escalation"
        else:
            record.reason += "; apply blocked some outputs (security escalation)"
    record.ended = record.ended or iso(ws.now)
    if result.pr is not None and fleet.config.progress.comment:
        limits = progress.Limits(
            task.max_turns or role.max_turns,
            task.run_budget_usd or role.run_budget_usd,
            fleet.config.prices.get(role.model),
        )
        entries = (transcript or {}).get("entries", [])
        progress.final(forge, result.pr.id, task, record, entries, limits, rules.secrets)
    record.api_calls += forge.api_calls
    cp = None
    if outs.checkpoint and record.outcome in ACTED and verdict.bundle_ok:
        sha, since = outs.checkpoint.sha, outs.checkpoint.events_since
        cp = Checkpoint(role.name, sha, since, iso(ws.now), record.run_id)
    ws.ledger.finish(record, cp, transcript=transcript)
    release(ws.ledger.store, record.task or "", record.run_id)
    return result


def _transcript(
    directory: Path, outs: Outputs, record: RunRecord, rules: Rules, verdict: Review
) -> dict[str, Any] | None:
    """The agent job's transcript as apply stores it: capped, redacted again with the
    secrets apply holds and the token shapes (never trusted to be redacted already).
    A secret found in it is redacted and reported; an unreadable one is not stored."""
    try:
        data = contract.read_transcript(directory, outs.transcript, transcripts.MAX_INPUT_BYTES)
    except OutputsError as exc:
        verdict.notes.append(f"the transcript was not stored: {exc}")
        return None
    if data is None:
        return None
    kept, hits = transcripts.cleaned(data, record.run_id, rules.secrets)
    if hits:
        verdict.blocked.add("transcript")
        verdict.findings.append(f"transcript: {hits} secret(s) (redacted before it was stored)")
    return kept


def _record(outs: Outputs, claim_record: RunRecord) -> RunRecord:
    """The agent's record, with identity from the claim; links are apply's to set."""
    data = {
        **outs.run,
        **{k: getattr(claim_record, k) for k in ("run_id", "role", "task", "started", "trigger")},
        "links": {},
    }
    data.pop("transcript", None)  # apply stores the transcript and sets the pointer itself
    if not schema.is_valid(data, "run"):
        data = {**claim_record.to_dict(), "outcome": "error", "reason": "invalid run record"}
    record = RunRecord.from_dict(data)
    if record.outcome == "running":
        record.outcome, record.ended = "error", None
        record.reason = (
            "the agent job stopped before the run ended (cancelled or timed out); its "
            "partial work is kept as a draft PR"
        )
    if outs.branch is not None:
        record.links["branch"] = outs.branch.name
    return record


def _push(ws: Workspace, outs: Outputs, record: RunRecord) -> bool:
    """Publish the reviewed head on the work branch: fast-forward only, never force."""
    out = outs.branch
    assert out is not None
    remote, ref = ws.remote, f"refs/heads/{out.name}"
    if remote:
        tracking = f"refs/remotes/{remote}/{out.name}"
        with contextlib.suppress(GitError):  # absent on the remote: a new branch
            ws.git.run("fetch", "--quiet", "--no-tags", remote, f"+{ref}:{tracking}")
        tip = ws.git.rev(tracking)
    else:
        tip = ws.git.rev(ref)
    record.links["commit"] = out.head
    if tip is not None and (tip == out.head or ws.git.is_ancestor(out.head, tip)):
        return True  # applied before
    if tip is not None and tip != out.start:
        record.outcome = "failed"
        record.reason = f"the work branch moved since the run started (now {tip[:12]}); not pushed"
        return False
    try:
        if remote:
            ws.git.run("push", "--quiet", remote, f"{out.head}:{ref}")
        else:
            ws.git.run("update-ref", ref, out.head, tip or "0" * 40)
    except GitError as exc:
        record.outcome = "failed"
        record.reason = f"push failed: {exc.stderr[:200]}"
        return False
    return True


def _post(
    ws: Workspace, forge: Forge, outs: Outputs, verdict: Review, rules: Rules, result: Applied
) -> None:
    record, role, task = result.record, rules.role, rules.task
    pr_spec = outs.pr
    if pr_spec is None and result.pushed and record.outcome == "error":
        pr_spec = contract.PullOut(pr_title(task), _WIP, True)
    if result.pushed and pr_spec is not None and "pr" not in verdict.blocked:
        result.pr = forge.open_pr(
            role=role.name,
            task=task.id,
            branch=rules.branch,
            base=ws.fleet.config.forge.base_branch,
            title=unmark(pr_spec.title),
            body=unmark(pr_spec.body) + _ci_note(ws, forge),
            draft=pr_spec.draft or record.outcome != "done",
        )
        record.links["pr"] = result.pr.url or result.pr.id
    for i, e in enumerate(outs.escalations):
        if f"escalation:{i}" not in verdict.blocked:
            owner, subject = _escalation_subject(e, role, task)
            issue = forge.escalate(
                role=owner,
                task=subject,
                kind=e.kind,
                title=unmark(e.title),
                body=unmark(e.body),
                assignees=role.escalate_to,
            )
            result.issues.append(issue)
            record.links.setdefault("issue", issue.url or issue.id)
    for i, c in enumerate(outs.comments):
        if f"comment:{i}" in verdict.blocked or result.pr is None:
            continue
        if result.pr.id.startswith("#"):
            key = f"run-{record.run_id}-comment-{i}"
            forge.upsert_comment(int(result.pr.id[1:]), key, for_post(c.body, 8000))
        else:
            forge.comment(result.pr.id, for_post(c.body, 8000))


def _escalation_subject(e: contract.EscalationOut, role: Role, task: Task) -> tuple[str, str]:
    """Where an escalation is filed: under the run's task, or, for a credential the role
    needs, once for the fleet (`credential-<NAME>`, as a one-process run files it), so
    one issue holds every task that needs it instead of one issue per task and tick. A
    credential the role does not need stays under the task: the agent job is untrusted,
    and must not hold other roles' work by naming their credentials."""
    name = e.credential
    if e.kind != "credential" or not name or not lifecycle.needs(role, name):
        return role.name, task.id
    owner = role.name if name in role.required_env else stops.FLEET_SUBJECT  # the engine's
    return owner, f"{lifecycle.CREDENTIAL_SUBJECT}{name}"


def _ci_note(ws: Workspace, forge: Forge) -> str:
    """With the Actions token, say on the PR that CI did not run and how to change that."""
    if forge.name != "github" or app_auth.configured(ws.environ):
        return ""
    return (
        "\n\n> CI did not run on this pull request: it was opened with the Actions "
        "`GITHUB_TOKEN`, which triggers no workflow. To run the repository's CI on agent "
        "pull requests, give the apply job a GitHub App (`FLEET_GITHUB_APP_ID`, "
        "`FLEET_GITHUB_APP_PRIVATE_KEY`; see the README), or push an empty commit."
    )


def _blocked_line(key: str) -> str:
    if key == "transcript":
        return "- the transcript held secrets: they were redacted before it was stored"
    return f"- the {key.replace(':', ' ')} text was not posted"


_WIP = (
    "Work in progress: the run stopped before it ended (cancelled or timed out). The "
    "next run of this task resumes this branch."
)


def _security(forge: Forge, rules: Rules, record: RunRecord, verdict: Review) -> Issue:
    """One escalation for everything refused; it names what and where, never a value."""
    lines = [
        f"The apply phase refused part of run `{record.run_id}` ({rules.role.name} on "
        f"{rules.task.id}). Nothing refused was published"
        + ("; the work branch was not pushed." if not verdict.bundle_ok else "."),
        "",
        "### Refused",
    ]
    lines += [f"- {r}" for r in verdict.refusals + verdict.notes]
    lines += [_blocked_line(k) for k in sorted(verdict.blocked)]
    if verdict.findings:
        lines += ["", "### Secrets found (where and kind; values are never shown)"]
        lines += [f"- {f}" for f in verdict.findings[:50]]
    lines += [
        "",
        "### What to do",
        "Look at the run's outputs artifact and at what the agent read: it may have been "
        "manipulated. If a real secret leaked into the agent job, rotate it. Close this "
        "issue when it is handled; the task stays blocked until then.",
    ]
    body = redact("\n".join(lines), rules.secrets)
    return forge.escalate(
        role=rules.role.name,
        task=rules.task.id,
        kind="security",
        title=f"[fleet] {rules.role.name}: apply refused outputs of {rules.task.id}",
        body=body,
        assignees=rules.role.escalate_to,
    )
