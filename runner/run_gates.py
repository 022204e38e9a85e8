"""What must hold before a run writes anything: the role's credentials, the engine's
keys, the sandbox `fleet.yaml` asks for, and a model key that is known good.

Kept apart from the run itself (`runner.run`) because these are decisions, each made
before the ledger hears of the run: a run that cannot succeed must stop here, asking
once (one escalation per missing credential or rejected key for the whole fleet) or
failing as a configuration error, instead of starting work and failing half-way.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from runner import engines, stops
from runner.agent.jail import Jail, SandboxUnavailable, probe
from runner.clock import iso
from runner.engines.base import ClientFactory, unset_names
from runner.forge.base import Forge, Issue
from runner.model import Role, Task
from runner.records import RunRecord
from runner.run_outcome import RunOutcome
from runner.workspace import ConfigError, Workspace

REJECTED = "model API credential rejected"  # the engine's reason for a 401/403


def model_key(role: Role) -> str:
    """The credential a rejected model call is blamed on (the engine says which:
    ANTHROPIC_API_KEY, AWS_ACCESS_KEY_ID, the api_key_env of an OpenAI-compatible
    endpoint). Roles that share it share its fate."""
    return engines.get(role.engine).model_key(role) or "the model API key"


@dataclass
class ModelGate:
    """Whether each model key is known good, across the runs of one command: checked once
    per key (a cheap authenticated call) before the first run with it writes anything;
    once a key is rejected, no later run of the same tick that needs it calls the model
    (roles on another provider's key carry on)."""

    checked: set[str] = field(default_factory=set)
    rejected: dict[str, str] = field(default_factory=dict)

    def reject(self, role: Role, why: str) -> None:
        self.rejected[model_key(role)] = why

    def check(
        self,
        ws: Workspace,
        forge: Forge,
        role: Role,
        record: RunRecord,
        client_factory: ClientFactory,
    ) -> RunOutcome | None:
        """None when the run may call the model; else how it ended (nothing else done)."""
        key = model_key(role)
        if key in self.rejected:
            return RunOutcome(
                record, skipped=f"the model API rejected {key} earlier ({self.rejected[key]})"
            )
        if key in self.checked:
            return None
        result = engines.get(role.engine).preflight(role, client_factory)
        if result is None:
            return None
        if result.status == "credential":
            # one escalation, then one ledger write: nothing was written while unknown
            why = self.rejected[key] = result.detail or f"HTTP {result.http_status}"
            issue = stops.model_key_rejected(forge, role, record, why, key)
            record.outcome, record.reason = "escalated", f"{REJECTED}: {why}"
            record.ended, record.links = iso(ws.now), {"issue": issue.url or issue.id}
            ws.ledger.finish(record)
            return RunOutcome(record, issue=issue, recorded=True)
        if result.status == "unavailable":  # not proven bad: no issue, the next tick retries
            record.outcome, record.reason = "model_unavailable", f"preflight: {result.detail}"
            record.ended = iso(ws.now)
            ws.ledger.finish(record)
            return RunOutcome(record, recorded=True)
        self.checked.add(key)
        return None


def model(
    ws: Workspace,
    forge: Forge,
    role: Role,
    record: RunRecord,
    client_factory: ClientFactory,
    gate: ModelGate | None,
) -> RunOutcome | None:
    """The model key's check for an engine that calls a model; a run on its own (no
    command-wide `gate`) checks with a gate of its own."""
    if not engines.get(role.engine).uses_model:
        return None
    return (gate if gate is not None else ModelGate()).check(
        ws, forge, role, record, client_factory
    )


def credentials(
    ws: Workspace, forge: Forge, role: Role, task: Task, record: RunRecord, *, ask: bool = False
) -> RunOutcome | None:
    """None when every variable the role and its engine need is set. A role credential
    that is absent is escalated (the run ends, recorded); an engine key that is absent is
    the workflow's configuration: an error before anything is written for a person at a
    terminal, and with `ask` (the agent job, every tick alike) one escalation for the
    fleet."""
    missing = [name for name in role.required_env if not ws.environ.get(name)]
    if missing:
        return _credential_escalation(ws, forge, role, task, record, missing)
    engine = engines.get(role.engine)
    unset = unset_names(engine.credentials(role), ws.environ)
    if unset and ask:
        return _credential_escalation(
            ws, forge, role, task, record, unset, stops.engine_key_missing
        )
    if unset:
        raise ConfigError(
            f"role '{role.name}' uses the {engine.name} engine but {', '.join(unset)} "
            f"{'is' if len(unset) == 1 else 'are'} not set; add it as a repository secret "
            "(or run 'fleet run --dry-run' to see what would be sent)"
        )
    return None


def jail(mode: str) -> Jail:
    """The sandbox for agent-run commands; `sandbox: required` without one is a
    configuration error, raised before anything is recorded or run."""
    try:
        return probe(mode)
    except SandboxUnavailable as exc:
        raise ConfigError(
            f"fleet.yaml says sandbox: required, but no sandbox can be made here: {exc}; "
            "install bubblewrap (apt-get install bubblewrap) with user namespaces enabled, "
            "or set sandbox: auto to run unsandboxed with a warning"
        ) from None


def _credential_escalation(
    ws: Workspace,
    forge: Forge,
    role: Role,
    task: Task,
    record: RunRecord,
    missing: list[str],
    escalate: Callable[[Forge, Role, RunRecord, str], Issue] = stops.credential_missing,
) -> RunOutcome:
    """A required credential is absent: ask once per credential for the whole fleet (the
    issue holds every task that needs it), and do not start work that cannot succeed."""
    record.outcome, record.reason = "escalated", f"missing credential(s): {', '.join(missing)}"
    record.ended = iso(ws.now)
    ws.ledger.start(record)
    issues = [escalate(forge, role, record, name) for name in missing]
    record.links = {"issue": issues[0].url or issues[0].id}
    ws.ledger.finish(record)
    return RunOutcome(record, issue=issues[0])
