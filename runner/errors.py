"""The one family of errors a command may end with, and what each means for the caller.

A leaf module. Every failure the runner foresees is a `FleetError`: its message says what
went wrong and where, its `hint` what to do, and its `exit_code` is the contract with the
shell (1: the work failed, 2: the command or the configuration is wrong). The CLI's one
handler turns them into a one-line message; anything else is a bug and is reported as
an internal error.
"""

from __future__ import annotations


class FleetError(Exception):
    """A foreseen failure: exit 1 unless a subclass says otherwise."""

    exit_code: int = 1
    hint: str | None = None  # what to do about it, shown under the message

    def __init__(self, message: str = "", *, hint: str | None = None) -> None:
        super().__init__(message)
        if hint is not None:
            self.hint = hint


class ConfigError(FleetError):
    """The fleet, the repository or the environment cannot be acted on as it is."""

    exit_code = 2


class UsageError(FleetError):
    """The command was called wrongly (an unknown role, a task of another role, ...)."""

    exit_code = 2
