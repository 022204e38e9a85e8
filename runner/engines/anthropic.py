"""The built-in engine: the runner's own tool loop (`runner/agent/loop.py`) on a model
API, with the runner's tools (`runner/agent/tools.py`) confined to the job's sandbox."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING

from runner import mcp_config
from runner.agent.context import Conversation
from runner.agent.prompt import first_turn, system_blocks
from runner.agent.tools import ToolBox
from runner.engines.base import (
    ClientFactory,
    EngineResult,
    Job,
    Need,
    Plan,
    Problem,
    unset_names,
)
from runner.fmt import usd
from runner.model import FleetConfig, Role, Task

if TYPE_CHECKING:
    from runner.agent.preflight import PreflightResult
    from runner.mcp import McpTools

MODEL_KEY = "ANTHROPIC_API_KEY"


class AnthropicEngine:
    name = "anthropic"
    uses_model = True
    priced = True

    def credentials(self, role: Role) -> tuple[str, ...]:
        return (MODEL_KEY,)

    def check_role(self, role: Role, config: FleetConfig) -> list[Problem]:
        if config.prices and role.model not in config.prices:
            return [
                Problem(
                    ("model",),
                    f"model '{role.model}' has no price in fleet.yaml prices; its cost will "
                    "be reported as 0 and budgets cannot stop it",
                    "unpriced-model",
                    "warning",
                )
            ]
        return []

    def check_task(self, role: Role, task: Task) -> list[Problem]:
        if task.steps:
            return [
                Problem(
                    ("steps",),
                    f"role '{role.name}' uses the {self.name} engine; 'steps:' are only run "
                    "by shell roles and will be shown to the model as guidance",
                    "engine-mismatch",
                    "warning",
                )
            ]
        return []

    def needs(self, role: Role, environ: Mapping[str, str]) -> list[Need]:
        base = environ.get("ANTHROPIC_BASE_URL")
        return [
            Need(
                name,
                name not in unset_names([name], environ),
                f"{name} is set" + (f" ({base})" if base else "")
                if environ.get(name)
                else f"{name} is not set: these roles can only dry-run",
            )
            for name in self.credentials(role)
        ]

    def dry_run(self, plan: Plan) -> str:
        role, task = plan.role, plan.task
        lines = [
            f"Model: {role.model}; max turns {plan.limits.max_turns}; "
            f"budget {usd(plan.limits.budget_usd)}",
            f"Tools: {', '.join(role.tools)}",
            *mcp_config.describe(role),
            "",
            "--- system ---",
        ]
        lines += [b["text"] for b in system_blocks(plan.fleet, role)]
        lines += ["--- first user turn ---", first_turn(task, plan.delta)]
        return "\n".join(lines)

    def preflight(self, role: Role, client_factory: ClientFactory) -> PreflightResult:
        from runner.agent.preflight import preflight

        return preflight(client_factory(role))

    def run(self, job: Job) -> EngineResult:
        from runner import mcp

        servers = mcp.for_run(job.role.mcp_servers, job.role.mcp_tools, job.sandbox, job.environ)
        try:
            with servers:
                return self._run(job, servers)
        except mcp.McpStartError as exc:  # before any model call: nothing spent
            return EngineResult("error", f"{exc}; {exc.hint}" if exc.hint else str(exc))

    def _run(self, job: Job, servers: McpTools) -> EngineResult:
        from runner.agent import loop

        assert job.client_factory is not None, "a model engine needs a client factory"
        toolbox = ToolBox(
            job.sandbox,
            job.role,
            job.task,
            job.fleet.roles,
            set(job.fleet.tasks),
            job.acceptance,
            job.today,
            files=job.branch.files,
            runner_paths=job.branch.runner_paths,
            mcp=servers,
        )
        conversation = Conversation(system_blocks(job.fleet, job.role), toolbox.specs())
        text = first_turn(job.task, job.delta, resume_note=job.resume_note, feedback=job.feedback)
        conversation.add("user", [{"type": "text", "text": text}])
        result = loop.run(
            job.client_factory(job.role),
            conversation,
            toolbox,
            job.limits,
            job.price,
            on_write=job.commit,
            acceptance=job.acceptance,
            transcript=job.transcript,
        )
        result.delegated = list(toolbox.proposed)
        return result
