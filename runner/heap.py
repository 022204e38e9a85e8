"""The cycle collector around what a command loads once and keeps until it exits.

Loading 10,000 task files builds a few hundred thousand objects that all live until the
command ends, so the collector's passes over them find nothing; yet every full pass
re-traverses them, and the ledger read that follows (tens of thousands of run summaries
at 200,000 runs) triggers several: measured, they were a third of what `fleet plan`
grew between 5,000 and 200,000 ledger runs. So loading runs with the collector paused,
and in a CLI process (`own()`, called by its entry point) what is alive afterwards is
frozen (`gc.freeze`): later passes skip it; cycles made later are still collected.
Inside a long-lived host (the test suite) nothing is frozen: garbage alive at a freeze
would never be collected there. A CLI process pays that at most once per load or ledger
read (a tick: a few times), for the cycles awaiting collection at that moment.
"""

from __future__ import annotations

import gc
from collections.abc import Iterator
from contextlib import contextmanager

_owned = False


def own() -> None:
    """This process is one command: what it loads lives until it exits."""
    global _owned
    _owned = True


@contextmanager
def long_lived() -> Iterator[None]:
    was = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if _owned:
            gc.freeze()
        if was:
            gc.enable()
