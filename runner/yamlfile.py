"""Read user-written YAML into plain data plus the line of every field.

Users' files are untrusted and often wrong, so this never raises on bad content:
every problem comes back as a `Problem` with a 1-based line and column. The data is
built by walking the composed node tree (C parser when available), which gives
positions for schema errors, detects duplicate keys that PyYAML silently drops, and
bounds alias expansion ("billion laughs").
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

try:
    from yaml import CSafeLoader as _Loader
except ImportError:  # pragma: no cover - depends on how PyYAML was built
    from yaml import SafeLoader as _Loader  # type: ignore[assignment]

MAX_BYTES = 1024 * 1024
MAX_NODES = 100_000

Path_ = tuple[str | int, ...]


@dataclass(frozen=True)
class Problem:
    message: str
    line: int = 1
    col: int = 1
    field: str = ""
    code: str = "yaml"


@dataclass
class Document:
    """Parsed YAML: `data` is JSON-like; `marks` maps a field path to (line, col)."""

    data: Any
    marks: dict[Path_, tuple[int, int]] = field(default_factory=dict)
    problems: list[Problem] = field(default_factory=list)

    def position(self, path: Path_) -> tuple[int, int]:
        """The position of `path`, or of its nearest ancestor that has one."""
        path = tuple(path)
        while path:
            if path in self.marks:
                return self.marks[path]
            path = path[:-1]
        return self.marks.get((), (1, 1))


def pointer(path: Path_) -> str:
    return "".join(f"/{p}" for p in path)


def read_text(root: Path, rel: str) -> tuple[str | None, Problem | None]:
    """Read a repository file as text, refusing what a config file cannot be."""
    path = root / rel
    try:
        if path.is_symlink():
            target = path.resolve()
            if not target.is_relative_to(root.resolve()):
                return None, Problem(
                    f"symlink points outside the repository (to {target}); "
                    "fleet files must live in the repository",
                    code="symlink",
                )
        size = path.stat().st_size
        if size > MAX_BYTES:
            return None, Problem(
                f"file is too large ({size / 1e6:.1f} MB, limit {MAX_BYTES // 1024} KiB); "
                "split it or move bulk content elsewhere",
                code="too-large",
            )
        raw = path.read_bytes()
    except OSError as exc:
        return None, Problem(f"cannot read file: {exc.strerror or exc}", code="unreadable")
    if b"\0" in raw:
        return None, Problem("file is binary (contains NUL bytes), not text", code="binary")
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = raw.count(b"\n", 0, exc.start) + 1
        col = exc.start - (raw.rfind(b"\n", 0, exc.start) + 1) + 1
        return None, Problem(
            f"file is not valid UTF-8 (byte 0x{raw[exc.start]:02x}); save it as UTF-8",
            line=line,
            col=col,
            code="encoding",
        )
    return text.removeprefix("\ufeff"), None


def parse(text: str) -> Document:
    """Parse one YAML document. Syntax errors become a Problem and `data` None."""
    if not text.strip():
        return Document(None, problems=[Problem("file is empty", code="empty")])
    loader = _Loader(text)
    try:
        node = loader.get_single_node()
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line, col = (mark.line + 1, mark.column + 1) if mark else (1, 1)
        what = exc.problem or str(exc)
        if exc.context and "single document" in exc.context:
            what = "file holds more than one YAML document (remove the '---' separator)"
        return Document(None, problems=[Problem(f"invalid YAML: {what}", line, col)])
    except yaml.YAMLError as exc:
        return Document(None, problems=[Problem(f"invalid YAML: {exc}")])
    finally:
        loader.dispose()
    if node is None:
        return Document(None, problems=[Problem("file holds no YAML content", code="empty")])
    doc = Document(None)
    builder = _Builder(loader, doc)
    try:
        doc.data = builder.build(node, ())
    except (_TooBig, RecursionError):
        doc.data = None
        doc.problems.append(
            Problem(
                f"YAML nests too deep or expands to more than {MAX_NODES} values "
                "(recursive or repeated aliases?)",
                code="too-large",
            )
        )
    return doc


class _TooBig(Exception):
    pass


_SCALARS = {
    "tag:yaml.org,2002:str": None,
    "tag:yaml.org,2002:int": "construct_yaml_int",
    "tag:yaml.org,2002:float": "construct_yaml_float",
    "tag:yaml.org,2002:bool": "construct_yaml_bool",
    "tag:yaml.org,2002:null": "construct_yaml_null",
}


class _Builder:
    def __init__(self, loader: Any, doc: Document) -> None:
        self.loader = loader
        self.doc = doc
        self.count = 0

    def build(self, node: yaml.Node, path: Path_) -> Any:
        self.count += 1
        if self.count > MAX_NODES:
            raise _TooBig
        if isinstance(node, yaml.MappingNode):
            return self._mapping(node, path)
        if isinstance(node, yaml.SequenceNode):
            out = []
            for i, item in enumerate(node.value):
                self.doc.marks[(*path, i)] = _pos(item)
                out.append(self.build(item, (*path, i)))
            return out
        method = _SCALARS.get(node.tag)
        if method is None:  # str, timestamps (kept as written) and unknown tags
            return node.value
        return getattr(self.loader, method)(node)

    def _mapping(self, node: yaml.MappingNode, path: Path_) -> dict[str, Any]:
        try:
            self.loader.flatten_mapping(node)  # resolves '<<' merge keys
        except yaml.MarkedYAMLError as exc:
            mark = exc.problem_mark
            self.doc.problems.append(
                Problem(f"invalid merge key: {exc.problem}", mark.line + 1, mark.column + 1)
            )
        out: dict[str, Any] = {}
        first: dict[str, tuple[int, int]] = {}
        for key_node, value_node in node.value:
            if not isinstance(key_node, yaml.ScalarNode):
                line, col = _pos(key_node)
                self.doc.problems.append(
                    Problem("a key must be a plain value, not a list or mapping", line, col)
                )
                continue
            key = key_node.value
            pos = _pos(key_node)
            if key in out:
                self.doc.problems.append(
                    Problem(
                        f"duplicate key '{key}' (first defined on line {first[key][0]}); "
                        "the later value would silently win",
                        *pos,
                        field=pointer((*path, key)),
                        code="duplicate-key",
                    )
                )
            first.setdefault(key, pos)
            self.doc.marks[(*path, key)] = pos
            out[key] = self.build(value_node, (*path, key))
        return out


def _pos(node: yaml.Node) -> tuple[int, int]:
    return node.start_mark.line + 1, node.start_mark.column + 1
