"""The GitHub forge's read side: clocks, trust and events, activity and the view.

Split from `github` (the writes) to keep each module readable; `GitHubForge` inherits
it. Timestamps: ages (PRs, escalations, activity) are put on the runner's clock by the
clock's skew; events and the event cursor stay on GitHub's own clock (see `cursor`).
"""

from __future__ import annotations

from contextlib import AbstractContextManager
from datetime import datetime
from typing import Any

from runner.clock import Clock, iso, parse
from runner.forge.base import ForgeError, ForgeItem, parse_marker, runner_wrote
from runner.forge.github_client import translate_errors
from runner.model import ForgeSettings
from runner.records import EscalationRef, ForgeEvent, ForgeView, PullRef

TRUSTED = ("admin", "maintain", "write")


class GitHubReads:
    """Everything the GitHub forge reads. The attributes are set by `GitHubForge`."""

    gh: Any
    full_name: str
    settings: ForgeSettings
    clock: Clock
    _repo: Any
    _trust: dict[str, bool]

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

    def ci_log(self, suite_id: int) -> tuple[str, str]:
        """The log of the first failed job in check suite `suite_id`, and the link a person
        reads it at; the check run's own output when the log cannot be had (not an
        Actions job, or expired); ("", "") when nothing in the suite failed."""
        import requests

        with self._calls("read check runs and job logs", "checks: read, actions: read"):
            suite = self.repo.get_check_suite(suite_id)
            failed = [r for r in suite.get_check_runs() if r.conclusion in ("failure", "timed_out")]
            if not failed:
                return "", ""
            run = failed[0]
            try:
                url = self.repo.get_workflow_job(run.id).logs_url()
                text = requests.get(url, timeout=30).text
            except Exception:  # not an Actions job, or its log expired: its output then
                out = run.output
                text = "\n".join(x for x in (out.title, out.summary, out.text) if x) if out else ""
            return text[-500_000:], run.html_url or ""

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
                # a fork's PR may name its branch fleet/<role>/<task>: not an agent PR (it
                # would hold the task "in review" and take a CI failure's revision)
                head_repo = pr.head.repo.full_name if pr.head.repo else None
                if head_repo != self.full_name:
                    continue
                if ref.startswith(prefix) and ref.count("/") >= 2:
                    task = ref.rsplit("/", 1)[1]
                    prs[task] = PullRef(
                        f"#{pr.number}", pr.html_url, self._at(pr.created_at), bool(pr.draft)
                    )
            for issue in self.repo.get_issues(state="open", labels=[self._label("escalation")]):
                if getattr(issue.user, "type", None) != "Bot":
                    continue  # a person's issue (triage may label): the runner's are a bot's
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
