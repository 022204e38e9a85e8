"""Task leases on the state branch: at most one live run per task, and a dead run's task
free again within minutes.

A lease is one file, `leases/<task>.json`, holding the run that owns the task and the
time it `expires`. It is taken with the state store's compare-and-swap (a push is atomic,
so of two racing runs exactly one wins), kept alive by a heartbeat thread that moves
`expires` forward every `heartbeat_s` seconds, and deleted when the run ends. A lease past
its `expires` is dead (its run was killed or lost its machine) and may be taken over.

The same file serves a run without a heartbeat: a privileged step (the apply job of the
two-phase split) can write a lease whose `expires` is a fixed deadline, e.g. the agent
job's timeout; `heartbeat` is then false and nothing renews it.
"""

from __future__ import annotations

import _thread
import signal
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from runner.clock import iso, parse
from runner.state import DELETE, StateStore


class LeaseConfigError(ValueError):
    """FLEET_LEASE_TTL or FLEET_LEASE_HEARTBEAT is not a usable number of seconds."""


@dataclass(frozen=True)
class LeaseTerms:
    ttl_s: float = 300.0  # a run silent this long is dead
    heartbeat_s: float = 60.0  # how often a live run says so

    @classmethod
    def from_env(cls, environ: Mapping[str, str]) -> LeaseTerms:
        values = []
        for name, default in (("FLEET_LEASE_TTL", cls.ttl_s), ("FLEET_LEASE_HEARTBEAT", None)):
            text = environ.get(name, "").strip()
            try:
                values.append(float(text) if text else default)
            except ValueError:
                raise LeaseConfigError(f"{name}={text!r} is not a number of seconds") from None
        ttl, beat = values
        assert ttl is not None
        beat = beat if beat is not None else min(cls.heartbeat_s, ttl / 5)
        if not 0 < beat < ttl:
            raise LeaseConfigError(
                f"the lease heartbeat ({beat} s) must be positive and shorter than its "
                f"TTL ({ttl} s); set FLEET_LEASE_HEARTBEAT below FLEET_LEASE_TTL"
            )
        return cls(ttl, beat)


def lease_path(task: str) -> str:
    return f"leases/{task}.json"


def is_live(data: Mapping[str, Any], now: datetime) -> bool:
    try:
        return parse(str(data["expires"])) > now
    except (KeyError, ValueError):
        return False  # unreadable: nobody can be shown to hold it


def live_leases(store: StateStore, now: datetime) -> dict[str, dict[str, Any]]:
    """task id -> the live lease on it."""
    import json

    paths = [p for p in store.list("leases/") if p.endswith(".json")]
    out = {}
    for path, raw in store.read_many(paths).items():
        try:
            data = json.loads(raw or b"")
        except ValueError:
            continue
        if isinstance(data, dict) and is_live(data, now):
            out[path[len("leases/") : -len(".json")]] = data
    return out


def release(store: StateStore, task: str, run_id: str) -> None:
    """Free `task` if `run_id` still holds it (whoever took it over keeps it)."""

    def change(old: dict[str, Any] | None) -> object | None:
        return DELETE if old is not None and old.get("run_id") == run_id else None

    store.update(lease_path(task), change, f"lease {task}: released by {run_id}")


@dataclass
class Lease:
    """The lease one run holds on its task."""

    store: StateStore
    task: str
    role: str
    run_id: str
    run_record: str  # the run's record path, so whoever takes a dead lease can close it
    clock: Callable[[], datetime]
    terms: LeaseTerms
    heartbeat: bool = True  # False: a fixed deadline (now + ttl) that nothing renews
    taken_over: dict[str, Any] | None = None  # the dead lease this one replaced
    lost: bool = False
    _stop: threading.Event | None = None
    _thread: threading.Thread | None = None

    def _data(self) -> dict[str, Any]:
        now = self.clock()
        return {
            "task": self.task,
            "role": self.role,
            "run_id": self.run_id,
            "run_record": self.run_record,
            "renewed": iso(now),
            "expires": iso(now + timedelta(seconds=self.terms.ttl_s)),
            "heartbeat": self.heartbeat,
        }

    def acquire(self) -> dict[str, Any] | None:
        """Take the lease; None when taken, else the live lease that holds the task."""
        holder: dict[str, Any] = {}

        def change(old: dict[str, Any] | None) -> dict[str, Any] | None:
            holder.clear()
            if old is not None and is_live(old, self.clock()) and old.get("run_id") != self.run_id:
                holder.update(old)
                return None
            self.taken_over = old
            return self._data()

        if not self.store.update(
            lease_path(self.task), change, f"lease {self.task}: {self.run_id}"
        ):
            return holder or {"run_id": "?", "expires": "?"}
        return None

    def renew(self) -> bool:
        """Move `expires` forward; False when the lease is no longer this run's."""
        mine: list[bool] = []

        def change(old: dict[str, Any] | None) -> dict[str, Any] | None:
            mine[:] = [old is not None and old.get("run_id") == self.run_id]
            return self._data() if mine[0] else None

        self.store.update(lease_path(self.task), change, f"lease {self.task}: heartbeat")
        return bool(mine and mine[0])

    def release(self) -> None:
        self.stop_heartbeat()
        release(self.store, self.task, self.run_id)

    def start_heartbeat(self) -> None:
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._beat, name="fleet-lease", daemon=True)
        self._thread.start()

    def stop_heartbeat(self) -> None:
        if self._stop is not None and self._thread is not None:
            self._stop.set()
            self._thread.join()
            self._stop = self._thread = None

    def _beat(self) -> None:
        """Renew until stopped. A renewal can fail (network): the lease stays valid until
        it expires, so keep trying; once it is gone (expired and taken), this run must stop
        calling the model, so the main thread is interrupted like a cancelled job."""
        assert self._stop is not None
        deadline = self.clock() + timedelta(seconds=self.terms.ttl_s)
        while not self._stop.wait(self.terms.heartbeat_s):
            try:
                if self.renew():
                    deadline = self.clock() + timedelta(seconds=self.terms.ttl_s)
                    continue
                self.lost = True
            except Exception:  # a failed renewal is retried at the next beat
                self.lost = self.clock() >= deadline
            if self.lost:
                _thread.interrupt_main(signal.SIGTERM)  # no-op unless a handler is installed
                return
