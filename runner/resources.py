"""Locate the data files that ship with the runner (schemas, example fleet, workflows).

The source tree keeps one copy of each at its natural place (schemas/, fleet/, tasks/,
.github/workflows/); the wheel carries them under runner/_data/. Both layouts work.
"""

from __future__ import annotations

import json
from functools import cache
from pathlib import Path
from typing import Any

# The composite action (action.yml) that the shipped workflows install the runner with,
# by the commit SHA of a release of this repository: a commit cannot name itself, so a
# release commit records the SHA of the one before it that carries action.yml and the
# lock. `fleet init --runner-ref OWNER/REPO@SHA` writes another (a fork, a mirror).
RUNNER_ACTION_REF = "fleet-runner/fleet-runner@7d101e537fd08f62f7ba5787ddecfb67205fd726"

_PACKAGE = Path(__file__).resolve().parent
_SOURCE_LAYOUT = {
    "schemas": "schemas",
    "fleet": "fleet",
    "tasks": "tasks",
    "workflows": ".github/workflows",
}


def data_dir(name: str) -> Path:
    installed = _PACKAGE / "_data" / name
    if installed.is_dir():
        return installed
    return _PACKAGE.parent / _SOURCE_LAYOUT[name]


@cache
def schema(kind: str) -> dict[str, Any]:
    """The JSON Schema for `kind` (fleet, role, task, run)."""
    return json.loads((data_dir("schemas") / f"{kind}.schema.json").read_text("utf-8"))
