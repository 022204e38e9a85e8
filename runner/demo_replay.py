"""What `fleet demo` needs to show a model role at work offline: the environment that
points the real anthropic client at the loopback replay (runner/replay_server.py), the
label the replayed runs carry, and the records a founder would look at afterwards.

Why a replay server rather than a fake engine: the demo's model role then goes through
everything a real one does (the SDK over HTTP with its streaming and retries, the
runner's key preflight, tool loop, tools in the sandbox, acceptance checks, commits,
progress comment, transcript, cost and cache accounting, escalation and resume); only
the model's replies are recorded. See docs/architecture.md.
"""

from __future__ import annotations

import shlex
from collections.abc import Iterator, Mapping, MutableMapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from runner import progress
from runner.replay_server import PLACEHOLDER_KEY

NOTE = (
    "REPLAY: the model's replies in this run are a recorded session shipped with "
    "fleet-runner, served by `fleet demo` on 127.0.0.1; no model was called. The tools, "
    "checks, commits and accounting ran for real; tokens and cost are the replay's "
    "estimates."
)
# Variables that could send a model call anywhere but the replay: never passed on.
PROVIDER_PREFIXES = ("ANTHROPIC_", "CLAUDE_", "AWS_", "GOOGLE_", "CLOUD_ML_", "OPENAI_")


def environ(base: Mapping[str, str], url: str) -> dict[str, str]:
    """`base` without any model credential or endpoint, plus the placeholder key and the
    replay's address: whatever the user has set, no model call leaves the machine."""
    env = {k: v for k, v in base.items() if not k.startswith(PROVIDER_PREFIXES)}
    env["ANTHROPIC_API_KEY"] = PLACEHOLDER_KEY
    env["ANTHROPIC_BASE_URL"] = url
    return env


@contextmanager
def direct(process_env: MutableMapping[str, str]) -> Iterator[None]:
    """Calls to the replay on 127.0.0.1 bypass any proxy the user's shell sets (the SDK's
    HTTP client reads HTTP_PROXY and NO_PROXY from the process environment): `NO_PROXY`
    names the loopback while the demo runs, and is put back afterwards."""
    saved = {k: process_env.get(k) for k in ("NO_PROXY", "no_proxy")}
    for k, v in saved.items():
        process_env[k] = ",".join(p for p in (v, "127.0.0.1", "localhost") if p)
    try:
        yield
    finally:
        for k, v in saved.items():
            if v is None:
                process_env.pop(k, None)
            else:
                process_env[k] = v


def answer_argv(root: Path, issue: str, text: str) -> list[str]:
    """`fleet local answer` as the user would type it in the demo's repository."""
    return ["fleet", "-C", str(root), "local", "answer", issue, text]


def shown(argv: list[str]) -> str:
    return shlex.join(argv)


def progress_comment(store: Any, run_id: str) -> str | None:
    """The run's progress comment as the local forge keeps it (None if it has none)."""
    record = store.read_json(f"forge/progress/{progress.key(run_id)}.json")
    return str(record.get("body", "")) if isinstance(record, dict) else None


def pr_record(store: Any, role: str, task: str) -> dict[str, Any] | None:
    record = store.read_json(f"forge/prs/{role}/{task}.json")
    return record if isinstance(record, dict) else None


def indented(text: str, prefix: str = "     ", limit: int = 0) -> str:
    lines = text.splitlines()
    if limit and len(lines) > limit:
        lines = [*lines[:limit], "..."]
    return "\n".join(prefix + line if line else prefix.rstrip() for line in lines)
