"""Run a task's acceptance checks and report them as data.

Checks are commands from the task file, which reached the base branch through a
reviewed pull request; they run under bash in the work tree, with a timeout and the
scrubbed environment. `review:` items become the reviewer's checklist.
"""

from __future__ import annotations

from dataclasses import dataclass

from runner.agent.sandbox import CommandResult, Sandbox
from runner.model import Task


@dataclass(frozen=True)
class Report:
    results: tuple[CommandResult, ...]
    reviews: tuple[str, ...]

    @property
    def passed(self) -> bool:
        return all(r.ok for r in self.results)

    def summary(self) -> str:
        if not self.results:
            return "no automatic checks (review items only)"
        ok = sum(r.ok for r in self.results)
        return f"{ok}/{len(self.results)} checks passed"

    def details(self, *, failures_only: bool = False) -> str:
        lines = []
        for r in self.results:
            if failures_only and r.ok:
                continue
            status = (
                "PASS" if r.ok else ("TIMEOUT" if r.timed_out else f"FAIL (exit {r.exit_code})")
            )
            lines.append(f"{status}  {r.command}  [{r.duration_s:.1f}s]")
            if not r.ok and r.output.strip():
                tail = "\n".join(r.output.strip().splitlines()[-20:])
                lines.append("    " + tail.replace("\n", "\n    "))
        return "\n".join(lines)

    def to_dict(self) -> dict:
        return {
            "passed": self.passed,
            "checks": [
                {
                    "command": r.command,
                    "exit_code": r.exit_code,
                    "duration_s": round(r.duration_s, 3),
                    "timed_out": r.timed_out,
                    "output_tail": r.output[-2000:],
                }
                for r in self.results
            ],
            "reviews": list(self.reviews),
        }


def run_checks(task: Task, sandbox: Sandbox) -> Report:
    results = tuple(sandbox.run_shell(c.text, c.timeout_s) for c in task.checks)
    return Report(results, tuple(r.text for r in task.reviews))
