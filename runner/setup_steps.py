"""Set-up steps: the human-reviewed commands a role runs before its agent starts
(installing the project's dependencies, say), like GitHub's copilot-setup-steps.yml.

They run in the run's sandbox (the jail where there is one: the work tree is the only
writable path), with what the role is granted — its `credentials:` and its `network:`
policy — because a reviewed install step is the role's own business; whatever they run
may still be attacker code (a `setup.py` an earlier run of the agent wrote), so they get
nothing more. Each step's output goes into the run's transcript (phase "setup"). The
first failing step stops the run before any model call: one escalation of kind `setup`
(the task waits on it, so later ticks neither ask again nor call the model) saying which
step failed, how, and what to do.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from runner.agent.sandbox import CommandResult, Sandbox
from runner.fmt import clip
from runner.model import SetupStep
from runner.transcript import Transcript

TAIL = 3000  # characters of a failing step's output quoted in the escalation


@dataclass(frozen=True)
class SetupFailure:
    """The step that failed and its result; `reason` for the run record, `summary` for
    the escalation's body."""

    step: SetupStep
    number: int
    result: CommandResult

    @property
    def how(self) -> str:
        r = self.result
        return f"timed out after {r.duration_s:.0f}s" if r.timed_out else f"exit {r.exit_code}"

    @property
    def reason(self) -> str:
        return f"set-up step {self.number} failed ({self.how}): {clip(self.step.run, 120)}"

    def summary(self, role: str) -> str:
        output = self.result.output[-TAIL:]
        return (
            f"Set-up step {self.number} of role '{role}' failed ({self.how}), so the agent "
            "was not started and the model was not called.\n\n"
            f"Step: `{clip(self.step.run, 300)}`\n\nLast output:\n```\n{output}\n```\n\n"
            f"Fix the step (`setup:` in fleet/roles/{role}.yaml, or `defaults.setup` in "
            "fleet/fleet.yaml), or the project so that it passes (with network: allow if "
            "it downloads), then close this issue; the task waits until then."
        )


def run(
    steps: Sequence[SetupStep], sandbox: Sandbox, transcript: Transcript, timeout_s: int
) -> SetupFailure | None:
    """Run the steps in order; the first failure, or None when every step passed."""
    hook, sandbox.on_command = sandbox.on_command, None  # recorded here, as phase "setup"
    try:
        for n, step in enumerate(steps, 1):
            result = sandbox.run_shell(step.run, step.timeout_s or timeout_s)
            code = None if result.timed_out else result.exit_code
            transcript.command(step.run, code, result.duration_s, result.output, "setup")
            if not result.ok:
                return SetupFailure(step, n, result)
        return None
    finally:
        sandbox.on_command = hook


def describe(steps: Sequence[SetupStep]) -> str:
    """The steps as a dry run shows them ("" when there are none)."""
    if not steps:
        return ""
    lines = ["Set-up steps (run first, in the sandbox):"]
    for step in steps:
        limit = f"  (timeout {step.timeout_s}s)" if step.timeout_s else ""
        lines.append(f"  $ {step.run}{limit}")
    return "\n".join(lines)
