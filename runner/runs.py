"""Runs as a reader looks them up: find one by id, list them, load its transcript.

The core of `fleet runs list|show` (the command module only opens the workspace and
prints). Records come from the ledger; a transcript is read from the path its record
points at and checked against the digest the record keeps, so what is shown is what the
run's final commit stored.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Protocol

from runner.errors import UsageError
from runner.records import RunRecord
from runner.transcripts import TranscriptError, unpack


class Store(Protocol):
    def read_many(self, paths: Sequence[str]) -> dict[str, bytes | None]: ...


def day_of(run_id: str) -> str | None:
    """The date a run id starts with (YYYYMMDD...), so a lookup reads one day onwards."""
    if len(run_id) >= 8 and run_id[:8].isdigit():
        return f"{run_id[:4]}-{run_id[4:6]}-{run_id[6:8]}"
    return None


def find(records: Sequence[RunRecord], run_id: str) -> RunRecord:
    """The run `run_id` names: the exact id, or the one id it is a unique prefix of."""
    exact = [r for r in records if r.run_id == run_id]
    if exact:
        return exact[-1]
    matches = [r for r in records if run_id and r.run_id.startswith(run_id)]
    if len(matches) == 1:
        return matches[0]
    if not matches:
        raise UsageError(
            f"no run {run_id!r} on the ledger",
            hint="'fleet runs list' shows the run ids (a unique prefix is enough)",
        )
    shown = ", ".join(r.run_id for r in matches[:5])
    more = ", ..." if len(matches) > 5 else ""
    raise UsageError(f"{run_id!r} names {len(matches)} runs ({shown}{more}); give more of the id")


def select(
    records: Sequence[RunRecord],
    *,
    role: str | None = None,
    task: str | None = None,
    outcome: str | None = None,
    limit: int = 20,
) -> list[RunRecord]:
    """The newest `limit` runs that match, newest first."""
    chosen = [
        r
        for r in records
        if (role is None or r.role == role)
        and (task is None or r.task == task)
        and (outcome is None or r.outcome == outcome)
    ]
    chosen.sort(key=lambda r: (r.started, r.run_id), reverse=True)
    return chosen[: max(limit, 0)] if limit else chosen


def row(record: RunRecord) -> dict[str, Any]:
    """One run as `runs list` shows it (the JSON format's item)."""
    usage = record.usage or {}
    return {
        "run_id": record.run_id,
        "role": record.role,
        "task": record.task,
        "started": record.started,
        "ended": record.ended,
        "outcome": record.outcome,
        "reason": record.reason,
        "engine": record.engine,
        "turns": record.turns,
        "cost_usd": record.cost_usd,
        "output_tokens": usage.get("output_tokens", 0),
        "links": dict(record.links),
        "transcript": dict(record.transcript),
    }


def transcript(store: Store, record: RunRecord) -> dict[str, Any] | None:
    """The stored transcript of `record`, checked; None when the run stored none (an
    older runner, or a run that ended before it began)."""
    pointer = record.transcript
    if not pointer.get("path"):
        return None
    path = str(pointer["path"])
    blob = store.read_many([path]).get(path)
    if blob is None:
        raise TranscriptError(
            f"run {record.run_id} points at {path}, which is not on the ledger",
            hint="the state branch may have been rewritten; its history has the blob",
        )
    return unpack(blob, pointer)
