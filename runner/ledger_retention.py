"""Retention (`ledger.keep_days` in fleet.yaml): run records of days older than that are
compacted into monthly roll-ups, `ledger/months/<YYYY-MM>.json`, one commit per compaction:

    days   {date: {role: {outcome: cell}}}   what status totals and cost per day read
    roles  {role: {outcome: cell}}           the month's totals per role
    tasks  {task: {runs, cost_usd_micro, outcomes: {outcome: n}, first, last}}
    last   {role: summary}                   the role's latest compacted run (dry runs aside)

A cell is a day roll-up's (runs, cost in micro-dollars, tokens, delegations), so sums are
exact. The task and role summaries keep the index's first/last runs derivable after
their records are gone (`ledger_index.build` folds them in), so states and schedules do
not change. Never dropped, whatever their age: a `running` record, the record a lease
names, and the last run of a task that did not end `done` (a draft, a failure, a stop:
what the next run resumes from or a human retries).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date, timedelta

from runner import ledger_index as li
from runner.errors import FleetError
from runner.gitrepo import Git
from runner.records import RunRecord
from runner.state import StateStore

MIN_KEEP_DAYS = 7  # status's default week and a role's runs this week stay in records


def month_path(month: str) -> str:
    return f"{li.MONTHS}{month}.json"


def cutoff(today: str, keep_days: int) -> str:
    """The first day whose records are kept: `keep_days` before today."""
    return (date.fromisoformat(today) - timedelta(days=keep_days)).isoformat()


@dataclass
class Compaction:
    """What one compaction did (nothing, when no day was old enough)."""

    days: list[str] = field(default_factory=list)
    dropped: int = 0
    kept: list[str] = field(default_factory=list)  # old records a run still needs


def compact(store: StateStore, keep_days: int, today: str) -> Compaction:
    """Compact every day before `cutoff(today, keep_days)`, in one commit through the
    publish-retry loop (a writer landing meanwhile makes it start over on the new tip)."""
    if keep_days < MIN_KEEP_DAYS:
        raise FleetError(f"ledger.keep_days is {keep_days}; it must be at least {MIN_KEEP_DAYS}")
    result = Compaction()

    def build(base: str | None) -> str | None:
        nonlocal result
        result = Compaction()
        if base is None:
            return None
        old = [d for d in _days(store.git, base) if d < cutoff(today, keep_days)]
        if not old:
            return None
        files = _compaction(store.git, base, old, result)
        if not result.dropped:  # only records a run needs are left there: nothing to do
            return None
        return store._commit(base, files, f"ledger: compact {len(old)} day(s) before {old[-1]}")

    store._land(build)
    return result


def _days(git: Git, rev: str) -> list[str]:
    out = git.run("ls-tree", "--name-only", "-z", rev, "--", "runs/")
    return sorted(p[5:] for p in out.split("\0") if p.startswith("runs/"))


def _compaction(git: Git, rev: str, old: list[str], result: Compaction) -> dict[str, bytes | None]:
    """The files of the compaction commit: dropped records deleted, month roll-ups, and
    the index documents the drop changes (day roll-ups of old days, role recent lists)."""
    layout = li.load_docs(git, rev, [li.LAYOUT])
    if not li.is_indexed(layout):
        raise FleetError(
            "the ledger has no index yet; retention needs it",
            hint="run 'fleet ledger migrate' once, then compact again",
        )
    listed = git.run("ls-tree", "-r", "--name-only", "-z", rev, "--", *(f"runs/{d}/" for d in old))
    paths = [p for p in listed.split("\0") if li.is_run_path(p)]
    blobs = git.read_blobs(f"{rev}:{p}" for p in paths)
    records = {p: r for p in paths if (r := li.parse_record(blobs[f"{rev}:{p}"])) is not None}
    needed = _needed(git, rev, records.values())
    dropped = {p: r for p, r in records.items() if r.run_id not in needed}
    kept = [r for r in records.values() if r.run_id in needed]
    result.days, result.dropped = old, len(dropped)
    result.kept = sorted(p for p, r in records.items() if r.run_id in needed)
    files: dict[str, bytes | None] = dict.fromkeys(dropped)
    files.update(_months(git, rev, dropped.values()))
    docs: li.Docs = {}
    for r in kept:
        li.update(docs, None, r)
    for d in old:  # the day roll-ups now count the kept records only
        path = li.day_path(d)
        files[path] = li.dump(docs[path]) if path in docs else None
    gone = {r.run_id for r in dropped.values()}
    roles = {r.role for r in dropped.values()}
    present = li.load_docs(git, rev, [li.role_path(role) for role in roles])
    for role in roles:
        doc = present.get(li.role_path(role), {"recent": []})
        pairs = [p for p in doc.get("recent", []) if p[1] not in gone]
        pairs += [[r.started, r.run_id] for r in kept if r.role == role]
        doc["recent"] = sorted({p[1]: p for p in pairs}.values())[-li.RECENT :]
        files[li.role_path(role)] = li.dump(doc)
    return files


def _needed(git: Git, rev: str, records: Iterable[RunRecord]) -> set[str]:
    """Run ids of `records` a run needs: running, named by a lease, or the last run of a
    task that did not end done."""
    records = list(records)
    listed = git.run("ls-tree", "-r", "--name-only", "-z", rev, "--", "leases/")
    leases = li.load_docs(git, rev, [p for p in listed.split("\0") if p])
    needed = {str(lease.get("run_id")) for lease in leases.values() if isinstance(lease, dict)}
    tasks = {r.task for r in records if r.task}
    shards = li.load_docs(git, rev, {li.task_path(t) for t in tasks})
    for t in tasks:
        last = shards.get(li.task_path(t), {}).get(t, {}).get("last", {})
        if last.get("outcome") != "done":
            needed.add(str(last.get("run_id")))
    return needed | {r.run_id for r in records if r.outcome == "running"}


def _months(git: Git, rev: str, dropped: Iterable[RunRecord]) -> dict[str, bytes | None]:
    """The month roll-ups with `dropped` folded in."""
    dropped = list(dropped)
    months = sorted({r.date[:7] for r in dropped})
    docs = li.load_docs(git, rev, [month_path(m) for m in months])
    for r in dropped:
        doc = docs.setdefault(month_path(r.date[:7]), {})
        li.add({"roles": doc.setdefault("days", {}).setdefault(r.date, {})}, r, 1)
        li.add({"roles": doc.setdefault("roles", {})}, r, 1)
        s = li.summary(r)
        if r.task:
            entry = doc.setdefault("tasks", {}).setdefault(
                r.task, {"runs": 0, "cost_usd_micro": 0, "outcomes": {}, "first": s, "last": s}
            )
            entry["runs"] += 1
            entry["cost_usd_micro"] += round(r.cost_usd * 1e6)
            entry["outcomes"][r.outcome] = entry["outcomes"].get(r.outcome, 0) + 1
            entry["first"] = min(entry["first"], s, key=li.key)
            entry["last"] = max(entry["last"], s, key=li.key)
        if r.outcome != "dry_run":
            last = doc.setdefault("last", {})
            last[r.role] = max(last.get(r.role, s), s, key=li.key)
    return {p: li.dump(d) for p, d in docs.items()}
