"""The import rules, enforced: no cycles among runner modules (function-level imports
included), core modules never import `runner.commands` or `runner.cli`, and a command
never imports another command. Shared helpers live in core modules, shared data types in
leaf modules (`runner.records`, `runner.errors`)."""

from __future__ import annotations

import ast
from functools import cache
from pathlib import Path

import runner

PACKAGE = Path(runner.__file__).parent


def _module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


@cache
def modules() -> dict[str, Path]:
    return {_module_name(p): p for p in sorted(PACKAGE.rglob("*.py")) if "_data" not in p.parts}


def _type_checking_only(node: ast.AST, parents: dict[ast.AST, ast.AST]) -> bool:
    while node in parents:
        node = parents[node]
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            return True
    return False


def _resolve(name: str) -> str | None:
    """The runner module `name` refers to (a package's module, or the package itself)."""
    known = modules()
    while name:
        if name in known:
            return name
        name = name.rpartition(".")[0]
    return None


@cache
def imported_names(module: str) -> frozenset[str]:
    """Every dotted name `module` imports at run time (runner's and others')."""
    path = modules()[module]
    tree = ast.parse(path.read_text("utf-8"), str(path))
    parents = {child: node for node in ast.walk(tree) for child in ast.iter_child_nodes(node)}
    names: set[str] = set()
    for node in ast.walk(tree):
        if not isinstance(node, ast.Import | ast.ImportFrom) or _type_checking_only(node, parents):
            continue
        if isinstance(node, ast.Import):
            names.update(a.name for a in node.names)
        elif not node.level and node.module:
            names.add(node.module)
    return frozenset(names)


@cache
def imports(module: str) -> frozenset[str]:
    """Runner modules `module` imports at run time, at any depth of its code."""
    path = modules()[module]
    tree = ast.parse(path.read_text("utf-8"), str(path))
    parents = {child: node for node in ast.walk(tree) for child in ast.iter_child_nodes(node)}
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    found: set[str] = set()
    for node in ast.walk(tree):
        if not isinstance(node, ast.Import | ast.ImportFrom):
            continue
        if _type_checking_only(node, parents):
            continue
        if isinstance(node, ast.Import):
            names = [a.name for a in node.names]
        else:
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join([*anchor, base] if base else anchor)
            # `from runner.report import html` imports the module runner.report.html
            names = [f"{base}.{a.name}" for a in node.names] + [base]
        for name in names:
            target = _resolve(name) if name.startswith("runner") else None
            if target and target != module and modules()[target].name != "__init__.py":
                found.add(target)
    return frozenset(found)


def _is_command(module: str) -> bool:
    return module.startswith("runner.commands.")


def _is_core(module: str) -> bool:
    return not (_is_command(module) or _is_cli(module))


def _is_cli(module: str) -> bool:
    """`cli.py` and its two helpers (`cli_base`, `cli_groups`), and `__main__`."""
    return module in ("runner.cli", "runner.__main__") or module.startswith("runner.cli_")


def _cycles() -> list[list[str]]:
    """Strongly connected components with more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    out: list[list[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in sorted(imports(v)):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                out.append(sorted(component))

    for module in sorted(modules()):
        if module not in index:
            visit(module)
    return out


def test_the_scanner_sees_function_level_and_from_package_imports() -> None:
    assert "runner.commands.validate" in imports("runner.cli")  # imported inside a function
    assert "runner.report.html" in imports("runner.commands.status")  # from runner.report import
    assert len(modules()) > 40


def test_no_import_cycles() -> None:
    assert _cycles() == []


def test_core_modules_never_import_commands_or_the_cli() -> None:
    bad = {
        m: sorted(t for t in imports(m) if not _is_core(t))
        for m in modules()
        if _is_core(m) and any(not _is_core(t) for t in imports(m))
    }
    assert bad == {}


def test_commands_never_import_other_commands() -> None:
    bad = {
        m: sorted(t for t in imports(m) if _is_command(t))
        for m in modules()
        if _is_command(m) and any(_is_command(t) for t in imports(m))
    }
    assert bad == {}


def test_leaf_modules_import_nothing_from_the_runner() -> None:
    for leaf in ("runner.errors", "runner.records"):
        assert imports(leaf) == frozenset(), leaf


def test_core_modules_never_import_click() -> None:
    """Rendering and argument parsing are the CLI's and the commands' job."""
    bad = [
        m
        for m in modules()
        if _is_core(m) and any(n.split(".")[0] == "click" for n in imported_names(m))
    ]
    assert bad == []
    assert "click" in imported_names("runner.cli")  # the scan does see it


def _closure(module: str) -> set[str]:
    seen, todo = set(), [module]
    while todo:
        m = todo.pop()
        if m not in seen:
            seen.add(m)
            todo.extend(imports(m))
    return seen


def test_engines_import_nothing_from_commands_or_the_cli() -> None:
    """An engine is a core module: it takes a prepared job and returns plain data, so
    neither it nor anything it imports (at any depth) reaches a command or the CLI."""
    found = [m for m in modules() if m.startswith("runner.engines")]
    assert {"runner.engines.base", "runner.engines.anthropic", "runner.engines.shell"} <= set(found)
    bad = {m: sorted(t for t in _closure(m) if not _is_core(t)) for m in found}
    assert {m: t for m, t in bad.items() if t} == {}
