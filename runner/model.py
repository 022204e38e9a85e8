"""The fleet as typed data: what users write in fleet/ and tasks/, after validation.

Constructors take schema-valid dicts, so they can trust types and only fill defaults.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from runner.errors import UsageError

Severity = Literal["error", "warning"]

PRIORITIES = ("urgent", "high", "normal", "low")
TOOLS = (
    "read_file",
    "list_files",
    "search",
    "write_file",
    "edit_file",
    "run_command",
    "run_acceptance",
    "propose_task",
    "escalate",
    "finish",
)


@dataclass(frozen=True, order=True)
class Finding:
    """One problem in a user's file: where it is, and what to do about it."""

    path: str
    line: int
    col: int
    severity: Severity
    message: str
    field: str = ""
    code: str = "schema"

    def to_dict(self) -> dict[str, Any]:
        return {
            "path": self.path,
            "line": self.line,
            "col": self.col,
            "severity": self.severity,
            "code": self.code,
            "field": self.field,
            "message": self.message,
        }


@dataclass(frozen=True)
class Price:
    input: float
    output: float
    cache_read: float
    cache_write: float


@dataclass(frozen=True)
class ForgeSettings:
    base_branch: str = "main"
    branch_prefix: str = "fleet/"
    state_branch: str = "fleet-state"
    remote: str = "origin"
    label_prefix: str = "fleet"
    mention: str = "fleet"  # `@fleet <role> ...` / `/fleet <role> ...` drafts a task


@dataclass(frozen=True)
class ProgressSettings:
    """The live progress comment (fleet.yaml `progress:`): one comment per run, edited at
    most once every `interval_s` seconds (changes in between are batched)."""

    comment: bool = True
    interval_s: float = 15.0


@dataclass(frozen=True)
class ApplyCaps:
    """What one run's outputs may add at most (fleet.yaml `apply:`), checked by apply."""

    max_files: int = 200
    max_lines: int = 20000
    max_file_bytes: int = 1024 * 1024
    max_prs: int = 1
    max_escalations: int = 2
    max_comments: int = 3
    max_proposed_tasks: int = 5


@dataclass(frozen=True)
class SetupStep:
    """A human-reviewed command run before the agent starts (`setup:`)."""

    run: str
    timeout_s: int | None = None

    @classmethod
    def of(cls, item: str | dict[str, Any]) -> SetupStep:
        if isinstance(item, str):
            return cls(item)
        return cls(item["run"], item.get("timeout_s"))


@dataclass(frozen=True)
class McpServer:
    """One MCP server of a role (`mcp_servers:`): a stdio command or a streamable-HTTP
    URL. `env` holds names only; values are read from the job's environment per run."""

    name: str
    command: str | None = None
    args: tuple[str, ...] = ()
    env: tuple[str, ...] = ()
    url: str | None = None
    headers: tuple[tuple[str, str], ...] = ()  # (name, value template with ${NAME})

    @classmethod
    def of(cls, name: str, d: dict[str, Any]) -> McpServer:
        return cls(
            name=name,
            command=d.get("command"),
            args=tuple(d.get("args", ())),
            env=tuple(d.get("env", ())),
            url=d.get("url"),
            headers=tuple((k, str(v)) for k, v in d.get("headers", {}).items()),
        )


@dataclass(frozen=True)
class ProviderSettings:
    """Where a provider's model calls go (fleet.yaml `providers: {<name>: {...}}`); the
    credentials themselves are environment variables (runner/engines/providers.py)."""

    base_url: str | None = None  # openai-compatible: required; others: a proxy or endpoint
    api_key_env: str | None = None  # the variable holding the key (Bedrock API key, Vertex token)
    region: str | None = None  # bedrock, vertex
    project: str | None = None  # vertex

    @classmethod
    def of(cls, d: dict[str, Any]) -> ProviderSettings:
        return cls(d.get("base_url"), d.get("api_key_env"), d.get("region"), d.get("project"))


DEFAULT_SLA_HOURS = {"open": 72.0, "in_progress": 24.0, "review": 48.0, "blocked": 48.0}


@dataclass(frozen=True)
class Defaults:
    model: str = "claude-sonnet-5-5"
    max_turns: int = 40
    run_budget_usd: float = 2.0
    daily_budget_usd: float = 10.0
    max_attempts: int = 2
    command_timeout_s: int = 300
    context_window: int = 200_000
    compact_at: float = 0.7
    max_retries: int = 2
    stream: bool = True
    model_connect_timeout_s: float = 10.0
    model_read_timeout_s: float = 60.0
    model_total_timeout_s: float = 600.0
    setup: tuple[SetupStep, ...] = ()
    provider: str | None = None  # None: the default provider (runner/engines/providers.py)
    # fleet.yaml's top-level `providers:`, kept here so a role resolves its provider's
    # settings when it is loaded
    providers: dict[str, ProviderSettings] = field(default_factory=dict)

    @classmethod
    def from_dict(cls, d: dict[str, Any], providers: dict[str, Any] | None = None) -> Defaults:
        steps = tuple(SetupStep.of(s) for s in d.get("setup", ()))
        settings = {n: ProviderSettings.of(p or {}) for n, p in (providers or {}).items()}
        kept = {k: v for k, v in d.items() if k != "setup"}
        return cls(**{**kept, "setup": steps, "providers": settings})


@dataclass(frozen=True)
class FleetConfig:
    name: str
    description: str = ""
    defaults: Defaults = field(default_factory=Defaults)
    daily_budget_usd: float | None = None
    max_parallel: int = 4
    tasks_per_role: int = 1
    sandbox: str = "auto"
    sandbox_read_only: tuple[str, ...] = ()
    forge: ForgeSettings = field(default_factory=ForgeSettings)
    sla_hours: dict[str, float] = field(default_factory=lambda: dict(DEFAULT_SLA_HOURS))
    prices: dict[str, Price] = field(default_factory=dict)
    apply: ApplyCaps = field(default_factory=ApplyCaps)
    progress: ProgressSettings = field(default_factory=ProgressSettings)
    paused: bool = False  # the kill switch (see runner/pause.py)
    ledger_keep_days: int | None = None  # retention (runner/ledger_retention.py)

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> FleetConfig:
        prices = {
            model: Price(
                input=p["input"],
                output=p["output"],
                cache_read=p.get("cache_read", p["input"] * 0.1),
                cache_write=p.get("cache_write", p["input"] * 1.25),
            )
            for model, p in d.get("prices", {}).items()
        }
        return cls(
            name=d["name"],
            description=d.get("description", ""),
            defaults=Defaults.from_dict(d.get("defaults", {}), d.get("providers")),
            daily_budget_usd=d.get("daily_budget_usd"),
            max_parallel=d.get("max_parallel", 4),
            tasks_per_role=d.get("tasks_per_role", 1),
            sandbox="off" if d.get("sandbox") is False else d.get("sandbox", "auto"),
            sandbox_read_only=tuple(d.get("sandbox_read_only", ())),
            forge=ForgeSettings(**d.get("forge", {})),
            sla_hours={**DEFAULT_SLA_HOURS, **d.get("sla_hours", {})},
            prices=prices,
            apply=ApplyCaps(**d.get("apply", {})),
            progress=ProgressSettings(**d.get("progress", {})),
            paused=bool(d.get("paused", False)),
            ledger_keep_days=d.get("ledger", {}).get("keep_days"),
        )


@dataclass(frozen=True)
class Role:
    name: str
    description: str
    engine: str  # a name in runner.engines (the schema's enum is the registry)
    model: str
    directives: str
    schedule: str | None
    tools: tuple[str, ...]
    commands: tuple[str, ...]
    writable: tuple[str, ...]
    credentials: tuple[str, ...]
    run_budget_usd: float
    daily_budget_usd: float
    max_turns: int
    max_attempts: int
    escalate_to: tuple[str, ...]
    path: str = ""
    network: bool = False
    mcp_servers: tuple[McpServer, ...] = ()
    mcp_tools: tuple[str, ...] = ()  # globs over server/tool
    setup: tuple[SetupStep, ...] = ()  # the role's own, else fleet.yaml defaults.setup
    provider: str | None = None  # where a model engine's calls go; None: the default
    provider_settings: ProviderSettings = field(default_factory=ProviderSettings)
    auto_assign: bool = False  # an issue request commits the task, no task PR (intake)

    @classmethod
    def from_dict(cls, d: dict[str, Any], defaults: Defaults, path: str = "") -> Role:
        budget = d.get("budget", {})
        provider = d.get("provider", defaults.provider)
        return cls(
            name=d["name"],
            description=d["description"],
            engine=d["engine"],
            model=d.get("model", defaults.model),
            directives=d.get("directives", f"fleet/directives/{d['name']}.md"),
            schedule=d.get("schedule"),
            tools=tuple(d.get("tools", TOOLS)),
            commands=tuple(d.get("commands", ())),
            writable=tuple(d.get("writable", ())),
            credentials=tuple(d.get("credentials", ())),
            run_budget_usd=budget.get("run_usd", defaults.run_budget_usd),
            daily_budget_usd=budget.get("daily_usd", defaults.daily_budget_usd),
            max_turns=budget.get("max_turns", defaults.max_turns),
            max_attempts=d.get("max_attempts", defaults.max_attempts),
            escalate_to=tuple(d.get("escalate_to", ())),
            path=path,
            network=d.get("network", "off") == "allow",
            mcp_servers=tuple(McpServer.of(n, s) for n, s in d.get("mcp_servers", {}).items()),
            mcp_tools=tuple(d.get("mcp_tools", ())),
            setup=(tuple(SetupStep.of(s) for s in d["setup"]) if "setup" in d else defaults.setup),
            provider=provider,
            provider_settings=defaults.providers.get(provider or "", ProviderSettings()),
            auto_assign=d.get("auto_assign") is True,
        )

    @property
    def required_env(self) -> tuple[str, ...]:
        """Every variable the role cannot work without: its `credentials:` and the names
        its MCP servers list (a missing one is the same one credential escalation)."""
        names = [*self.credentials, *(n for s in self.mcp_servers for n in s.env)]
        return tuple(dict.fromkeys(names))


@dataclass(frozen=True)
class Acceptance:
    kind: Literal["check", "review"]
    text: str
    timeout_s: int | None = None

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Acceptance:
        if "check" in d:
            return cls("check", d["check"], d.get("timeout_s"))
        return cls("review", d["review"])

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {self.kind: self.text}
        if self.timeout_s is not None:
            out["timeout_s"] = self.timeout_s
        return out


@dataclass(frozen=True)
class Task:
    id: str
    title: str
    role: str
    acceptance: tuple[Acceptance, ...]
    priority: str = "normal"
    status: str = "open"
    depends_on: tuple[str, ...] = ()
    description: str = ""
    context: tuple[str, ...] = ()
    run_budget_usd: float | None = None
    max_turns: int | None = None
    sla_hours: dict[str, float] = field(default_factory=dict)
    parent: str | None = None
    created_by: str | None = None
    issue: int | None = None  # drafted from this issue (runner/intake.py)
    created: str | None = None
    steps: tuple[str, ...] = ()
    result: str | None = None
    path: str = ""

    @classmethod
    def from_dict(cls, d: dict[str, Any], path: str = "") -> Task:
        budget = d.get("budget", {})
        return cls(
            id=d["id"],
            title=d["title"],
            role=d["role"],
            acceptance=tuple(Acceptance.from_dict(a) for a in d["acceptance"]),
            priority=d.get("priority", "normal"),
            status=d.get("status", "open"),
            depends_on=tuple(d.get("depends_on", ())),
            description=d.get("description", ""),
            context=tuple(d.get("context", ())),
            run_budget_usd=budget.get("run_usd"),
            max_turns=budget.get("max_turns"),
            sla_hours=dict(d.get("sla_hours", {})),
            parent=d.get("parent"),
            created_by=d.get("created_by"),
            issue=d.get("issue"),
            created=d.get("created"),
            steps=tuple(d.get("steps", ())),
            result=d.get("result"),
            path=path,
        )

    @property
    def checks(self) -> tuple[Acceptance, ...]:
        return tuple(a for a in self.acceptance if a.kind == "check")

    @property
    def reviews(self) -> tuple[Acceptance, ...]:
        return tuple(a for a in self.acceptance if a.kind == "review")


@dataclass
class Fleet:
    """A loaded fleet repository. Files that failed validation are left out."""

    root: Path
    config: FleetConfig
    roles: dict[str, Role] = field(default_factory=dict)
    tasks: dict[str, Task] = field(default_factory=dict)
    directives: dict[str, str] = field(default_factory=dict)  # repo-relative path -> text
    # errors of task files left out of `tasks` so the rest of the fleet runs (quarantine)
    problems: list[Finding] = field(default_factory=list)

    def require_role(self, name: str) -> Role:
        """The role called `name`; the one place an unknown role is worded (exit 2)."""
        role = self.roles.get(name)
        if role is None:
            known = ", ".join(sorted(self.roles)) or "none"
            raise UsageError(f"unknown role '{name}' (roles: {known})")
        return role

    def unknown_task(self, task_id: str) -> str:
        """Why `task_id` is not in `tasks`: its file is quarantined, or there is none."""
        for p in self.problems:
            if p.path.rsplit("/", 1)[-1] in (f"{task_id}.yaml", f"{task_id}.yml"):
                return (
                    f"task file {p.path} is invalid ({p.path}:{p.line}: {p.message}); fix it "
                    "('fleet validate' lists every error)"
                )
        return f"unknown task '{task_id}'"
