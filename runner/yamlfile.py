"""Read user-written YAML into plain data plus the line of every field.

Users' files are untrusted and often wrong, so this never raises on bad content:
every problem comes back as a `Problem` with a 1-based line and column. The data is
built by walking the composed node tree (C parser when available), which gives
positions for schema errors, detects duplicate keys that PyYAML silently drops, and
bounds alias expansion ("billion laughs").
"""

from __future__ import annotations

import os
import stat
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
    problems: list[Problem] = field(default_factory=list)
    text: str = ""
    _marks: dict[Path_, tuple[int, int]] | None = None

    @property
    def marks(self) -> dict[Path_, tuple[int, int]]:
        # Built on first use: a clean fleet never needs positions, and building them for
        # every field of 10,000 files costs a third of the parse.
        if self._marks is None:
            self._marks = parse(self.text, marks=True)._marks or {}
        return self._marks

    def position(self, path: Path_) -> tuple[int, int]:
        """The position of `path`, or of its nearest ancestor that has one."""
        marks = self.marks
        path = tuple(path)
        while path:
            if path in marks:
                return marks[path]
            path = path[:-1]
        return marks.get((), (1, 1))


def pointer(path: Path_) -> str:
    return "".join(f"/{p}" for p in path)


def read_text(root: Path, rel: str) -> tuple[str | None, Problem | None]:
    """Read a repository file as text, refusing what a config file cannot be."""
    path = os.path.join(root, rel)  # noqa: PTH118 - hot path (10k files); pathlib is slower
    try:
        info = os.lstat(path)
        if stat.S_ISLNK(info.st_mode):
            target = Path(path).resolve()
            if not target.is_relative_to(Path(root).resolve()):
                return None, Problem(
                    f"symlink points outside the repository (to {target}); "
                    "fleet files must live in the repository",
                    code="symlink",
                )
            info = os.stat(path)  # noqa: PTH116
        if info.st_size > MAX_BYTES:
            return None, Problem(
                f"file is too large ({info.st_size / 1e6:.1f} MB, limit {MAX_BYTES // 1024} KiB); "
                "split it or move bulk content elsewhere",
                code="too-large",
            )
        with open(path, "rb") as handle:
            raw = handle.read(MAX_BYTES + 1)
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


def parse(text: str, *, marks: bool = False) -> Document:
    """Parse one YAML document. Syntax errors become a Problem and `data` None.

    With `marks`, record the position of every field now rather than on first use."""
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
    doc = Document(None, text=text, _marks={} if marks else None)
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


_MERGE = "tag:yaml.org,2002:merge"
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
        self.marks = doc._marks  # None: positions are not being recorded
        self.count = 0

    def build(self, node: yaml.Node, path: Path_) -> Any:
        self.count += 1
        if self.count > MAX_NODES:
            raise _TooBig
        if isinstance(node, yaml.MappingNode):
            return self._mapping(node, path)
        if isinstance(node, yaml.SequenceNode):
            out = []
            marks = self.marks
            for i, item in enumerate(node.value):
                if marks is not None:
                    mark = item.start_mark
                    marks[(*path, i)] = (mark.line + 1, mark.column + 1)
                out.append(self.build(item, (*path, i)))
            return out
        method = _SCALARS.get(node.tag)
        if method is None:  # str, timestamps (kept as written) and unknown tags
            return node.value
        return getattr(self.loader, method)(node)

    def _mapping(self, node: yaml.MappingNode, path: Path_) -> dict[str, Any]:
        out: dict[str, Any] = {}
        first: dict[str, Any] = {}
        marks = self.marks
        for key_node, value_node in node.value:
            if key_node.tag == _MERGE:
                return self._merge(node, path)
            if not isinstance(key_node, yaml.ScalarNode):
                line, col = _pos(key_node)
                self.doc.problems.append(
                    Problem("a key must be a plain value, not a list or mapping", line, col)
                )
                continue
            key = key_node.value
            if key in out:
                line, col = _pos(key_node)
                self.doc.problems.append(
                    Problem(
                        f"duplicate key '{key}' (first defined on line {_pos(first[key])[0]}); "
                        "the later value would silently win",
                        line,
                        col,
                        field=pointer((*path, key)),
                        code="duplicate-key",
                    )
                )
            else:
                first[key] = key_node
            if marks is not None:
                marks[(*path, key)] = _pos(key_node)
            out[key] = self.build(value_node, (*path, key))
        return out

    def _merge(self, node: yaml.MappingNode, path: Path_) -> dict[str, Any]:
        """Resolve '<<' merge keys, then build the flattened mapping."""
        try:
            self.loader.flatten_mapping(node)
        except yaml.MarkedYAMLError as exc:
            line, col = (
                (exc.problem_mark.line + 1, exc.problem_mark.column + 1)
                if (exc.problem_mark)
                else _pos(node)
            )
            self.doc.problems.append(Problem(f"invalid merge key: {exc.problem}", line, col))
            node.value = [(k, v) for k, v in node.value if k.tag != _MERGE]
        return self._mapping(node, path)


def _pos(node: yaml.Node) -> tuple[int, int]:
    return node.start_mark.line + 1, node.start_mark.column + 1
