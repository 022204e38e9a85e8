"""The runner's side of the GitHub Actions contract.

Reads the event (`GITHUB_EVENT_NAME`, the payload at `GITHUB_EVENT_PATH`) and decides
what this job should do; writes step outputs, the job summary, annotations and masks.
Every payload field is untrusted input: it is parsed as data, checked against the fleet,
and never interpolated into a command.
"""

from __future__ import annotations

import json
import re
import secrets
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from runner.agent.sandbox import SECRET_WORDS
from runner.errors import UsageError
from runner.findings import escape_data
from runner.model import Fleet
from runner.payload import dig

_ID = re.compile(r"^[A-Za-z0-9._-]{1,64}$")
# Events no person's request starts (a clock, a push of reviewed commits, CI reporting)
# or whose sender GitHub already required write access of (a dispatch).
UNASKED = ("schedule", "push", "workflow_dispatch", "check_suite", "workflow_run")


class EventError(UsageError):
    """The event cannot be acted on; the message says why (a usage error)."""


@dataclass(frozen=True)
class Event:
    name: str
    payload: dict[str, Any]

    @property
    def action(self) -> str:
        value = self.payload.get("action")
        return value if isinstance(value, str) else ""


@dataclass(frozen=True)
class Intent:
    """What the job should do for its event."""

    kind: str  # tick, revise, validate, none
    reason: str
    force_due: tuple[str, ...] = ()
    role: str | None = None
    task: str | None = None
    pr: int | None = None
    dry_run: bool = False
    sender: str | None = None
    issue: int | None = None  # the issue a task is drafted from (kind intake)
    note: str = ""  # the instructions an @mention added


def in_actions(environ: Mapping[str, str]) -> bool:
    return environ.get("GITHUB_ACTIONS") == "true" or bool(environ.get("GITHUB_EVENT_NAME"))


def read_event(environ: Mapping[str, str]) -> Event | None:
    name = environ.get("GITHUB_EVENT_NAME")
    if not name:
        return None
    path = environ.get("GITHUB_EVENT_PATH")
    payload: Any = {}
    if path:
        try:
            payload = json.loads(Path(path).read_text("utf-8"))
        except (OSError, ValueError) as exc:
            raise EventError(f"cannot read the event payload at {path}: {exc}") from None
    if not isinstance(payload, dict):
        raise EventError(f"the event payload at {path} is not a JSON object")
    return Event(name, payload)


def _login(payload: dict[str, Any]) -> tuple[str | None, bool]:
    """The sender's login and whether GitHub marks the account as a bot."""
    login = dig(payload, "sender", "login")
    kind = dig(payload, "sender", "type")
    login = login if isinstance(login, str) else None
    return login, kind == "Bot" or bool(login and login.endswith("[bot]"))


def intent(event: Event, fleet: Fleet, changed: list[str] | None = None) -> Intent:
    """Decide what to do. `changed`: paths changed by a push (from git, not the payload)."""
    p = event.payload
    sender, is_bot = _login(p)
    label_prefix = fleet.config.forge.label_prefix
    if event.name == "schedule":
        return Intent("tick", "scheduled tick")
    if event.name == "push":
        roles = sorted(_roles_touched(fleet, changed or []))
        return Intent(
            "tick", f"push touched work for {', '.join(roles) or 'no role'}", force_due=tuple(roles)
        )
    if event.name == "workflow_dispatch":
        return _dispatched(p, fleet, sender)
    if event.name in ("check_suite", "workflow_run"):  # no person asks: CI reports
        return _ci_failed(event, fleet)
    if is_bot:
        return Intent("none", f"ignored: {event.name} by a bot ({sender}) never triggers work")
    if event.name == "issues" and event.action == "labeled":
        return _labeled(event, fleet, label_prefix, sender)
    if event.name == "issues" and event.action in ("closed", "unlabeled"):
        return _escalation_intent(event, fleet, label_prefix, sender)
    if event.name == "issue_comment" and event.action == "created":
        return _commented(event, fleet, sender)
    if event.name == "pull_request_review" and event.action == "submitted":
        return _reviewed(p, sender)
    if event.name in ("pull_request", "pull_request_target"):
        number = p.get("number") if isinstance(p.get("number"), int) else None
        return Intent("validate", f"pull request #{number} changes the fleet", pr=number)
    return Intent("none", f"nothing to do for {event.name} {event.action}".strip())


def _dispatched(p: dict[str, Any], fleet: Fleet, sender: str | None) -> Intent:
    """A manual dispatch: its inputs are typed by a person, so a role or task the fleet
    does not have is an error, not a silent no-op."""
    raw = p.get("inputs")
    inputs: dict[str, Any] = raw if isinstance(raw, dict) else {}
    role, task = _clean(inputs.get("role")), _clean(inputs.get("task"))
    if role and role not in fleet.roles:
        raise EventError(f"workflow_dispatch input role={role!r} is not a role of this fleet")
    if task and task not in fleet.tasks:
        raise EventError(f"workflow_dispatch input task={task!r} is not a task of this fleet")
    if task and not role:
        role = fleet.tasks[task].role
    dry = str(inputs.get("dry_run", "")).lower() in ("true", "1", "yes")
    return Intent(
        "tick",
        "manual dispatch",
        force_due=(role,) if role else (),
        role=role,
        task=task,
        dry_run=dry,
        sender=sender,
    )


def _ci_failed(event: Event, fleet: Fleet) -> Intent:
    from runner import ci

    found = ci.failure(event.name, event.payload, fleet)
    if found is None:
        return Intent("none", f"ignored: {event.name} is not a failure on an agent branch")
    return Intent(
        "ci",
        f"CI failed on {found.branch} at {found.head_sha[:12]}",
        role=found.role,
        task=found.task,
        pr=found.pr,
    )


def _commented(event: Event, fleet: Fleet, sender: str | None) -> Intent:
    """A new comment: on an issue it may mention the fleet; on a PR it asks for a revision."""
    p = event.payload
    if not dig(p, "issue", "pull_request"):
        return _mentioned(event, fleet, sender)
    number = dig(p, "issue", "number")
    if not isinstance(number, int):
        raise EventError("issue_comment payload has no issue number")
    return Intent("revise", f"comment by {sender} on PR #{number}", pr=number, sender=sender)


def _reviewed(p: dict[str, Any], sender: str | None) -> Intent:
    """A submitted review asks for a revision, unless the PR comes from a fork (its head
    is not a branch the fleet pushes)."""
    number = dig(p, "pull_request", "number")
    head_repo = dig(p, "pull_request", "head", "repo", "full_name")
    base_repo = dig(p, "repository", "full_name")
    if not isinstance(number, int):
        raise EventError("pull_request_review payload has no pull request number")
    if head_repo != base_repo:
        return Intent("none", f"ignored: PR #{number} comes from a fork ({head_repo})")
    return Intent("revise", f"review by {sender} on PR #{number}", pr=number, sender=sender)


def decide(
    event: Event,
    fleet: Fleet,
    changed: list[str] | None,
    trusted: Callable[[str], bool],
) -> Intent:
    """The one place from an event to what to do, the sender's trust included: work that
    a person's action triggers (an answered escalation, a review, a comment) happens only
    for write access (`trusted`, the forge's check); a dispatch already needs write access
    to be sent, and schedules and pushes have no sender to check."""
    wanted = intent(event, fleet, changed)
    sender = wanted.sender
    asks = wanted.kind in ("tick", "revise", "intake") and event.name not in UNASKED
    if asks and not sender:  # GitHub always names one: nobody's request, not an unchecked one
        return Intent("none", f"ignored: the {event.name} event names no sender to check")
    if asks and sender and not trusted(sender):
        return Intent(
            "none", f"ignored: {sender} has no write access to this repository, or is a bot"
        )
    return wanted


def _labeled(event: Event, fleet: Fleet, prefix: str, sender: str | None) -> Intent:
    """`<prefix>:task` added to an issue: draft a task from it (role from a
    `<prefix>:role/<name>` label, else asked)."""
    from runner.intake import role_from_labels

    p = event.payload
    if dig(p, "label", "name") != f"{prefix}:task":
        return Intent("none", f"ignored: the label added is not {prefix}:task")
    number = dig(p, "issue", "number")
    if not isinstance(number, int) or dig(p, "issue", "pull_request"):
        return Intent("none", "ignored: the labeled item is not an issue")
    labels = [lb.get("name") for lb in dig(p, "issue", "labels") or [] if isinstance(lb, dict)]
    role = role_from_labels([x for x in labels if isinstance(x, str)], prefix)
    return Intent(
        "intake", f"{sender} asks for a task from issue #{number}", role=role, issue=number,
        sender=sender,
    )  # fmt: skip


def _mentioned(event: Event, fleet: Fleet, sender: str | None) -> Intent:
    """`@<mention> <role> ...` (or `/<mention>`) in a comment on an issue."""
    from runner.intake import mention

    p = event.payload
    ask = mention(str(dig(p, "comment", "body") or ""), fleet.config.forge.mention)
    number = dig(p, "issue", "number")
    if ask is None or not isinstance(number, int):
        return Intent("none", "ignored: a comment on an issue that asks the fleet nothing")
    return Intent(
        "intake", f"{sender} asks {ask.role} for a task from issue #{number}", role=ask.role,
        issue=number, sender=sender, note=ask.instructions,
    )  # fmt: skip


def _clean(value: Any) -> str | None:
    if value in (None, ""):
        return None
    if not isinstance(value, str) or not _ID.match(value):
        raise EventError(f"workflow_dispatch input {value!r} is not a valid name")
    return value


def _escalation_intent(event: Event, fleet: Fleet, prefix: str, sender: str | None) -> Intent:
    from runner.forge.base import parse_marker

    p = event.payload
    labels = [lb.get("name") for lb in dig(p, "issue", "labels") or [] if isinstance(lb, dict)]
    removed = dig(p, "label", "name")
    escalation = f"{prefix}:escalation"
    if event.action == "unlabeled" and removed != escalation:
        return Intent("none", f"ignored: label {removed!r} removed, not {escalation}")
    if event.action == "closed" and escalation not in labels:
        return Intent("none", "ignored: the closed issue is not a fleet escalation")
    info = parse_marker(str(dig(p, "issue", "body") or "")) or {}
    role, task = info.get("role"), info.get("task")
    if role not in fleet.roles:
        return Intent("none", "ignored: the escalation names no role of this fleet")
    task = task if task in fleet.tasks else None
    return Intent(
        "tick",
        f"escalation answered by {sender}: {role} may continue",
        force_due=(role,),
        sender=sender,
    )


def _roles_touched(fleet: Fleet, changed: list[str]) -> set[str]:
    roles: set[str] = set()
    by_path = {t.path: t.role for t in fleet.tasks.values()}
    for path in changed:
        if path in by_path:
            roles.add(by_path[path])
        for role in fleet.roles.values():
            if path in (role.path, role.directives):
                roles.add(role.name)
    return roles


# -- writing to the runner ------------------------------------------------------------


def set_outputs(environ: Mapping[str, str], values: dict[str, str]) -> None:
    """Append step outputs to GITHUB_OUTPUT (heredoc form: values may hold newlines).
    The delimiter is random and checked against the value, so text from a task file can
    never end its value early and add an output of its own."""
    path = environ.get("GITHUB_OUTPUT")
    if not path:
        return
    with Path(path).open("a", encoding="utf-8") as handle:
        for key, value in values.items():
            delimiter = f"FLEET_EOF_{secrets.token_hex(16)}"
            while delimiter in value:  # pragma: no cover - 128 random bits
                delimiter = f"FLEET_EOF_{secrets.token_hex(16)}"
            handle.write(f"{key}<<{delimiter}\n{value}\n{delimiter}\n")


def write_summary(environ: Mapping[str, str], markdown: str) -> None:
    path = environ.get("GITHUB_STEP_SUMMARY")
    if path:
        with Path(path).open("a", encoding="utf-8") as handle:
            handle.write(markdown.rstrip() + "\n\n")


def annotation(level: str, message: str, title: str = "fleet-runner") -> str:
    return f"::{level} title={title}::{escape_data(message)}"


def mask_lines(environ: Mapping[str, str]) -> list[str]:
    """`::add-mask::` for every secret-looking value, so no log line can show it.

    Only inside Actions: anywhere else the line would print the secret, not hide it."""
    if not in_actions(environ):
        return []
    lines = []
    for name, value in sorted(environ.items()):
        secret = any(word in name.upper() for word in SECRET_WORDS)
        if secret and len(value) >= 6 and "\n" not in value:
            lines.append(f"::add-mask::{value}")
    return lines
