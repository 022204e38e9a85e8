"""The broken-file corpus: every defect is found at its line, exit 1, no traceback."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
import yaml

from tests.conftest import DATA

CORPUS = DATA / "invalid"
CASES = yaml.safe_load((CORPUS / "cases.yaml").read_text())


def test_corpus_is_large_enough():
    assert len(CASES) >= 25


@pytest.mark.parametrize("name", sorted(CASES))
def test_invalid_case(name: str, example: Path, fleet_cli) -> None:
    expect = CASES[name]
    case_dir = CORPUS / name
    if case_dir.is_dir():
        shutil.copytree(case_dir, example, dirs_exist_ok=True)
    target = example / expect["path"]
    if expect.get("generate") == "big":
        target.write_text("id: t-900\ndescription: |\n" + "  lorem ipsum dolor\n" * 300_000)
        assert target.stat().st_size > 5_000_000
    elif expect.get("generate") == "symlink":
        outside = example.parent / "outside.yaml"
        outside.write_text("id: t-900\n")
        target.symlink_to(outside)

    result = fleet_cli("-C", str(example), "validate", "--format", "json")

    assert result.exception is None or isinstance(result.exception, SystemExit), result.output
    assert result.exit_code == 1, result.output
    findings = json.loads(result.stdout)
    matching = [f for f in findings if f["path"] == expect["path"] and f["code"] == expect["code"]]
    assert matching, f"expected {expect} in {findings}"
    assert matching[0]["line"] == expect["line"], matching
    if "contains" in expect:
        assert expect["contains"] in matching[0]["message"], matching[0]["message"]
    errors = [f for f in findings if f["severity"] == "error"]
    assert len(errors) == 1, f"one defect should give one error, got {errors}"
