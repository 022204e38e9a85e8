"""One run: sync, record the start, work the task on its branch, then report the outcome.

The order is what makes a run safe to kill at any point: the ledger knows the run
started before anything else happens; work is committed to the branch as it goes; the
PR or escalation is found-or-created (never duplicated); the checkpoint moves only in
the same commit that completes the run record.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from runner import sync, sync_render
from runner.acceptance import Report, run_checks
from runner.agent import shell
from runner.agent.context import Conversation
from runner.agent.jail import Jail, SandboxUnavailable, foreign_user, probe
from runner.agent.loop import EngineResult, Limits
from runner.agent.prompt import first_turn, system_blocks
from runner.agent.sandbox import Sandbox, scrub_env
from runner.agent.tools import Terminal, ToolBox
from runner.bodies import escalation_body, escalation_title, pr_body, pr_title
from runner.clock import iso
from runner.fmt import usd
from runner.forge.base import Forge, Issue, PullRequest
from runner.model import Role, RunRecord, Task
from runner.plan import spent_on
from runner.records import Checkpoint, ForgeEvent
from runner.state import new_run_id
from runner.tasks import mark_done
from runner.workspace import ConfigError, Workspace
from runner.worktree import WorkBranch

ClientFactory = Callable[[Role], Any]
ACTED = ("done", "escalated", "failed", "budget", "max_turns")  # outcomes that used the delta


@dataclass
class RunOutcome:
    record: RunRecord
    pr: PullRequest | None = None
    issue: Issue | None = None
    report: Report | None = None
    commits: list[str] = field(default_factory=list)
    dry_run: str = ""


def budget_left(ws: Workspace, role: Role, task: Task, runs: list[RunRecord]) -> float:
    spent = spent_on(runs, ws.now.strftime("%Y-%m-%d"))
    limits = [
        task.run_budget_usd or role.run_budget_usd,
        role.daily_budget_usd - spent.get(role.name, 0.0),
    ]
    if ws.fleet.config.daily_budget_usd is not None:
        limits.append(ws.fleet.config.daily_budget_usd - sum(spent.values()))
    return max(0.0, min(limits))


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
) -> RunOutcome:
    """`run_id` and `push=False` for the agent phase: the claim named the run, and the
    apply phase pushes what the outputs bundle (runner/agent_phase.py)."""
    fleet = ws.fleet
    role, task = fleet.roles[role_name], fleet.tasks[task_id]
    runs = ws.runs()
    checkpoint = ws.ledger.checkpoint(role_name)
    cursor = forge.cursor()  # read before the events: nothing posted meanwhile is lost
    events = forge.events_since(role_name, checkpoint.events_since if checkpoint else None)
    delta = sync.compute(
        ws.git,
        fleet,
        role_name,
        ws.head_ref(),
        checkpoint=checkpoint,
        runs=runs,
        events=events,
        remote=ws.remote,
    )
    delta_md = sync_render.render(delta)
    started = ws.now
    record = RunRecord(
        run_id=run_id or new_run_id(role_name, started),
        role=role_name,
        task=task_id,
        started=iso(started),
        trigger=trigger,
        engine=role.engine,
        model=role.model if role.engine == "anthropic" else None,
        sync={"base": delta.base, "head": delta.head, "summary": delta.summary()},
    )
    if dry_run:
        return RunOutcome(record, dry_run=_dry_run_text(ws, role, task, delta, runs))
    missing = [name for name in role.credentials if not ws.environ.get(name)]
    if missing:
        return _credential_escalation(ws, forge, role, task, record, missing)
    if role.engine == "anthropic" and not ws.environ.get("ANTHROPIC_API_KEY"):
        raise ConfigError(
            f"role '{role_name}' uses the anthropic engine but ANTHROPIC_API_KEY is not set; "
            "add it as a repository secret (or run 'fleet run --dry-run' to see the prompt)"
        )
    jail = _jail(fleet.config.sandbox)
    record.sandbox = jail.name if jail.isolated else f"none: {jail.reason}"
    ws.ledger.start(record)
    branch = WorkBranch(
        ws.git,
        f"{fleet.config.forge.branch_prefix}{role_name}/{task_id}",
        role_name,
        record.run_id,
        ws.remote,
        writable=role.writable,
        push_enabled=push,
    )
    outcome = RunOutcome(record)
    try:
        result = _work(ws, role, task, branch, delta, runs, client_factory, feedback, jail)
        _finish_branch(task, branch, result)
        outcome.report, outcome.commits = result.report, list(branch.commits)
        _publish(ws, forge, role, task, record, result, branch, delta_md, outcome)
    except BaseException as exc:
        record.outcome, record.reason = "error", f"{type(exc).__name__}: {exc}"[:500]
        record.ended = iso(ws.now)
        ws.ledger.finish(record)
        raise
    finally:
        branch.close()
    record.api_calls = forge.api_calls
    cp = None
    if record.outcome in ACTED:
        cp = Checkpoint(role_name, delta.head, cursor, iso(ws.now), record.run_id)
    ws.ledger.finish(record, cp)
    return outcome


def _jail(mode: str) -> Jail:
    """The sandbox for agent-run commands; `sandbox: required` without one is a
    configuration error, raised before anything is recorded or run."""
    try:
        return probe(mode)
    except SandboxUnavailable as exc:
        raise ConfigError(
            f"fleet.yaml says sandbox: required, but no sandbox can be made here: {exc}; "
            "install bubblewrap (apt-get install bubblewrap) with user namespaces enabled, "
            "or set sandbox: auto to run unsandboxed with a warning"
        ) from None


def _work(
    ws: Workspace,
    role: Role,
    task: Task,
    branch: WorkBranch,
    delta: sync.Delta,
    runs: list[RunRecord],
    client_factory: ClientFactory,
    feedback: Sequence[ForgeEvent],
    jail: Jail,
) -> EngineResult:
    path = branch.open(ws.head_ref())
    defaults = ws.fleet.config.defaults
    sandbox = Sandbox(
        path,
        role.writable,
        role.commands,
        scrub_env(ws.environ, role.credentials),
        defaults.command_timeout_s,
        jail=jail,
        network=role.network,
        read_only=ws.fleet.config.sandbox_read_only,
        git=branch.jail_git(ws.head_ref(), foreign_user(jail)) if jail.isolated else None,
    )

    def acceptance() -> Report:  # checks come from the base branch, never the agent's edits
        return run_checks(task, sandbox)

    if role.engine == "shell":
        return shell.run(task, role, sandbox, branch, acceptance)
    from runner.agent import loop

    toolbox = ToolBox(
        sandbox,
        role,
        task,
        ws.fleet.roles,
        set(ws.fleet.tasks),
        acceptance,
        ws.now.strftime("%Y-%m-%d"),
        files=branch.files,
        runner_paths=branch.runner_paths,
    )
    conversation = Conversation(system_blocks(ws.fleet, role), toolbox.specs())
    conversation.add(
        "user",
        [
            {
                "type": "text",
                "text": first_turn(
                    task, delta, resume_note=branch.resume_note(ws.git), feedback=feedback
                ),
            }
        ],
    )
    limits = Limits(
        model=role.model,
        max_turns=task.max_turns or role.max_turns,
        budget_usd=budget_left(ws, role, task, runs),
        max_attempts=role.max_attempts,
        context_window=defaults.context_window,
        compact_at=defaults.compact_at,
        stream=defaults.stream,
        total_timeout_s=defaults.model_total_timeout_s,
    )
    result = loop.run(
        client_factory(role),
        conversation,
        toolbox,
        limits,
        ws.fleet.config.prices.get(role.model),
        on_write=lambda turn: _commit_turn(branch, task, turn),
        acceptance=acceptance,
    )
    result.delegated = list(toolbox.proposed)
    return result


def _commit_turn(branch: WorkBranch, task: Task, turn: int) -> None:
    branch.commit(f"{task.id}: work in progress (turn {turn})")


def _finish_branch(task: Task, branch: WorkBranch, result: EngineResult) -> None:
    if result.outcome == "done" and branch.path is not None:
        branch.sweep()  # the agent's own edits to files it may not write go first
        branch.runner_paths.add(task.path)
        text = branch.read_text(task.path)
        if text is not None:
            branch.write_text(task.path, mark_done(text, result.summary or result.reason))
        branch.commit(f"Complete {task.id}: {task.title}")
    else:
        branch.commit(f"{task.id}: stopped ({result.outcome}: {result.reason})")


def _publish(
    ws: Workspace,
    forge: Forge,
    role: Role,
    task: Task,
    record: RunRecord,
    result: EngineResult,
    branch: WorkBranch,
    delta_md: str,
    outcome: RunOutcome,
) -> None:
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
    if has_work and result.outcome != "model_unavailable":
        summary = result.summary + _reverted_note(branch.reverted)
        body = pr_body(task, record, result.usage, result.report, summary, delta_md)
        outcome.pr = forge.open_pr(
            role=role.name,
            task=task.id,
            branch=branch.branch,
            base=ws.fleet.config.forge.base_branch,
            title=pr_title(task),
            body=body,
            draft=result.outcome != "done",
        )
        record.links["pr"] = outcome.pr.url or outcome.pr.id
    if result.escalation is not None:
        outcome.issue = _escalate(forge, role, task, result.escalation, record)
        record.links["issue"] = outcome.issue.url or outcome.issue.id
    if branch.push_error:
        record.reason += f"; push failed: {branch.push_error[:200]}"
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


def _escalate(
    forge: Forge, role: Role, task: Task | None, terminal: Terminal, record: RunRecord
) -> Issue:
    return forge.escalate(
        role=role.name,
        task=task.id if task else None,
        kind=terminal.kind,
        title=escalation_title(role.name, terminal.summary, task.id if task else None),
        body=escalation_body(role.name, task, terminal.kind, terminal.summary, record),
        assignees=role.escalate_to,
    )


def _credential_escalation(
    ws: Workspace, forge: Forge, role: Role, task: Task, record: RunRecord, missing: list[str]
) -> RunOutcome:
    """A required credential is absent: ask once, do not start work that cannot succeed."""
    names = ", ".join(missing)
    record.outcome, record.reason = "escalated", f"missing credential(s): {names}"
    record.ended = iso(ws.now)
    terminal = Terminal(
        "credential",
        f"Role '{role.name}' needs {names} to work on this task, "
        "and it is not set in the job's environment. Add it as a repository "
        "secret and pass it to the fleet job, then close this issue.",
    )
    ws.ledger.start(record)
    issue = _escalate(forge, role, task, terminal, record)
    record.links = {"issue": issue.url or issue.id}
    ws.ledger.finish(record)
    return RunOutcome(record, issue=issue)


def _dry_run_text(
    ws: Workspace, role: Role, task: Task, delta: sync.Delta, runs: list[RunRecord]
) -> str:
    lines = [f"Dry run: {role.name} on {task.id} ({role.engine} engine). Nothing is called.", ""]
    if role.engine == "shell":
        lines += ["Steps:"] + [f"  $ {s}" for s in task.steps]
        lines += ["Acceptance:"] + [f"  $ {c.text}" for c in task.checks]
        return "\n".join(lines)
    lines += [
        f"Model: {role.model}; max turns {task.max_turns or role.max_turns}; "
        f"budget {usd(budget_left(ws, role, task, runs))}",
        f"Tools: {', '.join(role.tools)}",
        "",
        "--- system ---",
    ]
    lines += [b["text"] for b in system_blocks(ws.fleet, role)]
    lines += ["--- first user turn ---", first_turn(task, delta)]
    return "\n".join(lines)
