"""Named fault points, so tests can kill a real runner process at each side effect.

`FLEET_FAULT=after:<point>:<action>[@<n>]` (comma-separated for several) makes the
runner, right after the n-th time (default: the first) it reaches `<point>`, do
`<action>`: `kill` (SIGKILL itself: nothing runs after, like a lost machine), `term`
(SIGTERM itself, like a cancelled Actions job) or `int` (SIGINT). Points are named where
they are hit (`faults.hit("pr_create")`); `POINTS` lists them for the crash-matrix
tests. Unset, a hit costs one dictionary lookup.

This is a test hook that ships in the runner on purpose: the crash matrix must kill
the real `fleet` command between real side effects, and there is no other way to stop
a process between two lines of its own code.
"""

from __future__ import annotations

import os
import signal

POINTS = (
    "lease",  # the task's lease is held; nothing else written yet
    "ledger_start",  # the run record `running` is on fleet-state
    "commit",  # a work-branch commit was made (and pushed, when there is a remote)
    "push",  # the work branch was pushed
    "pr",  # the PR was opened or updated
    "claim",  # an escalation was claimed on fleet-state (before its issue exists)
    "issue",  # the escalation issue was created (its claim not yet updated with its number)
    "escalation",  # the escalation issue was opened (or a repeat noted on it)
    "ledger_finish",  # the run record is complete and the checkpoint moved
)
_ACTIONS = {"kill": signal.SIGKILL, "term": signal.SIGTERM, "int": signal.SIGINT}
_seen: dict[str, int] = {}


def hit(point: str) -> None:
    """A side effect just happened at `point`; do what FLEET_FAULT asks there, if anything."""
    spec = os.environ.get("FLEET_FAULT")
    if not spec:
        return
    _seen[point] = _seen.get(point, 0) + 1
    for part in spec.split(","):
        when, _, rest = part.strip().partition(":")
        name, _, action = rest.partition(":")
        action, _, nth = action.partition("@")
        if when == "after" and name == point and _seen[point] == int(nth or "1"):
            os.kill(os.getpid(), _ACTIONS[action])
