"""Acting on a CI failure of an agent PR (the edge of `runner.ci`): claim the head SHA,
read the failing job's log, then revise the PR with the excerpt as untrusted data, or,
once the role's attempts are used, escalate `failure` once with the log link.

`handle` does it in one process (`fleet tick`). The split workflow (fleet-ci.yml) does
it in three jobs, like a review's revision: `claim` (the check job: write token, no
model key) reads the log, claims the SHA with the excerpt stored in the claim, and
claims the run or escalates; `claimed_feedback` (the read-only agent job, which has no
`actions: read` and so cannot read logs) takes the excerpt back from the ledger."""

from __future__ import annotations

from dataclasses import dataclass

from runner import ci
from runner.bodies import escalation_body, escalation_title
from runner.clock import iso
from runner.errors import FleetError
from runner.forge.base import Forge, Issue
from runner.records import ForgeEvent
from runner.run import ClientFactory, execute
from runner.run_outcome import RunOutcome
from runner.workspace import Workspace


@dataclass
class Handled:
    verdict: str  # revise, handled, escalate (and in the split: held, none)
    outcome: RunOutcome | None = None
    issue: Issue | None = None
    link: str = ""
    run_id: str = ""  # the claimed run (the split's claim phase)
    pr: int | None = None
    reason: str = ""


def _log(forge: Forge, found: ci.Failure) -> tuple[str, str]:
    """The excerpt of the failing job's log and the link a person reads it at."""
    log, link = forge.ci_log(found.suite_id) if found.suite_id is not None else ("", "")
    return ci.excerpt(log), link or found.link


def _escalate(ws: Workspace, forge: Forge, found: ci.Failure, excerpt: str, link: str) -> Issue:
    role, task = ws.fleet.roles[found.role], ws.fleet.tasks[found.task]
    summary = (
        f"CI still fails on {found.branch} after {role.max_attempts} revision(s); "
        f"the latest failure (head {found.head_sha[:12]}): {link}"
    )
    return forge.escalate(
        role=role.name,
        task=task.id,
        kind="failure",
        title=escalation_title(role.name, "CI still failing after revisions", task.id),
        body=escalation_body(role.name, task, "failure", summary, None, excerpt),
        assignees=role.escalate_to,
    )


def feedback(ws: Workspace, found: ci.Failure, excerpt: str, link: str) -> ForgeEvent:
    return ForgeEvent(
        "ci_failure",
        f"#{found.pr}" if found.pr else found.branch,
        found.task,
        "CI",
        False,  # a log is data: whatever it says, it is quoted, never followed
        iso(ws.now),
        excerpt or f"(no log could be read; see {link})",
        link,
    )


def handle(
    ws: Workspace, forge: Forge, found: ci.Failure, client_factory: ClientFactory
) -> Handled:
    role = ws.fleet.roles[found.role]
    if ci.handled_before(ws.ledger.store, found):
        return Handled("handled")
    if stale := _not_head(ws, found):
        return Handled("none", reason=stale)
    verdict = ci.decide(ws.ledger.store, found, role.max_attempts)
    if verdict == "handled":
        return Handled(verdict)
    excerpt, link = _log(forge, found)
    if verdict == "escalate":
        return Handled(verdict, issue=_escalate(ws, forge, found, excerpt, link), link=link)
    outcome = execute(
        ws, forge, role.name, found.task, trigger="ci", client_factory=client_factory,
        feedback=[feedback(ws, found, excerpt, link)],
    )  # fmt: skip
    return Handled(verdict, outcome=outcome, link=link)


def claim(ws: Workspace, forge: Forge, found: ci.Failure) -> Handled:
    """The split's first job: the SHA (with the excerpt) and then the run are claimed, or
    the role's attempts are used and it escalates once. `held`: a live run holds the
    task (its push is a new head, which CI judges again); the SHA's claim stays, so this
    failure counts as an attempt."""
    from runner.publish import claim as claim_run

    store = ws.ledger.store
    if ci.handled_before(store, found):
        return Handled("handled")
    pr = found.pr
    if pr is None:  # a workflow run of a push may list no PR: the forge knows the task's
        ref = forge.view().open_prs.get(found.task)
        pr = int(ref.id.lstrip("#")) if ref and ref.id.lstrip("#").isdigit() else None
    if pr is None:
        return Handled("none", reason=f"{found.branch} has no open PR: nothing to revise")
    if stale := _not_head(ws, found):
        return Handled("none", reason=stale)
    excerpt, link = _log(forge, found)
    details = {"excerpt": excerpt, "log_link": link}
    verdict = ci.decide(store, found, ws.fleet.roles[found.role].max_attempts, details=details)
    if verdict == "handled":
        return Handled(verdict)
    if verdict == "escalate":
        return Handled(verdict, issue=_escalate(ws, forge, found, excerpt, link), link=link)
    try:
        run_id = claim_run(ws, found.role, found.task, "ci").run_id
    except FleetError as exc:
        return Handled("held", link=link, pr=pr, reason=str(exc))
    return Handled("revise", link=link, run_id=run_id, pr=pr)


def _not_head(ws: Workspace, found: ci.Failure) -> str | None:
    """Why the failing SHA is not acted on, when it is not the branch's head on the
    remote (asked now): a check suite's payload cannot prove which repository its branch
    is in (a fork's PR can name a branch fleet/...), and a superseded head's failure is
    CI's to judge again on the new one."""
    if ws.remote is None:
        head = ws.git.rev(f"refs/heads/{found.branch}") or ""
    else:
        out = ws.git.run("ls-remote", ws.remote, f"refs/heads/{found.branch}").split()
        head = out[0] if out else ""
    if head == found.head_sha:
        return None
    return (
        f"{found.head_sha[:12]} is not the head of {found.branch} ({head[:12] or 'none'}): "
        "a newer push, which CI judges again, or a fork's branch of that name"
    )


def claimed_feedback(ws: Workspace, found: ci.Failure) -> ForgeEvent | None:
    """The split's agent job: the excerpt the check job stored with the SHA's claim."""
    data = ws.ledger.store.read_json(ci.claim_path(found))
    if not isinstance(data, dict):
        return None
    excerpt, link = str(data.get("excerpt") or ""), str(data.get("log_link") or found.link)
    return feedback(ws, found, excerpt, link)
