"""The one place the wall clock is read. FLEET_NOW fixes it (tests, replays)."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime


def now(environ: Mapping[str, str]) -> datetime:
    fixed = environ.get("FLEET_NOW")
    if fixed:
        return parse(fixed)
    return datetime.now(UTC).replace(microsecond=0)


def parse(text: str) -> datetime:
    """An ISO 8601 time, as UTC; ValueError on anything else."""
    value = datetime.fromisoformat(text.replace("Z", "+00:00"))
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return value.astimezone(UTC)


def iso(value: datetime) -> str:
    return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
