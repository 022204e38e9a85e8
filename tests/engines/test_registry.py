"""The engine registry is the one list of engines: the role schema's enum equals it,
every entry loads and answers the protocol, and an unknown name is a config error."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from runner import engines
from runner.errors import ConfigError

ROOT = Path(__file__).resolve().parents[2]


def test_role_schema_engine_enum_equals_the_registry() -> None:
    schema = json.loads((ROOT / "schemas" / "role.schema.json").read_text("utf-8"))
    assert schema["properties"]["engine"]["enum"] == list(engines.names())


@pytest.mark.parametrize("name", engines.names())
def test_every_registered_engine_loads_and_answers_the_protocol(name: str) -> None:
    engine = engines.get(name)
    assert engine.name == name
    assert isinstance(engine.uses_model, bool) and isinstance(engine.priced, bool)
    for method in ("credentials", "check_role", "check_task", "needs", "dry_run", "run"):
        assert callable(getattr(engine, method))


def test_an_unknown_engine_is_a_config_error_naming_the_known_ones() -> None:
    with pytest.raises(ConfigError) as err:
        engines.get("gpt-shell")
    assert all(n in str(err.value) for n in engines.names())
