"""Does `fleet-ci.yml` / `fleet-intake.yml` still reach what it names? `fleet validate`
asks this of the workflows `fleet init` wrote, because both can go quiet without an
error: `workflow_run` fires only for the CI workflows listed by name under `workflows:`
(a renamed or unlisted CI workflow never reaches the fleet), and the intake check job
starts only for comments naming the handle in its `if:` (a changed `forge.mention`
would make every `@<mention>` comment start nothing). A repository with no workflow of
its own has no CI to listen to: no warning then. Text-level, like `pinning`, so it
reports the line; values are read with the YAML parser."""

from __future__ import annotations

import re
from pathlib import Path

import yaml

from runner.model import Finding

_WORKFLOWS = re.compile(r"^\s*workflows:\s*\[([^\]]*)\]")
_NAME = re.compile(r"^name:")
_HANDLE = re.compile(r"contains\(github\.event\.comment\.body,\s*'([^']*)'\)")


def _texts(root: Path) -> dict[str, str]:
    folder = root / ".github" / "workflows"
    if not folder.is_dir():
        return {}
    return {
        f.relative_to(root).as_posix(): f.read_text("utf-8", errors="replace")
        for f in sorted([*folder.glob("*.yml"), *folder.glob("*.yaml")])
        if f.is_file() and not f.is_symlink() and f.stat().st_size <= 1 << 20
    }


def _own_names(texts: dict[str, str]) -> set[str]:
    """The `name:` of each of the repository's own workflows (not the fleet's), read as
    YAML reads it (quoting and escapes included)."""
    names = set()
    for path, text in texts.items():
        if path.rsplit("/", 1)[-1].startswith("fleet-"):
            continue
        line = next((x for x in text.splitlines() if _NAME.match(x)), None)
        value = _scalar(line.partition(":")[2]) if line else None
        if isinstance(value, str) and value:
            names.add(value)
    return names


def _scalar(text: str) -> object:
    try:
        return yaml.safe_load(text)
    except yaml.YAMLError:
        return None


def ci_workflow_names(root: Path) -> list[str]:
    """The repository's own workflows by name: what `fleet init` lists under fleet-ci.yml's
    `workflows:` (a fleet prunes the ones that are not CI)."""
    return sorted(_own_names(_texts(root)))


def check(root: Path, mention: str | None) -> list[Finding]:
    texts = _texts(root)
    # a repository without workflows of its own has no CI to listen to: no warning then
    names = _own_names(texts)
    found: list[Finding] = []
    for path, text in texts.items():
        if "fleet revise --phase claim" not in text and "fleet intake" not in text:
            continue  # only the workflows that drive the fleet
        for number, line in enumerate(text.splitlines(), 1):
            if (listed := _WORKFLOWS.match(line)) and "workflow_run" in text:
                values = _scalar(f"[{listed[1]}]")
                for wanted in values if isinstance(values, list) else []:
                    if names and str(wanted) not in names:
                        col = line.index("[") + 2
                        found.append(_missing(path, number, col, str(wanted), sorted(names)))
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
