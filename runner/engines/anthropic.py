"""The built-in engine: the runner's own tool loop (`runner/agent/loop.py`) on a model
API, with the runner's tools (`runner/agent/tools.py`) confined to the job's sandbox."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from runner import mcp_config
from runner.agent.context import Conversation
from runner.agent.prompt import first_turn, system_blocks
from runner.agent.tools import SPECS, ToolBox
from runner.engines import providers
from runner.engines.base import (
    ClientFactory,
    EngineResult,
    Job,
    Need,
    Plan,
    Problem,
    steps_are_guidance,
)
from runner.fmt import usd
from runner.model import FleetConfig, Role, Task

if TYPE_CHECKING:
    from runner.agent.preflight import PreflightResult
    from runner.mcp import McpTools

MODEL_KEY = "ANTHROPIC_API_KEY"  # the default provider's key


class AnthropicEngine:
    name = "anthropic"
    uses_model = True
    priced = True

    def credentials(self, role: Role) -> tuple[str, ...]:
        """What the role's provider needs set for every run (providers.required)."""
        return providers.required(*providers.of(role))

    def model_key(self, role: Role) -> str | None:
        """The provider's first credential (ANTHROPIC_API_KEY, AWS_ACCESS_KEY_ID,
        GOOGLE_APPLICATION_CREDENTIALS, the api_key_env of an endpoint)."""
        found = providers.keys(*providers.of(role))
        return found[0] if found else None

    def provider(self, role: Role) -> str | None:
        return providers.of(role)[0]

    def check_role(self, role: Role, config: FleetConfig) -> list[Problem]:
        found = []
        name, settings = providers.of(role)
        if (config.prices or name != providers.DEFAULT) and role.model not in config.prices:
            found.append(
                Problem(
                    ("model",),
                    f"model '{role.model}' ({name}) has no price in fleet.yaml prices; its "
                    "cost will be reported as 0 and budgets cannot stop it: add "
                    f"prices: {{{role.model}: {{input: ..., output: ...}}}} (US dollars per "
                    "million tokens; 0 for a model you run yourself)",
                    "unpriced-model",
                )
            )
        if name == "openai-compatible" and not settings.base_url:
            found.append(
                Problem(
                    ("provider",),
                    f"role '{role.name}' uses provider openai-compatible, which needs an "
                    "endpoint: set providers.openai-compatible.base_url in fleet.yaml "
                    "(e.g. http://localhost:8000/v1)",
                    "provider-endpoint",
                )
            )
        if name == "bedrock" and not providers.bedrock_model(role.model):
            found.append(
                Problem(
                    ("model",),
                    f"model '{role.model}' is not a Bedrock model id: Bedrock names models "
                    "like anthropic.claude-sonnet-5-5-v1:0, an inference profile like "
                    "us.anthropic.claude-sonnet-5-5-v1:0, or an ARN; set model: on the role",
                    "provider-model",
                    "warning",
                )
            )
        unnamed = role.provider is None and providers.DEFAULT in config.defaults.providers
        if unnamed:
            found.append(
                Problem(
                    ("engine",),
                    f"fleet.yaml providers.{providers.DEFAULT} is not applied to role "
                    f"'{role.name}', which names no provider: set defaults.provider: "
                    f"{providers.DEFAULT} in fleet.yaml (or provider: on the role)",
                    "provider-unnamed",
                    "warning",
                )
            )
        return found

    def check_task(self, role: Role, task: Task) -> list[Problem]:
        return steps_are_guidance(self.name, role, task)

    def needs(self, role: Role, environ: Mapping[str, str]) -> list[Need]:
        name, settings = providers.of(role)
        where = providers.describe(name, settings, environ)
        absent = providers.missing(name, settings, environ)
        if absent:
            verb = "is" if len(absent) == 1 else "are"
            detail = f"{', '.join(absent)} {verb} not set: these roles can only dry-run ({where})"
        else:
            detail = f"credentials set ({where})"
        needs = [Need(f"provider {name}", not absent, detail)]
        package = providers.package_missing(name, settings)
        if package:
            needs.append(Need(f"provider {name} package", False, package))
        return needs

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
        system = system_blocks(plan.fleet, role)
        lines += [b["text"] for b in system]
        turn = first_turn(task, plan.delta)
        lines += ["--- first user turn ---", turn]
        return "\n".join(lines + self._request(plan, system, turn))

    def _request(self, plan: Plan, system: list[dict[str, Any]], turn: str) -> list[str]:
        """The first model call as the role's provider receives it."""
        conversation = Conversation(
            system, [{"name": n, **SPECS[n]} for n in SPECS if n in plan.role.tools]
        )
        conversation.add("user", [{"type": "text", "text": turn}])
        kwargs = {"model": plan.role.model, "max_tokens": plan.limits.max_tokens}
        kwargs.update(conversation.request())
        name, settings = providers.of(plan.role)
        url, headers, body = providers.wire_request(name, settings, plan.environ, kwargs)
        mcp = " (MCP tools are listed when the servers start)" if plan.role.mcp_servers else ""
        return [
            f"--- first request ({name}){mcp} ---",
            f"POST {url}",
            *headers,
            json.dumps(body, indent=2),
        ]

    def preflight(self, role: Role, client_factory: ClientFactory) -> PreflightResult | None:
        from runner.agent.preflight import preflight

        if not providers.PREFLIGHT[providers.of(role)[0]]:
            return None  # no cheap authenticated call: the first model call checks
        return preflight(client_factory(role))

    def run(self, job: Job) -> EngineResult:
        from runner import mcp

        servers = mcp.for_run(job.role.mcp_servers, job.role.mcp_tools, job.sandbox, job.environ)
        try:
            with servers:
                for note in servers.notes:  # tools a server offers that the model cannot get
                    job.transcript.note(f"MCP: {note}")
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
