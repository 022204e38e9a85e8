"""The registry is the only place engines are named: no module outside
`runner/engines/` spells an engine's name or compares an engine to a string. This
is what makes adding an engine one module (and one registry line) plus its tests."""

from __future__ import annotations

import ast
from pathlib import Path

import runner
from runner import engines

PACKAGE = Path(runner.__file__).parent
REGISTRY = PACKAGE / "engines"


def _outside_the_registry() -> list[Path]:
    return [p for p in sorted(PACKAGE.rglob("*.py")) if REGISTRY not in p.parents]


def _strings(node: ast.AST) -> list[str]:
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return [node.value]
    if isinstance(node, ast.Tuple | ast.List | ast.Set):
        return [s for e in node.elts for s in _strings(e)]
    return []


def offences(tree: ast.AST, names: tuple[str, ...]) -> list[str]:
    """Engine names spelled as a whole string, and any `...engine... == / != / in "x"`."""
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Constant) and isinstance(node.value, str) and node.value in names:
            found.append(f"line {node.lineno}: the string {node.value!r}")
        if isinstance(node, ast.Compare):
            sides = [node.left, *node.comparators]
            named = [s for s in sides if not _strings(s) and "engine" in ast.unparse(s)]
            if named and any(_strings(s) for s in sides):
                found.append(f"line {node.lineno}: {ast.unparse(node)}")
    return found


def test_no_module_outside_the_registry_names_an_engine() -> None:
    bad = {}
    for path in _outside_the_registry():
        hits = offences(ast.parse(path.read_text("utf-8")), engines.names())
        if hits:
            bad[str(path.relative_to(PACKAGE))] = hits
    assert bad == {}


def test_the_scan_catches_a_branch_on_an_engine_name() -> None:
    """The scanner is not vacuous: each shape of the old branches is found."""
    names = engines.names()
    for code in (
        'if role.engine == "shell": pass',
        'x = r.model if r.engine != "anthropic" else None',
        'ok = engine in ("anthropic", "shell")',
        'KIND = "shell"',
    ):
        assert offences(ast.parse(code), names), code
    assert not offences(ast.parse("engine = engines.get(role.engine)"), names)
    assert not offences(ast.parse('ok = p.code == "engine-mismatch"'), names)
