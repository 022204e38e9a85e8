"""The Engine protocol: what the runner asks of whatever works a task, and the plain data
it hands over and gets back.

Why a protocol and not branches: the runner's contract (a task with acceptance
criteria, the sync delta, budgets, escalations, a PR for review) is the same whoever
does the work, so everything that differs between engines — which credentials they
need, what a role or task must look like for them, what a dry run shows, whether a
model key is checked first, how the work is done — is asked of the engine, and
`runner/engines/__init__.py` is the only place an engine is named.

An engine runs inside the trust boundary the runner prepared: `Job.sandbox` is the
confined work tree (the role's allow-list, writable globs, scrubbed environment),
`Job.branch` the work branch the runner commits and sweeps, and the acceptance callable
runs the checks from the base branch — an engine never decides by itself that a task
passed.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal, Protocol

from runner.acceptance import Report
from runner.agent.cost import Usage
from runner.model import Fleet, FleetConfig, Price, Role, Task
from runner.records import ForgeEvent
from runner.transcript import Transcript

if TYPE_CHECKING:
    from runner.agent.preflight import PreflightResult
    from runner.agent.sandbox import Sandbox
    from runner.sync import Delta
    from runner.worktree import WorkBranch

__all__ = [
    "ClientFactory",
    "Engine",
    "EngineResult",
    "Job",
    "Limits",
    "Need",
    "Plan",
    "Problem",
    "Terminal",
]

ClientFactory = Callable[[Role], Any]
Level = Literal["error", "warning"]


@dataclass
class Limits:
    """How far one run may go. `max_turns`, `budget_usd` and `max_attempts` bind every
    engine; the rest tune a model call (engines without a model ignore them)."""

    model: str
    max_turns: int
    budget_usd: float
    max_attempts: int
    context_window: int
    compact_at: float
    max_tokens: int = 8192
    stream: bool = True
    total_timeout_s: float = 600.0  # one model call: every attempt and the whole stream


@dataclass(frozen=True)
class Terminal:
    """How a run asked to stop: finish (kind 'finish') or an escalation (kind = its kind,
    e.g. credential, failure, loop, blocked), with what the escalation says."""

    kind: str
    summary: str


@dataclass
class EngineResult:
    outcome: str  # done, escalated, failed, budget, max_turns, model_unavailable, error
    reason: str
    turns: int = 0
    usage: Usage = field(default_factory=Usage)
    cost_usd: float = 0.0
    summary: str = ""
    escalation: Terminal | None = None
    report: Report | None = None
    attempts: int = 0
    per_turn: list[dict[str, int]] = field(default_factory=list)
    delegated: list[str] = field(default_factory=list)  # task ids proposed to other roles
    truncated: int = 0  # tool calls cut off by max_tokens (never executed)
    paused: int = 0  # pause_turn stops continued


@dataclass(frozen=True)
class Problem:
    """A validation finding about a role or task file, before it is located in the file:
    `field` is the key path it is about (the checker falls back to the `engine:` key
    when that field is absent from the file)."""

    field: tuple[str | int, ...]
    message: str
    code: str
    level: Level = "error"


@dataclass(frozen=True)
class Need:
    """One thing an engine needs on this machine, as `fleet doctor` reports it."""

    name: str  # e.g. "ANTHROPIC_API_KEY" or "claude CLI"
    ok: bool
    detail: str


@dataclass(frozen=True)
class Plan:
    """What a dry run shows: everything a run would be given, nothing called."""

    fleet: Fleet
    role: Role
    task: Task
    delta: Delta
    limits: Limits
    price: Price | None
    environ: Mapping[str, str] = field(default_factory=dict)


@dataclass
class Job:
    """One run's work, prepared by the runner: the confined work tree, the task and its
    delta, the limits, and the callbacks that keep judging and committing in the
    runner's hands."""

    fleet: Fleet
    role: Role
    task: Task
    delta: Delta
    sandbox: Sandbox
    branch: WorkBranch
    limits: Limits
    price: Price | None
    acceptance: Callable[[], Report]  # the runner's checks, from the base branch
    commit: Callable[[int], None]  # commit the work so far (argument: the turn)
    transcript: Transcript
    client_factory: ClientFactory | None = None
    feedback: Sequence[ForgeEvent] = ()
    resume_note: str = ""
    today: str = ""  # YYYY-MM-DD (UTC), for ids the engine's tools create
    environ: Mapping[str, str] = field(default_factory=dict)


class Engine(Protocol):
    """What the runner asks of an engine. Implementations are plain classes in
    `runner/engines/<name>.py`, registered in `runner/engines/__init__.py`."""

    name: str
    uses_model: bool  # calls a model: the record names it, usage and cost are shown
    priced: bool  # spends money: the role's daily budget stops it

    def credentials(self, role: Role) -> tuple[str, ...]:
        """The environment variables this engine itself needs for `role` (the model
        key, a provider's credentials), besides the role's own `credentials:`."""
        ...

    def model_key(self, role: Role) -> str | None:
        """The variable a rejected model call (401/403) is blamed on for `role`: the one
        fleet-wide credential escalation is keyed on it, and it holds every role that
        uses the same key. None for an engine without a model."""
        ...

    def provider(self, role: Role) -> str | None:
        """Where this engine's model calls go for `role` (the run record names it, next to
        the model: the same model id costs and behaves differently per provider); None
        for an engine without a model."""
        ...

    def check_role(self, role: Role, config: FleetConfig) -> list[Problem]:
        """What `fleet validate` says about a role that uses this engine."""
        ...

    def check_task(self, role: Role, task: Task) -> list[Problem]:
        """What `fleet validate` says about a task assigned to such a role."""
        ...

    def needs(self, role: Role, environ: Mapping[str, str]) -> list[Need]:
        """What `fleet doctor` checks on this machine for `role`."""
        ...

    def dry_run(self, plan: Plan) -> str:
        """Exactly what a run would send or execute; nothing is called."""
        ...

    def preflight(self, role: Role, client_factory: ClientFactory) -> PreflightResult | None:
        """A cheap check, before the run writes anything, that the engine can work at
        all (the model key is good); None when there is nothing to check."""
        ...

    def run(self, job: Job) -> EngineResult:
        """Work the task; commit through `job.commit`, judge through `job.acceptance`,
        record every step in `job.transcript`."""
        ...


def unset_names(names: Sequence[str], environ: Mapping[str, str]) -> list[str]:
    """The names in `names` not set (or empty) in `environ`."""
    return [n for n in names if not environ.get(n)]


def steps_are_guidance(engine: str, role: Role, task: Task) -> list[Problem]:
    """A model engine's warning for a task with `steps:`: only shell roles run them; a
    model (the built-in loop's or Claude Code's) is shown them as guidance."""
    if not task.steps:
        return []
    return [
        Problem(
            ("steps",),
            f"role '{role.name}' uses the {engine} engine; 'steps:' are only run by shell "
            "roles and will be shown to the model as guidance",
            "engine-mismatch",
            "warning",
        )
    ]
