"""The `fleet-state` branch: run records, checkpoints and local-forge records.

One file per fact (`runs/<date>/<run-id>.json`, `checkpoints/<role>.json`, ...), so
concurrent jobs never write the same path. Commits are built with plumbing in a private
index: the user's work tree, index and HEAD are never touched. A push rejected because
another job pushed first is rebuilt on the new tip and retried, a bounded number of times.
"""

from __future__ import annotations

import json
import random
import secrets
import tempfile
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import asdict
from datetime import datetime
from pathlib import Path
from typing import Any

from runner import faults, ledger_index, schema, transcripts
from runner.errors import FleetError
from runner.gitrepo import Git, GitError
from runner.records import (
    Checkpoint,  # re-exported: older code imports it from here
    RollUp,
    RunRecord,
)

IDENTITY = {
    "GIT_AUTHOR_NAME": "fleet-runner",
    "GIT_AUTHOR_EMAIL": "fleet-runner@users.noreply.github.com",
    "GIT_COMMITTER_NAME": "fleet-runner",
    "GIT_COMMITTER_EMAIL": "fleet-runner@users.noreply.github.com",
}
_RETRYABLE = (
    "non-fast-forward",
    "fetch first",
    "[rejected]",
    "cannot lock ref",
    "failed to update ref",
)


DELETE = object()  # what an `update` change returns to delete the file
ATTEMPTS = 100  # publishes of one write before StateConflict (bench_writers.py: 20 writers, max 76)
BACKOFF_BASE_S = 0.05
BACKOFF_CAP_S = 4.0


def backoff(attempt: int, draw: Callable[[float, float], float] = random.uniform) -> float:
    """The wait after the `attempt`-th rejected publish: exponential with full jitter,
    uniform in [0, min(cap, base * 2**(attempt - 1))].

    Writers that lost a race to the same tip must not retry in step: a fixed or linear
    wait keeps them colliding, so every round one lands and the rest retry again, and
    with 20 matrix jobs the last ones ran out of their 12 attempts. Doubling the window
    spreads the losers over time, drawing from the whole window keeps them apart, and the
    cap bounds the wait: about six minutes over all attempts in the worst case, seconds
    in practice (`benchmarks/bench_writers.py` prints the distribution)."""
    return draw(0, min(BACKOFF_CAP_S, BACKOFF_BASE_S * 2 ** (attempt - 1)))


class StateConflict(FleetError):
    """Could not land a state commit after the allowed number of attempts."""


class StateStore:
    def __init__(
        self,
        git: Git,
        branch: str = "fleet-state",
        remote: str | None = "origin",
        *,
        attempts: int = ATTEMPTS,
        sleep: Callable[[float], None] = time.sleep,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self.git = git
        self.branch = branch
        self.remote = remote if remote and git.has_remote(remote) else None
        self.attempts = attempts
        self.sleep = sleep
        self.monotonic = monotonic
        self.rejected = 0  # publishes refused because another writer landed first
        # this store's last publish: when, how long it took, and whether another writer
        # was active (its attempt was refused, or the tip had moved past our last commit)
        self._landed: tuple[float, float, bool] | None = None
        self._last_commit: str | None = None
        self.local_ref = f"refs/heads/{branch}"
        self.remote_ref = f"refs/remotes/{self.remote}/{branch}" if self.remote else None
        self._fetched = False
        self._shallow: bool | None = None
        # A run's heartbeat thread writes leases while the run writes its ledger: one
        # writer at a time per process (git's ref locks would fail the loser otherwise).
        self._lock = threading.RLock()

    # -- reading --------------------------------------------------------------------

    def tip(self) -> str | None:
        if self.remote and not self._fetched:
            self.refresh()
        return self.git.rev(self.remote_ref or self.local_ref) or self.git.rev(self.local_ref)

    def refresh(self) -> None:
        """Fetch the remote state branch (a shallow Actions checkout does not have it)."""
        with self._lock:
            self._refresh()

    def _refresh(self) -> None:
        self._fetched = True
        if not self.remote:
            return
        if self._shallow is None:
            self._shallow = self.git.is_shallow()
        # a shallow checkout (Actions) takes the ledger's tip alone: a write needs its tree,
        # and the push carries only the new commit, whose parent the remote has
        depth = ["--depth=1"] if self._shallow else []
        try:
            self.git.run(
                "fetch", "--quiet", "--no-tags", *depth, self.remote,
                f"+{self.local_ref}:{self.remote_ref}",
            )  # fmt: skip
        except GitError as exc:
            if "couldn't find remote ref" not in exc.stderr or self.remote_ref is None:
                raise
            self.git.run("update-ref", "-d", self.remote_ref)

    def list(self, prefix: str) -> list[str]:
        tip = self.tip()
        if not tip:
            return []
        out = self.git.run("ls-tree", "-r", "--name-only", "-z", tip, "--", prefix)
        return [p for p in out.split("\0") if p]

    def read_many(self, paths: Iterable[str]) -> dict[str, bytes | None]:
        tip = self.tip()
        paths = list(paths)
        if not tip:
            return dict.fromkeys(paths)
        blobs = self.git.read_blobs(f"{tip}:{p}" for p in paths)
        return {p: blobs[f"{tip}:{p}"] for p in paths}

    def read_json(self, path: str) -> Any | None:
        raw = self.read_many([path])[path]
        return None if raw is None else json.loads(raw)

    # -- writing --------------------------------------------------------------------

    def write(self, files: dict[str, bytes | None], message: str) -> str:
        """Commit `files` (None deletes) on top of the current tip and publish it; run
        records bring their index files (ledger_index), computed from the same tip."""

        commit = self._land(lambda base: self._indexed(base, files, message))
        assert commit is not None  # this build never declines
        return commit

    def write_json(self, path: str, data: Any, message: str) -> str:
        return self.write({path: _json(data)}, message)

    def claim(
        self,
        path: str,
        data: dict[str, Any],
        stale: Callable[[dict[str, Any]], bool] = lambda old: False,
    ) -> bool:
        """Create `path` only if it is absent (or `stale` says its content is dead).

        A push is atomic on the remote, so of several jobs claiming the same path exactly
        one wins: a lock that needs nothing but git (used so that two racing runs never
        open the same escalation issue twice)."""
        # The nonce keeps two claimers' commits distinct: identical content, author and
        # second would make the loser's push an "up to date" no-op that succeeds.
        unique = {**data, "nonce": secrets.token_hex(8)}
        return self.update(
            path,
            lambda old: unique if old is None or stale(old) else None,
            f"claim {path}",
        )

    def update(self, path: str, change: Callable[[Any | None], Any | None], message: str) -> bool:
        """Compare-and-swap one JSON file: `change(old)` (None when absent) returns the
        new content, `DELETE`, or None to leave it; the decision is made again on the
        newest tip whenever another writer landed first. True when a change landed."""

        def build(base: str | None) -> str | None:
            old = None
            if base:
                raw = self.git.read_blobs([f"{base}:{path}"])[f"{base}:{path}"]
                old = json.loads(raw) if raw else None
            new = change(old)
            if new is None:
                return None
            if new is DELETE:
                return self._commit(base, {path: None}, message) if old is not None else None
            return self._indexed(base, {path: _json(new)}, message)

        return self._land(build) is not None

    def _land(self, build: Callable[[str | None], str | None]) -> str | None:
        """Build a commit on the current tip and publish it; when another job published
        first, build again on its tip (bounded). `build` returns None to decline."""
        with self._lock:
            return self._land_locked(build)

    def _land_locked(self, build: Callable[[str | None], str | None]) -> str | None:
        self._yield()
        self._fetched = False  # a write starts from a fresh fetch, not its own last tip
        for attempt in range(1, self.attempts + 1):
            started = self.monotonic()
            base = self.tip()
            commit = build(base)
            if commit is None:
                return None
            if self._publish(base, commit):
                landed = self.monotonic()
                others = attempt > 1 or (self._last_commit not in (None, base))
                self._landed = (landed, landed - started, others)
                self._last_commit = commit
                return commit
            self.rejected += 1
            self._fetched = False
            self.sleep(backoff(attempt))
        raise StateConflict(
            f"could not update {self.branch} after {self.attempts} attempts: other jobs kept "
            "pushing first; re-run the job"
        )

    def _yield(self) -> None:
        """A writer that published a moment ago lets the others in first.

        An attempt (fetch, build, push) lands only if no other push lands while it runs.
        A writer that writes again right after publishing starts its attempt as soon as
        the tip moves, so a writer that lost, starting later, always finds the tip moved
        again before it pushes: with 20 writers looping, 475 of 500 records landed at once
        and the others waited through 32 rejections (Ethernet's capture effect; backoff
        alone makes it worse). Waiting a jittered span of about one attempt after a
        publish, only when the next write comes that soon and another writer was active
        at the last one, leaves a window to the others; a lone writer (a run's start,
        progress and finish a second apart, nobody else writing) never waits: it used to
        sleep on every quick second write."""
        if self._landed is None:
            return
        when, took, others = self._landed
        if others and self.monotonic() - when < 2 * took:
            self.sleep(random.uniform(0, 2 * took))

    def _publish(self, base: str | None, commit: str) -> bool:
        if not self.remote:
            try:
                self.git.run("update-ref", self.local_ref, commit, base or "0" * 40)
            except GitError:
                return False  # another local process moved the ref: rebuild on its tip
            return True
        try:
            self.git.run("push", "--quiet", self.remote, f"{commit}:{self.local_ref}")
        except GitError as exc:
            if any(marker in exc.stderr or marker in str(exc) for marker in _RETRYABLE):
                return False
            raise
        assert self.remote_ref
        self.git.run("update-ref", self.remote_ref, commit)
        self.git.run("update-ref", self.local_ref, commit)
        return True

    def _indexed(self, base: str | None, files: dict[str, bytes | None], message: str) -> str:
        """`_commit` with the index files the run records among `files` change, computed
        from the same base (a rebuilt commit folds them into the new tip's index)."""
        return self._commit(base, {**files, **ledger_index.derived(self.git, base, files)}, message)

    def _commit(self, base: str | None, files: dict[str, bytes | None], message: str) -> str:
        with tempfile.TemporaryDirectory(prefix="fleet-state-") as tmp:
            env = {**IDENTITY, "GIT_INDEX_FILE": str(Path(tmp) / "index")}
            if base:
                self.git.run("read-tree", base, env=env)
            lines = []
            for path, data in sorted(files.items()):
                if data is None:
                    lines.append(f"0 {'0' * 40}\t{path}")
                else:
                    blob = self.git.run("hash-object", "-w", "--stdin", input=data).strip()
                    lines.append(f"100644 {blob}\t{path}")
            self.git.run("update-index", "--index-info", input="\n".join(lines) + "\n", env=env)
            tree = self.git.run("write-tree", env=env).strip()
            parents = ["-p", base] if base else []
            return self.git.run("commit-tree", tree, *parents, "-m", message, env=env).strip()


def new_run_id(role: str, started: datetime) -> str:
    return f"{started.strftime('%Y%m%dT%H%M%SZ')}-{role}-{secrets.token_hex(3)}"


def run_path(record: RunRecord) -> str:
    return f"runs/{record.date}/{record.run_id}.json"


class Ledger:
    """Run records and checkpoints on the state branch."""

    def __init__(self, store: StateStore) -> None:
        self.store = store

    def start(self, record: RunRecord, killed: RunRecord | None = None) -> None:
        """Record a run before it does anything, so a killed run stays visible; `killed`
        is the dead run whose task this one took over, closed in the same commit."""
        files: dict[str, bytes | None] = {run_path(record): _dump(record)}
        if killed is not None:
            files[run_path(killed)] = _dump(killed)
        self.store.write(files, f"run {record.run_id}: start {record.role}/{record.task}")
        faults.hit("ledger_start")

    def finish(
        self,
        record: RunRecord,
        checkpoint: Checkpoint | None = None,
        transcript: dict[str, Any] | None = None,
    ) -> None:
        """Complete a run and, in the same commit, move its role's checkpoint and store
        its (redacted) transcript, which the record points at by path and digest."""
        files: dict[str, bytes | None] = {}
        if transcript is not None:
            blob, record.transcript = transcripts.pack(transcript)
            files[record.transcript["path"]] = blob
        files[run_path(record)] = _dump(record)
        if checkpoint is not None:
            files[f"checkpoints/{checkpoint.role}.json"] = _json(asdict(checkpoint))
        self.store.write(files, f"run {record.run_id}: {record.outcome}")

    def runs(self, since_date: str | None = None) -> list[RunRecord]:
        """Run records, oldest first; dates before `since_date` (YYYY-MM-DD) are skipped."""
        paths = [
            p
            for p in self.store.list("runs/")
            if p.endswith(".json") and (since_date is None or p[5:15] >= since_date)
        ]
        records = []
        for raw in self.store.read_many(paths).values():
            if raw is None:
                continue
            try:
                data = json.loads(raw)
            except ValueError:
                continue  # a record we cannot read is skipped, never fatal
            if schema.is_readable(data, "run"):  # a newer runner's fields are ignored
                records.append(RunRecord.from_dict(data))
        return sorted(records, key=lambda r: (r.started, r.run_id))

    def select(self, scope: ledger_index.Scope) -> list[RunRecord]:
        """The runs `scope` asks for, oldest first: through the index, or every record on a
        ledger not migrated yet (or whose index an older runner left behind)."""
        tip = self.store.tip()
        if not tip:
            return []
        found = ledger_index.read(self.store.git, tip, scope)
        return self.runs() if found is None else found

    def record(self, path: str) -> RunRecord | None:
        """One run record in full, by path: what a writer reads before rewriting a run
        it knows only from an index summary (`select` returns summaries)."""
        return ledger_index.parse_record(self.store.read_many([path])[path])

    def rollups(self, since_date: str) -> list[RollUp]:
        """What retention compacted from `since_date` (YYYY-MM-DD) on: status counts it
        where the records are gone."""
        tip = self.store.tip()
        return ledger_index.rollups(self.store.git, tip, since_date) if tip else []

    def checkpoint(self, role: str) -> Checkpoint | None:
        data = self.store.read_json(f"checkpoints/{role}.json")
        return Checkpoint.from_dict(data) if isinstance(data, dict) else None


def _dump(record: RunRecord) -> bytes:
    data = record.to_dict()
    if not schema.is_valid(data, "run"):
        raise ValueError(f"run record {record.run_id} does not match run.schema.json: {data}")
    return _json(data)


def _json(data: Any) -> bytes:
    return (json.dumps(data, indent=2, sort_keys=True) + "\n").encode()
