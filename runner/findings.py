"""Render findings for people (compiler style), programs (JSON) and GitHub (annotations)."""

from __future__ import annotations

import json
from collections.abc import Iterable

from runner.model import Finding


def render(findings: Iterable[Finding], fmt: str) -> str:
    findings = list(findings)
    if fmt == "json":
        return json.dumps([f.to_dict() for f in findings], indent=2)
    if fmt == "github":
        return "\n".join(_annotation(f) for f in findings)
    return "\n".join(
        f"{f.path}:{f.line}:{f.col}: {f.severity}: {f.message} [{f.code}]" for f in findings
    )


def summary(findings: Iterable[Finding], files: int) -> str:
    findings = list(findings)
    errors = sum(f.severity == "error" for f in findings)
    warnings = len(findings) - errors
    if not findings:
        return f"{files} files checked: no problems"
    return f"{files} files checked: {errors} error(s), {warnings} warning(s)"


def quarantined(problems: Iterable[Finding]) -> str:
    """Task files that plan, status, sla and tick left out, each with its finding."""
    problems = list(problems)
    return (
        f"Not planned: {len(problems)} error(s) in task files; fix them ('fleet validate'):\n"
        + ("\n".join(f"  {line}" for line in render(problems, "text").splitlines()))
    )


def escape_data(text: str) -> str:
    """Escape a workflow-command message (GitHub's toolkit rules)."""
    return text.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")


def escape_property(text: str) -> str:
    return escape_data(text).replace(":", "%3A").replace(",", "%2C")


def _annotation(f: Finding) -> str:
    props = ",".join(
        f"{k}={escape_property(str(v))}"
        for k, v in (("file", f.path), ("line", f.line), ("col", f.col), ("title", f.code))
    )
    return f"::{f.severity} {props}::{escape_data(f.message)}"
