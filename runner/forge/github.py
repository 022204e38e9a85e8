"""The GitHub forge on PyGithub: agent PRs, escalation issues, labels, reviews, events.

Idempotent: PRs are found by head branch (GitHub refuses a second one anyway), issues
by label and hidden marker, and the creation of an escalation is claimed on the state
branch first, so two racing runs never open it twice. Connection, bounded retries
and error translation live in `github_client`; the read side (trust, events, activity,
the view, timestamps) in `github_reads`.
"""

from __future__ import annotations

import hashlib
import secrets
import time
from collections.abc import Callable, Mapping
from datetime import timedelta
from typing import Any

from runner import faults
from runner.clock import Clock, iso, parse
from runner.forge.base import (
    ForgeError,
    Issue,
    PullRequest,
    is_marked,
    marker,
)
from runner.forge.github_client import (
    connect,
    count_requests,
    create_once,
    retry_settings,
)
from runner.forge.github_reads import GitHubReads
from runner.model import ForgeSettings
from runner.state import DELETE, StateStore

CLAIM_TTL = timedelta(minutes=10)  # longer than opening one issue can take, retries included
LABELS = {  # suffix -> (colour, description)
    "escalation": ("d73a4a", "An agent needs a human: answer, then close"),
    "agent-pr": ("0e8a16", "Opened by a fleet agent; merging completes the task"),
    "kind": ("fbca04", "Kind of escalation"),
    "role": ("1d76db", "Fleet role"),
    "task": ("c5def5", "Fleet task"),
}


def _unclaimed(old: Any) -> Any:
    """Delete a claim that has no issue yet (a claim with one stays: the issue exists)."""
    return DELETE if isinstance(old, dict) and "issue" not in old else None


class GitHubForge(GitHubReads):
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
        self._progress: dict[tuple[str, str], Any] = {}  # (target, key) -> comment posted
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
            if _ours(issue, mark):
                return issue, False
        return None

    def _create_once(
        self, mark: str, title: str, body: str, labels: list[str], assignees: tuple[str, ...]
    ) -> tuple[Any, bool] | None:

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
            faults.hit("claim")  # claimed, no issue yet
            issue = self._create_issue(title, body, labels, assignees, find)
            faults.hit("issue")
        except BaseException:  # cancelled or failed: free the claim for the next run
            if self.store is not None:
                self.store.update(claim, _unclaimed, f"claim {claim}: released")
            raise
        if self.store is not None:
            self.store.write(
                {claim: (f'{{"marker": "{mark}", "issue": {issue.number}}}\n').encode()},
                f"claim {claim}: issue #{issue.number}",
            )
        return issue, True

    def _create_issue(
        self, title: str, body: str, labels: list[str], assignees: tuple[str, ...], find: Any
    ) -> Any:
        from github import GithubException

        try:
            return self._create(
                lambda: self.repo.create_issue(
                    title=title, body=body, labels=labels, assignees=list(assignees)
                ),
                find,
            )
        except GithubException as exc:
            if exc.status != 422 or not assignees:
                raise
            note = f"\n\n(Assignees {', '.join(assignees)} could not be assigned.)"
            return self._create(
                lambda: self.repo.create_issue(title=title, body=body + note, labels=labels),
                find,
            )

    def _claim_is_stale(self, old: dict[str, Any]) -> bool:
        """A claim whose issue was closed (answered) no longer blocks a new escalation;
        nor does one whose claimant died before opening the issue (CLAIM_TTL later)."""
        number = old.get("issue")
        if number is None:
            claimed = old.get("claimed")
            return not claimed or parse(str(claimed)) + CLAIM_TTL < self.clock.now()
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

    def progress_comment(self, target: str, key: str, body: str) -> str:
        """One comment per `key`, created once and then edited in place: the first call
        finds (by marker) or creates it, later calls PATCH the comment held (one request
        per edit)."""
        held = self._progress.get((target, key))
        if held is not None:
            with self._calls("edit the progress comment", "pull-requests: write"):
                held.edit(f"{body}\n<!-- fleet:kind={key} -->")
            return f"updated {held.html_url}"
        mark = f"<!-- fleet:kind={key} -->"
        with self._calls("post the progress comment", "pull-requests: write"):
            issue = self.repo.get_issue(int(target.lstrip("#")))

            def find() -> Any:
                return next((c for c in issue.get_comments() if _ours(c, mark)), None)

            found = find()
            if found is not None:
                found.edit(f"{body}\n{mark}")
            else:
                found = self._create(lambda: issue.create_comment(f"{body}\n{mark}"), find)
            self._progress[(target, key)] = found
            return f"posted {found.html_url}"

    def upsert_comment(self, number: int, key: str, body: str) -> str:
        mark = f"<!-- fleet:kind={key} -->"
        text = f"{body}\n{mark}"
        with self._calls("comment on pull requests", "pull-requests: write"):
            issue = self.repo.get_issue(number)

            def find() -> Any:
                return next((c for c in issue.get_comments() if _ours(c, mark)), None)

            found = find()
            if found is not None:
                found.edit(text)
                return f"updated {found.html_url}"
            return f"posted {self._create(lambda: issue.create_comment(text), find).html_url}"


def _ours(item: Any, mark: str) -> bool:
    """A comment or issue the runner wrote: its marker, and a bot's account. Anyone can
    type the marker (`intake-<n>` is predictable) and a write token may edit anyone's
    comment: an outsider's marked comment would become the runner's reply, theirs to
    rewrite; a triage user's labelled issue would be taken for its escalation."""
    user = getattr(item, "user", None)
    return getattr(user, "type", None) == "Bot" and is_marked(item.body or "", mark)
