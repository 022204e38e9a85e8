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


def _about_engine(node: ast.AST) -> bool:
    return not _strings(node) and "engine" in ast.unparse(node).lower()


def offences(tree: ast.AST, names: tuple[str, ...]) -> list[str]:
    """Every place an engine name is spelled against something about an engine: a
    comparison (`role.engine == "shell"`, `engine in (...)`), an assignment or
    annotation (`engine: Literal["anthropic"]`, `ENGINE = "shell"`), a keyword
    (`engine="shell"`), a dict entry (`{"engine": "shell"}`) or a parameter default. A
    provider that shares a name with an engine ("anthropic") is not an engine."""
    found = []

    def hit(node: ast.AST, value: ast.AST | None) -> None:
        if value is None:
            return
        named = [s for s in _strings(value) if s in names]
        for sub in ast.walk(value):  # Literal["anthropic", "shell"] in an annotation
            if isinstance(sub, ast.Constant) and isinstance(sub.value, str):
                named += [sub.value] if sub.value in names and sub.value not in named else []
        if named:
            found.append(f"line {node.lineno}: {ast.unparse(node)[:120]}")

    for node in ast.walk(tree):
        if isinstance(node, ast.Compare):
            sides = [node.left, *node.comparators]
            if any(_about_engine(s) for s in sides) and any(_strings(s) for s in sides):
                found.append(f"line {node.lineno}: {ast.unparse(node)}")
        elif isinstance(node, ast.Assign) and any(_about_engine(t) for t in node.targets):
            hit(node, node.value)
        elif isinstance(node, ast.AnnAssign) and _about_engine(node.target):
            hit(node, node.value)
            hit(node, node.annotation)
        elif isinstance(node, ast.keyword) and "engine" in (node.arg or "").lower():
            hit(node.value, node.value)
        elif isinstance(node, ast.Dict):
            for key, value in zip(node.keys, node.values, strict=True):
                if key is not None and "engine" in "".join(_strings(key)).lower():
                    hit(value, value)
        elif isinstance(node, ast.arguments):
            params = [*node.posonlyargs, *node.args]
            for arg, default in zip(
                params[len(params) - len(node.defaults) :], node.defaults, strict=True
            ):
                if "engine" in arg.arg.lower():
                    hit(default, default)
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
        'DEFAULT_ENGINE = "shell"',
        'engine: Literal["anthropic", "shell"]',
        'RunRecord(engine="shell")',
        'd = {"engine": "anthropic"}',
        'def f(engine="shell"): pass',
    ):
        assert offences(ast.parse(code), names), code
    assert not offences(ast.parse("engine = engines.get(role.engine)"), names)
    assert not offences(ast.parse('ok = p.code == "engine-mismatch"'), names)
    assert not offences(ast.parse('PROVIDERS = ("anthropic", "bedrock")'), names)
