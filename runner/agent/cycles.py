"""Loop detection over the sequence of tool calls, beyond exact repeats of one call.

A model that alternates successful calls (read a, read b, read a, read b, ...) makes no
progress yet never repeats a failing call, and used to run to `max_turns`. Each call is
keyed by its name, its input and a digest of its result: the same calls giving the same
results are no progress, while a call whose result changed (a file was edited in
between) breaks the cycle. A cycle is the last `repeats * p` keys repeating with period
`p`, for `p` from 1 to `max_period`.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from typing import Any

MAX_PERIOD = 4
REPEATS = 3


def key(name: str, args: Any, result: str, is_error: bool) -> str:
    digest = hashlib.sha256(f"{is_error}\0{result}".encode()).hexdigest()[:16]
    return json.dumps([name, args, digest], sort_keys=True, default=str)


def period(keys: Sequence[str], max_period: int = MAX_PERIOD, repeats: int = REPEATS) -> int:
    """The shortest period of a cycle at the end of `keys` (0: no cycle)."""
    for p in range(1, max_period + 1):
        n = p * repeats
        if len(keys) < n:
            break
        tail = keys[-n:]
        if all(tail[i] == tail[i + p] for i in range(n - p)):
            return p
    return 0


def describe(keys: Sequence[str], p: int) -> str:
    """The calls of one cycle, for the escalation ("read_file {...} -> search {...}")."""
    calls = []
    for k in keys[-p:]:
        name, args, _ = json.loads(k)
        calls.append(f"{name} {json.dumps(args, sort_keys=True)[:120]}")
    return " -> ".join(calls)
