"""Drafting a task from an issue (the edge of `runner.intake`): reply once when the issue
lacks what a task needs, else commit the drafted task file on `fleet-task/issue-<n>`
(plumbing: the checkout is never touched) and open its pull request; on a role with
`auto_assign: true`, at a write-access user's request, commit it to the base branch
instead (falling back to the pull request, and saying why, when the push is refused).
Idempotent, keyed on the issue: a task on the base branch that names the issue, or the
draft branch, means a second delivery of the same event commits nothing new."""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any

import yaml

from runner import intake, tasks
from runner.actions import Event, Intent
from runner.bodies import plain_title
from runner.errors import ConfigError, FleetError
from runner.forge.base import Forge
from runner.gitrepo import GitError
from runner.model import Task
from runner.neutralize import for_post
from runner.plan import make_plan
from runner.sanitize import one_line
from runner.state import IDENTITY
from runner.taskops import commit_file
from runner.workspace import Workspace

ATTEMPTS = 3  # builds on a moving base branch before giving up to a pull request


@dataclass(frozen=True)
class Request:
    """What the issue asks for, checked: the task's role, criteria and the asker."""

    number: int
    issue: dict[str, Any]
    role: str
    checks: tuple[str, ...]
    reviews: tuple[str, ...]
    note: str
    sender: str | None
    sender_id: object

    @property
    def key(self) -> str:
        return f"intake-{self.number}"

    @property
    def branch(self) -> str:
        return f"fleet-task/issue-{self.number}"


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
    sender = event.payload.get("sender")
    sender_id = sender.get("id") if isinstance(sender, dict) else None
    req = Request(number, issue, role, checks, reviews, wanted.note, wanted.sender, sender_id)
    known = [t.id for t in fleet.tasks.values() if t.issue == number]
    if known:
        return f"issue #{number}: already task {known[0]}; nothing new"
    if ws.remote and ws.git.succeeds(
        "ls-remote", "--exit-code", ws.remote, f"refs/heads/{req.branch}"
    ):
        return f"issue #{number}: already drafted on {req.branch}; nothing new"
    if not fleet.roles[role].auto_assign:
        return _draft(ws, forge, req, ws.git.rev(ws.head_ref()), [])
    why = _why_not_auto(forge, req)
    if why is not None:
        return _draft(ws, forge, req, ws.git.rev(ws.head_ref()), [], why)
    return _assign(ws, forge, req)


def _why_not_auto(forge: Forge, req: Request) -> str | None:
    """The trust checks at the edge (the forge's), the decision in `intake.blocker`."""
    found = req.issue.get("user")
    user: dict[str, Any] = found if isinstance(found, dict) else {}
    author = str(user.get("login") or "")
    sender_ok = bool(req.sender) and forge.trusted(str(req.sender))
    author_ok = bool(author) and (
        author == req.sender or forge.trusted(author, str(user.get("type") or "User"))
    )
    trailer = intake.coauthor(req.sender or "", req.sender_id)
    return intake.blocker(req.sender, sender_ok, trailer, author or "someone", author_ok)


def _prepare(ws: Workspace, req: Request, taken: list[str]) -> tuple[str, str, str, list[str]]:
    """The new task's id, path and text, and what `fleet validate` would say against it."""
    fleet = ws.fleet
    on_disk = [p.path.rsplit("/", 1)[-1].removesuffix(".yaml") for p in fleet.problems]
    task_id = intake.task_id(
        req.number, {*fleet.tasks, *on_disk, *taken}
    )  # a broken file keeps its id
    author = str((req.issue.get("user") or {}).get("login") or "someone")
    rel, text, problems = tasks.prepare(
        task_id,
        roles=fleet.roles,
        known=set(fleet.tasks) | set(taken),
        role=req.role,
        title=one_line(str(req.issue.get("title") or f"Issue {req.number}"), 200),
        checks=req.checks,
        reviews=req.reviews,
        created=ws.now.strftime("%Y-%m-%d"),
        created_by=author,
        issue=req.number,
        description=intake.description(
            req.number, str(req.issue.get("html_url") or ""), author,
            str(req.issue.get("body") or ""), req.note,
        ),
    )  # fmt: skip
    return task_id, rel, text, [p.message for p in problems]


def _invalid(forge: Forge, req: Request, problems: list[str]) -> str:
    found = "; ".join(problems[:5])
    forge.upsert_comment(
        req.number, req.key, f"The drafted task would not validate: {for_post(found)}"
    )
    return f"issue #{req.number}: the draft does not validate ({found})"


def _draft(
    ws: Workspace,
    forge: Forge,
    req: Request,
    head: str | None,
    taken: list[str],
    why: str | None = None,
) -> str:
    """The task PR on `fleet-task/issue-<n>`; `why` says why it is not auto-assigned."""
    fleet = ws.fleet
    task_id, rel, text, problems = _prepare(ws, req, taken)
    if problems:
        return _invalid(forge, req, problems)
    if head is None or ws.remote is None:
        raise _nowhere(req.number, "no base branch or remote to draft the task on")
    message = f"Draft {task_id} from issue #{req.number}"
    commit = commit_file(ws.git, head, rel, text, message, dict(IDENTITY))
    try:
        ws.git.run("push", "--quiet", ws.remote, f"{commit}:refs/heads/{req.branch}")
    except GitError as exc:  # another delivery drafted it first: the branch is the key
        return f"issue #{req.number}: not drafted, the push was refused ({exc.stderr[:200]})"
    when = fleet.roles[req.role].schedule or "its next due run"
    instead = f"Not assigned at once: {why}.\n\n" if why else ""
    pr = forge.open_pr(
        role=req.role,
        task=task_id,
        branch=req.branch,
        base=fleet.config.forge.base_branch,
        # the PR title is the squash commit's message: an outsider's `Fixes #1` must not
        # close an issue when a maintainer merges the draft
        title=f"Task {task_id} ({req.role}): {plain_title(str(req.issue.get('title') or ''), 150)}",
        body=(
            f"Drafted from issue #{req.number} by the runner. Review the task file; merging "
            f"this pull request assigns it.\n\n{instead}When it would run: after the merge, "
            f"at {req.role}'s next due run (schedule `{when}`), or at once on the merge push."
            f"\n\n```yaml\n{text.replace('```', '` ` `')}```"
        ),
        draft=False,
    )
    link = pr.url or pr.id
    reply = f"Drafted task `{task_id}` for **{req.role}**: {link}"
    forge.upsert_comment(req.number, req.key, reply + (f"\n\n{instead.strip()}" if why else ""))
    because = f" (not auto-assigned: {why})" if why else ""
    return f"issue #{req.number}: drafted {task_id} for {req.role} in {link}{because}"


def _assign(ws: Workspace, forge: Forge, req: Request) -> str:
    """Commit the task file to the base branch, crediting the requester; a refused push
    (a protected branch) becomes the task PR, with the refusal as the reason."""
    base = ws.fleet.config.forge.base_branch
    remote = ws.remote
    if remote is None:
        raise _nowhere(req.number, "no remote to commit the task to")
    trailer = intake.coauthor(req.sender or "", req.sender_id) or ""
    for _ in range(ATTEMPTS):
        tracking = f"refs/remotes/{remote}/{base}"
        ws.git.run("fetch", "--quiet", "--no-tags", remote, f"+refs/heads/{base}:{tracking}")
        tip = ws.git.rev(tracking)
        if tip is None:
            raise _nowhere(req.number, f"{remote} has no branch {base}")
        found = _task_for_issue(ws, tip, req.number)
        if found:
            return f"issue #{req.number}: already assigned in {found}; nothing new"
        taken = _task_ids(ws, tip)
        task_id, rel, text, problems = _prepare(ws, req, taken)
        if problems:
            return _invalid(forge, req, problems)
        message = intake.assign_message(task_id, req.role, req.number, str(req.sender), trailer)
        commit = commit_file(ws.git, tip, rel, text, message, dict(IDENTITY))
        try:
            ws.git.run("push", "--quiet", remote, f"{commit}:refs/heads/{base}")
        except GitError as exc:
            refused = intake.refusal(exc.stderr)
            if refused is None:
                continue  # the branch moved on: build again on its new tip
            why = f"the push to `{base}` was refused ({refused})"
            return _draft(ws, forge, req, tip, taken, why)
        when = _when(ws, forge, rel, text)
        reply = (
            f"Assigned task `{task_id}` to **{req.role}** without a task pull request "
            f"(`auto_assign` is on for this role), at {req.sender}'s request: "
            f"{_commit_link(ws, commit)}\n\nWhen it runs (the plan's view now): {when}"
        )
        forge.upsert_comment(req.number, req.key, reply)
        return f"issue #{req.number}: assigned {task_id} to {req.role} in {commit[:12]} on {base}"
    why = f"`{base}` kept moving ({ATTEMPTS} pushes lost the race)"
    return _draft(ws, forge, req, ws.git.rev(f"refs/remotes/{remote}/{base}"), [], why)


def _nowhere(number: int, what: str) -> ConfigError:
    """The request was valid but this checkout cannot act on it: a failure to say, never
    an "all done" (the person who asked would wait for a PR that never comes)."""
    return ConfigError(
        f"issue #{number}: {what}",
        hint="run fleet intake in a clone of the repository that has its origin remote and "
        "base branch (the workflow's checkout does); forge.base_branch in fleet.yaml names it",
    )


def _task_ids(ws: Workspace, tip: str) -> list[str]:
    names = ws.git.run("ls-tree", "--name-only", tip, "tasks/").split()
    return [n.rsplit("/", 1)[-1].removesuffix(".yaml") for n in names if n.endswith(".yaml")]


def _task_for_issue(ws: Workspace, tip: str, number: int) -> str | None:
    """The task file on `tip` drafted from issue `number` (its top-level `issue:` key)."""
    try:
        out = ws.git.run("grep", "-l", "-E", f"^issue: {number}$", tip, "--", "tasks/")
    except GitError as exc:
        if exc.returncode == 1:  # no match
            return None
        raise
    first = out.split()[0] if out.split() else ""
    return first.partition(":")[2] or None


def _commit_link(ws: Workspace, sha: str) -> str:
    server = ws.environ.get("GITHUB_SERVER_URL", "https://github.com").rstrip("/")
    repo = ws.environ.get("GITHUB_REPOSITORY", "")
    return f"{server}/{repo}/commit/{sha}" if repo else f"commit {sha}"


def _when(ws: Workspace, forge: Forge, rel: str, text: str) -> str:
    """What the planner would decide for the new task at the next tick."""
    task = Task.from_dict(yaml.safe_load(text), rel)
    fleet = replace(ws.fleet, tasks={**ws.fleet.tasks, task.id: task})
    view = replace(ws, fleet=fleet)
    try:
        runs = view.runs()
        states = view.states(runs, forge.view())
    except FleetError as exc:
        return f"unknown: the ledger or the forge could not be read ({one_line(str(exc), 200)})"
    plan = make_plan(fleet, states, runs, ws.now, roles=[task.role])
    decision = next((d for d in plan.decisions if d.task == task.id), None)
    if decision is None:
        return "unknown: the plan does not list it (fleet plan says why)"
    if decision.run:
        return f"the next tick runs it ({decision.reason})."
    return f"not at the next tick: {decision.reason}."
