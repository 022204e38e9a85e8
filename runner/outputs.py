"""The file contract between the agent phase and the apply phase.

The agent phase (read-only forge token, runs the model) writes an outputs directory: a
git bundle of its new commits and `outputs.json` (schemas/outputs.schema.json). The apply
phase (write token, no model) reads it back as untrusted data. Nothing here decides what
is allowed; `runner.apply` does. Plain data in, plain data out; git only for the bundle.
"""

from __future__ import annotations

import json
import os
import tempfile
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from runner import schema
from runner.errors import FleetError
from runner.gitrepo import Git
from runner.transcripts import OUTPUTS_FILE as TRANSCRIPT_FILE

OUTPUTS_FILE = "outputs.json"
BUNDLE_FILE = "work.bundle"
MAX_OUTPUTS_BYTES = 4 * 1024 * 1024  # outputs.json; the bundle has its own cap in apply


class OutputsError(FleetError):
    """The outputs directory cannot be read as the contract says (exit 1)."""


@dataclass(frozen=True)
class BranchOut:
    name: str
    start: str  # the branch tip, or base commit, the new commits build on
    head: str
    bundle: str = BUNDLE_FILE


@dataclass(frozen=True)
class PullOut:
    title: str
    body: str
    draft: bool


@dataclass(frozen=True)
class EscalationOut:
    kind: str
    title: str
    body: str
    # A credential escalation is the fleet's, one per credential: the name travels so
    # apply files it under `credential-<NAME>` (holding every role that needs it), not
    # under the run's task. Apply honours it only for a credential the role needs.
    credential: str | None = None


@dataclass(frozen=True)
class CommentOut:
    body: str
    on: str = "pr"


@dataclass(frozen=True)
class CheckpointOut:
    sha: str | None
    events_since: str | None


@dataclass
class Outputs:
    run: dict[str, Any]
    checkpoint: CheckpointOut | None = None
    branch: BranchOut | None = None
    pr: PullOut | None = None
    escalations: list[EscalationOut] = field(default_factory=list)
    proposed_tasks: list[str] = field(default_factory=list)
    comments: list[CommentOut] = field(default_factory=list)
    transcript: str | None = None
    version: int = 1

    @property
    def run_id(self) -> str:
        return str(self.run.get("run_id", ""))

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        for escalation in data["escalations"]:
            if escalation["credential"] is None:
                del escalation["credential"]
        return data

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Outputs:
        """`d` must be schema-valid (see `validate`)."""

        def opt(kind: type, value: Any) -> Any:
            return kind(**value) if isinstance(value, dict) else None

        return cls(
            run=dict(d["run"]),
            checkpoint=opt(CheckpointOut, d.get("checkpoint")),
            branch=opt(BranchOut, d.get("branch")),
            pr=opt(PullOut, d.get("pr")),
            escalations=[EscalationOut(**e) for e in d.get("escalations", [])],
            proposed_tasks=list(d.get("proposed_tasks", [])),
            comments=[CommentOut(**c) for c in d.get("comments", [])],
            transcript=d.get("transcript"),
            version=d["version"],
        )


def validate(data: Any) -> list[str]:
    """Problems with `data` as outputs, in words; empty when it is valid."""
    if schema.is_valid(data, "outputs"):
        return []
    from jsonschema import Draft202012Validator

    from runner import resources

    validator = Draft202012Validator(resources.schema("outputs"))
    return [
        f"{'/'.join(str(p) for p in e.absolute_path) or '(top)'}: {e.message[:200]}"
        for e in validator.iter_errors(data)
    ]


def write(directory: Path, outputs: Outputs) -> Path:
    """Write outputs.json atomically (a reader never sees half a file)."""
    data = outputs.to_dict()
    problems = validate(data)
    if problems:  # the runner's own bug, never the agent's: fail loudly
        raise ValueError(f"outputs do not match outputs.schema.json: {problems}")
    directory.mkdir(parents=True, exist_ok=True)
    target = directory / OUTPUTS_FILE
    fd, tmp = tempfile.mkstemp(dir=directory, prefix=".outputs-")
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        json.dump(data, handle, indent=2, sort_keys=True)
        handle.write("\n")
    Path(tmp).replace(target)
    return target


def read(directory: Path) -> Outputs | None:
    """The outputs in `directory`; None when the agent phase wrote none (it died first).
    Anything else malformed is an OutputsError: the apply phase refuses it whole."""
    path = directory / OUTPUTS_FILE
    if not path.is_file() or path.is_symlink():
        if path.is_symlink():
            raise OutputsError(f"{path} is a symbolic link; refusing to follow it")
        return None
    if path.stat().st_size > MAX_OUTPUTS_BYTES:
        raise OutputsError(f"{path} is larger than {MAX_OUTPUTS_BYTES} bytes")
    try:
        data = json.loads(path.read_text("utf-8"))
    except (ValueError, UnicodeDecodeError) as exc:
        raise OutputsError(f"{path} is not JSON: {exc}") from None
    problems = validate(data)
    if problems:
        raise OutputsError(f"{path} does not match outputs.schema.json: " + "; ".join(problems))
    return Outputs.from_dict(data)


def write_transcript(directory: Path, data: dict[str, Any]) -> str:
    """The run's transcript (already redacted by the agent phase) beside outputs.json;
    returns its file name for `Outputs.transcript`. Apply redacts it again."""
    name = TRANSCRIPT_FILE
    directory.mkdir(parents=True, exist_ok=True)
    tmp = directory / f".{name}.tmp"
    tmp.write_text(json.dumps(data, sort_keys=True), encoding="utf-8")
    tmp.replace(directory / name)
    return name


def read_transcript(directory: Path, name: str | None, limit: int) -> Any | None:
    """The agent phase's transcript as untrusted JSON, or None when it named none. Only
    the one expected file name is opened (the name comes from the agent job), never a
    link, never more than `limit` bytes."""
    if name is None:
        return None
    if name != TRANSCRIPT_FILE:
        raise OutputsError(f"the outputs name a transcript {name[:100]!r}, not {TRANSCRIPT_FILE}")
    path = directory / name
    if path.is_symlink() or not path.is_file():
        raise OutputsError(f"{path} is missing or not a regular file")
    if path.stat().st_size > limit:
        raise OutputsError(f"{path} is larger than {limit} bytes")
    try:
        return json.loads(path.read_bytes().decode("utf-8"))
    except (ValueError, UnicodeDecodeError) as exc:
        raise OutputsError(f"{path} is not JSON: {exc}") from None


def write_bundle(git: Git, directory: Path, ref: str, start: str) -> bool:
    """Bundle the commits `start..ref` into directory/work.bundle; False when there are
    none (the bundle file is then removed, so a stale one is never applied)."""
    target = directory / BUNDLE_FILE
    directory.mkdir(parents=True, exist_ok=True)
    head = git.rev(ref)
    if head is None or head == start:
        target.unlink(missing_ok=True)
        return False
    tmp = directory / ".work.bundle.tmp"
    git.run("bundle", "create", "--quiet", str(tmp), ref, f"^{start}")
    tmp.replace(target)
    return True
