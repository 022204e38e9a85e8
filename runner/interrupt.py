"""SIGINT and SIGTERM as a clean stop: a cancelled run commits what it has and says so.

GitHub Actions cancels a job with SIGINT, then SIGTERM 7.5 s later, then SIGKILL. The
first signal raises `Cancelled` in the main thread wherever it is (a model call, a tool
command, a git push); the run's handlers then kill the tool's process group, commit the
work so far and record the run `cancelled`. Later signals are noted and ignored, so
that clean-up is not itself interrupted.
"""

from __future__ import annotations

import signal
from collections.abc import Iterator
from contextlib import contextmanager
from types import FrameType

SIGNALS = (signal.SIGINT, signal.SIGTERM)


class Cancelled(BaseException):
    """The job was asked to stop. A BaseException, so no `except Exception` swallows it."""

    def __init__(self, signum: int) -> None:
        self.signum = signum
        super().__init__(f"cancelled by {self.signame}")

    @property
    def signame(self) -> str:
        return signal.Signals(self.signum).name


@contextmanager
def cancellable() -> Iterator[None]:
    """Within the block, the first SIGINT/SIGTERM raises Cancelled; later ones are ignored
    until the block ends. Handlers are restored on the way out."""
    seen: list[int] = []

    def handler(signum: int, frame: FrameType | None) -> None:
        seen.append(signum)
        if len(seen) == 1:
            raise Cancelled(signum)

    previous = {s: signal.signal(s, handler) for s in SIGNALS}
    try:
        yield
    finally:
        for s, h in previous.items():
            signal.signal(s, h)
