"""The fast validator and jsonschema must agree, or findings would be missed."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from jsonschema import Draft202012Validator

from runner import resources, schema
from runner.yamlfile import parse
from tests.conftest import DATA

KINDS = ("fleet", "role", "task", "run", "outputs")


@pytest.mark.parametrize("kind", KINDS)
def test_schemas_are_valid_2020_12_and_document_every_property(kind: str) -> None:
    doc = resources.schema(kind)
    Draft202012Validator.check_schema(doc)
    assert doc["$schema"].endswith("2020-12/schema")
    assert doc["$id"] and doc["title"] and doc["description"]

    def walk(node: dict, where: str) -> None:
        for name, prop in node.get("properties", {}).items():
            assert "description" in prop, f"{kind}: {where}/{name} has no description"
            walk(prop, f"{where}/{name}")
            if isinstance(prop.get("items"), dict):
                walk(prop["items"], f"{where}/{name}[]")
            if isinstance(prop.get("additionalProperties"), dict):
                walk(prop["additionalProperties"], f"{where}/{name}{{}}")

    walk(doc, "")


def _corpus_documents():
    for path in sorted((DATA / "invalid").rglob("*.yaml")):
        if path.name == "cases.yaml":
            continue
        rel = path.relative_to(DATA / "invalid").parts[1:]
        kind = {"tasks": "task", "roles": "role"}.get(rel[0] if rel[0] == "tasks" else rel[1])
        kind = kind or "fleet"
        try:
            doc = parse(path.read_text("utf-8"))
        except UnicodeDecodeError:
            continue
        if doc.data is not None:
            yield pytest.param(doc.data, kind, id=str(path.relative_to(DATA)))


@pytest.mark.parametrize(("data", "kind"), list(_corpus_documents()))
def test_fast_and_full_validators_agree(data: object, kind: str) -> None:
    assert schema.is_valid(data, kind) == schema.validator(kind).is_valid(data)


def test_example_files_are_valid_for_both(example: Path) -> None:
    for path in example.rglob("*.yaml"):
        kind = "task" if "tasks" in path.parts else "role" if "roles" in path.parts else "fleet"
        data = parse(path.read_text()).data
        assert schema.is_valid(data, kind), path
        assert schema.validator(kind).is_valid(data), path


def test_yaml_parses_like_pyyaml_for_plain_documents(example: Path) -> None:
    text = (example / "fleet" / "fleet.yaml").read_text()
    assert parse(text).data == yaml.safe_load(text)
