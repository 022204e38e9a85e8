"""The GitHub forge on PyGithub: agent PRs, escalation issues, labels, reviews, events.

Idempotent: PRs are found by head branch (GitHub refuses a second one anyway), issues
by label and hidden marker, and the creation of an escalation is claimed on the state
branch first, so two racing runs never open it twice. Connection, bounded retries
and error translation live in `github_client`.
"""

from __future__ import annotations

import hashlib
import secrets
import time
from collections.abc import Callable, Mapping
from contextlib import AbstractContextManager
from datetime import datetime
from typing import Any

from runner.clock import Clock, iso, parse
from runner.forge.base import (
    ForgeError,
    ForgeItem,
    Issue,
    PullRequest,
    is_marked,
    marker,
    parse_marker,
    runner_wrote,
)
from runner.forge.github_client import (
    connect,
    count_requests,
    create_once,
    retry_settings,
    translate_errors,
)
from runner.model import ForgeSettings
from runner.records import EscalationRef, ForgeEvent, ForgeView, PullRef
from runner.state import StateStore

TRUSTED = ("admin", "maintain", "write")
LABELS = {  # suffix -> (colour, description)
    "escalation": ("d73a4a", "An agent needs a human: answer, then close"),
    "agent-pr": ("0e8a16", "Opened by a fleet agent; merging completes the task"),
    "kind": ("fbca04", "Kind of escalation"),
    "role": ("1d76db", "Fleet role"),
    "task": ("c5def5", "Fleet task"),
}


class GitHubForge:
    name = "github"

    def __init__(
        self,
        gh: Any,
        repository: str,
        settings: ForgeSettings,
        store: StateStore | None,
        clock: Clock,
        sleep: Callable[[float], None] = time.sleep,
        retries: int = 5,
        backoff: float = 1.0,
    ) -> None:
        self.gh = gh
        self.full_name = repository
        self.owner = repository.split("/")[0]
        self.settings = settings
        self.store = store
        self.clock = clock
        self.sleep = sleep
        self.retries, self.backoff = retries, backoff
        self._repo: Any = None
        self._labels: set[str] | None = None
        self._trust: dict[str, bool] = {}
        self._counter = count_requests()

    @classmethod
    def from_env(
        cls,
        environ: Mapping[str, str],
        settings: ForgeSettings,
        *,
        store: StateStore | None,
        clock: Clock,
    ) -> GitHubForge:
        gh, repository = connect(environ)
        retries, backoff = retry_settings(environ)
        return cls(gh, repository, settings, store, clock, retries=retries, backoff=backoff)

    # -- plumbing -------------------------------------------------------------------

    @property
    def api_calls(self) -> int:
        return self._counter.count

    @property
    def repo(self) -> Any:
        if self._repo is None:
            self._repo = self.gh.get_repo(self.full_name)  # lazy: no request until used
        return self._repo

    def _at(self, stamp: datetime) -> str:
        """A GitHub timestamp (wall clock) on the runner's clock, which FLEET_NOW may
        have moved, for ages measured against `now` (PRs, escalations, activity)."""
        return iso(stamp + self.clock.skew)

    def _on_github(self, since: str) -> datetime:
        """A time on the runner's clock as GitHub's wall clock has it (for `since=`)."""
        return parse(since) - self.clock.skew

    def cursor(self) -> str:
        """Now on GitHub's clock. Event times and the checkpoint's event cursor stay on
        GitHub's clock: a cursor on the runner's clock would restart at FLEET_NOW in
        every process and hide the answers given in between."""
        return iso(self.clock.now() - self.clock.skew)

    def _label(self, suffix: str) -> str:
        return f"{self.settings.label_prefix}:{suffix}"

    def _calls(self, what: str, permission: str) -> AbstractContextManager[None]:
        return translate_errors(what, permission)

    def _create(self, create: Callable[[], Any], find: Callable[[], Any]) -> Any:
        """Create once: after a 5xx or a dropped connection, look (by marker) first."""
        return create_once(
            create, find, retries=self.retries, backoff=self.backoff, sleep=self.sleep
        )

    def _post_comment(self, issue: Any, body: str, mark: str) -> Any:
        """A comment whose hidden marker gets a nonce, so a create whose answer was lost
        is found rather than posted twice."""
        mark = mark.replace(" -->", f" id={secrets.token_hex(6)} -->", 1)
        text = f"{body}\n{mark}"

        def find() -> Any:
            return next((c for c in issue.get_comments() if is_marked(c.body or "", mark)), None)

        return self._create(lambda: issue.create_comment(text), find)

    def _ensure_labels(self, names: list[str]) -> None:
        from github import GithubException

        with self._calls("read labels", "issues: read"):
            if self._labels is None:
                self._labels = {label.name for label in self.repo.get_labels()}
        for name in names:
            if name in self._labels:
                continue
            kind = name.split(":", 1)[1].split("/", 1)[0]
            colour, description = LABELS.get(kind, ("ededed", "fleet-runner"))
            with self._calls("create labels", "issues: write"):
                try:
                    self.repo.create_label(name, colour, description)
                except GithubException as exc:
                    if exc.status != 422:  # 422: already exists (another job made it)
                        raise
            self._labels.add(name)

    # -- pull requests --------------------------------------------------------------

    def open_pr(
        self, *, role: str, task: str, branch: str, base: str, title: str, body: str, draft: bool
    ) -> PullRequest:
        from github import GithubException

        labels = [self._label("agent-pr"), self._label(f"role/{role}"), self._label(f"task/{task}")]
        self._ensure_labels(labels)
        text = f"{body}\n{marker('pr', role, task)}"
        with self._calls("open pull requests", "pull-requests: write"):
            pr = self._find_pr(branch)
            created = pr is None
            if pr is None:
                try:
                    pr = self._create(
                        lambda: self.repo.create_pull(
                            base=base, head=branch, title=title, body=text, draft=draft
                        ),
                        lambda: self._find_pr(branch),
                    )
                except GithubException as exc:
                    pr = self._find_pr(branch) if exc.status == 422 else None
                    if pr is None:
                        raise
                    created = False
            if not created:
                pr.edit(title=title, body=text)
                if pr.draft and not draft:
                    pr.mark_ready_for_review()
                elif draft and not pr.draft:
                    pr.convert_to_draft()
            pr.add_to_labels(*labels)
        return PullRequest(
            f"#{pr.number}",
            pr.html_url,
            branch,
            title,
            draft,
            "open",
            self._at(pr.created_at),
            created,
        )

    def _find_pr(self, branch: str) -> Any:
        for pr in self.repo.get_pulls(state="open", head=f"{self.owner}:{branch}"):
            return pr
        return None

    # -- escalations ----------------------------------------------------------------

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
        mark = marker(f"escalation/{kind}", role, task)
        labels = [
            self._label("escalation"),
            self._label(f"kind/{kind}"),
            self._label(f"role/{role}"),
        ] + ([self._label(f"task/{task}")] if task else [])
        self._ensure_labels(labels)
        with self._calls("open escalation issues", "issues: write"):
            found = self._find_issue(mark, labels) or self._create_once(
                mark, title, f"{body}\n{mark}", labels, assignees
            )
            if found is None:
                raise ForgeError(
                    "another run claimed this escalation but its issue did not "
                    "appear; re-run the job"
                )
            issue, created = found
            if not created:
                self._post_comment(
                    issue, f"Escalated again:\n\n{body}", marker("comment", role, task)
                )
        return Issue(
            f"#{issue.number}",
            issue.html_url,
            issue.title,
            kind,
            "open",
            self._at(issue.created_at),
            created,
        )

    def _find_issue(self, mark: str, labels: list[str]) -> tuple[Any, bool] | None:
        for issue in self.repo.get_issues(state="open", labels=labels[:2] + labels[3:]):
            if is_marked(issue.body or "", mark):
                return issue, False
        return None

    def _create_once(
        self, mark: str, title: str, body: str, labels: list[str], assignees: tuple[str, ...]
    ) -> tuple[Any, bool] | None:
        from github import GithubException

        claim = f"forge/claims/{hashlib.sha256(mark.encode()).hexdigest()[:24]}.json"
        won = self.store is None or self.store.claim(
            claim,
            {"marker": mark, "claimed": iso(self.clock.now())},
            stale=lambda old: self._claim_is_stale(old),
        )
        if not won:
            for delay in (0.5, 1, 2, 4):  # the winner is creating it right now
                self.sleep(delay)
                found = self._find_issue(mark, labels)
                if found:
                    return found
            return None

        def find() -> Any:
            found = self._find_issue(mark, labels)
            return found[0] if found else None

        try:
            issue = self._create(
                lambda: self.repo.create_issue(
                    title=title, body=body, labels=labels, assignees=list(assignees)
                ),
                find,
            )
        except GithubException as exc:
            if exc.status != 422 or not assignees:
                raise
            issue = self._create(
                lambda: self.repo.create_issue(
                    title=title,
                    body=body + f"\n\n(Assignees {', '.join(assignees)} could not be assigned.)",
                    labels=labels,
                ),
                find,
            )
        if self.store is not None:
            self.store.write(
                {claim: (f'{{"marker": "{mark}", "issue": {issue.number}}}\n').encode()},
                f"claim {claim}: issue #{issue.number}",
            )
        return issue, True

    def _claim_is_stale(self, old: dict[str, Any]) -> bool:
        """A claim whose issue was closed (answered) no longer blocks a new escalation."""
        number = old.get("issue")
        if number is None:
            return False
        issue = self.repo.get_issue(int(number))
        names = {label.name for label in issue.labels}
        return issue.state == "closed" or self._label("escalation") not in names

    def close_escalation(self, issue: Issue, comment: str) -> None:
        with self._calls("close escalation issues", "issues: write"):
            item = self.repo.get_issue(int(issue.id.lstrip("#")))
            self._post_comment(item, comment, "<!-- fleet:kind=comment -->")
            item.edit(state="closed")

    def comment(self, ref: str, body: str) -> None:
        with self._calls("comment", "issues: write"):
            item = self.repo.get_issue(int(ref.lstrip("#")))
            self._post_comment(item, body, "<!-- fleet:kind=comment -->")

    def upsert_comment(self, number: int, key: str, body: str) -> str:
        mark = f"<!-- fleet:kind={key} -->"
        text = f"{body}\n{mark}"
        with self._calls("comment on pull requests", "pull-requests: write"):
            issue = self.repo.get_issue(number)

            def find() -> Any:
                return next(
                    (c for c in issue.get_comments() if is_marked(c.body or "", mark)), None
                )

            found = find()
            if found is not None:
                found.edit(text)
                return f"updated {found.html_url}"
            return f"posted {self._create(lambda: issue.create_comment(text), find).html_url}"

    # -- trust and events -----------------------------------------------------------

    def trusted(self, login: str, user_type: str = "User") -> bool:
        """Write access or better, and not a bot (bots never trigger work: no loops)."""
        if user_type == "Bot" or login.endswith("[bot]"):
            return False
        if login not in self._trust:
            from github import GithubException

            try:
                permission = self.repo.get_collaborator_permission(login)
            except GithubException:
                permission = "none"
            self._trust[login] = permission in TRUSTED
        return self._trust[login]

    def events_since(self, role: str, since: str | None) -> list[ForgeEvent]:
        kwargs: dict[str, Any] = {"state": "all", "labels": [self._label(f"role/{role}")]}
        if since:
            kwargs["since"] = parse(since)
        events: list[ForgeEvent] = []
        with self._calls("read issues", "issues: read"):
            for item in self.repo.get_issues(**kwargs):
                info = parse_marker(item.body or "") or {}
                task = info.get("task") if info.get("task") != "-" else None
                is_pr = item.pull_request is not None
                comments = item.get_comments(since=parse(since)) if since else item.get_comments()
                for c in comments:
                    if runner_wrote(c.body or ""):
                        continue  # the runner's own comments
                    events.append(
                        ForgeEvent(
                            "comment" if is_pr else "answer",
                            f"#{item.number}",
                            task,
                            c.user.login,
                            self.trusted(c.user.login, c.user.type),
                            iso(c.created_at),
                            c.body or "",
                            c.html_url,
                        )
                    )
                if is_pr:
                    events.extend(self._pr_events(item, task, since))
        return events

    def _pr_events(self, item: Any, task: str | None, since: str | None) -> list[ForgeEvent]:
        pr = item.as_pull_request()
        out = []
        for review in pr.get_reviews():
            when = iso(review.submitted_at) if review.submitted_at else ""
            if since and when <= since:
                continue
            out.append(
                ForgeEvent(
                    "review",
                    f"#{pr.number}",
                    task,
                    review.user.login,
                    self.trusted(review.user.login, review.user.type),
                    when,
                    f"[{review.state}] {review.body or ''}".strip(),
                    review.html_url,
                )
            )
        if pr.state == "closed" and pr.closed_at and (not since or iso(pr.closed_at) > since):
            kind = "merged" if pr.merged else "closed"
            out.append(
                ForgeEvent(
                    kind, f"#{pr.number}", task, "-", True, iso(pr.closed_at), "", pr.html_url
                )
            )
        return out

    def pull_feedback(self, number: int, since: str | None) -> tuple[str, list[ForgeEvent]]:
        """The PR's head branch, and reviews and comments on it since `since`."""
        events: list[ForgeEvent] = []
        with self._calls("read pull requests", "pull-requests: read"):
            pr = self.repo.get_pull(number)
            branch = pr.head.ref
            head_repo = pr.head.repo.full_name if pr.head.repo else None
            if head_repo != self.full_name:
                raise ForgeError(
                    f"PR #{number} comes from {head_repo or 'a deleted fork'}, not "
                    f"{self.full_name}: agents never act on forks' code"
                )
            task = branch.rsplit("/", 1)[-1]
            for review in pr.get_reviews():
                when = iso(review.submitted_at) if review.submitted_at else ""
                if (since and when <= since) or not (review.body or "").strip():
                    continue
                events.append(
                    ForgeEvent(
                        "review",
                        f"#{number}",
                        task,
                        review.user.login,
                        self.trusted(review.user.login, review.user.type),
                        when,
                        review.body or "",
                        review.html_url,
                    )
                )
            comments = [
                *pr.get_review_comments(**({"since": parse(since)} if since else {})),
                *pr.get_issue_comments(),
            ]
            for c in comments:
                when = iso(c.created_at)
                if (since and when <= since) or runner_wrote(c.body or ""):
                    continue
                where = f" on {c.path}" if getattr(c, "path", None) else ""
                events.append(
                    ForgeEvent(
                        "comment",
                        f"#{number}",
                        task,
                        c.user.login,
                        self.trusted(c.user.login, c.user.type),
                        when,
                        f"{c.body}{where}",
                        c.html_url,
                    )
                )
        return branch, sorted(events, key=lambda e: e.created)

    def activity(self, since: str | None) -> list[ForgeItem]:
        items: list[ForgeItem] = []
        kwargs: dict[str, Any] = {"state": "all"}
        if since:
            kwargs["since"] = self._on_github(since)
        with self._calls("read issues", "issues: read"):
            for label, kind in (("agent-pr", "pr"), ("escalation", "escalation")):
                for issue in self.repo.get_issues(labels=[self._label(label)], **kwargs):
                    info = parse_marker(issue.body or "") or {}
                    state = issue.state
                    if kind == "pr" and state == "closed" and issue.pull_request is not None:
                        merged = getattr(issue.pull_request, "merged_at", None)
                        if merged is None:
                            merged = issue.as_pull_request().merged_at
                        state = "merged" if merged else "closed"
                    task = info.get("task") if info.get("task") != "-" else None
                    items.append(
                        ForgeItem(
                            kind,
                            f"#{issue.number}",
                            issue.html_url,
                            info.get("role"),
                            task,
                            issue.title,
                            state,
                            self._at(issue.created_at),
                            self._at(issue.closed_at) if issue.closed_at else None,
                            info.get("kind", "").split("/")[-1] if kind == "escalation" else None,
                        )
                    )
        return items

    def view(self) -> ForgeView:
        prs: dict[str, PullRef] = {}
        escalations: dict[str, tuple[EscalationRef, ...]] = {}
        prefix = self.settings.branch_prefix
        with self._calls("read pull requests", "pull-requests: read"):
            for pr in self.repo.get_pulls(state="open"):
                ref = pr.head.ref
                if ref.startswith(prefix) and ref.count("/") >= 2:
                    task = ref.rsplit("/", 1)[1]
                    prs[task] = PullRef(
                        f"#{pr.number}", pr.html_url, self._at(pr.created_at), bool(pr.draft)
                    )
            for issue in self.repo.get_issues(state="open", labels=[self._label("escalation")]):
                info = parse_marker(issue.body or "")
                if not info or info.get("task", "-") == "-":
                    continue
                kind = info.get("kind", "").split("/")[-1]
                ref = EscalationRef(
                    f"#{issue.number}",
                    kind,
                    issue.html_url,
                    self._at(issue.created_at),
                    issue.title,
                )
                escalations[info["task"]] = (*escalations.get(info["task"], ()), ref)
        return ForgeView(open_prs=prs, escalations=escalations)
