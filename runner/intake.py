"""Tasks from issues: what a maintainer's label or `@fleet <role> ...` comment asks for,
and the task file drafted from the issue (plain data in, plain data out).

The issue is untrusted text: its title and body become the draft's title and a quoted
description, and the draft is a pull request a maintainer reviews, so the GitOps
contract holds (a task is a reviewed file; merging assigns it). Acceptance criteria are
taken from the issue's checklist (`- [ ] check: CMD`, `- [ ] review: TEXT`) and never
invented: without any, there is no draft and the issue gets one reply asking for them.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from runner.sanitize import clean, one_line

_ITEM = re.compile(r"^\s*[-*]\s+\[[ xX]\]\s+(check|review):\s*(.+?)\s*$", re.MULTILINE)
MAX_ITEMS = 20


@dataclass(frozen=True)
class Ask:
    """A drafting request: which role (None: not said) and any extra instructions."""

    role: str | None
    instructions: str = ""


def mention(body: str, handle: str) -> Ask | None:
    """`@handle role words...` or `/handle role words...` starting a line of a comment."""
    pattern = re.compile(
        rf"^\s*[@/]{re.escape(handle)}\s+([A-Za-z0-9_-]+)\b[ \t]*(.*)$", re.MULTILINE
    )
    found = pattern.search(clean(body))
    if found is None:
        return None
    return Ask(found.group(1).lower(), found.group(2).strip())


def role_from_labels(labels: list[str], prefix: str) -> str | None:
    roles = [x.removeprefix(f"{prefix}:role/") for x in labels if x.startswith(f"{prefix}:role/")]
    return roles[0] if len(roles) == 1 else None


def criteria(body: str) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """The checks and review items of the issue's checklist, in order (capped)."""
    checks: list[str] = []
    reviews: list[str] = []
    for kind, text in _ITEM.findall(clean(body))[:MAX_ITEMS]:
        item = one_line(text.strip("`"), 300) if kind == "check" else one_line(text, 300)
        (checks if kind == "check" else reviews).append(item)
    return tuple(checks), tuple(reviews)


def description(number: int, url: str, author: str, body: str, instructions: str) -> str:
    """The issue's words as the task's description: marked as quoted from the issue (the
    agent reads the description as untrusted data anyway)."""
    text = clean(body).strip()
    text = text if len(text) <= 4000 else text[:4000] + " [...]"
    lines = [f"From issue #{number} ({url}) by @{author}, quoted:", "", text]
    if instructions:
        lines += ["", f"Asked with: {one_line(instructions, 500)}"]
    return "\n".join(lines)


ASK_FOR_CRITERIA = (
    "A task needs acceptance criteria before it can be assigned, and I do not invent "
    "them. Add a checklist to this issue, for example:\n\n"
    "- [ ] check: `python -m pytest -q tests/test_feature.py`\n"
    "- [ ] review: the error message says what to do\n\n"
    "(`check:` lines are commands that must exit 0; `review:` lines are for the "
    "reviewer), then ask again."
)
