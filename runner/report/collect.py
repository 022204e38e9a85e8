"""Gather what status needs, once, at the edge: ledger, forge activity, commits, plan."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, timedelta

from runner.clock import iso, parse
from runner.forge.base import Forge, ForgeItem
from runner.gitlog import read_log
from runner.ledger_index import Scope
from runner.plan import Plan, make_plan
from runner.records import Commit, RunRecord, TaskState
from runner.report.status import Status, compute, snapshot
from runner.workspace import Workspace

SNAPSHOT = "status/last.json"
_DURATION = re.compile(r"^(\d+)\s*([hdw])$")


def parse_since(text: str, now: datetime) -> datetime:
    """'7d', '24h', '2w', or an ISO date/time."""
    match = _DURATION.match(text.strip().lower())
    if match:
        n, unit = int(match[1]), match[2]
        return now - timedelta(hours=n * {"h": 1, "d": 24, "w": 168}[unit])
    try:
        return parse(text if "T" in text else f"{text}T00:00:00Z")
    except ValueError:
        raise ValueError(
            f"--since {text!r}: use a duration like 7d, 24h, 2w or a date like 2026-11-01"
        ) from None


def commits_since(ws: Workspace, since: datetime) -> list[Commit]:
    head = ws.head_ref()
    if ws.git.rev(head) is None:
        return []
    return read_log(ws.git, f"--since={iso(since)}", head)


@dataclass(frozen=True)
class Gathered:
    """The status, and the pieces it was computed from that `fleet sla` also needs."""

    status: Status
    runs: list[RunRecord]
    plan: Plan
    states: dict[str, TaskState]
    items: list[ForgeItem]


def gather(ws: Workspace, forge: Forge, since: datetime) -> Gathered:
    """Read the ledger, the forge and git once, and compute the status from them."""
    earliest = min(since, ws.now - timedelta(days=7))
    # the period's records in full (totals), then what states and schedules read: each
    # task's first and last run, each role's last, as summaries where older (retention
    # may have compacted their records, so they must not count in the period's totals)
    period = ws.runs(Scope(since=earliest.strftime("%Y-%m-%d")))
    known = {r.run_id: r for r in ws.runs(Scope(ws.today, tasks=True, roles=True))}
    runs = sorted({**known, **{r.run_id: r for r in period}}.values(), key=_order)
    view = forge.view()
    states = ws.states(runs, view)
    plan = make_plan(ws.fleet, states, runs, ws.now)
    items = forge.activity(iso(earliest))
    previous = ws.ledger.store.read_json(SNAPSHOT)
    status = compute(
        ws.fleet,
        states,
        runs,
        items,
        commits_since(ws, earliest),
        plan,
        ws.now,
        since,
        previous.get("states") if isinstance(previous, dict) else None,
        ws.ledger.rollups(since.strftime("%Y-%m-%d")),
        period,
    )
    return Gathered(status, runs, plan, states, items)


def _order(r: RunRecord) -> tuple[str, str]:
    return (r.started, r.run_id)


def record_snapshot(ws: Workspace, states: dict[str, TaskState]) -> None:
    data = {"time": iso(ws.now), "states": snapshot(states)}
    ws.ledger.store.write_json(SNAPSHOT, data, "status: snapshot for the next founder's delta")
