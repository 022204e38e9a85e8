"""Drafting a task from an issue (the edge of `runner.intake`): reply once when the issue
lacks what a task needs, else commit the drafted task file on `fleet-task/issue-<n>`
(plumbing: the checkout is never touched) and open its pull request. Idempotent: the
branch is the key, so a second delivery of the same event opens nothing new."""

from __future__ import annotations

from typing import Any

from runner import intake, tasks
from runner.actions import Event, Intent
from runner.forge.base import Forge
from runner.gitrepo import GitError
from runner.neutralize import for_post
from runner.sanitize import one_line
from runner.state import IDENTITY
from runner.taskops import commit_file
from runner.workspace import Workspace


def _issue(event: Event) -> dict[str, Any]:
    issue = event.payload.get("issue")
    return issue if isinstance(issue, dict) else {}


def handle(ws: Workspace, forge: Forge, event: Event, wanted: Intent) -> str:
    """What was done, in words. `wanted` is the decided intent (the sender checked)."""
    issue = _issue(event)
    number = wanted.issue or 0
    key = f"intake-{number}"
    fleet = ws.fleet
    role = wanted.role
    if role is None or role not in fleet.roles:
        names = ", ".join(sorted(fleet.roles))
        said = f"`{for_post(one_line(role, 40))}` is not a role of this fleet; " if role else ""
        forge.upsert_comment(
            number, key, f"{said}Which role should do this? Roles: {names}. Label the issue "
            f"`{fleet.config.forge.label_prefix}:role/<name>` or comment "
            f"`@{fleet.config.forge.mention} <role>`.",
        )  # fmt: skip
        return f"issue #{number}: asked which role"
    body = str(issue.get("body") or "")
    checks, reviews = intake.criteria(body)
    if not checks and not reviews:
        forge.upsert_comment(number, key, intake.ASK_FOR_CRITERIA)
        return f"issue #{number}: asked for acceptance criteria (no task without them)"
    branch = f"fleet-task/issue-{number}"
    if ws.remote and ws.git.succeeds("ls-remote", "--exit-code", ws.remote, f"refs/heads/{branch}"):
        return f"issue #{number}: already drafted on {branch}; nothing new"
    return _draft(ws, forge, issue, number, role, checks, reviews, wanted.note, branch)


def _draft(
    ws: Workspace,
    forge: Forge,
    issue: dict[str, Any],
    number: int,
    role: str,
    checks: tuple[str, ...],
    reviews: tuple[str, ...],
    note: str,
    branch: str,
) -> str:
    fleet = ws.fleet
    on_disk = [p.path.rsplit("/", 1)[-1].removesuffix(".yaml") for p in fleet.problems]
    task_id = tasks.next_id([*fleet.tasks, *on_disk])  # a broken file keeps its id
    author = str((issue.get("user") or {}).get("login") or "someone")
    rel, text, problems = tasks.prepare(
        task_id,
        roles=fleet.roles,
        known=set(fleet.tasks),
        role=role,
        title=one_line(str(issue.get("title") or f"Issue {number}"), 200),
        checks=checks,
        reviews=reviews,
        created=ws.now.strftime("%Y-%m-%d"),
        created_by=author,
        issue=number,
        description=intake.description(
            number, str(issue.get("html_url") or ""), author, str(issue.get("body") or ""), note
        ),
    )
    key = f"intake-{number}"
    if problems:
        found = "; ".join(p.message for p in problems[:5])
        forge.upsert_comment(number, key, f"The drafted task would not validate: {for_post(found)}")
        return f"issue #{number}: the draft does not validate ({found})"
    head = ws.git.rev(ws.head_ref())
    if head is None or ws.remote is None:
        return f"issue #{number}: no base branch or remote to draft on"
    message = f"Draft {task_id} from issue #{number}"
    commit = commit_file(ws.git, head, rel, text, message, dict(IDENTITY))
    try:
        ws.git.run("push", "--quiet", ws.remote, f"{commit}:refs/heads/{branch}")
    except GitError as exc:  # another delivery drafted it first: the branch is the key
        return f"issue #{number}: not drafted, the push was refused ({exc.stderr[:200]})"
    when = fleet.roles[role].schedule or "its next due run"
    pr = forge.open_pr(
        role=role,
        task=task_id,
        branch=branch,
        base=fleet.config.forge.base_branch,
        title=f"Task {task_id} ({role}): {one_line(str(issue.get('title') or ''), 150)}",
        body=(
            f"Drafted from issue #{number} by the runner. Review the task file; merging "
            f"this pull request assigns it.\n\nWhen it would run: after the merge, at "
            f"{role}'s next due run (schedule `{when}`), or at once on the merge push.\n\n"
            f"```yaml\n{text.replace('```', '` ` `')}```"
        ),
        draft=False,
    )
    forge.upsert_comment(number, key, f"Drafted task `{task_id}` for **{role}**: {pr.url or pr.id}")
    return f"issue #{number}: drafted {task_id} for {role} in {pr.url or pr.id}"
