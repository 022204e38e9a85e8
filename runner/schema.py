"""Validate parsed documents against the JSON Schemas and say what is wrong in words.

jsonschema's own messages ("'x' is not one of [...]", "Additional properties are not
allowed") are accurate but not helpful; these name the field, the allowed values, a
likely fix, and point at the line of the offending key.
"""

from __future__ import annotations

import difflib
from functools import cache
from typing import TYPE_CHECKING, Any

import fastjsonschema

from runner import resources
from runner.model import Finding
from runner.yamlfile import Document, pointer

if TYPE_CHECKING:  # jsonschema is imported only to explain an invalid document
    from jsonschema import Draft202012Validator
    from jsonschema.exceptions import ValidationError

# Validators whose failure is best explained by the schema's own `errorMessage`.
_CUSTOM_MESSAGE = {"pattern", "oneOf", "anyOf", "minItems", "minProperties", "maxProperties"}
_TYPE_NAMES = {
    "object": "a mapping (key: value)",
    "array": "a list",
    "string": "text",
    "integer": "a whole number",
    "number": "a number",
    "boolean": "true or false",
    "null": "empty",
}


@cache
def validator(kind: str) -> Draft202012Validator:
    from jsonschema import Draft202012Validator

    return Draft202012Validator(resources.schema(kind))


@cache
def _fast(kind: str) -> Any:
    # Generated straight-line code: ~5x faster than jsonschema on valid documents, which
    # are nearly all of them. jsonschema explains the rare invalid ones; a test checks
    # both agree on every case of the invalid corpus.
    return fastjsonschema.compile(resources.schema(kind))


def is_valid(data: Any, kind: str) -> bool:
    try:
        _fast(kind)(data)
    except fastjsonschema.JsonSchemaException:
        return False
    return True


def is_readable(data: Any, kind: str) -> bool:
    """Whether a record on the state branch can be read by this runner: the fields it
    knows have their types, while fields and enum values it does not know (a newer
    runner's: old and new runners share one ledger) are allowed and ignored."""
    try:
        _reader(kind)(data)
    except fastjsonschema.JsonSchemaException:
        return False
    return True


@cache
def _reader(kind: str) -> Any:
    return fastjsonschema.compile(_open(resources.schema(kind)))


def _open(node: Any) -> Any:
    """`node` without closed sets: no additionalProperties: false, string enums as strings."""
    if isinstance(node, list):
        return [_open(n) for n in node]
    if not isinstance(node, dict):
        return node
    out = {k: _open(v) for k, v in node.items() if k != "additionalProperties"}
    if "enum" in out and all(isinstance(v, str) for v in out["enum"]):
        del out["enum"]
        out["type"] = "string"
    return out


def validate(doc: Document, kind: str, path: str) -> list[Finding]:
    """Schema findings for `doc`, at most one per field, in file order."""
    if is_valid(doc.data, kind):
        return []
    v = validator(kind)
    seen: set[tuple[Any, ...]] = set()
    findings = []
    for error in v.iter_errors(doc.data):
        where = tuple(error.absolute_path)
        if where in seen:
            continue
        seen.add(where)
        message, at = _explain(error, kind)
        line, col = doc.position(at)
        findings.append(Finding(path, line, col, "error", message, pointer(at), "schema"))
    return sorted(findings)


def _explain(error: ValidationError, kind: str) -> tuple[str, tuple[Any, ...]]:
    """A message for `error` and the field path whose line it should point at."""
    path = tuple(error.absolute_path)
    name = _field_name(path, kind)
    schema = error.schema if isinstance(error.schema, dict) else {}
    value = error.instance
    v = error.validator
    if v in _CUSTOM_MESSAGE and "errorMessage" in schema:
        shown = f" (got '{value}')" if isinstance(value, str) else ""
        return f"{name}: {schema['errorMessage']}{shown}", path
    if v == "required":
        missing = [k for k in error.validator_value if k not in value]
        key = missing[0] if missing else "?"
        hint = schema.get("properties", {}).get(key, {}).get("description", "")
        return f"{name}: missing required field '{key}'" + (f" ({hint})" if hint else ""), path
    if v == "additionalProperties":
        allowed = list(schema.get("properties", {}))
        extra = [k for k in value if k not in allowed]
        key = extra[0] if extra else "?"
        return f"{name}: unknown field '{key}'{_suggest(key, allowed)}", (*path, key)
    if v == "type":
        wanted = error.validator_value
        wanted_list = wanted if isinstance(wanted, list) else [wanted]
        want = " or ".join(_TYPE_NAMES.get(str(w), str(w)) for w in wanted_list)
        if not path:
            return f"the file must be {want}, but it is {_kind_of(value)}", path
        return f"{name} must be {want}, not {_kind_of(value)}", path
    if v == "enum":
        options = ", ".join(str(o) for o in error.validator_value)
        hint = _suggest(str(value), [str(o) for o in error.validator_value])
        return f"{name}: '{value}' is not allowed; use one of: {options}{hint}", path
    if v == "const":
        return f"{name} must be {error.validator_value!r}", path
    if v in {"minimum", "exclusiveMinimum", "maximum", "exclusiveMaximum"}:
        op = {"minimum": ">=", "exclusiveMinimum": ">", "maximum": "<=", "exclusiveMaximum": "<"}[v]
        return f"{name} must be {op} {error.validator_value} (got {value})", path
    if v == "minLength":
        return f"{name} must not be empty", path
    if v == "maxLength":
        return f"{name} is too long ({len(value)} characters, limit {error.validator_value})", path
    if v == "uniqueItems":
        return f"{name} lists the same entry more than once", path
    if v == "pattern":
        return f"{name}: '{value}' does not match the pattern {error.validator_value}", path
    return f"{name}: {error.message}", path


def _field_name(path: tuple[Any, ...], kind: str) -> str:
    for part in reversed(path):
        if isinstance(part, str):
            index = next((p for p in path[path.index(part) + 1 :] if isinstance(p, int)), None)
            return f"{part}[{index}]" if index is not None else part
    return kind


def _kind_of(value: Any) -> str:
    if isinstance(value, bool):
        return "true/false"
    if isinstance(value, dict):
        return "a mapping"
    if isinstance(value, list):
        return "a list"
    if isinstance(value, str):
        return f"text '{value[:40]}'"
    if value is None:
        return "empty"
    return f"{type(value).__name__} {value!r}"


def _suggest(word: str, options: list[str]) -> str:
    close = difflib.get_close_matches(word, options, n=1, cutoff=0.6)
    return f" (did you mean '{close[0]}'?)" if close else ""
