"""What the claude-code engine hands the Claude Code CLI: the command line, the tools
derived from the role, the prompt and the environment (plain data in, plain data out),
and where the CLI is. Shared by the engine (runner.engines.claude_code: dry run,
doctor) and the session runner (runner.engines.claude_code_run)."""

from __future__ import annotations

import functools
import json
import os
import shutil
import subprocess
from collections.abc import Mapping, Sequence
from pathlib import Path

from runner import mcp_config
from runner.agent.prompt import first_turn, system_blocks
from runner.engines.base import Limits
from runner.model import Fleet, FleetConfig, Role, Task

CLAUDE_CODE_VERSION = "2.1.332"  # what `fleet init` installs and .ci/run tests (a test)
PACKAGE = "@anthropic-ai/claude-code"
CLI_ENV = "FLEET_CLAUDE_CLI"  # the claude executable; default: `claude` on PATH
MODEL_KEY = "ANTHROPIC_API_KEY"
PLACEHOLDER_KEY = "fleet-relay-no-key"  # what the CLI holds: the relay adds the real key
# runner tool -> Claude Code built-in tool
TOOL_MAP = {
    "read_file": "Read",
    "list_files": "Glob",
    "search": "Grep",
    "edit_file": "Edit",
    "write_file": "Write",
    "run_command": "Bash",
}
PROMPT_RULES = """\
You run headless under fleet-runner: nobody answers questions during the run.
- Write only where your role may write; anything else is reverted by the runner and
  escalated. Run only the commands you are allowed; others are refused.
- The runner runs the acceptance checks itself after you stop; only its run counts.
  You may run them yourself to check your work.
- When the work is done, stop with a summary a reviewer reads in a minute.
- If you need a credential, a decision, or are blocked, stop with a final message that
  starts with "ESCALATE:" followed by the exact question.
- Your directives may name the runner's own tools (run_acceptance, finish, escalate,
  propose_task); this run has none of them: run the checks with your allowed commands,
  stop to finish, and use "ESCALATE:" to escalate. Hand-offs to other roles go in your
  summary.
Limits: at most {turns} turns and {budget} US dollars for this run."""


def tools_for(role: Role) -> tuple[list[str], list[str]]:
    """(`--tools` built-ins, `--allowedTools` rules) for the role; rules are the role's
    own grants, never wider (a pattern the CLI cannot express is left out, so it is
    refused: fail closed)."""
    builtins = [TOOL_MAP[t] for t in role.tools if t in TOOL_MAP]
    allowed: list[str] = []
    for tool in builtins:
        if tool in ("Read", "Glob", "Grep"):
            allowed.append(tool)
        elif tool in ("Edit", "Write"):
            allowed += [f"{tool}({g})" for g in role.writable if expressible(g)]
        elif tool == "Bash":
            allowed += [f"Bash({c})" for c in role.commands if expressible(c)]
    allowed += mcp_config.claude_allowed_tools(role)
    return list(dict.fromkeys(builtins)), list(dict.fromkeys(allowed))


def expressible(pattern: str) -> bool:
    """Can the pattern be one `--allowedTools` rule (the CLI splits rules at commas and
    ends one at its closing parenthesis)?"""
    return bool(pattern.strip()) and not any(ch in pattern for ch in ",()\n")


def system_text(fleet: Fleet, role: Role) -> str:
    """What `--append-system-prompt` adds: the fleet's and the role's directives (the
    runner's own rules for its built-in tools do not apply to the CLI's tools)."""
    return "\n\n".join(b["text"] for b in system_blocks(fleet, role)[1:])


def prompt_text(
    task: Task, delta: object, limits: Limits, *, resume_note: str = "", feedback: Sequence = ()
) -> str:
    """The first prompt: the task, its acceptance criteria, maintainers' instructions and
    the sync delta (runner.agent.prompt.first_turn), then the rules and limits."""
    body = first_turn(task, delta, resume_note=resume_note, feedback=feedback)  # type: ignore[arg-type]
    rules = PROMPT_RULES.format(turns=limits.max_turns, budget=f"{limits.budget_usd:.2f}")
    return f"{body}\n\n## How this run works\n{rules}"


def argv(
    cli: str,
    role: Role,
    limits: Limits,
    system: str,
    mcp: Mapping[str, object],
    *,
    max_turns: int | None = None,
    resume: str = "",
    budget_usd: float | None = None,
) -> list[str]:
    """The exact command line (the prompt goes on stdin: a sync delta can exceed what one
    argument may hold)."""
    builtins, allowed = tools_for(role)
    out = [cli, "-p", "--output-format", "stream-json", "--verbose", "--include-partial-messages"]
    out += ["--model", limits.model, "--max-turns", str(max_turns or limits.max_turns)]
    budget = limits.budget_usd if budget_usd is None else budget_usd
    out += ["--max-budget-usd", f"{max(budget, 0.0):.4f}"]
    out += ["--permission-mode", "dontAsk", "--tools", ",".join(builtins)]
    if allowed:
        out += ["--allowedTools", ",".join(allowed)]
    out += ["--disallowedTools", "WebFetch,WebSearch"]
    out += ["--setting-sources", "user", "--disable-slash-commands"]
    out += ["--strict-mcp-config", "--mcp-config", json.dumps(mcp, sort_keys=True)]
    out += ["--append-system-prompt", system]
    if resume:
        out += ["--resume", resume]
    return out


def cli_env(
    base: Mapping[str, str], config_dir: str, socket: str, config: FleetConfig
) -> dict[str, str]:
    """The CLI's environment: the scrubbed agent environment, its own config dir, the
    model API through the runner's relay (`socket`, runner.engines.claude_code_relay) with
    a placeholder key, and everything that would call home switched off.

    The real key never enters the jail: a command the agent gets executed runs as the
    CLI's user in its PID namespace and could read the CLI's environment from /proc. (The
    CLI's own CLAUDE_CODE_SUBPROCESS_ENV_SCRUB is not used: it needs a nested sandbox of
    the CLI's own, bubblewrap + socat, and leaves placeholder files in the work tree.)"""
    defaults = config.defaults
    env = {k: v for k, v in base.items() if not k.startswith("ANTHROPIC_")}
    env.update(
        ANTHROPIC_API_KEY=PLACEHOLDER_KEY,
        ANTHROPIC_BASE_URL="http://localhost",  # plain HTTP over the socket, no DNS
        ANTHROPIC_UNIX_SOCKET=socket,
        CLAUDE_CONFIG_DIR=config_dir,
        CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC="1",
        DISABLE_AUTOUPDATER="1",
        DISABLE_TELEMETRY="1",
        DISABLE_ERROR_REPORTING="1",
        CLAUDE_CODE_DISABLE_CLAUDE_MDS="1",  # instructions come from the directives only
        CLAUDE_CODE_MAX_RETRIES=str(defaults.max_retries),
        API_TIMEOUT_MS=str(int(defaults.model_total_timeout_s * 1000)),
    )
    return env


def find_cli(environ: Mapping[str, str]) -> str | None:
    """The claude executable: $FLEET_CLAUDE_CLI, else `claude` on PATH."""
    explicit = environ.get(CLI_ENV)
    if explicit:
        return explicit if os.access(explicit, os.X_OK) else None
    return shutil.which("claude", path=environ.get("PATH"))


@functools.lru_cache(maxsize=8)
def cli_version(cli: str) -> str:
    """`claude --version`'s version number, or "" when it cannot run (asked once per
    path: `fleet doctor` asks for every claude-code role)."""
    try:
        proc = subprocess.run(
            [cli, "--version"], capture_output=True, text=True, timeout=60, check=False
        )
    except (OSError, subprocess.TimeoutExpired):
        return ""
    words = proc.stdout.split()
    return words[0] if proc.returncode == 0 and words else ""


def resolve_cli(cli: str) -> Path:
    """The real file behind `cli` (npm's bin entry is a link), to mount read-only."""
    return Path(cli).resolve()
