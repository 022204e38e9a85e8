"""What every command that runs an agent shares: the model client built at the edge,
an outcome in words, and the report inside Actions (job summary, annotations).

A core module, so `run`, `tick`, `revise` and `demo` use one copy without importing one
another (commands never import commands).
"""

from __future__ import annotations

from typing import Any

from runner import actions, engines
from runner.agent import client
from runner.bodies import run_summary
from runner.engines import providers
from runner.engines.base import unset_names
from runner.errors import ConfigError
from runner.fmt import usd
from runner.lease import LeaseConfigError, LeaseTerms
from runner.model import Role
from runner.run_outcome import RunOutcome
from runner.workspace import Workspace

FAILED = ("error", "model_unavailable", "push_failed", "cancelled")


def lease_terms(ws: Workspace) -> LeaseTerms:
    """FLEET_LEASE_TTL / FLEET_LEASE_HEARTBEAT, read at the edge."""
    try:
        return LeaseTerms.from_env(ws.environ)
    except LeaseConfigError as exc:
        raise ConfigError(str(exc)) from None


def anthropic_client(ws: Workspace) -> Any:
    """The model client for a role, built at the edge from the environment (never from
    files) for the role's provider (runner/engines/providers.py)."""

    def build(role: Role) -> Any:
        defaults = ws.fleet.config.defaults
        name, settings = providers.of(role)
        return providers.build(
            name,
            settings,
            ws.environ,
            max_retries=defaults.max_retries,
            timeouts=client.Timeouts.of(defaults),
            stream=defaults.stream,
        )

    return build


def unset_engine_keys(ws: Workspace, roles: list[str]) -> dict[str, list[str]]:
    """The roles among `roles` that cannot run because a variable their engine needs (the
    model key, a provider's credentials) is unset, grouped by what is missing: a tick
    says each missing key once, naming its roles, instead of once per role."""
    grouped: dict[str, list[str]] = {}
    for name in dict.fromkeys(roles):
        role = ws.fleet.roles.get(name)
        if role is None:
            continue
        engine = engines.get(role.engine)
        unset = unset_names(engine.credentials(role), ws.environ)
        if unset:
            grouped.setdefault(" and ".join(unset), []).append(name)
    return grouped


def render_unset_keys(missing: str, roles: list[str]) -> str:
    verb = "are" if " and " in missing else "is"
    return (
        f"{missing} {verb} not set: role(s) {', '.join(roles)} not run; add it as a "
        "repository secret (or run 'fleet tick --dry-run' to see what would be sent)"
    )


def render_outcome(o: RunOutcome) -> str:
    r = o.record
    if o.dry_run:
        return o.dry_run
    if o.skipped:
        return f"{r.role}/{r.task}: not run: {o.skipped}"
    parts = [f"{r.role}/{r.task}: {r.outcome}" + (f" ({r.reason})" if r.reason else "")]
    if o.pr:
        parts.append(
            f"  PR {o.pr.url or o.pr.id}"
            + (" (draft)" if o.pr.draft else "")
            + ("" if o.pr.created_now else " (updated)")
        )
    if o.issue:
        parts.append(
            f"  escalation {o.issue.url or o.issue.id}"
            + ("" if o.issue.created_now else " (repeat noted on the open issue)")
        )
    if r.turns:  # only engines that call a model take turns
        usage = r.usage
        parts.append(
            f"  {r.turns} turns, {usage.get('input_tokens', 0):,} in / "
            f"{usage.get('output_tokens', 0):,} out tokens, "
            f"{usage.get('cache_read_input_tokens', 0):,} read from cache, "
            f"{usage.get('cache_creation_input_tokens', 0):,} written to cache, "
            f"{usd(r.cost_usd)}"
        )
    branch = r.links.get("branch")
    work = f", {len(o.commits)} commit(s) on {branch}" if branch else ", no work branch"
    parts.append(f"  run {r.run_id}{work}")
    if r.sandbox.startswith("none"):
        parts.insert(0, f"WARNING: agent commands ran without a sandbox ({r.sandbox})")
    if r.reverted:
        parts.append(f"  reverted (outside writable): {', '.join(r.reverted[:10])}")
    return "\n".join(parts)


def report(ws: Workspace, outcomes: list[RunOutcome], title: str = "fleet runs") -> list[str]:
    """Inside Actions: write the job summary, and return an annotation per escalation or
    failure for the command to print (outside Actions: nothing)."""
    if not actions.in_actions(ws.environ):
        return []
    actions.write_summary(ws.environ, run_summary([o for o in outcomes if not o.dry_run], title))
    lines = []
    for o in outcomes:
        r = o.record
        if r.outcome == "escalated":
            lines.append(actions.annotation("warning", f"{r.role}/{r.task} escalated: {r.reason}"))
        elif r.outcome in FAILED:
            lines.append(actions.annotation("error", f"{r.role}/{r.task} {r.outcome}: {r.reason}"))
    return lines
