"""Shared records: the plain data that the ledger, the forge, sync, lifecycle and the
reports pass between them.

A leaf module (it imports nothing from the runner), so `report/`, `sla` and `forge/` can
use these types without importing the modules that compute them, and no import cycle
can form around them. Records read from the ledger are built with `from_dict`, which
ignores fields it does not know: an older runner must read what a newer one wrote, since
both share the same `fleet-state` branch.
"""

from __future__ import annotations

from dataclasses import dataclass, field, fields
from typing import Any, TypeVar

_T = TypeVar("_T")


def known_fields(cls: type[_T], data: dict[str, Any]) -> dict[str, Any]:
    """`data` without the keys `cls` (a dataclass) does not declare."""
    names = {f.name for f in fields(cls)}  # type: ignore[arg-type]
    return {k: v for k, v in data.items() if k in names}


@dataclass(frozen=True)
class Commit:
    sha: str
    author: str
    email: str
    time: str
    subject: str
    files: tuple[str, ...]
    agent_role: str | None  # set on commits an agent made (Fleet-Role trailer)
    founder_fix: bool = False  # a human commit touching paths this role writes


@dataclass(frozen=True)
class ForgeEvent:
    """Something a person did on the forge that the role must see. Bodies are untrusted."""

    kind: str  # answer, review, comment, merged, closed
    ref: str  # issue or PR id
    task: str | None
    author: str
    trusted: bool
    created: str
    body: str = ""
    url: str = ""


@dataclass(frozen=True)
class PullRef:
    id: str
    url: str
    created: str
    draft: bool = False


@dataclass(frozen=True)
class EscalationRef:
    id: str
    kind: str
    url: str
    created: str
    title: str = ""


@dataclass(frozen=True)
class ForgeView:
    """What the forge knows about tasks; empty when there is no forge yet."""

    open_prs: dict[str, PullRef] = field(default_factory=dict)
    escalations: dict[str, tuple[EscalationRef, ...]] = field(default_factory=dict)
    branches: frozenset[str] = frozenset()  # task ids that have a work branch
    live_runs: frozenset[str] = frozenset()  # run ids holding a live lease (runner.lease)


@dataclass(frozen=True)
class TaskState:
    task: str
    state: str
    reason: str
    since: str | None = None
    ready: bool = False
    waiting_on: tuple[str, ...] = ()
    live_run: str | None = None
    pr: PullRef | None = None
    escalations: tuple[EscalationRef, ...] = ()


@dataclass(frozen=True)
class Checkpoint:
    """Where a role's last completed run synced to: the start of its next delta."""

    role: str
    sha: str | None
    events_since: str | None
    updated: str
    run_id: str | None = None

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Checkpoint:
        """Unknown keys (a newer runner's) are ignored; old and new runners share a ledger."""
        return cls(**known_fields(cls, data))


@dataclass(frozen=True)
class RollUp:
    """The runs of one day, role and outcome whose records retention compacted: what
    status totals count in their place (ledger_retention)."""

    date: str
    role: str
    outcome: str
    runs: int = 0
    cost_usd: float = 0.0
    delegations: int = 0
    input_tokens: int = 0
    output_tokens: int = 0
    cache_read_tokens: int = 0
    cache_write_tokens: int = 0

    @classmethod
    def from_cell(cls, date: str, role: str, outcome: str, cell: dict[str, Any]) -> RollUp:
        """A roll-up cell (costs in integer micro-dollars, token names as in `usage`)."""

        def num(name: str) -> int:
            value = cell.get(name, 0)
            return value if isinstance(value, int) else 0

        return cls(
            date,
            role,
            outcome,
            num("runs"),
            num("cost_usd_micro") / 1e6,
            num("delegations"),
            num("input_tokens"),
            num("output_tokens"),
            num("cache_read_input_tokens"),
            num("cache_creation_input_tokens"),
        )


RUN_OUTCOMES = (
    "running",
    "done",
    "failed",
    "escalated",
    "budget",
    "max_turns",
    "model_unavailable",
    "no_changes",
    "error",
    "dry_run",
    "push_failed",
    "cancelled",
)


@dataclass
class RunRecord:
    """One agent run, as stored on the state branch (schemas/run.schema.json)."""

    run_id: str
    role: str
    task: str | None
    started: str
    outcome: str = "running"
    trigger: str = "manual"
    engine: str = ""
    model: str | None = None
    provider: str | None = None  # where the model calls went (engines: Engine.provider)
    ended: str | None = None
    reason: str = ""
    sync: dict[str, Any] = field(default_factory=dict)
    turns: int = 0
    usage: dict[str, int] = field(default_factory=dict)
    cost_usd: float = 0.0
    api_calls: int = 0
    attempts: int = 0
    delegated: list[str] = field(default_factory=list)
    truncated_calls: int = 0  # tool calls cut off by max_tokens, refused unexecuted
    links: dict[str, str] = field(default_factory=dict)
    sandbox: str = ""
    reverted: list[str] = field(default_factory=list)
    transcript: dict[str, Any] = field(default_factory=dict)  # path, sha256 on fleet-state

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> RunRecord:
        known = {k: v for k, v in d.items() if k in cls.__dataclass_fields__}
        return cls(**known)

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for name in self.__dataclass_fields__:
            value = getattr(self, name)
            if value in (None, "", {}, []) and name not in ("task", "started", "outcome"):
                continue
            out[name] = value
        return out

    @property
    def date(self) -> str:
        return self.started[:10]
