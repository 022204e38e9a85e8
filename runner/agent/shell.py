"""The shell engine: a task's reviewed `steps:` run in order, then its acceptance checks.

No model is involved. Steps must match the role's allow-list, and whatever they change
outside the role's writable paths is reverted and reported.
"""

from __future__ import annotations

from collections.abc import Callable

from runner.acceptance import Report
from runner.agent.loop import EngineResult
from runner.agent.sandbox import Sandbox
from runner.agent.tools import Terminal
from runner.model import Role, Task
from runner.worktree import WorkBranch


def run(
    task: Task,
    role: Role,
    sandbox: Sandbox,
    branch: WorkBranch,
    acceptance: Callable[[], Report],
) -> EngineResult:
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
        report = acceptance()
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
