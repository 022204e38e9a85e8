"""The agent's tools: their public contract (names, inputs) and their confined effects.

Every refusal or failure is returned to the model as an `is_error` result, never raised
into the loop: a model that asks for something it may not have learns why and moves on.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from runner.acceptance import Report
from runner.agent import safefs
from runner.agent.sandbox import Sandbox, ToolError
from runner.engines.base import Terminal
from runner.mcp_config import PREFIX as MCP_PREFIX
from runner.model import Role, Task
from runner.paths import matches
from runner.sanitize import reveal
from runner.tasks import next_id, prepare

if TYPE_CHECKING:
    from runner.mcp import McpTools

READ_CAP = 100_000
LIST_CAP = 500
SEARCH_CAP = 200

_STR = {"type": "string"}
SPECS: dict[str, dict[str, Any]] = {
    "read_file": {
        "description": "Read a text file of the repository (path relative to its root).",
        "input_schema": {"type": "object", "properties": {"path": _STR}, "required": ["path"]},
    },
    "list_files": {
        "description": "List repository files matching a glob ('**' crosses directories), "
        "e.g. 'app/**/*.py'.",
        "input_schema": {
            "type": "object",
            "properties": {"pattern": _STR},
            "required": ["pattern"],
        },
    },
    "search": {
        "description": "Search file contents with an extended regular expression; returns "
        "path:line: text for each match.",
        "input_schema": {
            "type": "object",
            "properties": {"pattern": _STR},
            "required": ["pattern"],
        },
    },
    "write_file": {
        "description": "Create or replace a file. Only paths your role may write.",
        "input_schema": {
            "type": "object",
            "properties": {"path": _STR, "content": _STR},
            "required": ["path", "content"],
        },
    },
    "edit_file": {
        "description": "Replace the one occurrence of `old` in a file with `new`.",
        "input_schema": {
            "type": "object",
            "properties": {"path": _STR, "old": _STR, "new": _STR},
            "required": ["path", "old", "new"],
        },
    },
    "run_command": {
        "description": "Run one allow-listed command in the repository root (no shell: "
        "pipes, redirections and '&&' are not interpreted). Returns exit code and output.",
        "input_schema": {
            "type": "object",
            "properties": {"command": _STR},
            "required": ["command"],
        },
    },
    "run_acceptance": {
        "description": "Run the task's acceptance checks now and see which pass.",
        "input_schema": {"type": "object", "properties": {}},
    },
    "propose_task": {
        "description": "Delegate work to a role by writing a new task into this PR. It must "
        "carry acceptance criteria: items {check: command} or {review: text}.",
        "input_schema": {
            "type": "object",
            "properties": {
                "role": _STR,
                "title": _STR,
                "description": _STR,
                "acceptance": {
                    "type": "array",
                    "minItems": 1,
                    "items": {"type": "object", "properties": {"check": _STR, "review": _STR}},
                },
            },
            "required": ["role", "title", "description", "acceptance"],
        },
    },
    "escalate": {
        "description": "Stop and ask a human: a missing or rejected credential, a decision "
        "that is not yours, a blocker, or a failure you cannot fix. Say exactly what you "
        "need answered.",
        "input_schema": {
            "type": "object",
            "properties": {
                "kind": {"enum": ["credential", "decision", "blocked", "failure"]},
                "summary": _STR,
            },
            "required": ["kind", "summary"],
        },
    },
    "finish": {
        "description": "Declare the task done. The acceptance checks run; if they fail you "
        "get their output and may continue.",
        "input_schema": {
            "type": "object",
            "properties": {"summary": _STR},
            "required": ["summary"],
        },
    },
}


@dataclass
class Result:
    content: str
    is_error: bool = False
    wrote: bool = False
    terminal: Terminal | None = None
    fatal: str = ""  # the run cannot go on (an MCP server died): why, where, what to do
    source: str = "builtin"  # whose tool it was, for the transcript ("mcp:<server>")


@dataclass
class ToolBox:
    sandbox: Sandbox
    role: Role
    task: Task
    roles: dict[str, Role]
    task_ids: set[str]
    acceptance: Callable[[], Report]
    today: str
    files: Callable[[], list[str]] | None = None  # runner-side listing (runner git)
    runner_paths: set[str] = field(default_factory=set)  # written here, kept in commits
    proposed: list[str] = field(default_factory=list)
    mcp: McpTools | None = None  # the role's MCP servers for this run (runner.mcp)

    def specs(self) -> list[dict[str, Any]]:
        own = [{"name": name, **SPECS[name]} for name in SPECS if name in self.role.tools]
        return own + (self.mcp.specs() if self.mcp is not None else [])

    def call(self, name: str, args: dict[str, Any]) -> Result:
        if self.mcp is not None and name.startswith(MCP_PREFIX):
            # capped, revealed and wrapped by runner.mcp; refused there unless allowed
            r = self.mcp.call(name, args)
            return Result(r.content, is_error=r.is_error, fatal=r.fatal, source=r.source)
        if name not in self.role.tools or name not in SPECS:
            return Result(f"unknown or unavailable tool '{name}'", is_error=True)
        required = SPECS[name]["input_schema"].get("required", [])
        missing = [k for k in required if not isinstance(args.get(k), str | list)]
        if missing:
            return Result(f"{name}: missing input {', '.join(missing)}", is_error=True)
        try:
            result: Result = getattr(self, f"_{name}")(
                **{k: args[k] for k in args if k in SPECS[name]["input_schema"]["properties"]}
            )
        except (ToolError, safefs.UnsafePath) as exc:
            result = Result(str(exc), is_error=True)
        except OSError as exc:
            result = Result(f"{name} failed: {exc.strerror or exc}", is_error=True)
        # the one seam for text from outside (files, command output): hidden parts made
        # visible, wrapper tags escaped (runner.sanitize.reveal)
        result.content = reveal(result.content)
        return result

    def _read_file(self, path: str) -> Result:
        _, rel = self.sandbox.resolve(path)
        data = self._read(rel, READ_CAP + 1)
        if data is None:
            raise ToolError(f"{rel}: no such file")
        if b"\0" in data[:8192]:
            raise ToolError(f"{rel}: binary file, not shown")
        text = data[:READ_CAP].decode("utf-8", errors="replace")
        if len(data) > READ_CAP:
            text += "\n[... file continues: more bytes not shown]"
        return Result(text)

    def _read(self, rel: str, limit: int | None = None) -> bytes | None:
        """In-process reads never follow a link (not even one inside the tree: the
        runner's own process holds every credential, /proc/self/environ included)."""
        st = safefs.lstat(self.sandbox.root, rel)
        if st is None:
            return None
        return safefs.read_bytes(self.sandbox.root, rel, limit)

    def _files(self) -> list[str]:
        if self.files is not None:
            return [p for p in self.files() if not p.startswith(".git/")]
        return sorted(safefs.walk_files(self.sandbox.root))

    def _list_files(self, pattern: str) -> Result:
        found = [p for p in self._files() if matches(p, pattern)]
        shown = "\n".join(found[:LIST_CAP])
        more = f"\n[... and {len(found) - LIST_CAP} more]" if len(found) > LIST_CAP else ""
        return Result((shown + more) or f"no files match {pattern}")

    def _search(self, pattern: str) -> Result:
        try:
            regex = re.compile(pattern)
        except re.error as exc:
            raise ToolError(f"invalid regular expression: {exc}") from None
        hits: list[str] = []
        for rel in self._files():
            try:
                text = (self._read(rel) or b"").decode("utf-8")
            except (OSError, UnicodeDecodeError, safefs.UnsafePath):
                continue
            for n, line in enumerate(text.splitlines(), 1):
                if regex.search(line):
                    hits.append(f"{rel}:{n}: {line[:200]}")
                    if len(hits) > SEARCH_CAP:
                        return Result("\n".join(hits[:SEARCH_CAP]) + "\n[... more matches]")
        return Result("\n".join(hits) or f"no matches for {pattern}")

    def _write_file(self, path: str, content: str) -> Result:
        _, rel = self.sandbox.resolve(path, write=True)
        safefs.write_bytes(self.sandbox.root, rel, content.encode("utf-8"))
        return Result(f"wrote {rel} ({len(content)} characters)", wrote=True)

    def _edit_file(self, path: str, old: str, new: str) -> Result:
        _, rel = self.sandbox.resolve(path, write=True)
        data = self._read(rel)
        if data is None:
            raise ToolError(f"{rel}: no such file")
        text = data.decode("utf-8")
        count = text.count(old) if old else 0
        if count != 1:
            raise ToolError(f"{rel}: `old` must occur exactly once, found {count} times")
        safefs.write_bytes(self.sandbox.root, rel, text.replace(old, new, 1).encode("utf-8"))
        return Result(f"edited {rel}", wrote=True)

    def _run_command(self, command: str) -> Result:
        r = self.sandbox.run_argv(command)
        status = "timed out" if r.timed_out else f"exit code {r.exit_code}"
        return Result(f"{status}\n{r.output}", is_error=not r.ok)

    def _run_acceptance(self) -> Result:
        report = self.acceptance()
        text = f"{report.summary()}\n{report.details()}"
        if report.reviews:
            text += "\nFor the human reviewer: " + "; ".join(report.reviews)
        return Result(text, is_error=not report.passed)

    def _propose_task(self, role: str, title: str, description: str, acceptance: list) -> Result:
        if role not in self.roles:
            raise ToolError(f"unknown role '{role}' (roles: {', '.join(sorted(self.roles))})")
        items = [a for a in acceptance if isinstance(a, dict)]
        checks = tuple(a["check"] for a in items if isinstance(a.get("check"), str) and a["check"])
        reviews = tuple(
            a["review"] for a in items if isinstance(a.get("review"), str) and a["review"]
        )
        if not checks and not reviews:
            raise ToolError(
                "a proposed task needs acceptance criteria: items {check: command} "
                "or {review: text}"
            )
        task_id = next_id([*self.task_ids, *self.proposed])
        rel, text, problems = prepare(
            task_id,
            roles=self.roles,
            known={*self.task_ids, *self.proposed},
            role=role,
            title=title,
            checks=checks,
            reviews=reviews,
            description=description,
            created_by=self.role.name,
            created=self.today,
            parent=self.task.id,
        )
        if problems:  # never write a task file that `fleet validate` would reject
            raise ToolError("; ".join(p.message for p in problems))
        if safefs.lstat(self.sandbox.root, rel) is not None:
            raise ToolError(f"{rel} already exists")
        safefs.write_bytes(self.sandbox.root, rel, text.encode("utf-8"))
        self.runner_paths.add(rel)
        self.proposed.append(task_id)
        return Result(
            f"proposed {task_id} for {role}: {rel} is part of this pull request", wrote=True
        )

    def _escalate(self, kind: str, summary: str) -> Result:
        if kind not in ("credential", "decision", "blocked", "failure"):
            raise ToolError("kind must be one of credential, decision, blocked, failure")
        return Result("escalated; stop here", terminal=Terminal(kind, summary))

    def _finish(self, summary: str) -> Result:
        return Result("finishing", terminal=Terminal("finish", summary))
