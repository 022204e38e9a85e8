"""Reading GitHub's webhook payloads: data from the outside, so no shape is assumed.

A leaf (it imports nothing from the runner) because both the event dispatcher
(`runner.actions`) and the CI-failure decision (`runner.ci`, which actions imports
lazily) read payloads the same way.
"""

from __future__ import annotations

from typing import Any


def dig(data: Any, *keys: str) -> Any:
    """The value at `keys` in a payload; None where a level is missing or not an object."""
    for key in keys:
        if not isinstance(data, dict):
            return None
        data = data.get(key)
    return data
