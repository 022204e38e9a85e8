"""README's "Engines and providers" shows a role file for every registered engine, and
each one is a valid role file that loads into its engine."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from runner import engines, schema
from runner.model import Defaults, Role

ROOT = Path(__file__).resolve().parents[2]


def _section() -> str:
    readme = (ROOT / "README.md").read_text("utf-8")
    return readme.split("## Engines and providers\n", 1)[1].split("\n## ", 1)[0]


@pytest.mark.parametrize("name", engines.names())
def test_every_engine_has_a_valid_role_file_in_the_readme(name: str) -> None:
    heading = f"### `engine: {name}`"
    assert heading in _section(), f"README lacks {heading}"
    block = _section().split(heading, 1)[1].split("\n### ", 1)[0]
    data = yaml.safe_load(block.split("```yaml\n", 1)[1].split("```", 1)[0])
    errors = [e.message for e in schema.validator("role").iter_errors(data)]
    assert errors == []
    role = Role.from_dict(data, Defaults())
    assert engines.get(role.engine).name == name
