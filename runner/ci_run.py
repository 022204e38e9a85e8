"""Acting on a CI failure of an agent PR (the edge of `runner.ci`): claim the head SHA,
read the failing job's log, then revise the PR with the excerpt as untrusted data, or,
once the role's attempts are used, escalate `failure` once with the log link."""

from __future__ import annotations

from dataclasses import dataclass

from runner import ci
from runner.bodies import escalation_body, escalation_title
from runner.clock import iso
from runner.forge.base import Forge, Issue
from runner.records import ForgeEvent
from runner.run import ClientFactory, RunOutcome, execute
from runner.workspace import Workspace


@dataclass
class Handled:
    verdict: str  # revise, handled, escalate
    outcome: RunOutcome | None = None
    issue: Issue | None = None
    link: str = ""


def handle(
    ws: Workspace, forge: Forge, found: ci.Failure, client_factory: ClientFactory
) -> Handled:
    role, task = ws.fleet.roles[found.role], ws.fleet.tasks[found.task]
    verdict = ci.decide(ws.ledger.store, found, role.max_attempts)
    if verdict == "handled":
        return Handled(verdict)
    log, link = forge.ci_log(found.suite_id) if found.suite_id is not None else ("", "")
    link = link or found.link
    if verdict == "escalate":
        summary = (
            f"CI still fails on {found.branch} after {role.max_attempts} revision(s); "
            f"the latest failure (head {found.head_sha[:12]}): {link}"
        )
        issue = forge.escalate(
            role=role.name,
            task=task.id,
            kind="failure",
            title=escalation_title(role.name, "CI still failing after revisions", task.id),
            body=escalation_body(role.name, task, "failure", summary, None, ci.excerpt(log)),
            assignees=role.escalate_to,
        )
        return Handled(verdict, issue=issue, link=link)
    feedback = ForgeEvent(
        "ci_failure",
        f"#{found.pr}" if found.pr else found.branch,
        task.id,
        "CI",
        False,  # a log is data: whatever it says, it is quoted, never followed
        iso(ws.now),
        ci.excerpt(log) or f"(no log could be read; see {link})",
        link,
    )
    outcome = execute(
        ws, forge, role.name, task.id, trigger="ci", client_factory=client_factory,
        feedback=[feedback],
    )  # fmt: skip
    return Handled(verdict, outcome=outcome, link=link)
