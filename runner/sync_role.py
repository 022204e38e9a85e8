"""The delta a role acts on now, read from an opened workspace: what `fleet sync ROLE`
prints and what `fleet run` gives the agent. Kept apart from `runner.run` so that
`fleet sync` imports neither the engines' run machinery nor the PR bodies."""

from __future__ import annotations

from runner import sync
from runner.forge.base import Forge
from runner.ledger_index import Scope
from runner.records import RunRecord
from runner.workspace import Workspace


def role_delta(
    ws: Workspace,
    forge: Forge,
    role_name: str,
    *,
    since: str | None = None,
    runs: list[RunRecord] | None = None,
) -> sync.Delta:
    """The delta `role_name` acts on now: from its checkpoint (or `since`) to the base
    branch, with its runs and the forge's events since the checkpoint."""
    checkpoint = ws.ledger.checkpoint(role_name)
    events = forge.events_since(role_name, checkpoint.events_since if checkpoint else None)
    return sync.compute(
        ws.git,
        ws.fleet,
        role_name,
        ws.head_ref(),
        checkpoint=checkpoint,
        since=since,
        runs=ws.runs(Scope(today=ws.today, recent=(role_name,))) if runs is None else runs,
        events=events,
        remote=ws.remote,
    )
