"""Every environment variable the runner reads is in the README's table."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
READS = re.compile(
    r"""(?:environ(?:\.get)?\(\s*|environ\[\s*|getenv\(\s*|\(\s*environ,\s*)["']([A-Z][A-Z0-9_]+)["']"""
)


def reads_in_code() -> set[str]:
    found: set[str] = set()
    for path in (ROOT / "runner").rglob("*.py"):
        found |= set(READS.findall(path.read_text()))
    return found


def documented() -> set[str]:
    text = (ROOT / "README.md").read_text()
    table = text.split("## Environment variables", 1)[1].split("\n## ", 1)[0]
    return set(re.findall(r"`([A-Z][A-Z0-9_]+)`", table))


def test_every_variable_the_runner_reads_is_documented() -> None:
    code = reads_in_code()
    assert {"ANTHROPIC_BASE_URL", "FLEET_NOW", "FLEET_GITHUB_RETRIES"} <= code  # sees reads
    assert sorted(code - documented()) == []


def test_the_pattern_finds_each_way_of_reading() -> None:
    sample = 'environ.get("A_B") environ["CC"] os.getenv("DD") integer(environ, "E_F", 5)'
    assert set(READS.findall(sample)) == {"A_B", "CC", "DD", "E_F"}
