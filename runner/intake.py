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


# -- auto_assign: the task committed at a maintainer's request, no task PR -------------

_LOGIN = re.compile(r"^[A-Za-z0-9](?:[A-Za-z0-9-]{0,38})$")  # a GitHub user (no bots)
_RACE = ("non-fast-forward", "fetch first", "cannot lock ref", "failed to update ref")


def coauthor(login: str, user_id: object) -> str | None:
    """The `Co-authored-by:` trailer crediting the maintainer who asked, by the noreply
    address GitHub links to the account whatever its email settings
    (`<id>+<login>@users.noreply.github.com`; the older `<login>@...` without an id).
    None for anything that is not a user's login: the trailer is one line of a commit
    message, so nothing from the payload may add a line."""
    if not _LOGIN.match(login):
        return None
    local = f"{user_id}+{login}" if isinstance(user_id, int) and user_id > 0 else login
    return f"Co-authored-by: {login} <{local}@users.noreply.github.com>"


def blocker(
    sender: str | None, sender_trusted: bool, trailer: str | None, author: str, author_trusted: bool
) -> str | None:
    """Why a request on a role with `auto_assign: true` still goes through a task PR, or
    None to commit it. Skipping review is only for a write-access requester on an issue a
    write-access user wrote: the checklist's `check:` lines become commands the runner
    runs, so an outsider's issue is reviewed as a pull request even when a maintainer
    asks for it (they may not have read its latest edit)."""
    if not sender or not sender_trusted or trailer is None:
        return "the request names no write-access user to commit it for"
    if not author_trusted:
        return (
            f"the issue was written by {author}, who has no write access: its checklist "
            "becomes commands the runner runs, so a maintainer reviews the task first"
        )
    return None


def refusal(stderr: str) -> str | None:
    """Why the remote refused a push, in its own words (a protected branch, a hook); None
    when the branch merely moved on (a race: fetch and build on the new tip)."""
    if any(mark in stderr for mark in _RACE):
        return None
    said = [ln.removeprefix("remote:").strip() for ln in stderr.splitlines()]
    said = [ln for ln in said if ln and not ln.startswith(("To ", "error: failed to push"))]
    return one_line("; ".join(said) or "no reason given", 300)


def task_id(number: int, taken: set[str]) -> str:
    """The id of the task drafted from issue `number`: `issue-<n>`, by construction
    distinct from every other issue's. A sequential id (the next free `t-NNN` on the base
    branch) ignored open task PRs: two issues drafted in a row both became t-013, the
    second PR conflicted with the first on merge, and an auto-assigned commit could take
    an id an open draft held. A hand-made task already named so gets a suffix."""
    base = f"issue-{number}"
    if base not in taken:
        return base
    return next(f"{base}-{k}" for k in range(2, len(taken) + 3) if f"{base}-{k}" not in taken)


def assign_message(task_id: str, role: str, number: int, login: str, trailer: str) -> str:
    return (
        f"Assign {task_id} to {role} from issue #{number}\n\n"
        f"Asked for on issue #{number} by {login}; auto_assign is on for role {role}, "
        "so the task file is committed without a task pull request.\n\n"
        f"{trailer}\n"
    )
