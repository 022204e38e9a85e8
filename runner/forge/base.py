"""The Forge protocol: the few outward operations a run needs, and their records.

Every operation is find-or-create by a stable key (branch for PRs, a hidden marker for
issues), so re-running a run, or two runs racing, never duplicates anything.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Protocol

from runner.errors import FleetError
from runner.records import ForgeEvent, ForgeView

ESCALATION_KINDS = (
    "credential",
    "decision",
    "blocked",
    "failure",
    "loop",
    "sla",
    "budget",
    "security",
    "setup",
)
# The runner's marker, exactly as `marker` writes it, on a line of its own. The runner
# always appends it last, and every agent or outsider text it posts has had HTML comments
# removed (runner.neutralize), so the last such line is the runner's. Not "the last
# line": a maintainer who edits the body below it must not unmark the issue.
_MARKER_LINE = re.compile(
    r"^<!-- fleet:kind=([A-Za-z0-9._/-]+)(?: role=([A-Za-z0-9._-]+) task=([A-Za-z0-9._-]+))?"
    r"(?: id=([0-9a-f]+))? -->[ \t]*\r?$",
    re.MULTILINE,
)


def marker(kind: str, role: str, task: str | None) -> str:
    return f"<!-- fleet:kind={kind} role={role} task={task or '-'} -->"


def parse_marker(body: str) -> dict[str, str] | None:
    """The fields of the runner's marker in `body`: the last marker line, exact format.
    Before, the first `<!-- fleet:... -->` anywhere won, so a model could hide another
    role's marker in its escalation text and block that role's task (issue 11, attack 6)."""
    matches = list(_MARKER_LINE.finditer(body or ""))
    if not matches:
        return None
    kind, role, task, nonce = matches[-1].groups()
    fields = {"kind": kind}
    if role is not None and task is not None:
        fields |= {"role": role, "task": task}
    if nonce is not None:
        fields["id"] = nonce  # a comment's create-once nonce
    return fields


def runner_wrote(body: str) -> bool:
    """Whether a comment is the runner's own: its last line is a marker. Stricter than
    `parse_marker`, since a marker line placed first must not hide a person's comment
    from the agent (nobody edits the runner's comments after it)."""
    lines = (body or "").rstrip().split("\n")
    return _MARKER_LINE.fullmatch(lines[-1].rstrip()) is not None


def is_marked(body: str, mark: str) -> bool:
    """Whether the runner's marker in `body` is exactly `mark` (not merely quoted in it)."""
    return parse_marker(body) is not None and parse_marker(body) == parse_marker(mark)


class ForgeError(FleetError):
    """The forge could not do what the run needs (after bounded retries)."""


class ForgeCredentialError(ForgeError):
    """The token is rejected or lacks a permission: a job-level error, not an issue."""


@dataclass(frozen=True)
class PullRequest:
    id: str
    url: str
    branch: str
    title: str
    draft: bool
    state: str  # open, merged, closed
    created: str
    created_now: bool = False  # False: an existing PR was found and updated


@dataclass(frozen=True)
class Issue:
    id: str
    url: str
    title: str
    kind: str
    state: str  # open, closed
    created: str
    created_now: bool = False


@dataclass(frozen=True)
class ForgeItem:
    """An agent PR or an escalation issue, for oversight (opened, merged, resolved)."""

    kind: str  # pr, escalation
    id: str
    url: str
    role: str | None
    task: str | None
    title: str
    state: str  # open, closed, merged
    created: str
    closed: str | None = None
    escalation_kind: str | None = None


class Forge(Protocol):
    name: str

    @property
    def api_calls(self) -> int:
        """Requests this forge made so far (recorded per run in the ledger)."""

    def open_pr(
        self,
        *,
        role: str,
        task: str,
        branch: str,
        base: str,
        title: str,
        body: str,
        draft: bool,
    ) -> PullRequest:
        """Open the PR for `branch`, or update the one that exists."""

    def escalate(
        self,
        *,
        role: str,
        task: str | None,
        kind: str,
        title: str,
        body: str,
        assignees: tuple[str, ...],
    ) -> Issue:
        """Open the escalation for (role, task, kind), or note a repeat on the open one."""

    def close_escalation(self, issue: Issue, comment: str) -> None: ...

    def comment(self, ref: str, body: str) -> None: ...

    def events_since(self, role: str, since: str | None) -> list[ForgeEvent]: ...

    def cursor(self) -> str:
        """Now on the forge's own clock: where the next `events_since` starts."""

    def pull_feedback(self, number: int, since: str | None) -> tuple[str, list[ForgeEvent]]:
        """The PR's head branch, and the reviews and comments on it since `since`."""

    def ci_log(self, suite_id: int) -> tuple[str, str]:
        """The first failed job's log in a check suite and its link (("", "") if none)."""

    def progress_comment(self, target: str, key: str, body: str) -> str:
        """Create once, then edit, the comment `key` on `target` (a PR or issue id)."""

    def upsert_comment(self, number: int, key: str, body: str) -> str:
        """Create or edit in place the one comment on PR/issue `number` marked `key`."""

    def trusted(self, login: str, user_type: str = "User") -> bool:
        """Whether `login` may trigger work (write access or better, not a bot)."""

    def activity(self, since: str | None) -> list[ForgeItem]:
        """Agent PRs and escalations open now or updated since `since`."""

    def view(self) -> ForgeView: ...
