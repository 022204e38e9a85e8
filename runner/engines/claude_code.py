"""The claude-code engine: the Claude Code CLI, headless, works the task under the
runner's contract.

The CLI is the agent; the governance stays the runner's. It runs `claude -p` with
`--output-format stream-json`, inside the same bubblewrap jail as every agent command
(runner/agent/jail.py), without the model key or network (its model calls go through
the runner's relay: runner.engines.claude_code_relay), with its own config directory in
a temp dir, non-essential traffic and the auto-updater off, and only the tools the role
grants:

- `Read`, `Glob`, `Grep` for the role's `read_file`, `list_files`, `search`;
- `Edit(<glob>)`/`Write(<glob>)` for each `writable` glob (`edit_file`, `write_file`);
- `Bash(<pattern>)` for each `commands` pattern (`run_command`);
- the role's MCP servers through `--mcp-config` + `--strict-mcp-config`
  (runner.mcp_config), their tools allowed by `mcp_tools`;
- `--permission-mode dontAsk`: anything not allowed is refused, never asked.

Why the runner still checks everything afterwards: the CLI's permission rules are its
own matcher, not the runner's argv allow-list, and whatever the agent got executed may
write anywhere in the work tree. So after each session the runner reverts every change
outside the writable globs (and escalates), runs the acceptance checks from the base
branch itself (a session's own test run never counts), and commits; the normal path
opens the PR. A failed check resumes the same CLI session (`--resume`) with the failures,
up to `max_attempts`.
"""

from __future__ import annotations

import shlex
from collections.abc import Mapping
from typing import TYPE_CHECKING

from runner import mcp_config
from runner.engines import claude_code_run
from runner.engines.base import (
    ClientFactory,
    EngineResult,
    Job,
    Need,
    Plan,
    Problem,
    steps_are_guidance,
    unset_names,
)
from runner.engines.claude_code_cli import (
    CLAUDE_CODE_VERSION,
    CLI_ENV,
    MODEL_KEY,
    PACKAGE,
    argv,
    cli_env,
    cli_version,
    expressible,
    find_cli,
    prompt_text,
    system_text,
)
from runner.engines.claude_code_relay import DEFAULT_UPSTREAM
from runner.engines.providers import DEFAULT as DEFAULT_PROVIDER
from runner.model import FleetConfig, Role, Task

if TYPE_CHECKING:
    from runner.agent.preflight import PreflightResult

__all__ = ["CLAUDE_CODE_VERSION", "CLI_ENV", "ClaudeCodeEngine", "cli_need", "cli_version"]


class ClaudeCodeEngine:
    name = "claude-code"
    uses_model = True
    priced = True

    def credentials(self, role: Role) -> tuple[str, ...]:
        return (MODEL_KEY,)

    def model_key(self, role: Role) -> str | None:
        return MODEL_KEY

    def provider(self, role: Role) -> str | None:
        """The relay forwards to the Anthropic Messages API whatever the role says."""
        return DEFAULT_PROVIDER

    def check_role(self, role: Role, config: FleetConfig) -> list[Problem]:
        out = []
        for n, pattern in enumerate(role.commands):
            if not expressible(pattern):
                out.append(
                    Problem(
                        ("commands", n),
                        f"command pattern '{pattern}' cannot be given to Claude Code as a "
                        "Bash(...) rule (it holds a comma or a parenthesis), so the CLI "
                        "refuses it; split or simplify the pattern",
                        "claude-code-pattern",
                        "warning",
                    )
                )
        if config.prices and role.model not in config.prices:
            out.append(
                Problem(
                    ("model",),
                    f"model '{role.model}' has no price in fleet.yaml prices; the run's cost "
                    "is Claude Code's own figure, and model calls made on the relay socket "
                    "by the agent's commands have no budget ceiling",
                    "unpriced-model",
                    "warning",
                )
            )
        urls = [m.name for m in role.mcp_servers if m.url]
        if urls and not role.network:
            out.append(
                Problem(
                    ("network",),
                    f"MCP server(s) {', '.join(urls)} are reached by URL, but the Claude Code "
                    "CLI runs in a jail without network unless the role says "
                    "'network: allow' (its model calls go through the runner's relay)",
                    "claude-code-network",
                    "warning",
                )
            )
        return out

    def check_task(self, role: Role, task: Task) -> list[Problem]:
        return steps_are_guidance(self.name, role, task)

    def needs(self, role: Role, environ: Mapping[str, str]) -> list[Need]:
        key = [
            Need(
                name,
                False,
                f"{name} is not set: role '{role.name}' can only dry-run",
            )
            for name in unset_names(self.credentials(role), environ)
        ] or [Need(MODEL_KEY, True, f"{MODEL_KEY} is set")]
        return [*key, cli_need(environ)]

    def dry_run(self, plan: Plan) -> str:
        cli = find_cli(plan.environ) or "claude"
        system = system_text(plan.fleet, plan.role)
        # the values of the servers' env names are shown as ${NAME}: a dry run prints
        # what would be sent, never a credential (the Actions log keeps it)
        names = {n: f"${{{n}}}" for server in plan.role.mcp_servers for n in server.env}
        mcp = mcp_config.claude_mcp_config(plan.role, names)
        line = shlex.join(argv(cli, plan.role, plan.limits, system, mcp))
        env = cli_env({}, "<temp dir>/config", "<temp dir>/relay/api.sock", plan.fleet.config)
        upstream = plan.environ.get("ANTHROPIC_BASE_URL") or DEFAULT_UPSTREAM
        shown = dict(sorted(env.items()))
        return "\n".join(
            [
                f"Claude Code {CLAUDE_CODE_VERSION} (pinned); runs in the sandbox, in the work "
                "tree, with the prompt on stdin.",
                "--- command line ---",
                line,
                "--- environment (besides the scrubbed agent environment) ---",
                *(f"{k}={v}" for k, v in shown.items()),
                f"(the runner relays POST /v1/messages on that socket to {upstream} with "
                f"{MODEL_KEY}; the jail has {'the' if plan.role.network else 'no'} network)",
                "--- prompt (stdin) ---",
                prompt_text(plan.task, plan.delta, plan.limits),
            ]
        )

    def preflight(self, role: Role, client_factory: ClientFactory) -> PreflightResult:
        """The same key check as the built-in loop: the CLI uses the same key and API."""
        from runner.agent.preflight import preflight

        return preflight(client_factory(role))

    def run(self, job: Job) -> EngineResult:
        cli = find_cli(job.environ)
        if cli is None:
            return EngineResult(
                "error",
                f"the Claude Code CLI is not installed (no `claude` on PATH and {CLI_ENV} "
                f"unset); install it: npm install {PACKAGE}@{CLAUDE_CODE_VERSION}",
            )
        return claude_code_run.run(job, cli, self.model_key(job.role) or MODEL_KEY)


def cli_need(environ: Mapping[str, str]) -> Need:
    """`fleet doctor`: the CLI is there, runs, and is the pinned version."""
    cli = find_cli(environ)
    fix = f"npm install {PACKAGE}@{CLAUDE_CODE_VERSION} (and put its bin on PATH or {CLI_ENV})"
    if cli is None:
        return Need("claude CLI", False, f"not found on PATH nor in {CLI_ENV}: {fix}")
    version = cli_version(cli)
    if not version:
        return Need("claude CLI", False, f"{cli} does not run (`claude --version` failed): {fix}")
    if version != CLAUDE_CODE_VERSION:
        return Need(
            "claude CLI",
            False,
            f"{cli} is {version}, the runner is tested with {CLAUDE_CODE_VERSION}: {fix}",
        )
    return Need("claude CLI", True, f"{cli} {version}")
