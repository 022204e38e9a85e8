"""`fleet ledger check | repair | migrate`: the index files against the records.

Everything under `ledger/` but `months/` is a function of `runs/` and `months/` (the
roll-ups of compacted records: ledger_retention; ledger_index.build), so checking is a
comparison and repairing is writing the difference. Repair and migrate are one commit
built on the state branch's tip through the publish-retry loop: a killed migrate changed
nothing and runs again from the start; on a migrated, consistent ledger it declines
(idempotent); a writer landing meanwhile makes it rebuild on the new tip. Records are
cached by blob id, so a rebuild reads only what the other writer added.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from runner import ledger_index as li
from runner.gitrepo import Git
from runner.records import RunRecord
from runner.state import StateStore


@dataclass
class Report:
    """The differences between the index files and what the records say they must be."""

    records: int = 0
    indexed: bool = False
    missing: list[str] = field(default_factory=list)  # files the records need, absent
    wrong: list[str] = field(default_factory=list)  # present, with other content
    extra: list[str] = field(default_factory=list)  # present, covering no record

    @property
    def ok(self) -> bool:
        return self.indexed and not (self.missing or self.wrong or self.extra)

    def lines(self, limit: int = 20) -> list[str]:
        """One line per differing file (at most `limit` per kind, then a count)."""
        out = []
        for kind in ("missing", "wrong", "extra"):
            paths = getattr(self, kind)
            out += [f"{kind}: {p}" for p in paths[:limit]]
            if len(paths) > limit:
                out.append(f"{kind}: ... and {len(paths) - limit} more")
        return out


class _Records:
    """Every run record at a commit, read once per blob id across rebuilds."""

    def __init__(self, git: Git) -> None:
        self.git = git
        self.by_blob: dict[str, RunRecord | None] = {}

    def at(self, rev: str) -> list[RunRecord]:
        out = self.git.run("ls-tree", "-r", "-z", rev, "--", "runs/")
        blobs = {}
        for line in out.split("\0"):
            if not line:
                continue
            meta, path = line.split("\t", 1)
            if li.is_run_path(path):
                blobs[meta.split()[2]] = path
        new = [b for b in blobs if b not in self.by_blob]
        for blob, raw in self.git.read_blobs(new).items():
            self.by_blob[blob] = li.parse_record(raw)
        return [r for b in blobs if (r := self.by_blob[b]) is not None]


def _diff(git: Git, rev: str, records: list[RunRecord]) -> tuple[Report, li.Docs, li.Docs]:
    """(report, expected docs, present docs) at `rev`."""
    listed = git.run("ls-tree", "-r", "--name-only", "-z", rev, "--", "ledger/")
    paths = [p for p in listed.split("\0") if p]
    raw = git.read_blobs(f"{rev}:{p}" for p in paths)
    present: dict[str, Any] = {}
    months = []
    for p in paths:
        try:
            doc = json.loads(raw[f"{rev}:{p}"] or b"")
        except ValueError:
            doc = None  # unreadable: "wrong"
        if p.startswith(li.MONTHS):  # compacted records: data, not derived from records
            months.append(doc if isinstance(doc, dict) else {})
        else:
            present[p] = doc
    expected = li.build(records, months)
    report = Report(len(records), li.is_indexed(present))
    report.missing = sorted(p for p in expected if p not in present)
    report.wrong = sorted(p for p in expected if p in present and present[p] != expected[p])
    report.extra = sorted(p for p in present if p not in expected)
    return report, expected, present


def check(store: StateStore) -> Report:
    tip = store.tip()
    if not tip:
        return Report(indexed=True)
    return _diff(store.git, tip, _Records(store.git).at(tip))[0]


def repair(store: StateStore, message: str = "ledger: rebuild the index") -> Report:
    """Write the index the records call for, in one commit; the report says what changed
    (nothing, when the ledger was consistent: then no commit is made)."""
    records = _Records(store.git)
    result = Report(indexed=True)

    def build(base: str | None) -> str | None:
        nonlocal result
        if base is None:
            result = Report(indexed=True)
            return None
        report, expected, _ = _diff(store.git, base, records.at(base))
        result = report
        if report.ok:
            return None
        files: dict[str, bytes | None] = dict.fromkeys(report.extra)
        files.update({p: li.dump(expected[p]) for p in report.missing + report.wrong})
        return store._commit(base, files, message)

    store._land(build)
    return result
