"""The one place the wall clock is read.

A command opens one `Clock` at its edge (`from_env`) and everything reads time from it.
`FLEET_NOW` fixes where time *starts* (tests, replays, a what-if plan); time then advances
at the wall clock's pace, so a run that takes 4.5 s is recorded as taking it. The first
reading of a fixed-start clock is exactly `FLEET_NOW`, so a command that reads the time
once at its start (a plan, a status) is reproducible to the second.

`skew` says how far the clock runs ahead of the wall clock; the GitHub forge uses it to
read GitHub's (wall-clock) timestamps on this clock, so comparisons between the two never
drop an answer when `FLEET_NOW` is ahead of the real time.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from datetime import UTC, datetime, timedelta
from typing import Protocol


class Clock(Protocol):
    def now(self) -> datetime:
        """The current time, UTC, whole seconds."""
        ...

    @property
    def skew(self) -> timedelta:
        """How far this clock runs ahead of the wall clock."""
        ...


def _wall() -> datetime:
    return datetime.now(UTC)


class SystemClock:
    """The wall clock."""

    def __init__(self, wall: Callable[[], datetime] = _wall) -> None:
        self._wall = wall

    def now(self) -> datetime:
        return self._wall().astimezone(UTC).replace(microsecond=0)

    @property
    def skew(self) -> timedelta:
        return timedelta(0)


class FixedStartClock:
    """Starts at `start` on its first reading, then advances with a monotonic clock
    (never backwards, whatever the wall clock does)."""

    def __init__(
        self,
        start: datetime,
        monotonic: Callable[[], float] = time.monotonic,
        wall: Callable[[], datetime] = _wall,
    ) -> None:
        self.start = start.astimezone(UTC)
        self._monotonic = monotonic
        self._wall = wall
        self._t0: float | None = None
        self._skew: timedelta | None = None

    def _begin(self) -> float:
        if self._t0 is None:
            self._t0 = self._monotonic()
            self._skew = self.start - self._wall().astimezone(UTC)
        return self._t0

    def now(self) -> datetime:
        t0 = self._begin()
        elapsed = timedelta(seconds=max(0.0, self._monotonic() - t0))
        return (self.start + elapsed).replace(microsecond=0)

    @property
    def skew(self) -> timedelta:
        self._begin()
        assert self._skew is not None
        return self._skew


def from_env(environ: Mapping[str, str]) -> Clock:
    """The system clock, or a fixed-start clock from `FLEET_NOW` (ValueError if that is
    not an ISO 8601 time)."""
    fixed = environ.get("FLEET_NOW")
    if fixed:
        return FixedStartClock(parse(fixed))
    return SystemClock()


def now(environ: Mapping[str, str]) -> datetime:
    """One reading of the environment's clock (for a command that needs only one)."""
    return from_env(environ).now()


def parse(text: str) -> datetime:
    """An ISO 8601 time, as UTC; ValueError on anything else."""
    value = datetime.fromisoformat(text.replace("Z", "+00:00"))
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return value.astimezone(UTC)


def iso(value: datetime) -> str:
    return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
