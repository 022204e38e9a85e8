"""Turn a fleet repository checkout into a validated `Fleet` plus findings.

Loading never raises on user content: a file that cannot be read, parsed or validated
yields findings and is left out of the model, so one broken task never hides the rest.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

from runner import checks, schema
from runner.errors import ConfigError
from runner.gitrepo import Git
from runner.model import Finding, Fleet, FleetConfig, Role, Task
from runner.taskcache import TaskCache, open_cache
from runner.yamlfile import Document, Problem, parse, read_text

FLEET_FILE = "fleet/fleet.yaml"
ROLES_DIR = "fleet/roles"
DIRECTIVES_DIR = "fleet/directives"
TASKS_DIR = "tasks"
YAML_SUFFIXES = (".yaml", ".yml")


class NotAFleet(ConfigError):
    """The directory holds no fleet/fleet.yaml (a usage error, not a finding)."""


@dataclass
class Loaded:
    fleet: Fleet
    findings: list[Finding] = field(default_factory=list)
    docs: dict[str, Document] = field(default_factory=dict)
    files: list[str] = field(default_factory=list)

    @property
    def errors(self) -> list[Finding]:
        return [f for f in self.findings if f.severity == "error"]


def find_root(start: Path) -> Path:
    """The nearest directory at or above `start` that holds fleet/fleet.yaml."""
    start = start.resolve()
    for candidate in (start, *start.parents):
        if (candidate / FLEET_FILE).is_file():
            return candidate
    raise NotAFleet(
        f"{start} is not inside a fleet repository (no {FLEET_FILE} here or above); "
        "run 'fleet init' to create one"
    )


def require_git_root(git: Git, root: Path) -> None:
    """The fleet root (the directory holding fleet/fleet.yaml) must be the root of a git
    work tree: task paths, work branches and merges are the repository's, so a fleet
    nested inside another checkout would commit into the outer repository."""
    top = git.toplevel()
    if top is None:
        raise ConfigError(
            f"{root} is not a git repository",
            hint=f"cd {root} && git init -b main && git add -A && git commit -m 'fleet'",
        )
    if top.resolve() != root.resolve():
        raise ConfigError(
            f"the fleet at {root} is inside the git repository at {top} but not at its root; "
            f"acting on it would commit into {top}",
            hint=f"make the fleet a repository of its own (cd {root} && git init -b main && "
            f"git add -A && git commit -m 'fleet'), or move fleet/ and tasks/ to {top}",
        )


def load(root: Path, *, tasks: bool = True, cache: Path | None = None) -> Loaded:
    """Load and check the fleet. `tasks=False` reads only fleet.yaml, roles and directives
    (for commands such as `fleet sync` that never look at other roles' tasks). The cache
    in the directory `cache` answers for files that were valid before
    (runner/taskcache.py)."""
    root = root.resolve()
    if not (root / FLEET_FILE).exists():
        raise NotAFleet(f"no {FLEET_FILE} in {root}; run 'fleet init' to create one")
    reader = _Reader(root, cache)
    findings = reader.findings
    config_data = reader.read(FLEET_FILE, "fleet")
    config = FleetConfig.from_dict(config_data) if config_data else FleetConfig(name="(invalid)")
    fleet = Fleet(root=root, config=config)

    for rel in _list(root, ROLES_DIR, YAML_SUFFIXES, recursive=False):
        data = reader.read(rel, "role")
        if data is not None:
            role = Role.from_dict(data, config.defaults, rel)
            fleet.roles.setdefault(role.name, role)
    for rel in _list(root, DIRECTIVES_DIR, (".md",), recursive=False):
        reader.seen.append(rel)
        text, problem = read_text(root, rel)
        if problem:
            findings.append(_finding(rel, problem))
        else:
            fleet.directives[rel] = text or ""
    for rel in _list(root, TASKS_DIR, YAML_SUFFIXES, recursive=True) if tasks else []:
        data = reader.read(rel, "task")
        if data is not None:
            task = Task.from_dict(data, rel)
            if task.id in fleet.tasks:
                continue  # reported by checks.duplicate_ids
            fleet.tasks[task.id] = task
    reader.save()

    findings.extend(checks.run(fleet, reader.docs))
    findings.sort()
    return Loaded(fleet, findings, reader.docs, reader.seen)


class _Reader:
    """Reads, parses and schema-checks one file at a time, keeping the documents that
    passed (`docs`), the findings, and the paths seen."""

    def __init__(self, root: Path, cache: Path | None) -> None:
        self.root = root
        self.cache_dir = cache
        self.caches: dict[str, TaskCache | None] = {}  # by kind, opened on first use
        self.findings: list[Finding] = []
        self.docs: dict[str, Document] = {}  # only files that passed the schema
        self.seen: list[str] = []

    def read(self, rel: str, kind: str) -> dict | None:
        self.seen.append(rel)
        text, problem = read_text(self.root, rel)
        if problem:
            self.findings.append(_finding(rel, problem))
            return None
        if kind not in self.caches:
            self.caches[kind] = open_cache(self.cache_dir, kind)
        cache = self.caches[kind]
        key, known = cache.get(text or "") if cache is not None else ("", None)
        if known is not None:  # this exact text parsed cleanly and passed this schema
            self.docs[rel] = Document(known, text=text or "")
            return known
        doc = parse(text or "")
        self.findings.extend(_finding(rel, p) for p in doc.problems)
        if doc.data is None:
            return None
        errors = schema.validate(doc, kind, rel)
        self.findings.extend(errors)
        if errors:
            return None
        if cache is not None and not doc.problems:
            cache.put(key, doc.data)
        self.docs[rel] = doc
        return doc.data

    def save(self) -> None:
        for cache in self.caches.values():
            if cache is not None:
                cache.save()


def _finding(rel: str, p: Problem) -> Finding:
    return Finding(rel, p.line, p.col, "error", p.message, p.field, p.code)


def _list(root: Path, rel_dir: str, suffixes: tuple[str, ...], recursive: bool) -> list[str]:
    """Repository-relative paths of files with `suffixes` under `rel_dir`, sorted."""
    base = root / rel_dir
    if not base.is_dir():
        return []
    out: list[str] = []
    for dirpath, dirnames, filenames in os.walk(base):
        if not recursive:
            dirnames.clear()
        dirnames[:] = sorted(d for d in dirnames if not d.startswith("."))
        rel = Path(dirpath).relative_to(root).as_posix()
        out.extend(f"{rel}/{name}" for name in filenames if name.endswith(suffixes))
    return sorted(out)
