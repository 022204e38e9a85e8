"""CI failures drive revision: a failing check suite or workflow run on an agent branch.

The decision is plain data: `failure` reads GitHub's `check_suite` / `workflow_run`
completed payload (untrusted: only its ids, branch and SHA are used, and they are checked
against the fleet), and `decide` says whether this failing head SHA gets a revision, was
handled already, or has used the role's attempts and escalates. One revision per head
SHA is enforced on the ledger (`ci/<role>/<task>/<sha>.json`, claimed with the store's
compare-and-swap: a second delivery, or the check suite and the workflow run of the
same failure, find the claim and do nothing). The runner's own push cannot loop: a push
with the Actions token triggers no workflow, and when it does (an App token) the new
head is a new SHA that counts against the same attempt limit.

`excerpt` cuts a job log to what a model needs (the first error and the tail), capped;
it is still untrusted data and reaches the prompt quoted, never as an instruction, and
token shapes in it are redacted (it is stored on the ledger and posted in an escalation).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any, Protocol

from runner.model import Fleet
from runner.payload import dig
from runner.secretscan import redact

FAILED = ("failure", "timed_out")
EXCERPT_CAP = 6000
TAIL_LINES = 60
_ERROR = re.compile(r"(?i)(^|[^a-z])(error|failed|failure|traceback|exception)([^a-z]|$)")
_SHA = re.compile(r"^[0-9a-f]{40}$")
_ANSI = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")
_STAMP = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(?:\.\d+)?Z ")


@dataclass(frozen=True)
class Failure:
    """A failing CI result on an agent branch, from the event payload."""

    source: str  # check_suite or workflow_run
    branch: str
    role: str
    task: str
    head_sha: str
    pr: int | None
    suite_id: int | None  # the check suite whose failing runs have the logs
    link: str  # where a person reads the failure


class Claims(Protocol):
    def list(self, prefix: str) -> list[str]: ...

    def claim(self, path: str, data: dict[str, Any]) -> bool: ...


def failure(name: str, payload: dict[str, Any], fleet: Fleet) -> Failure | None:
    """The failure an event reports on one of this fleet's agent branches, else None."""
    if payload.get("action") != "completed" or name not in ("check_suite", "workflow_run"):
        return None
    body = payload.get(name)
    if not isinstance(body, dict) or body.get("conclusion") not in FAILED:
        return None
    branch, sha = body.get("head_branch"), body.get("head_sha")
    prefix = fleet.config.forge.branch_prefix
    if not isinstance(branch, str) or not isinstance(sha, str) or not _SHA.match(sha):
        return None
    role, _, task = branch.removeprefix(prefix).partition("/")
    if not branch.startswith(prefix) or role not in fleet.roles or task not in fleet.tasks:
        return None
    if name == "workflow_run":
        head_repo = dig(body, "head_repository", "full_name")
        if head_repo != dig(payload, "repository", "full_name"):
            return None  # a fork's branch that happens to be named fleet/...
        suite = body.get("check_suite_id")
    else:
        suite = body.get("id")
    prs = [p for p in body.get("pull_requests") or [] if isinstance(p, dict)]
    number = next((p.get("number") for p in prs if dig(p, "head", "ref") == branch), None)
    link = body.get("html_url") if name == "workflow_run" else None
    link = link or dig(payload, "repository", "html_url") or ""
    return Failure(
        name,
        branch,
        role,
        task,
        sha,
        number if isinstance(number, int) else None,
        suite if isinstance(suite, int) else None,
        f"{link}/commit/{sha}/checks" if name == "check_suite" else str(link),
    )


def claim_path(found: Failure) -> str:
    """Where the claim of this failing head SHA lives on the ledger."""
    return f"ci/{found.role}/{found.task}/{found.head_sha}.json"


def handled_before(claims: Claims, found: Failure) -> bool:
    """A cheap look before reading any log: this SHA was claimed already."""
    return claim_path(found) in claims.list(f"ci/{found.role}/{found.task}/")


def decide(
    claims: Claims,
    found: Failure,
    max_attempts: int,
    run_id: str = "",
    details: dict[str, Any] | None = None,
) -> str:
    """`revise` (this SHA is claimed now), `handled` (claimed before: a redelivery or the
    other event of the same failure) or `escalate` (the role's attempts are used).
    `details` go into the claim (the split workflow's check job stores the log excerpt
    there for the agent job, which may not read Actions logs)."""
    prefix = f"ci/{found.role}/{found.task}/"
    earlier = [p for p in claims.list(prefix) if p.endswith(".json")]
    path = claim_path(found)
    if path in earlier:
        return "handled"
    if len(earlier) >= max_attempts:
        return "escalate"
    data = {"sha": found.head_sha, "source": found.source, "link": found.link, "run": run_id}
    return "revise" if claims.claim(path, {**(details or {}), **data}) else "handled"


def excerpt(log: str, cap: int = EXCERPT_CAP) -> str:
    """The first error (with two lines before it) and the tail of a job log, capped."""
    lines = [_STAMP.sub("", _ANSI.sub("", line)) for line in log.splitlines()]
    first = next((i for i, line in enumerate(lines) if _ERROR.search(line)), None)
    tail_start = max(0, len(lines) - TAIL_LINES)
    parts = []
    if first is not None and first < tail_start:
        parts.append("\n".join(lines[max(0, first - 2) : first + 8]))
        parts.append(f"[... {tail_start - first - 8} line(s) ...]")
    parts.append("\n".join(lines[tail_start:]))
    # token shapes redacted before the cut (which could leave half of one): the agent's
    # code wrote this log, and the excerpt is posted in the `failure` escalation
    text = redact("\n".join(p for p in parts if p))
    if len(text) > cap:
        text = text[: cap // 3] + "\n[... cut ...]\n" + text[-(cap - cap // 3) :]
    return text
