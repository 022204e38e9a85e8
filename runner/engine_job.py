"""The engine's side of one run: the sandboxed work tree, the set-up steps, the `Job`
the engine is handed (limits, the acceptance and commit callbacks, the transcript that
records every command), and what a dry run shows.

`runner/run.py` decides whether and when a run happens and records it; this module
decides what the engine gets. Nothing here names an engine: the registry answers.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from runner import engines, setup_steps, sync
from runner.acceptance import Report, run_checks
from runner.agent.jail import Jail, foreign_user
from runner.agent.sandbox import CommandResult, Sandbox, scrub_env
from runner.engines.base import ClientFactory, EngineResult, Job, Limits, Plan, Terminal
from runner.model import Role, Task
from runner.plan import spent_on
from runner.records import ForgeEvent, RunRecord
from runner.transcript import Transcript
from runner.workspace import Workspace
from runner.worktree import WorkBranch


@dataclass(frozen=True)
class RunJob:
    """What the branch work of one run needs, once the run is allowed to start."""

    role: Role
    task: Task
    delta: sync.Delta
    runs: list[RunRecord]
    client_factory: ClientFactory
    feedback: Sequence[ForgeEvent]
    jail: Jail
    push: bool
    note: str = ""  # shown wherever the run is reported (fleet demo: a replayed session)


def budget_left(ws: Workspace, role: Role, task: Task, runs: list[RunRecord]) -> float:
    spent = spent_on(runs, ws.now.strftime("%Y-%m-%d"))
    limits = [
        task.run_budget_usd or role.run_budget_usd,
        role.daily_budget_usd - spent.get(role.name, 0.0),
    ]
    if ws.fleet.config.daily_budget_usd is not None:
        limits.append(ws.fleet.config.daily_budget_usd - sum(spent.values()))
    return max(0.0, min(limits))


def work(ws: Workspace, run: RunJob, branch: WorkBranch, transcript: Transcript) -> EngineResult:
    role, task = run.role, run.task
    if run.note:
        transcript.note(run.note)
    path = branch.open(ws.head_ref())
    defaults = ws.fleet.config.defaults
    sandbox, acceptance = _sandbox(ws, run, branch, path, transcript)
    failed = setup_steps.run(role.setup, sandbox, transcript, defaults.command_timeout_s)
    if failed is not None:  # before any model call; nothing the steps left is committed
        branch.discard(branch.changed_paths())
        summary = failed.summary(role.name)
        transcript.note(f"escalated: {failed.reason}; the agent was not started")
        return EngineResult("escalated", failed.reason, escalation=Terminal("setup", summary))
    job = Job(
        fleet=ws.fleet,
        role=role,
        task=task,
        delta=run.delta,
        sandbox=sandbox,
        branch=branch,
        limits=_limits(ws, role, task, run.runs),
        price=ws.fleet.config.prices.get(role.model),
        acceptance=acceptance,
        commit=lambda turn: _commit_turn(branch, task, turn),
        transcript=transcript,
        client_factory=run.client_factory,
        feedback=run.feedback,
        resume_note=branch.resume_note(ws.git),
        today=ws.now.strftime("%Y-%m-%d"),
        environ=ws.environ,
    )
    result = engines.get(role.engine).run(job)
    transcript.note(f"{result.outcome}: {result.reason}")
    return result


def _sandbox(
    ws: Workspace, run: RunJob, branch: WorkBranch, path: Path, transcript: Transcript
) -> tuple[Sandbox, Callable[[], Report]]:
    """The run's sandbox on the open work tree, every command it runs recorded in the
    transcript, and the acceptance callback (its commands recorded as their own phase)."""
    role, task, jail = run.role, run.task, run.jail
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

    def record(r: CommandResult, phase: str = "agent") -> None:
        code = None if r.timed_out else r.exit_code
        transcript.command(r.command, code, r.duration_s, r.output, phase)

    sandbox.on_command = record

    def acceptance() -> Report:  # checks come from the base branch, never the agent's edits
        sandbox.on_command = None  # recorded below, as the acceptance phase
        try:
            report = run_checks(task, sandbox)
        finally:
            sandbox.on_command = record
        for r in report.results:
            record(r, "acceptance")
        transcript.acceptance(_judged(report))
        return report

    return sandbox, acceptance


def noted(result: EngineResult, note: str) -> None:
    """`note` first in what the PR and the escalation say (called once the task file has
    taken the summary as the agent wrote it)."""
    if note:
        result.summary = f"{note}\n\n{result.summary}".strip()
        if result.escalation is not None:
            kind, summary = result.escalation.kind, result.escalation.summary
            result.escalation = Terminal(kind, f"{note}\n\n{summary}")


def _judged(report: Report) -> list[dict[str, Any]]:
    """The acceptance results as the transcript keeps them."""
    out: list[dict[str, Any]] = [
        {"text": r.command, "kind": "check", "passed": r.ok, "output": r.output}
        for r in report.results
    ]
    return out + [{"text": t, "kind": "review", "passed": None} for t in report.reviews]


def _limits(ws: Workspace, role: Role, task: Task, runs: list[RunRecord]) -> Limits:
    defaults = ws.fleet.config.defaults
    return Limits(
        model=role.model,
        max_turns=task.max_turns or role.max_turns,
        budget_usd=budget_left(ws, role, task, runs),
        max_attempts=role.max_attempts,
        context_window=defaults.context_window,
        compact_at=defaults.compact_at,
        stream=defaults.stream,
        total_timeout_s=defaults.model_total_timeout_s,
    )


def _commit_turn(branch: WorkBranch, task: Task, turn: int) -> None:
    branch.commit(f"{task.id}: work in progress (turn {turn})")


def dry_run_text(
    ws: Workspace, role: Role, task: Task, delta: sync.Delta, runs: list[RunRecord]
) -> str:
    engine = engines.get(role.engine)
    head = f"Dry run: {role.name} on {task.id} ({engine.name} engine). Nothing is called."
    plan = Plan(
        ws.fleet,
        role,
        task,
        delta,
        _limits(ws, role, task, runs),
        ws.fleet.config.prices.get(role.model),
        ws.environ,
    )
    steps = setup_steps.describe(role.setup)
    return head + "\n\n" + (steps + "\n\n" if steps else "") + engine.dry_run(plan)
