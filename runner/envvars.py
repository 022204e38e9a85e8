"""Numbers the runner reads from the environment, checked where they enter.

A mistyped setting (FLEET_GITHUB_RETRIES=abc) is a configuration error naming the
variable and what it accepts, never a ValueError traceback from deep inside a client.
"""

from __future__ import annotations

from collections.abc import Mapping

from runner.errors import ConfigError


def number(environ: Mapping[str, str], name: str, default: float, *, minimum: float = 0.0) -> float:
    """`name` as a number of at least `minimum`; unset or empty means `default`."""
    raw = environ.get(name, "").strip()
    if not raw:
        return default
    try:
        value = float(raw)
    except ValueError:
        value = float("nan")
    if not value >= minimum or value == float("inf"):  # also rejects nan
        raise ConfigError(
            f"{name}={raw!r} is not a number of at least {minimum:g}",
            hint=f"set {name} to a number such as {default:g}, or unset it (default {default:g})",
        )
    return value


def integer(environ: Mapping[str, str], name: str, default: int, *, minimum: int = 0) -> int:
    """`name` as a whole number of at least `minimum`; unset or empty means `default`."""
    value = number(environ, name, default, minimum=minimum)
    if value != int(value):
        raise ConfigError(
            f"{name}={environ.get(name, '').strip()!r} is not a whole number",
            hint=f"set {name} to a whole number such as {default}, or unset it",
        )
    return int(value)
