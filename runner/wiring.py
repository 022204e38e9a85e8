"""Does `fleet-ci.yml` / `fleet-intake.yml` still reach what it names? `fleet validate`
asks this of the workflows `fleet init` wrote, because both can go quiet without an
error: `workflow_run` fires only for the CI workflows listed by name under `workflows:`
(a renamed or unlisted CI workflow never reaches the fleet), and the intake check job
starts only for comments naming the handle in its `if:` (a changed `forge.mention`
would make every `@<mention>` comment start nothing). A repository with no workflow of
its own has no CI to listen to: no warning then. Text-level, like `pinning`, so it
reports the line and needs no YAML parser."""

from __future__ import annotations

import re
from pathlib import Path

from runner.model import Finding

_WORKFLOWS = re.compile(r"^\s*workflows:\s*\[([^\]]*)\]")
_NAME = re.compile(r"^name:\s*['\"]?(.*?)['\"]?\s*(?:#.*)?$")
_HANDLE = re.compile(r"contains\(github\.event\.comment\.body,\s*'([^']*)'\)")


def check(root: Path, mention: str | None) -> list[Finding]:
    folder = root / ".github" / "workflows"
    if not folder.is_dir():
        return []
    texts = {
        f.relative_to(root).as_posix(): f.read_text("utf-8", errors="replace")
        for f in sorted([*folder.glob("*.yml"), *folder.glob("*.yaml")])
        if f.is_file() and not f.is_symlink() and f.stat().st_size <= 1 << 20
    }
    # the repository's own workflows (not the fleet's): a repository without any has no
    # CI to listen to, and saying so would only be noise
    names = {
        m[1]
        for path, text in texts.items()
        if not path.rsplit("/", 1)[-1].startswith("fleet-")
        for line in text.splitlines()
        if (m := _NAME.match(line))
    }
    found: list[Finding] = []
    for path, text in texts.items():
        if "fleet revise --phase claim" not in text and "fleet intake" not in text:
            continue  # only the workflows that drive the fleet
        for number, line in enumerate(text.splitlines(), 1):
            if (listed := _WORKFLOWS.match(line)) and "workflow_run" in text:
                for wanted in [w.strip().strip("'\"") for w in listed[1].split(",")]:
                    if wanted and names and wanted not in names:
                        col = line.index(wanted) + 1
                        found.append(_missing(path, number, col, wanted, sorted(names)))
            handle = _HANDLE.search(line)
            if handle and mention is not None and handle[1] != mention:
                message = (
                    f"the intake check job starts only for comments naming {handle[1]!r}, "
                    f"but forge.mention is {mention!r}: `@{mention} <role>` comments would "
                    f"start nothing; write '{mention}' here"
                )
                found.append(Finding(path, number, handle.start(1) + 1, "warning", message,
                                     code="intake-handle"))  # fmt: skip
    return found


def _missing(path: str, line: int, col: int, wanted: str, names: list[str]) -> Finding:
    message = (
        f"workflow_run listens to a CI workflow named {wanted!r}, and no workflow in "
        ".github/workflows/ has that name, so CI failures never reach the fleet; list "
        f"your CI workflows here (this repository has: {', '.join(map(repr, names))})"
    )
    return Finding(path, line, col, "warning", message, code="ci-trigger")
