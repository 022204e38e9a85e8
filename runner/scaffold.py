"""The files `fleet init` writes: the example fleet, or a minimal one, plus schemas and
workflows. Computed as a {path: text} map so callers can check conflicts first."""

from __future__ import annotations

import json
import os
import re
import tempfile
from datetime import date
from pathlib import Path

from runner.resources import RUNNER_ACTION_REF, data_dir

_NAME_LINE = re.compile(r"^name: .*$", re.MULTILINE)

MINIMAL_ROLE = """\
# yaml-language-server: $schema=../../schemas/role.schema.json
name: engineer
description: Implements small, well-specified changes with tests.
engine: anthropic
schedule: "0 */6 * * *"
writable: ["src/**", "tests/**", "docs/**", "*.md"]
commands: ["python -m pytest*", "ruff *", "git diff*"]
escalate_to: []
"""

MINIMAL_DIRECTIVES = """\
# Engineer

- Read the sync delta first; founders' commits override your assumptions.
- Make the acceptance checks pass, run them with `run_acceptance`, then `finish`.
- Missing credential, unclear criterion, or the same failure twice: `escalate`.
"""

MINIMAL_TASK = """\
# yaml-language-server: $schema=../schemas/task.schema.json
id: t-001
title: Write a CONTRIBUTING guide
role: engineer
description: Explain how to set up, test and submit a change in CONTRIBUTING.md.
acceptance:
  - check: test -s CONTRIBUTING.md
  - review: a new contributor can follow it without asking questions
"""


_CI_NAMES = "    workflows: [CI]  # the names of this repository's CI workflows"


def files(
    *,
    example: bool,
    name: str,
    runner_ref: str | None = None,
    today: date | None = None,
    ci_workflows: list[str] | None = None,
) -> dict[str, str]:
    """`runner_ref` (OWNER/REPO@SHA, checked by the caller) replaces the runner action
    the workflows use. `today` dates the example tasks' `created:` (shipped fixed dates
    greeted a new fleet with SLA breaches). `ci_workflows`: the repository's own
    workflows by name, which fleet-ci.yml then listens to instead of `CI`."""
    out: dict[str, str] = {}
    for kind, prefix in (("schemas", "schemas"), ("workflows", ".github/workflows")):
        out.update(_tree(data_dir(kind), prefix))
    if runner_ref:
        for rel in [r for r in out if r.startswith(".github/")]:
            out[rel] = out[rel].replace(f"uses: {RUNNER_ACTION_REF}", f"uses: {runner_ref}")
    ci = ".github/workflows/fleet-ci.yml"
    if ci_workflows and ci in out:
        listed = ", ".join(json.dumps(n) for n in ci_workflows)  # JSON strings are YAML
        line = f"    workflows: [{listed}]  # this repository's workflows when `fleet init` ran"
        out[ci] = out[ci].replace(_CI_NAMES, line)
    fleet_dir = data_dir("fleet")
    config = (fleet_dir / "fleet.yaml").read_text("utf-8")
    out["fleet/fleet.yaml"] = _NAME_LINE.sub(f"name: {_yaml_str(name)}", config, count=1)
    out["fleet/directives/all.md"] = (fleet_dir / "directives" / "all.md").read_text("utf-8")
    if example:
        for rel, text in _tree(fleet_dir, "fleet").items():
            out.setdefault(rel, text)
        out.update(_tree(data_dir("tasks"), "tasks"))
        if today is not None:
            out.update(_dated(out, today))
    else:
        out["fleet/roles/engineer.yaml"] = MINIMAL_ROLE
        out["fleet/directives/engineer.md"] = MINIMAL_DIRECTIVES
        out["tasks/t-001.yaml"] = MINIMAL_TASK
    return out


_CREATED = re.compile(r"^created: (\d{4}-\d{2}-\d{2})$", re.MULTILINE)


def _dated(out: dict[str, str], today: date) -> dict[str, str]:
    """The task files created today: the example's own spread of dates already put
    tasks past a 72-hour SLA on a new fleet's first day."""
    tasks = {rel: text for rel, text in out.items() if rel.startswith("tasks/")}
    return {rel: _CREATED.sub(f"created: {today}", text) for rel, text in tasks.items()}


def dated_before(root: Path) -> date | None:
    """The newest `created:` among the tasks an earlier `init` wrote under `root`, so
    running init again another day changes nothing instead of refusing to overwrite."""
    found = [
        date.fromisoformat(m)
        for path in sorted((root / "tasks").glob("t-*.yaml"))
        for m in _CREATED.findall(path.read_text("utf-8", errors="replace"))
    ]
    return max(found) if found else None


def write(root: Path, files: dict[str, str]) -> list[str]:
    """Write each file atomically; return the paths whose content changed."""
    written = []
    for rel, text in sorted(files.items()):
        path = root / rel
        if path.exists() and path.read_text("utf-8", errors="replace") == text:
            continue
        write_atomic(path, text)
        written.append(rel)
    return written


def write_atomic(path: Path, text: str) -> None:
    """Replace `path` in one step, so a killed process never leaves half a file. The file
    gets the mode `open()` would give it (0666 less the umask): mkstemp's 0600 would make
    a published Pages site or a committed task file unreadable to everyone else."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        os.fchmod(fd, 0o666 & ~current_umask())
        with os.fdopen(fd, "w", encoding="utf-8", newline="\n") as handle:
            handle.write(text)
        Path(tmp).replace(path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def current_umask() -> int:
    """The process umask, read without changing it where Linux allows (os.umask can only
    be read by setting it, which races with other threads)."""
    try:
        with open("/proc/self/status", encoding="ascii") as status:
            for line in status:
                if line.startswith("Umask:"):
                    return int(line.split()[1], 8)
    except (OSError, ValueError):
        pass
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def _tree(base: Path, prefix: str) -> dict[str, str]:
    return {
        f"{prefix}/{p.relative_to(base).as_posix()}": p.read_text("utf-8")
        for p in sorted(base.rglob("*"))
        if p.is_file() and not p.name.startswith(".")
    }


def _yaml_str(value: str) -> str:
    return value if re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9 ._-]*", value) else repr(value)
