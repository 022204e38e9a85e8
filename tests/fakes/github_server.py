"""A stateful subset of GitHub's REST API on loopback, for the real PyGithub client.

Issues (and pull requests, which GitHub also serves as issues), comments, reviews,
labels, collaborator permissions and the draft-state GraphQL mutations, with GitHub's
documented response shapes for the fields the runner reads. Fault switches make the
next matching requests fail (5xx, rate limits, 401) to test resilience; `fail_after`
applies a write and then answers with an error, as a proxy that times out after
GitHub did the work (the case where a blind retry duplicates).
"""

from __future__ import annotations

import json
import re
import threading
from dataclasses import dataclass, field
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler
from typing import Any
from urllib.parse import parse_qs, unquote, urlparse

from tests.fakes import Loopback

OWNER, REPO = "acme", "fleet"


_last = [datetime.now(UTC).timestamp()]


def _now() -> str:
    """Strictly increasing timestamps (one second apart at least), so events made in the
    same test second still have an order, as they would on GitHub."""
    _last[0] = max(datetime.now(UTC).timestamp(), _last[0] + 1)
    return datetime.fromtimestamp(_last[0], UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


@dataclass
class Fault:
    method: str
    path_regex: str
    status: int
    headers: dict[str, str] = field(default_factory=dict)
    body: dict[str, Any] = field(default_factory=dict)
    times: int = 1
    applied: bool = False  # do the request, then answer with the error anyway


@dataclass
class FakeGitHub(Loopback):
    # login -> admin/maintain/write/triage/read
    permissions: dict[str, str] = field(default_factory=dict)
    bots: set[str] = field(default_factory=lambda: {"github-actions[bot]"})
    token: str = "ghs_test_token"
    # A second token with read scopes only, as GitHub mints for a job whose permissions
    # are all `read`: reads succeed, writes get GitHub's 403.
    read_token: str | None = None
    read_log: list[tuple[str, str, int]] = field(default_factory=list)  # method, path, status
    viewer: str = "github-actions[bot]"
    issues: dict[int, dict[str, Any]] = field(default_factory=dict)
    comments: list[dict[str, Any]] = field(default_factory=list)
    reviews: list[dict[str, Any]] = field(default_factory=list)
    labels: dict[str, dict[str, Any]] = field(default_factory=dict)
    faults: list[Fault] = field(default_factory=list)
    app_public_key: str | None = None  # a GitHub App installed here (its JWTs verified)
    app_tokens: dict[str, dict[str, Any]] = field(default_factory=dict)  # minted -> request
    check_runs: dict[int, list[dict[str, Any]]] = field(default_factory=dict)  # suite -> runs
    job_logs: dict[int, str] = field(default_factory=dict)  # job (= check run) id -> log
    log: list[tuple[str, str]] = field(default_factory=list)
    _next: int = 1
    _lock: threading.RLock = field(default_factory=threading.RLock)

    # -- lifecycle ------------------------------------------------------------------

    def __enter__(self) -> FakeGitHub:
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:
                pass

            def _go(self) -> None:
                length = int(self.headers.get("content-length") or 0)
                raw = self.rfile.read(length) if length else b""
                body = json.loads(raw) if raw else {}
                status, data, headers = fake._dispatch(
                    self.command, self.path, body, dict(self.headers)
                )
                if status == 0:  # drop the connection without an answer
                    self.close_connection = True
                    return
                text = isinstance(data, bytes)  # a job log: plain text, as GitHub serves it
                out = data if text else b"" if data is None else json.dumps(data).encode()
                self.send_response(status)
                kind = "text/plain" if text else "application/json"
                self.send_header("content-type", f"{kind}; charset=utf-8")
                self.send_header("content-length", str(len(out)))
                self.send_header("x-ratelimit-limit", "5000")
                self.send_header("x-ratelimit-remaining", "4999")
                for k, v in headers.items():
                    self.send_header(k, v)
                self.end_headers()
                self.wfile.write(out)

            do_GET = do_POST = do_PATCH = do_DELETE = do_PUT = _go

        self.serve(Handler)
        return self

    # -- helpers for tests ----------------------------------------------------------

    def fail(
        self,
        method: str,
        path_regex: str,
        status: int,
        times: int = 1,
        headers: dict[str, str] | None = None,
        message: str = "fault",
    ) -> None:
        self.faults.append(
            Fault(method, path_regex, status, headers or {}, {"message": message}, times)
        )

    def fail_after(self, method: str, path_regex: str, status: int = 502, times: int = 1) -> None:
        """The next matching requests are carried out, then answered with `status`
        (0: the connection drops without an answer)."""
        self.faults.append(
            Fault(method, path_regex, status, {}, {"message": "Bad Gateway"}, times, True)
        )

    def user_comment(self, number: int, login: str, body: str) -> dict[str, Any]:
        with self._lock:
            return self._add_comment(number, body, login)

    def user_review(self, number: int, login: str, body: str, state: str = "COMMENTED") -> None:
        with self._lock:
            self.reviews.append(
                {
                    "id": self._id(),
                    "number": number,
                    "body": body,
                    "state": state,
                    "user": self._user(login),
                    "submitted_at": _now(),
                    "commit_id": "0" * 40,
                    "html_url": f"{self.url}/{OWNER}/{REPO}/pull/{number}#review",
                }
            )
            self.issues[number]["updated_at"] = _now()

    def open_issue(self, title: str, body: str, login: str = "founder-ana") -> int:
        """An issue opened by a person."""
        with self._lock:
            item = self._new_item({"title": title, "body": body}, login)
            return int(item["number"])

    def open_pull(
        self, head: str, title: str, login: str = "founder-ana", fork: str | None = None
    ) -> int:
        """A pull request opened by a person (as from the web UI), maybe from a fork."""
        with self._lock:
            _, data, _ = self._create_pull(
                {"head": head, "base": "main", "title": title, "body": ""}
            )
            item = self.issues[data["number"]]
            item["user"] = self._user(login)
            if fork:
                item["head"]["repo"] = {**self._repo(), "full_name": fork}
            return data["number"]

    def close(self, number: int, login: str = "founder-ana", merged: bool = False) -> None:
        with self._lock:
            item = self.issues[number]
            item.update(state="closed", closed_at=_now(), updated_at=_now())
            if merged:
                item["merged"] = True
                item["merged_at"] = _now()

    def open_issues(self, label: str | None = None) -> list[dict[str, Any]]:
        return [
            i
            for i in self.issues.values()
            if i["state"] == "open"
            and "head" not in i
            and (label is None or label in [lb["name"] for lb in i["labels"]])
        ]

    def pulls(self) -> list[dict[str, Any]]:
        return [i for i in self.issues.values() if "head" in i]

    def count(self, method: str, pattern: str) -> int:
        return sum(1 for m, p in self.log if m == method and re.search(pattern, p))

    # -- dispatch -------------------------------------------------------------------

    def _dispatch(
        self, method: str, raw_path: str, body: Any, headers: dict[str, str]
    ) -> tuple[int, Any, dict[str, str]]:
        parsed = urlparse(raw_path)
        path, query = parsed.path, {k: v[0] for k, v in parse_qs(parsed.query).items()}
        with self._lock:
            self.log.append((method, raw_path))
            blob = re.fullmatch(r"/_logs/(\d+)", path)
            if blob and method == "GET":  # the signed log URL a job's /logs redirects to
                return 200, self.job_logs.get(int(blob[1]), "").encode(), {}
            for fault in self.faults:
                if fault.times > 0 and fault.method == method and re.search(fault.path_regex, path):
                    fault.times -= 1
                    if fault.applied:
                        self._route(method, path, query, body)
                    return fault.status, fault.body, fault.headers
            auth = headers.get("Authorization") or headers.get("authorization") or ""
            if auth.startswith("Bearer ") and self.app_public_key and "." in auth:
                return self._app(method, path, body, auth.removeprefix("Bearer "))
            if auth.removeprefix("token ").removeprefix("Bearer ") in self.app_tokens:
                return self._route(method, path, query, body)
            if self.read_token and auth in (
                f"token {self.read_token}",
                f"Bearer {self.read_token}",
            ):
                return self._read_only(method, path, query, body)
            if auth != f"token {self.token}" and auth != f"Bearer {self.token}":
                return (
                    401,
                    {
                        "message": "Bad credentials",
                        "documentation_url": "https://docs.github.com/rest",
                    },
                    {},
                )
            return self._route(method, path, query, body)

    def _read_only(self, method: str, path: str, q: dict[str, str], body: Any):
        if method in ("GET", "HEAD"):
            answer = self._route(method, path, q, body)
        else:
            answer = (
                403,
                {
                    "message": "Resource not accessible by integration",
                    "documentation_url": "https://docs.github.com/rest",
                },
                {},
            )
        self.read_log.append((method, path, answer[0]))
        return answer

    def _route(self, method: str, path: str, q: dict[str, str], body: Any):
        base = f"/repos/{OWNER}/{REPO}"
        if path == "/graphql":
            return self._graphql(body)
        if not path.startswith(base):
            return 404, {"message": "Not Found"}, {}
        rest = path[len(base) :]
        routes = [
            ("GET", r"", lambda m: (200, self._repo(), {})),
            ("GET", r"/labels", lambda m: (200, list(self.labels.values()), {})),
            ("POST", r"/labels", lambda m: self._create_label(body)),
            ("GET", r"/pulls", lambda m: (200, [self._pull(i) for i in self._list_pulls(q)], {})),
            ("POST", r"/pulls", lambda m: self._create_pull(body)),
            ("GET", r"/pulls/(\d+)", lambda m: self._get(int(m[1]), pull=True)),
            ("PATCH", r"/pulls/(\d+)", lambda m: self._edit(int(m[1]), body, pull=True)),
            (
                "GET",
                r"/pulls/(\d+)/reviews",
                lambda m: (
                    200,
                    [self._review(r) for r in self.reviews if r["number"] == int(m[1])],
                    {},
                ),
            ),
            ("GET", r"/pulls/(\d+)/comments", lambda m: (200, [], {})),
            (
                "GET",
                r"/issues",
                lambda m: (200, [self._issue(i) for i in self._list_issues(q)], {}),
            ),
            ("POST", r"/issues", lambda m: self._create_issue(body)),
            ("GET", r"/issues/(\d+)", lambda m: self._get(int(m[1]))),
            ("PATCH", r"/issues/(\d+)", lambda m: self._edit(int(m[1]), body)),
            (
                "GET",
                r"/issues/(\d+)/comments",
                lambda m: (
                    200,
                    [
                        c
                        for c in self.comments
                        if c["number"] == int(m[1])
                        and (not q.get("since") or c["updated_at"] >= q["since"])
                    ],
                    {},
                ),
            ),
            (
                "POST",
                r"/issues/(\d+)/comments",
                lambda m: (
                    201,
                    self._add_comment(int(m[1]), body.get("body", ""), self.viewer),
                    {},
                ),
            ),
            ("GET", r"/check-suites/(\d+)", lambda m: (200, self._suite(int(m[1])), {})),
            (
                "GET",
                r"/check-suites/(\d+)/check-runs",
                lambda m: (200, self._runs(int(m[1])), {}),
            ),
            ("GET", r"/actions/jobs/(\d+)", lambda m: (200, self._job(int(m[1])), {})),
            (
                "GET",
                r"/actions/jobs/(\d+)/logs",
                lambda m: (302, None, {"location": f"{self.url}/_logs/{m[1]}"}),
            ),
            ("GET", r"/issues/comments/(\d+)", lambda m: self._comment(int(m[1]))),
            ("PATCH", r"/issues/comments/(\d+)", lambda m: self._comment(int(m[1]), body)),
            ("POST", r"/issues/(\d+)/labels", lambda m: self._add_labels(int(m[1]), body)),
            (
                "DELETE",
                r"/issues/(\d+)/labels/(.+)",
                lambda m: self._remove_label(int(m[1]), unquote(m[2])),
            ),
            ("GET", r"/collaborators/([^/]+)/permission", lambda m: self._permission(m[1])),
        ]
        for verb, pattern, handler in routes:
            match = re.fullmatch(pattern, rest)
            if verb == method and match:
                return handler(match)
        return 404, {"message": f"Not Found: {method} {path}"}, {}

    # -- resources ------------------------------------------------------------------

    def _id(self) -> int:
        self._next += 1
        return self._next * 1000

    def _user(self, login: str) -> dict[str, Any]:
        kind = "Bot" if login in self.bots or login.endswith("[bot]") else "User"
        return {
            "login": login,
            "id": abs(hash(login)) % 10**8,
            "type": kind,
            "url": f"{self.url}/users/{login}",
            "html_url": f"https://github.com/{login}",
        }

    def _repo(self) -> dict[str, Any]:
        return {
            "id": 1,
            "name": REPO,
            "full_name": f"{OWNER}/{REPO}",
            "owner": self._user(OWNER),
            "default_branch": "main",
            "private": False,
            "url": f"{self.url}/repos/{OWNER}/{REPO}",
            "html_url": f"https://github.com/{OWNER}/{REPO}",
        }

    def _label(self, name: str) -> dict[str, Any]:
        return self.labels.get(name) or {"name": name, "color": "ededed", "description": ""}

    def _create_label(self, body: dict[str, Any]):
        name = body["name"]
        if name in self.labels:
            return (
                422,
                {
                    "message": "Validation Failed",
                    "errors": [{"resource": "Label", "code": "already_exists", "field": "name"}],
                },
                {},
            )
        self.labels[name] = {
            "id": self._id(),
            "name": name,
            "color": body.get("color", "ededed"),
            "description": body.get("description", ""),
            "url": f"{self.url}/repos/{OWNER}/{REPO}/labels/{name}",
        }
        return 201, self.labels[name], {}

    def _new_item(self, body: dict[str, Any], user: str) -> dict[str, Any]:
        number = len(self.issues) + 1
        item = {
            "number": number,
            "id": self._id(),
            "node_id": f"NODE_{number}",
            "title": body.get("title", ""),
            "body": body.get("body", ""),
            "state": "open",
            "user": self._user(user),
            "labels": [self._label(n) for n in body.get("labels", [])],
            "assignees": [self._user(a) for a in body.get("assignees", [])],
            "created_at": _now(),
            "updated_at": _now(),
            "closed_at": None,
            "comments": 0,
        }
        self.issues[number] = item
        return item

    def _create_issue(self, body: dict[str, Any]):
        unknown = [a for a in body.get("assignees", []) if a not in self.permissions]
        if unknown:
            return (
                422,
                {
                    "message": "Validation Failed",
                    "errors": [
                        {
                            "resource": "Issue",
                            "code": "invalid",
                            "field": "assignees",
                            "value": unknown[0],
                        }
                    ],
                },
                {},
            )
        return 201, self._issue(self._new_item(body, self.viewer)), {}

    def _create_pull(self, body: dict[str, Any]):
        head = body["head"].split(":")[-1]
        if any(
            i.get("head", {}).get("ref") == head and i["state"] == "open"
            for i in self.issues.values()
        ):
            return (
                422,
                {
                    "message": "Validation Failed",
                    "errors": [
                        {
                            "resource": "PullRequest",
                            "code": "custom",
                            "message": f"A pull request already exists for {OWNER}:{head}.",
                        }
                    ],
                },
                {},
            )
        item = self._new_item(body, self.viewer)
        item.update(
            head={"ref": head, "sha": "1" * 40, "label": f"{OWNER}:{head}", "repo": self._repo()},
            base={
                "ref": body.get("base", "main"),
                "sha": "2" * 40,
                "label": f"{OWNER}:{body.get('base', 'main')}",
            },
            draft=bool(body.get("draft")),
            merged=False,
            merged_at=None,
        )
        return 201, self._pull(item), {}

    def _get(self, number: int, pull: bool = False):
        item = self.issues.get(number)
        if not item or (pull and "head" not in item):
            return 404, {"message": "Not Found"}, {}
        return 200, self._pull(item) if pull else self._issue(item), {}

    def _edit(self, number: int, body: dict[str, Any], pull: bool = False):
        item = self.issues.get(number)
        if not item:
            return 404, {"message": "Not Found"}, {}
        for key in ("title", "body", "state"):
            if key in body:
                item[key] = body[key]
        if "labels" in body:
            item["labels"] = [self._label(n) for n in body["labels"]]
        if body.get("state") == "closed":
            item["closed_at"] = _now()
        item["updated_at"] = _now()
        return 200, self._pull(item) if pull else self._issue(item), {}

    def _add_comment(self, number: int, text: str, login: str) -> dict[str, Any]:
        cid = self._id()
        comment = {
            "id": cid,
            "number": number,
            "body": text,
            "user": self._user(login),
            "created_at": _now(),
            "updated_at": _now(),
            "html_url": f"https://github.com/{OWNER}/{REPO}/issues/{number}#c",
            "url": f"{self.url}/repos/{OWNER}/{REPO}/issues/comments/{cid}",
        }
        self.comments.append(comment)
        self.issues[number]["comments"] += 1
        self.issues[number]["updated_at"] = _now()
        return comment

    def _app(self, method: str, path: str, body: Any, jwt_token: str):
        """The App endpoints: a JWT signed with the App's key finds the installation and
        mints a token (GitHub's shapes; the request is kept for the test to read)."""
        import jwt

        try:
            jwt.decode(jwt_token, self.app_public_key, algorithms=["RS256"])
        except jwt.PyJWTError as exc:
            return 401, {"message": f"A JSON web token could not be decoded: {exc}"}, {}
        if method == "GET" and path == f"/repos/{OWNER}/{REPO}/installation":
            return 200, {"id": 77, "app_id": 1, "account": self._user(OWNER)}, {}
        if method == "POST" and path == "/app/installations/77/access_tokens":
            minted = f"ghs_app_{len(self.app_tokens) + 1:036d}"
            self.app_tokens[minted] = body
            answer = {"token": minted, "expires_at": "2099-01-01T00:00:00Z", **body}
            return 201, answer, {}
        return 404, {"message": "Not Found"}, {}

    def ci_failure(self, suite: int, name: str, log: str, conclusion: str = "failure") -> int:
        """A check suite with one failed Actions job and its log; returns the job id."""
        job = self._id()
        run = {
            "id": job,
            "name": name,
            "status": "completed",
            "conclusion": conclusion,
            "html_url": f"https://github.com/{OWNER}/{REPO}/actions/runs/1/job/{job}",
            "url": f"{self.url}/repos/{OWNER}/{REPO}/check-runs/{job}",
            "output": {"title": f"{name} failed", "summary": "", "text": None},
        }
        self.check_runs.setdefault(suite, []).append(run)
        self.job_logs[job] = log
        return job

    def _suite(self, suite: int) -> dict[str, Any]:
        return {"id": suite, "url": f"{self.url}/repos/{OWNER}/{REPO}/check-suites/{suite}"}

    def _runs(self, suite: int) -> dict[str, Any]:
        runs = self.check_runs.get(suite, [])
        return {"total_count": len(runs), "check_runs": runs}

    def _job(self, job: int) -> dict[str, Any]:
        return {"id": job, "url": f"{self.url}/repos/{OWNER}/{REPO}/actions/jobs/{job}"}

    def _comment(self, cid: int, edit: dict[str, Any] | None = None):
        """One issue comment by id; with `edit`, its new body (GitHub's PATCH)."""
        found = next((c for c in self.comments if c["id"] == cid), None)
        if found is None:
            return 404, {"message": "Not Found"}, {}
        if edit is not None:
            found["body"] = edit.get("body", found["body"])
            found["updated_at"] = _now()
            found["edits"] = found.get("edits", 0) + 1
        return 200, found, {}

    def _add_labels(self, number: int, body: Any):
        names = body.get("labels", body) if isinstance(body, dict) else body
        item = self.issues[number]
        have = {lb["name"] for lb in item["labels"]}
        item["labels"] += [self._label(n) for n in names if n not in have]
        return 200, item["labels"], {}

    def _remove_label(self, number: int, name: str):
        item = self.issues[number]
        item["labels"] = [lb for lb in item["labels"] if lb["name"] != name]
        item["updated_at"] = _now()
        return 200, item["labels"], {}

    def _permission(self, login: str):
        level = self.permissions.get(login)
        if level is None:
            return 404, {"message": "Not Found"}, {}
        # GitHub's legacy `permission` has four values: triage reads as read, maintain as
        # write; the role itself is in role_name (a check on role_name would differ)
        legacy = {"triage": "read", "maintain": "write"}.get(level, level)
        return 200, {"permission": legacy, "role_name": level, "user": self._user(login)}, {}

    def _list_issues(self, q: dict[str, str]) -> list[dict[str, Any]]:
        state = q.get("state", "open")
        wanted = [w for w in q.get("labels", "").split(",") if w]
        out = []
        for item in sorted(self.issues.values(), key=lambda i: i["number"]):
            names = {lb["name"] for lb in item["labels"]}
            if state != "all" and item["state"] != state:
                continue
            if any(w not in names for w in wanted):
                continue
            if q.get("since") and item["updated_at"] < q["since"]:
                continue
            out.append(item)
        return out

    def _list_pulls(self, q: dict[str, str]) -> list[dict[str, Any]]:
        state = q.get("state", "open")
        head = q.get("head", "").split(":")[-1]
        return [
            i
            for i in sorted(self.issues.values(), key=lambda i: i["number"])
            if "head" in i
            and (state == "all" or i["state"] == state)
            and (not head or i["head"]["ref"] == head)
        ]

    def _issue(self, item: dict[str, Any]) -> dict[str, Any]:
        n = item["number"]
        out = {
            k: v
            for k, v in item.items()
            if k not in ("head", "base", "draft", "merged", "merged_at")
        }
        out.update(
            url=f"{self.url}/repos/{OWNER}/{REPO}/issues/{n}",
            html_url=f"https://github.com/{OWNER}/{REPO}/issues/{n}",
            comments_url=f"{self.url}/repos/{OWNER}/{REPO}/issues/{n}/comments",
            labels_url=f"{self.url}/repos/{OWNER}/{REPO}/issues/{n}/labels{{/name}}",
            repository_url=f"{self.url}/repos/{OWNER}/{REPO}",
        )
        if "head" in item:
            out["pull_request"] = {
                "url": f"{self.url}/repos/{OWNER}/{REPO}/pulls/{n}",
                "html_url": f"https://github.com/{OWNER}/{REPO}/pull/{n}",
            }
        return out

    def _pull(self, item: dict[str, Any]) -> dict[str, Any]:
        n = item["number"]
        out = dict(item)
        out.update(
            url=f"{self.url}/repos/{OWNER}/{REPO}/pulls/{n}",
            html_url=f"https://github.com/{OWNER}/{REPO}/pull/{n}",
            issue_url=f"{self.url}/repos/{OWNER}/{REPO}/issues/{n}",
        )
        return out

    def _review(self, r: dict[str, Any]) -> dict[str, Any]:
        return {k: v for k, v in r.items() if k != "number"}

    def _graphql(self, body: dict[str, Any]):
        query = body.get("query", "")
        node = json.dumps(body.get("variables", {}))
        number = int(re.search(r"NODE_(\d+)", node)[1]) if "NODE_" in node else None
        if number is None or number not in self.issues:
            return 200, {"errors": [{"message": "unknown node"}]}, {}
        if "markPullRequestReadyForReview" in query:
            self.issues[number]["draft"] = False
        elif "convertPullRequestToDraft" in query:
            self.issues[number]["draft"] = True
        pr = {"isDraft": self.issues[number]["draft"], "id": f"NODE_{number}"}
        key = (
            "markPullRequestReadyForReview"
            if "markPullRequestReadyForReview" in query
            else "convertPullRequestToDraft"
        )
        return 200, {"data": {key: {"pullRequest": pr}}}, {}
