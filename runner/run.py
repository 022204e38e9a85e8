"""One run: sync, record the start, work the task on its branch, then report the outcome.

The order is what makes a run safe to kill at any point: the ledger knows the run
started before anything else happens; work is committed to the branch as it goes; the
PR or escalation is found-or-created (never duplicated); the checkpoint moves only in
the same commit that completes the run record.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import datetime
from functools import partial
from typing import Any

from runner import engine_job, engines, faults, progress, run_gates, stops, sync_render
from runner.bodies import commit_subject, pr_body, pr_title
from runner.clock import iso
from runner.engine_job import RunJob
from runner.engines.base import ClientFactory, EngineResult
from runner.forge.base import Forge
from runner.interrupt import Cancelled
from runner.lease import Lease, LeaseTerms
from runner.ledger_index import Scope
from runner.model import Role, Task
from runner.neutralize import live_references
from runner.progress import Reporter
from runner.records import Checkpoint, ForgeEvent, RunRecord
from runner.run_gates import REJECTED, ModelGate, model_key
from runner.run_outcome import RunOutcome
from runner.secretscan import Secret, known_secrets, redact
from runner.state import new_run_id, run_path
from runner.sync import Delta
from runner.sync_role import role_delta
from runner.tasks import mark_done
from runner.workspace import Workspace
from runner.worktree import WorkBranch

ACTED = ("done", "escalated", "failed", "budget", "max_turns")  # outcomes that used the delta


def execute(
    ws: Workspace,
    forge: Forge,
    role_name: str,
    task_id: str,
    *,
    trigger: str,
    client_factory: ClientFactory,
    dry_run: bool = False,
    feedback: Sequence[ForgeEvent] = (),
    run_id: str | None = None,
    push: bool = True,
    lease_terms: LeaseTerms | None = None,
    gate: ModelGate | None = None,
    note: str = "",
) -> RunOutcome:
    """`run_id` and `push=False` for the agent phase: the claim named the run, and the
    apply phase pushes what the outputs bundle (runner/agent_phase.py). `note` is said
    first in the transcript, the progress comment, the PR and the escalation (fleet demo:
    the model's replies are a recording)."""
    role, task = ws.fleet.roles[role_name], ws.fleet.tasks[task_id]
    runs = ws.runs(Scope(today=ws.today, recent=(role_name,)))  # budget, delta, resume
    cursor = forge.cursor()  # read before the events: nothing posted meanwhile is lost
    delta = role_delta(ws, forge, role_name, runs=runs)
    record = _new_record(ws, role, task_id, trigger, run_id, delta)
    if dry_run:
        return RunOutcome(record, dry_run=engine_job.dry_run_text(ws, role, task, delta, runs))
    stopped = run_gates.credentials(ws, forge, role, task, record, ask=not push)
    if stopped is not None:
        return stopped
    jail = run_gates.jail(ws.fleet.config.sandbox)
    record.sandbox = jail.name if jail.isolated else f"none: {jail.reason}"
    stopped = run_gates.model(ws, forge, role, record, client_factory, gate)
    if stopped is not None:
        return stopped
    job = RunJob(role, task, delta, runs, client_factory, feedback, jail, push, note)
    if not push:  # the agent phase: the claim holds the task's lease (a fixed deadline)
        return _recorded(ws, forge, job, RunOutcome(record, events_cursor=cursor), None)
    outcome = _leased(ws, forge, job, RunOutcome(record, events_cursor=cursor), lease_terms)
    if gate is not None and record.reason == REJECTED:
        gate.reject(role, REJECTED)  # the rest of the tick makes no call with this key
    return outcome


def _new_record(
    ws: Workspace, role: Role, task_id: str, trigger: str, run_id: str | None, delta: Delta
) -> RunRecord:
    """The run's record as it starts (not yet on the ledger): what it runs and from where."""
    engine = engines.get(role.engine)
    started = ws.now
    return RunRecord(
        run_id=run_id or new_run_id(role.name, started),
        role=role.name,
        task=task_id,
        started=iso(started),
        trigger=trigger,
        engine=role.engine,
        model=role.model if engine.uses_model else None,
        provider=engine.provider(role),
        sync={"base": delta.base, "head": delta.head, "summary": delta.summary()},
    )


def _leased(
    ws: Workspace, forge: Forge, job: RunJob, outcome: RunOutcome, terms: LeaseTerms | None
) -> RunOutcome:
    """The recorded run under the task's lease: never two live runs on one task."""
    record = outcome.record
    lease = Lease(
        ws.ledger.store,
        job.task.id,
        job.role.name,
        record.run_id,
        run_path(record),
        live_clock(ws),
        terms or LeaseTerms(),
    )
    holder = lease.acquire()
    if holder is not None:  # another live run has the task: never two on one task
        return RunOutcome(
            record,
            skipped=f"run {holder.get('run_id')} holds the task (its lease runs to "
            f"{holder.get('expires')}); nothing done",
        )
    return _recorded(ws, forge, job, outcome, lease)


def _secrets(ws: Workspace, role: Role) -> list[Secret]:
    """Every secret this process holds: the runner's own and the role's credentials."""
    return known_secrets(ws.environ) + known_secrets(ws.environ, role.required_env)


def _kept(ws: Workspace, role: Role, outcome: RunOutcome) -> dict[str, Any]:
    """The transcript as the ledger stores it: redacted with every secret this process
    holds (the runner's own, the role's credentials and its MCP servers' env) and the
    token shapes."""
    return outcome.transcript.to_dict(_secrets(ws, role))


def _reporter(ws: Workspace, forge: Forge, job: RunJob, outcome: RunOutcome) -> Reporter | None:
    """The live progress comment of a one-process run (the agent phase posts none: it
    holds no write credential; apply posts the final state)."""
    settings = ws.fleet.config.progress
    if not job.push or not settings.comment:
        return None
    role, task, record = job.role, job.task, outcome.record
    reporter = Reporter(
        forge,
        record.run_id,
        role.name,
        task,
        progress.Limits(
            task.max_turns or role.max_turns,
            engine_job.budget_left(ws, role, task, job.runs),
            ws.fleet.config.prices.get(role.model),
        ),
        outcome.transcript,
        live_clock(ws),
        settings.interval_s,
        _secrets(ws, role),
        target=progress.first_target(forge.name, role.name, task, job.runs),
        note=job.note,
    )
    reporter.start()
    return reporter


def _holder_record(
    ws: Workspace, runs: list[RunRecord], lease: dict[str, Any] | None
) -> RunRecord | None:
    """The record of the run whose dead lease this run took, read in full: it is closed
    and rewritten, and `runs` may hold only its index summary."""
    if not lease:
        return None
    path = lease.get("run_record")
    if not isinstance(path, str):
        known = next((r for r in runs if r.run_id == lease.get("run_id")), None)
        path = run_path(known) if known else None
    return ws.ledger.record(path) if path else None


def _recorded(
    ws: Workspace, forge: Forge, job: RunJob, outcome: RunOutcome, lease: Lease | None
) -> RunOutcome:
    """Record the start, work on the branch, record the end; a cancellation at any point
    ends as `cancelled`, and the lease is freed whatever happens."""
    record = outcome.record
    try:
        faults.hit("lease")  # the lease is held; nothing else written yet
        took_over = f"run {record.run_id} took over the task"
        old = lease.taken_over if lease is not None else None
        dead = _holder_record(ws, job.runs, old)
        ws.ledger.start(record, killed=dead and stops.killed(dead, old, took_over))
        if lease is not None:
            lease.start_heartbeat()
        _run_on_branch(ws, forge, job, outcome)
    except Cancelled as exc:  # before the branch was opened, or after the run was recorded
        if not outcome.recorded:
            record.outcome, record.reason, record.ended = "cancelled", str(exc), iso(ws.now)
            ws.ledger.finish(record)
            outcome.recorded = True
    finally:
        if lease is not None:
            lease.release()
    return outcome


def live_clock(ws: Workspace) -> Callable[[], datetime]:
    """The time as it passes (a lease's heartbeat must move forward while the run works)."""
    return lambda: ws.now


def _run_on_branch(ws: Workspace, forge: Forge, job: RunJob, outcome: RunOutcome) -> None:
    record, role, task = outcome.record, job.role, job.task
    branch = WorkBranch(
        ws.git,
        f"{ws.fleet.config.forge.branch_prefix}{role.name}/{task.id}",
        role.name,
        record.run_id,
        ws.remote,
        writable=role.writable,
        push_enabled=job.push,
    )
    leaks = stops.Leaks(_secrets(ws, role))  # what the agent's work publishes, scanned
    branch.screen = partial(leaks.commits, ws.git)
    delta_md = sync_render.render(job.delta)
    reporter = _reporter(ws, forge, job, outcome)
    try:
        result = engine_job.work(ws, job, branch, outcome.transcript)
        _finish_branch(task, branch, result, list(leaks.secrets))
        engine_job.noted(result, job.note)
        outcome.report, outcome.commits = result.report, list(branch.commits)
        _publish(ws, forge, job, result, branch, delta_md, outcome, leaks)
        if reporter is not None:
            reporter.finish(record.outcome, record.reason, record.links)
        record.api_calls = forge.api_calls
        cp = None
        if record.outcome in ACTED:
            delta_head = record.sync.get("head")
            cursor = outcome.events_cursor
            cp = Checkpoint(role.name, delta_head, cursor, iso(ws.now), record.run_id)
        ws.ledger.finish(record, cp, transcript=_kept(ws, role, outcome))
        outcome.recorded = True
        faults.hit("ledger_finish")
    except Cancelled as exc:  # the job is being cancelled: keep the work, say so, stop
        if not outcome.recorded:
            stops.cancelled(ws.now, ws.ledger, task, branch, record, exc)
            outcome.recorded = True
            outcome.commits = list(branch.commits)
    except BaseException as exc:
        if not outcome.recorded:
            record.outcome, record.reason = "error", f"{type(exc).__name__}: {exc}"[:500]
            record.ended = iso(ws.now)
            ws.ledger.finish(record, transcript=_kept(ws, role, outcome))
            outcome.recorded = True
        raise
    finally:
        branch.close()


def _finish_branch(
    task: Task, branch: WorkBranch, result: EngineResult, secrets: list[Secret]
) -> None:
    """The runner's last commit, pushed at once: the agent's summary it copies (the task
    file's `result:`, the stop message) is redacted first, as the PR text is scanned, and
    no title or reason that would close an issue on merge goes into the message."""
    if result.outcome == "done" and branch.path is not None:
        branch.sweep()  # the agent's own edits to files it may not write go first
        branch.runner_paths.add(task.path)
        text = branch.read_text(task.path)
        if text is not None:
            said = redact(result.summary or result.reason, secrets)
            branch.write_text(task.path, mark_done(text, said))
        branch.commit(commit_subject(f"Complete {task.id}", task.title))
    else:
        said = f"{result.outcome}: {redact(result.reason, secrets)}"
        said = result.outcome if live_references(said, mentions=False) else said
        branch.commit(f"{task.id}: stopped ({said})")


def _publish(
    ws: Workspace,
    forge: Forge,
    job: RunJob,
    result: EngineResult,
    branch: WorkBranch,
    delta_md: str,
    outcome: RunOutcome,
    leaks: stops.Leaks,
) -> None:
    role, task, record, runs = job.role, job.task, outcome.record, job.runs
    record.outcome, record.reason = result.outcome, result.reason
    record.turns, record.usage = result.turns, result.usage.to_dict()
    record.cost_usd, record.attempts = round(result.cost_usd, 6), result.attempts
    record.delegated = result.delegated
    record.truncated_calls = result.truncated
    record.ended = iso(ws.now)
    record.links = {"branch": branch.branch}
    if branch.commits:
        record.links["commit"] = branch.commits[-1]
    has_work = bool(
        ws.git.succeeds("rev-parse", "--verify", "--quiet", f"refs/heads/{branch.branch}")
    ) and _ahead(ws, branch)
    if has_work:
        branch.push()  # no-op when every commit is pushed; pushes what a failed run left
    if has_work and branch.push_error:
        outcome.issue = stops.push_failed(forge, role, task, record, branch, runs, ws.head_ref())
    elif has_work and not branch.held and result.outcome != "model_unavailable":
        summary = result.summary + _reverted_note(branch.reverted)
        body = pr_body(task, record, result.usage, result.report, summary, delta_md)
        if leaks.clean("the PR", f"{pr_title(task)}\n{body}"):
            outcome.pr = forge.open_pr(
                role=role.name,
                task=task.id,
                branch=branch.branch,
                base=ws.fleet.config.forge.base_branch,
                title=pr_title(task),
                body=body,
                draft=result.outcome != "done",
            )
            faults.hit("pr")
            record.links["pr"] = outcome.pr.url or outcome.pr.id
    if result.escalation is not None and result.reason == REJECTED:  # the key died mid-run
        why, key = result.escalation.summary, model_key(role)
        outcome.issue = stops.model_key_rejected(forge, role, record, why, key)
    elif result.escalation is not None:
        kind, summary = result.escalation.kind, result.escalation.summary
        if leaks.clean(f"the {kind} escalation", summary):
            outcome.issue = stops.escalate(forge, role, task, kind, summary, record)
    record.reason = redact(record.reason, leaks.secrets)  # it quotes the agent's summary
    if leaks.withheld:
        outcome.issue = stops.withheld(forge, role, task, record, leaks, branch)
        record.reason += f"; withheld, holding a secret: {', '.join(leaks.withheld)}"
    if outcome.issue is not None:
        record.links["issue"] = outcome.issue.url or outcome.issue.id
    record.reverted = list(branch.reverted)


def _reverted_note(paths: list[str]) -> str:
    if not paths:
        return ""
    shown = "\n".join(f"- `{p}`" for p in paths[:50])
    more = f"\n- ... and {len(paths) - 50} more" if len(paths) > 50 else ""
    return (
        "\n\n**Reverted by the runner** (changed outside this role's writable paths, "
        f"not committed):\n{shown}{more}"
    )


def _ahead(ws: Workspace, branch: WorkBranch) -> bool:
    base = ws.head_ref()
    return bool(
        ws.git.run("rev-list", "--count", f"{base}..refs/heads/{branch.branch}").strip()
        not in ("", "0")
    )
