"""Indexes over the run records on `fleet-state`, so a read costs what it asks for, not the
length of the ledger.

The records stay one file per run (`runs/<date>/<run-id>.json`, the source of truth);
next to them, every file under `ledger/` is a pure function of the records:

    ledger/layout.json        {"version": 2}: the files below are complete
    ledger/tasks/<xx>.json    first and last run of each task whose id hashes to xx
    ledger/roles/<role>.json  the role's last run (dry runs aside) and its 20 latest runs
    ledger/days/<date>.json   the day's roll-up: record count, and per role and outcome
                              runs, cost (micro-dollars) and tokens
    ledger/months/<month>.json  what retention compacted (ledger_retention): not derived

`update` folds one record into them (order-independent: max, min, top-20, sums with the
old version of the record taken out), so each write updates them in its own commit,
computed from the base it is built on: the publish-retry loop that rebuilds a rejected
commit on the new tip merges concurrent writers. `build` folds every record; `fleet ledger
check` compares the two, `repair` and `migrate` write `build`'s result.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from runner import schema
from runner.gitrepo import Git
from runner.records import RollUp, RunRecord

VERSION = 2
LAYOUT = "ledger/layout.json"
TASKS = "ledger/tasks/"
ROLES = "ledger/roles/"
DAYS = "ledger/days/"
MONTHS = "ledger/months/"
RECENT = 20  # a role's latest runs kept in its index: what a sync shows (sync.compute)
_SUMMARY = ("run_id", "role", "task", "started", "ended", "outcome", "reason", "trigger")
_TOKENS = (
    "input_tokens",
    "output_tokens",
    "cache_read_input_tokens",
    "cache_creation_input_tokens",
)

Docs = dict[str, Any]  # index path -> its JSON document


def is_run_path(path: str) -> bool:
    return path.startswith("runs/") and path.endswith(".json") and path.count("/") == 2


def parse_record(raw: bytes | None) -> RunRecord | None:
    """A record this runner can read, or None (unreadable records are skipped, not fatal)."""
    if raw is None:
        return None
    try:
        data = json.loads(raw)
    except ValueError:
        return None
    return RunRecord.from_dict(data) if schema.is_readable(data, "run") else None


def summary(record: RunRecord) -> dict[str, Any]:
    """What state derivation and the planner read of a run they do not read in full."""
    data = record.to_dict()
    out = {k: data[k] for k in _SUMMARY if k in data}
    if record.cost_usd:
        out["cost_usd"] = record.cost_usd
    return out


def task_path(task: str) -> str:
    return f"{TASKS}{hashlib.sha1(task.encode()).hexdigest()[:2]}.json"


def role_path(role: str) -> str:
    return f"{ROLES}{role}.json"


def day_path(date: str) -> str:
    return f"{DAYS}{date}.json"


def paths_for(records: Iterable[RunRecord]) -> set[str]:
    """The index files a write of `records` changes."""
    out = {LAYOUT}
    for r in records:
        out |= {role_path(r.role), day_path(r.date)}
        if r.task:
            out.add(task_path(r.task))
    return out


def key(s: dict[str, Any]) -> tuple[str, str]:
    return (str(s.get("started", "")), str(s.get("run_id", "")))


def update(docs: Docs, old: RunRecord | None, new: RunRecord) -> None:
    """Fold `new` (which replaces `old`, same run, or None) into the index documents."""
    docs[LAYOUT] = {"version": VERSION}
    s = summary(new)
    if new.task:
        fold_task(docs, new.task, s, s)
    role = fold_role(docs, new.role, s if new.outcome != "dry_run" else None)
    recent = [pair for pair in role["recent"] if pair[1] != new.run_id]
    recent.append([new.started, new.run_id])
    role["recent"] = sorted(recent)[-RECENT:]
    day = docs.setdefault(day_path(new.date), {"records": 0, "roles": {}})
    if old is None:
        day["records"] += 1
    else:
        add(day, old, -1)
    add(day, new, 1)


def fold_task(docs: Docs, task: str, first: dict[str, Any], last: dict[str, Any]) -> None:
    """The task's first and last run: the earliest and latest summaries seen (any order)."""
    entry = docs.setdefault(task_path(task), {}).setdefault(task, {"first": first, "last": last})
    if key(first) <= key(entry["first"]):
        entry["first"] = first
    if key(last) >= key(entry["last"]):
        entry["last"] = last


def fold_role(docs: Docs, role: str, last: dict[str, Any] | None) -> dict[str, Any]:
    """The role's index document, its last run (dry runs aside) being the latest seen."""
    doc: dict[str, Any] = docs.setdefault(role_path(role), {"recent": []})
    if last is not None and ("last" not in doc or key(last) >= key(doc["last"])):
        doc["last"] = last
    return doc


def add(day: dict[str, Any], r: RunRecord, sign: int) -> None:
    cell = day["roles"].setdefault(r.role, {}).setdefault(r.outcome, {})
    cell["runs"] = cell.get("runs", 0) + sign
    cell["cost_usd_micro"] = cell.get("cost_usd_micro", 0) + sign * round(r.cost_usd * 1e6)
    cell["delegations"] = cell.get("delegations", 0) + sign * len(r.delegated)
    for name in _TOKENS:
        cell[name] = cell.get(name, 0) + sign * int((r.usage or {}).get(name, 0))
    if cell["runs"] == 0:
        del day["roles"][r.role][r.outcome]
        if not day["roles"][r.role]:
            del day["roles"][r.role]


def build(records: Iterable[RunRecord], months: Iterable[dict[str, Any]] = ()) -> Docs:
    """Every index document, from every record and the monthly roll-ups of the records
    retention compacted (their tasks' first and last runs, their roles' last runs)."""
    docs: Docs = {LAYOUT: {"version": VERSION}}
    for month in months:
        for task, entry in month.get("tasks", {}).items():
            fold_task(docs, task, entry["first"], entry["last"])
        for role, last in month.get("last", {}).items():
            fold_role(docs, role, last)
    for r in records:
        update(docs, None, r)
    return docs


def dump(doc: Any) -> bytes:
    return (json.dumps(doc, indent=1, sort_keys=True) + "\n").encode()


def load_docs(git: Git, rev: str, paths: Iterable[str], oids: dict[str, str] | None = None) -> Docs:
    out: Docs = {}
    for path, raw in read_at(git, rev, paths, oids or {}).items():
        if raw is not None:
            try:
                out[path] = json.loads(raw)
            except ValueError:
                continue  # a corrupt index file is rebuilt from the records it covers
    return out


def read_at(
    git: Git, rev: str, paths: Iterable[str], oids: dict[str, str]
) -> dict[str, bytes | None]:
    """The contents of `paths` at `rev`, by blob id where `oids` (from a listing of `rev`)
    has it: `rev:path` makes git walk the path for every file, and at 200,000 runs the
    `runs/` tree has ~1,200 days, so reading a week's 1,200 records that way cost 0.6 s."""
    specs = {p: oids.get(p) or f"{rev}:{p}" for p in paths}
    blobs = git.read_blobs(dict.fromkeys(specs.values()))
    return {p: blobs[spec] for p, spec in specs.items()}


def is_indexed(docs: Docs) -> bool:
    layout = docs.get(LAYOUT)
    return isinstance(layout, dict) and layout.get("version") == VERSION


def derived(git: Git, base: str | None, files: dict[str, bytes | None]) -> dict[str, bytes | None]:
    """The index files to write with `files` in a commit built on `base`.

    A ledger written before indexes existed (records at `base`, no layout marker) is left
    alone until `fleet ledger migrate`: a partial index would be worse than none."""
    new = [(p, parse_record(raw)) for p, raw in files.items() if is_run_path(p)]
    records = [(p, r) for p, r in new if r is not None]
    if not records:
        return {}
    wanted = paths_for(r for _, r in records)
    if base is None:
        docs: Docs = {}
        olds: dict[str, bytes | None] = {}
    else:
        docs = load_docs(git, base, wanted)
        if not is_indexed(docs) and git.succeeds("cat-file", "-e", f"{base}:runs"):
            return {}
        blobs = git.read_blobs(f"{base}:{p}" for p, _ in records)
        olds = {p: blobs[f"{base}:{p}"] for p, _ in records}
    for path, record in records:
        update(docs, parse_record(olds.get(path)), record)
    return {p: dump(docs[p]) for p in wanted if p in docs}


@dataclass(frozen=True)
class Scope:
    """What a command reads of the ledger. Every consumer of run records computes from
    the last and first run per task, the last run per role, a role's latest runs, or the
    records of a period; the union of those is all it reads."""

    today: str | None = None  # every record of this day (spend, budgets)
    since: str | None = None  # every record of this day and later (status)
    tasks: bool = False  # the first and last run of every task (state derivation)
    roles: bool = False  # every role's last run (schedules)
    recent: tuple[str, ...] = ()  # these roles' latest runs, in full (sync, resume)


def read(git: Git, tip: str, scope: Scope) -> list[RunRecord] | None:
    """The runs `scope` asks for, oldest first; None when the ledger has no complete index
    (not migrated yet) or a day's records disagree with its roll-up (an older runner wrote
    without indexing): the caller then reads every record, slower but right."""
    dates = _dates(git, tip, scope)
    prefixes = [f"runs/{d}/" for d in dates]
    if scope.tasks:
        prefixes.append(TASKS)
    listed = _ls(git, tip, prefixes) if prefixes else {}
    shards = [p for p in listed if p.startswith(TASKS)]
    record_paths = [p for p in listed if is_run_path(p)]
    roles = _ls(git, tip, [ROLES]) if scope.roles else {}
    oids = {**listed, **roles}
    docs = load_docs(
        git,
        tip,
        [LAYOUT, *shards, *(day_path(d) for d in dates)]
        + [role_path(r) for r in scope.recent]
        + list(roles),
        oids,
    )
    if not is_indexed(docs) or not _counts_agree(docs, dates, record_paths):
        return None
    found: dict[str, RunRecord] = {}  # run_id -> record; full records replace summaries
    for doc in (docs[p] for p in shards if p in docs):
        for entry in doc.values():
            for s in (entry.get("first"), entry.get("last")):
                _put(found, s)
    for name, doc in docs.items():
        if name.startswith(ROLES) and (scope.roles or name[len(ROLES) : -5] in scope.recent):
            _put(found, doc.get("last"))
            if name[len(ROLES) : -5] in scope.recent:
                record_paths += [f"runs/{st[:10]}/{rid}.json" for st, rid in doc.get("recent", [])]
    for raw in read_at(git, tip, dict.fromkeys(record_paths), oids).values():
        record = parse_record(raw)
        if record is not None:
            found[record.run_id] = record
    return sorted(found.values(), key=lambda r: (r.started, r.run_id))


def _put(found: dict[str, RunRecord], s: Any) -> None:
    if isinstance(s, dict) and s.get("run_id") and s["run_id"] not in found:
        try:  # a summary holds only record fields (summary()): no need to filter them
            found[s["run_id"]] = RunRecord(**s)
        except TypeError:
            try:  # a newer runner's summary, with fields this one does not know
                found[s["run_id"]] = RunRecord.from_dict(s)
            except TypeError:
                return  # a summary missing a required field: the record is read in full


def _dates(git: Git, tip: str, scope: Scope) -> list[str]:
    dates = {scope.today} if scope.today else set()
    if scope.since is not None:
        out = git.run("ls-tree", "--name-only", "-z", tip, "--", "runs/")
        since = scope.since
        dates |= {p[5:] for p in out.split("\0") if p and p[5:] >= since}
    return sorted(dates)


def _ls(git: Git, tip: str, prefixes: list[str]) -> dict[str, str]:
    """path -> blob id of every file under `prefixes` at `tip`."""
    out = git.run("ls-tree", "-r", "-z", tip, "--", *prefixes)
    listed = {}
    for line in out.split("\0"):
        meta, _, path = line.partition("\t")
        if path:
            listed[path] = meta.rsplit(" ", 1)[-1]
    return listed


def _counts_agree(docs: Docs, dates: list[str], paths: list[str]) -> bool:
    counts: dict[str, int] = {}
    for p in paths:
        counts[p[5:15]] = counts.get(p[5:15], 0) + 1
    for d in dates:
        day = docs.get(day_path(d))
        if counts.get(d, 0) != (day.get("records", 0) if isinstance(day, dict) else 0):
            return False
    return True


def rollups(git: Git, rev: str, since_date: str) -> list[RollUp]:
    """The compacted cells of every day from `since_date` on (status totals read them
    where the records are gone)."""
    listed = git.run("ls-tree", "--name-only", "-z", rev, "--", MONTHS)
    paths = [p for p in listed.split("\0") if p and p[len(MONTHS) :][:7] >= since_date[:7]]
    out = []
    for doc in load_docs(git, rev, paths).values():
        for day, roles in doc.get("days", {}).items() if isinstance(doc, dict) else ():
            if day < since_date:
                continue
            for role, cells in roles.items():
                for outcome, c in cells.items():
                    out.append(RollUp.from_cell(day, role, outcome, c))
    return sorted(out, key=lambda u: (u.date, u.role, u.outcome))
