"""A forge made of git alone, for offline trial and tests.

A "pull request" is the pushed work branch plus a record on the state branch; an
"issue" is a record there too. The records use the same find-or-create keys as GitHub.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import datetime
from typing import Any

from runner.clock import iso
from runner.forge.base import ForgeError, ForgeItem, Issue, PullRequest, marker
from runner.records import EscalationRef, ForgeEvent, ForgeView, PullRef
from runner.state import StateStore

LOCAL_HUMAN = "fleet local answer"  # the provenance of a human's answer, which is trusted


class LocalForge:
    name = "local"

    def __init__(self, store: StateStore, clock: Callable[[], datetime]) -> None:
        self.store = store
        self.clock = clock
        self.api_calls = 0

    def _pr_path(self, role: str, task: str) -> str:
        return f"forge/prs/{role}/{task}.json"

    def _issue_path(self, role: str, task: str | None, kind: str) -> str:
        return f"forge/issues/{role}/{task or '-'}/{kind}.json"

    def _issue_path_of(self, issue_id: str) -> str:
        """The record of `local-issue:<role>/<task>/<kind>`; ForgeError for anything else."""
        parts = issue_id.partition(":")[2].split("/")
        if not issue_id.startswith("local-issue:") or len(parts) != 3:
            raise ForgeError(
                f"{issue_id!r} is not a local escalation id (local-issue:<role>/<task>/<kind>)"
            )
        role, task, kind = parts
        return self._issue_path(role, None if task == "-" else task, kind)

    def _save(self, path: str, record: dict, message: str) -> None:
        self.store.write_json(path, record, message)

    def _open_record(self, path: str) -> dict[str, Any] | None:
        record = self.store.read_json(path)
        return record if isinstance(record, dict) and record.get("state") == "open" else None

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
        path = self._pr_path(role, task)
        now = iso(self.clock())
        existing = self._open_record(path)
        created_now = existing is None
        record: dict[str, Any] = (
            existing
            if existing is not None
            else {
                "id": f"local-pr:{role}/{task}",
                "branch": branch,
                "base": base,
                "created": now,
                "comments": [],
            }
        )
        record.update(
            title=title,
            body=body + "\n" + marker("pr", role, task),
            draft=draft,
            state="open",
            updated=now,
        )
        self._save(path, record, f"forge: {'open' if created_now else 'update'} PR {branch}")
        return _pr(record, created_now)

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
        path = self._issue_path(role, task, kind)
        now = iso(self.clock())
        existing = self._open_record(path)
        created_now = existing is None
        if existing is None:
            record: dict[str, Any] = {
                "id": f"local-issue:{role}/{task or '-'}/{kind}",
                "kind": kind,
                "role": role,
                "task": task,
                "created": now,
                "comments": [],
                "title": title,
                "body": body + "\n" + marker(f"escalation/{kind}", role, task),
                "assignees": list(assignees),
                "state": "open",
            }
        else:
            record = existing
            record["comments"].append(
                {"author": "fleet-runner", "created": now, "body": f"Escalated again:\n\n{body}"}
            )
        self._save(path, record, f"forge: escalation {kind} for {role}/{task}")
        return _issue(record, created_now)

    def close_escalation(self, issue: Issue, comment: str) -> None:
        path = self._issue_path_of(issue.id)
        if self._open_record(path) is not None:
            self.reply(issue.id, "fleet-runner", comment, close=True)

    def reply(
        self, issue_id: str, author: str, body: str, *, close: bool, via: str = "runner"
    ) -> dict[str, Any]:
        """A comment on a local escalation, as a person (or the runner) writes one.

        `via` records provenance: `fleet local answer` is the human at the keyboard with
        the repository (write access, so their answer is an instruction to the agent);
        anything else written to the record is not trusted."""
        path = self._issue_path_of(issue_id)
        record = self.store.read_json(path)
        if not isinstance(record, dict):
            raise ForgeError(f"no local escalation {issue_id}")
        now = iso(self.clock())
        record["comments"].append({"author": author, "created": now, "body": body, "via": via})
        if close and record.get("state") == "open":
            record.update(state="closed", closed=now)
        self._save(path, record, f"forge: {'close' if close else 'reply on'} {issue_id}")
        return record

    def open_pull(self, ref: str) -> dict[str, Any] | None:
        """The open local PR record for `<role>/<task>` or `local-pr:<role>/<task>`."""
        role, _, task = ref.removeprefix("local-pr:").partition("/")
        return self._open_record(self._pr_path(role, task)) if role and task else None

    def mark_merged(self, record: dict[str, Any]) -> None:
        role, _, task = record["id"].removeprefix("local-pr:").partition("/")
        record.update(state="merged", closed=iso(self.clock()))
        self._save(self._pr_path(role, task), record, f"forge: merge {record['id']}")

    def comment(self, ref: str, body: str) -> None:
        for path in self.store.list("forge/"):
            record = self.store.read_json(path)
            if record and record.get("id") == ref:
                record["comments"].append(
                    {"author": "fleet-runner", "created": iso(self.clock()), "body": body}
                )
                self._save(path, record, f"forge: comment on {ref}")
                return

    def ci_log(self, suite_id: int) -> tuple[str, str]:
        """The local forge runs no CI."""
        return "", ""

    def progress_comment(self, target: str, key: str, body: str) -> str:
        """The same comment GitHub would show, kept as a record on the state branch
        (`forge/progress/<key>.json`): created once, then edited, with a count of edits."""
        path = f"forge/progress/{key}.json"
        now = iso(self.clock())

        def change(old: Any) -> dict[str, Any]:
            record: dict[str, Any] = old if isinstance(old, dict) else {"created": now}
            edits = int(record.get("edits", -1)) + 1
            record.update(key=key, target=target, body=body, updated=now, edits=edits)
            return record

        self.store.update(path, change, f"forge: progress {key}")
        return f"recorded {path}"

    def cursor(self) -> str:
        return iso(self.clock())

    def events_since(self, role: str, since: str | None) -> list[ForgeEvent]:
        """Human comments on this role's local records; trusted only when written by
        `fleet local answer` (provenance `via`), so a record without it is data."""
        events = []
        for record in self._records(f"forge/issues/{role}/") + self._records(f"forge/prs/{role}/"):
            kind = "answer" if record["id"].startswith("local-issue") else "comment"
            for c in record.get("comments", []):
                # inclusive, as GitHub's `since` is: times are whole seconds, and an answer
                # written in the second the run's cursor was read was lost (the next run's
                # delta skipped it); one at the cursor may instead be shown twice
                if c.get("author") != "fleet-runner" and (since is None or c["created"] >= since):
                    events.append(
                        ForgeEvent(
                            kind,
                            record["id"],
                            record.get("task"),
                            c["author"],
                            c.get("via") == LOCAL_HUMAN,
                            c["created"],
                            c.get("body", ""),
                        )
                    )
        return events

    def pull_feedback(self, number: int, since: str | None) -> tuple[str, list[ForgeEvent]]:
        raise ForgeError(
            "the local forge has no numbered pull requests to revise; use the GitHub forge"
        )

    def upsert_comment(self, number: int, key: str, body: str) -> str:
        return "the local forge has no pull request comments; nothing posted"

    def trusted(self, login: str, user_type: str = "User") -> bool:
        return user_type != "Bot" and not login.endswith("[bot]")

    def activity(self, since: str | None) -> list[ForgeItem]:
        items = []
        for r in self._records("forge/prs/"):
            role, _, task = r["id"].split(":", 1)[1].partition("/")
            items.append(
                ForgeItem(
                    "pr",
                    r["id"],
                    "",
                    role,
                    task,
                    r.get("title", ""),
                    r.get("state", "open"),
                    r["created"],
                    r.get("closed"),
                )
            )
        for r in self._records("forge/issues/"):
            items.append(
                ForgeItem(
                    "escalation",
                    r["id"],
                    "",
                    r.get("role"),
                    r.get("task"),
                    r.get("title", ""),
                    r.get("state", "open"),
                    r["created"],
                    r.get("closed"),
                    r.get("kind"),
                )
            )
        return [
            i
            for i in items
            if since is None or i.state == "open" or max(i.created, i.closed or "") >= since
        ]

    def view(self) -> ForgeView:
        prs: dict[str, PullRef] = {}
        escalations: dict[str, tuple[EscalationRef, ...]] = {}
        for record in self._records("forge/prs/"):
            if record.get("state") == "open":
                task = record["id"].rsplit("/", 1)[1]
                prs[task] = PullRef(record["id"], "", record["created"], record.get("draft", False))
        for record in self._records("forge/issues/"):
            if record.get("state") == "open" and record.get("task"):
                ref = EscalationRef(
                    record["id"], record["kind"], "", record["created"], record.get("title", "")
                )
                escalations[record["task"]] = (*escalations.get(record["task"], ()), ref)
        return ForgeView(open_prs=prs, escalations=escalations)

    def _records(self, prefix: str) -> list[dict]:
        paths = [p for p in self.store.list(prefix) if p.endswith(".json")]
        out = []
        for raw in self.store.read_many(paths).values():
            try:
                out.append(json.loads(raw or b""))
            except ValueError:
                continue
        return out


def _pr(record: dict, created_now: bool) -> PullRequest:
    return PullRequest(
        record["id"],
        "",
        record["branch"],
        record["title"],
        record["draft"],
        record["state"],
        record["created"],
        created_now,
    )


def _issue(record: dict, created_now: bool) -> Issue:
    return Issue(
        record["id"],
        "",
        record["title"],
        record["kind"],
        record["state"],
        record["created"],
        created_now,
    )
