"""The shell engine: a task's reviewed `steps:` run in order, then its acceptance checks.

No model is involved. Steps must match the role's allow-list, and whatever they change
outside the role's writable paths is reverted and reported.
"""

from __future__ import annotations

from collections.abc import Mapping

from runner.engines.base import (
    ClientFactory,
    EngineResult,
    Job,
    Need,
    Plan,
    Problem,
    Terminal,
)
from runner.model import FleetConfig, Role, Task


class ShellEngine:
    name = "shell"
    uses_model = False
    priced = False

    def credentials(self, role: Role) -> tuple[str, ...]:
        return ()

    def model_key(self, role: Role) -> str | None:
        return None

    def provider(self, role: Role) -> str | None:
        return None

    def check_role(self, role: Role, config: FleetConfig) -> list[Problem]:
        if not role.mcp_servers:
            return []
        return [
            Problem(
                ("mcp_servers",),
                f"role '{role.name}' uses the shell engine, which calls no model, so its "
                "mcp_servers are never started; remove them or use a model engine",
                "engine-mismatch",
                "warning",
            )
        ]

    def check_task(self, role: Role, task: Task) -> list[Problem]:
        if task.steps:
            return []
        return [
            Problem(
                ("role",),
                f"role '{role.name}' uses the shell engine, which runs a task's steps, "
                "but this task has no 'steps:'; add steps or assign it to a model role",
                "engine-mismatch",
            )
        ]

    def needs(self, role: Role, environ: Mapping[str, str]) -> list[Need]:
        return []

    def dry_run(self, plan: Plan) -> str:
        lines = ["Steps:"] + [f"  $ {s}" for s in plan.task.steps]
        lines += ["Acceptance:"] + [f"  $ {c.text}" for c in plan.task.checks]
        return "\n".join(lines)

    def preflight(self, role: Role, client_factory: ClientFactory) -> None:
        return None

    def run(self, job: Job) -> EngineResult:
        return run(job)


def run(job: Job) -> EngineResult:
    task, role, sandbox, branch = job.task, job.role, job.sandbox, job.branch
    result = EngineResult("error", "")
    for step in task.steps:
        if not sandbox.allowed(step):
            result.escalation = Terminal(
                "blocked",
                f"Step `{step}` is not in role '{role.name}' command allow-list "
                f"({', '.join(role.commands) or 'empty'}). Add a matching pattern to "
                f"{role.path} or change the step.",
            )
            result.outcome, result.reason = "escalated", "step not allowed"
            return result
    evidence = ""
    for attempt in range(1, role.max_attempts + 1):
        result.attempts = attempt
        failed = None
        for step in task.steps:
            r = sandbox.run_shell(step)
            if not r.ok:
                failed = r
                break
        outside = branch.sweep()
        if outside:
            result.escalation = Terminal(
                "failure",
                "The steps wrote outside the role's writable paths; those changes were "
                "reverted:\n" + "\n".join(f"- {p}" for p in outside),
            )
            result.outcome, result.reason = "escalated", "steps wrote outside writable paths"
            return result
        branch.commit(f"{task.id}: run steps (attempt {attempt})")
        if failed is not None:
            evidence = f"Step `{failed.command}` exited {failed.exit_code}:\n{failed.output}"
            continue
        report = job.acceptance()
        result.report = report
        if report.passed:
            result.outcome, result.reason = "done", report.summary()
            result.summary = f"Ran {len(task.steps)} step(s); {report.summary()}."
            return result
        evidence = report.details(failures_only=True)
    result.escalation = Terminal(
        "failure", f"Still failing after {result.attempts} attempt(s).\n\n{evidence}"
    )
    result.outcome, result.reason = "escalated", "acceptance failed"
    return result
