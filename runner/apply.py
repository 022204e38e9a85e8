"""The apply phase's judgement: may these outputs be published?

Everything in an outputs directory is untrusted (the agent job ran the model and the
agent's commands). The rules come from the base branch (role, task, caps) and the
claimed run; the evidence comes from the bundle through plumbing (`runner.bundle`).
The result is plain data: what is refused and why, in words that quote no secret.
Publishing is `runner.publish`.
"""

from __future__ import annotations

import posixpath
import re
from dataclasses import dataclass, field
from pathlib import Path

from runner import bundle, schema
from runner.bundle import GITLINK, SYMLINK, BundleError, Change, CommitInfo
from runner.gitrepo import Git
from runner.model import ApplyCaps, Role, Task
from runner.neutralize import live_references
from runner.outputs import Outputs
from runner.paths import matches
from runner.secretscan import Secret, redact, scan, scan_added
from runner.tasks import mark_done
from runner.worktree import agent_identity
from runner.yamlfile import parse

# Protected everywhere: what would change CI, ownership, the fleet's own rules, or what
# is fetched at checkout. (anchor shown in messages, glob that finds it)
PROTECTED = (
    (".github/", ".github/**"),
    ("CODEOWNERS", "**/CODEOWNERS"),
    ("fleet/", "fleet/**"),
    (".gitmodules", "**/.gitmodules"),
)
_GLOB = re.compile(r"[*?\[]")
_CODE_BAD = re.compile(r"[`\r\n\t\x00-\x1f]")


@dataclass(frozen=True)
class Rules:
    """What the base branch and the claim say this run may do."""

    role: Role
    task: Task
    branch: str
    base_ref: str
    caps: ApplyCaps
    task_ids: frozenset[str]  # tasks on the base branch
    secrets: tuple[Secret, ...] = ()


@dataclass
class Review:
    """The verdict: bundle refusals stop the push (and the PR); `blocked` names single
    outputs (pr, escalation:N, comment:N) whose text is refused."""

    refusals: list[str] = field(default_factory=list)
    blocked: set[str] = field(default_factory=set)
    notes: list[str] = field(default_factory=list)  # why outputs are blocked, besides secrets
    findings: list[str] = field(default_factory=list)  # secret findings, where + kind only

    @property
    def bundle_ok(self) -> bool:
        return not self.refusals

    @property
    def clean(self) -> bool:
        return not self.refusals and not self.blocked


def code(text: str) -> str:
    """An agent-chosen string (a path) safe inside a Markdown code span of ours."""
    return "`" + _CODE_BAD.sub("?", text)[:200] + "`"


def review(git: Git, directory: Path, outputs: Outputs, rules: Rules, ref: str) -> Review:
    """Check the outputs against the rules; the bundle goes into `ref` (quarantine)."""
    verdict = Review()
    _count_caps(outputs, rules.caps, verdict)
    _scan_texts(outputs, rules.secrets, verdict)
    if outputs.branch is not None:
        try:
            _review_bundle(git, directory, outputs, rules, ref, verdict)
        except BundleError as exc:
            verdict.refusals.append(f"the bundle is refused: {exc}")
    elif outputs.proposed_tasks:
        verdict.refusals.append("proposed tasks are declared but no commits carry them")
    # refusals quote agent-chosen paths (in a security escalation): never a secret in one
    verdict.refusals = [redact(r, rules.secrets) for r in verdict.refusals]
    verdict.notes = [redact(n, rules.secrets) for n in verdict.notes]
    return verdict


def _count_caps(outputs: Outputs, caps: ApplyCaps, verdict: Review) -> None:
    """Over a cap, the whole kind is withheld: a run that asks for fifty issues is not
    trusted with the first two. Proposed tasks travel in the bundle, so they refuse it."""
    counts = (
        ("pr", "pull requests", int(outputs.pr is not None), caps.max_prs),
        ("escalation", "escalations", len(outputs.escalations), caps.max_escalations),
        ("comment", "comments", len(outputs.comments), caps.max_comments),
    )
    for key, what, n, cap in counts:
        if n > cap:
            verdict.notes.append(f"{n} {what} exceed the cap of {cap} (fleet.yaml apply:)")
            verdict.blocked |= {key} if key == "pr" else {f"{key}:{i}" for i in range(n)}
    n, cap = len(outputs.proposed_tasks), caps.max_proposed_tasks
    if n > cap:
        verdict.refusals.append(f"{n} proposed tasks exceed the cap of {cap} (fleet.yaml apply:)")


def texts(outputs: Outputs) -> dict[str, tuple[str, str]]:
    """Every text apply would post: output key -> (where, text)."""
    found: dict[str, tuple[str, str]] = {}
    if outputs.pr is not None:
        found["pr"] = ("PR", f"{outputs.pr.title}\n{outputs.pr.body}")
    for i, e in enumerate(outputs.escalations):
        found[f"escalation:{i}"] = (f"escalation {i + 1}", f"{e.title}\n{e.body}")
    for i, c in enumerate(outputs.comments):
        found[f"comment:{i}"] = (f"comment {i + 1}", c.body)
    return found


def _scan_texts(outputs: Outputs, secrets: tuple[Secret, ...], verdict: Review) -> None:
    for key, (where, text) in texts(outputs).items():
        hits = scan(text, secrets, where)
        if hits:
            verdict.blocked.add(key)
            verdict.findings += [h.describe() for h in hits]
        live = live_references(text)
        if live:
            verdict.blocked.add(key)
            verdict.notes.append(
                f"{where} holds {len(live)} live @mention(s) or closing reference(s), which "
                "the runner's agent phase never writes"
            )


def _review_bundle(
    git: Git, directory: Path, outputs: Outputs, rules: Rules, ref: str, verdict: Review
) -> None:
    out = outputs.branch
    assert out is not None
    if out.name != rules.branch:
        raise BundleError(f"it is for branch {code(out.name)}, the run's branch is {rules.branch}")
    if git.rev(out.start) is None:
        raise BundleError(f"its start commit {out.start[:12]} is unknown to this repository")
    bundle.quarantine(git, directory / out.bundle, out.name, out.head, ref)
    if not git.is_ancestor(out.start, out.head):
        raise BundleError(f"{out.head[:12]} does not build on {out.start[:12]}")
    history = bundle.commits(git, out.start, out.head)
    before = len(verdict.refusals)
    _check_commits(history, rules, verdict)
    if len(verdict.refusals) > before:
        return  # merges or foreign authors: the per-commit diffs below would mislead
    paths, lines = bundle.numstat(git, out.start, out.head)
    caps = rules.caps
    if len(paths) > caps.max_files:
        verdict.refusals.append(f"{len(paths)} changed files exceed the cap of {caps.max_files}")
    if lines > caps.max_lines:
        verdict.refusals.append(f"{lines} changed lines exceed the cap of {caps.max_lines}")
    all_changes = [c for info in history for c in bundle.changes(git, info.parents[0], info.sha)]
    _check_changes(git, all_changes, outputs, rules, verdict)
    _check_proposed(git, out.head, outputs, rules, verdict)


def _check_commits(history: list[CommitInfo], rules: Rules, verdict: Review) -> None:
    agent = agent_identity(rules.role.name)["GIT_AUTHOR_EMAIL"]
    for info in history:
        if len(info.parents) != 1:
            verdict.refusals.append(
                f"commit {info.sha[:12]} has {len(info.parents)} parents; only linear work is "
                "applied"
            )
        if info.author_email != agent or info.committer_email != agent:
            verdict.refusals.append(
                f"commit {info.sha[:12]} is not authored and committed as {agent}"
            )
        if live_references(info.message, mentions=False):
            verdict.refusals.append(
                f"commit {info.sha[:12]}'s message holds a closing reference (merging it "
                "would close an issue)"
            )
        # the whole object is published: names and any extra header, not only the message
        hits = scan(f"{info.header}\n\n{info.message}", rules.secrets, f"commit {info.sha[:12]}")
        if hits:
            verdict.refusals.append(f"commit {info.sha[:12]}'s message or header holds a secret")
            verdict.findings += [h.describe() for h in hits]


def explicitly_named(path: str, anchor: str, writable: tuple[str, ...]) -> bool:
    """A protected path is writable only through a pattern that spells out the protected
    part before any wildcard (`.github/workflows/ci.yml`, `docs/CODEOWNERS`), never
    through a broad glob such as `**`."""
    for pattern in writable:
        literal = _GLOB.split(pattern.lstrip("/"), maxsplit=1)[0]
        if matches(path, pattern) and anchor in literal:
            return True
    return False


def path_problem(change: Change, rules: Rules, proposed: set[str]) -> str | None:
    """Why this one change may not be published, or None."""
    path, writable = change.path, rules.role.writable
    if any(part.lower() in (".git", "") for part in path.split("/")):
        return f"{code(path)} is not a valid repository path"
    if change.new_mode == GITLINK and not (path in writable and not _GLOB.search(path)):
        return f"{code(path)} is a submodule (gitlink); a role must list that exact path"
    for anchor, glob in PROTECTED:
        if matches(path, glob) and not explicitly_named(path, anchor, writable):
            return f"{code(path)} is protected ({glob}); the role must name it explicitly"
    if path == rules.task.path and not explicitly_named(path, path, writable):
        return None if change.status == "M" else f"{code(path)} is the task's own file"
    if not any(matches(path, p) for p in writable) and path not in proposed:
        return f"{code(path)} is outside the role's writable paths"
    return None


def _check_changes(
    git: Git, changes: list[Change], outputs: Outputs, rules: Rules, verdict: Review
) -> None:
    proposed = {f"tasks/{t}.yaml" for t in outputs.proposed_tasks}
    live = [c for c in changes if not c.deleted and c.new_mode != GITLINK]
    sizes = bundle.sizes(git, sorted({c.new_sha for c in live}))
    for change in changes:
        problem = path_problem(change, rules, proposed)
        if problem:
            verdict.refusals.append(f"commit {change.commit[:12]}: {problem}")
        hits = scan(change.path, rules.secrets, f"a file name in commit {change.commit[:12]}")
        if hits:
            verdict.refusals.append(f"commit {change.commit[:12]}: a file name holds a secret")
            verdict.findings += [h.describe() for h in hits]
    readable = [c for c in live if sizes.get(c.new_sha, 0) <= rules.caps.max_file_bytes]
    for c in live:
        if sizes.get(c.new_sha, 0) > rules.caps.max_file_bytes:
            verdict.refusals.append(
                f"{code(c.path)} is {sizes[c.new_sha]} bytes, over the cap of "
                f"{rules.caps.max_file_bytes}"
            )
    blobs = git.read_blobs([c.new_sha for c in readable] + [c.old_sha for c in readable])
    for c in readable:
        new, old = blobs.get(c.new_sha) or b"", blobs.get(c.old_sha) or b""
        if c.new_mode == SYMLINK:
            _check_symlink(c, new, verdict)
        elif c.path == rules.task.path and c.status == "M":
            _check_done_marking(c, old, new, rules, verdict)
        _scan_blob(c, old, new, rules.secrets, verdict)


def _check_symlink(change: Change, target: bytes, verdict: Review) -> None:
    text = target.decode("utf-8", errors="replace")
    joined = posixpath.normpath(posixpath.join(posixpath.dirname(change.path), text))
    if text.startswith("/") or joined == ".." or joined.startswith("../") or joined == ".git":
        verdict.refusals.append(f"{code(change.path)} is a symbolic link out of the repository")
    elif joined.split("/")[0].lower() == ".git":
        verdict.refusals.append(f"{code(change.path)} is a symbolic link into .git")


def _check_done_marking(change: Change, old: bytes, new: bytes, rules: Rules, v: Review) -> None:
    """The one change to its own task file a run may make: the runner's `mark_done`."""
    if explicitly_named(change.path, change.path, rules.role.writable):
        return
    try:
        data = parse(new.decode("utf-8")).data
        result = data.get("result") if isinstance(data, dict) else None
        ok = isinstance(result, str) and mark_done(old.decode("utf-8"), result).encode() == new
    except (UnicodeDecodeError, ValueError):
        ok = False
    if not ok:
        v.refusals.append(
            f"{code(change.path)} is the task's own file; only the runner's done-marking "
            "change is applied"
        )


def _scan_blob(change: Change, old: bytes, new: bytes, secrets: tuple[Secret, ...], v: Review):
    """Secrets this change adds (a line already on the base branch is not a new leak)."""
    where = f"file {code(change.path)} (commit {change.commit[:12]})"
    hits = scan_added(old, new, secrets, where)
    if hits:
        v.refusals.append(f"{where} adds a secret")
        v.findings += [h.describe() for h in hits]


def _check_proposed(git: Git, head: str, outputs: Outputs, rules: Rules, v: Review) -> None:
    """Each declared proposed task: a new, schema-valid task file created by this role."""
    for task_id in outputs.proposed_tasks:
        rel = f"tasks/{task_id}.yaml"
        raw = git.read_blobs([f"{head}:{rel}"])[f"{head}:{rel}"]
        problem = None
        if task_id in rules.task_ids:
            problem = "already exists on the base branch"
        elif raw is None:
            problem = "is declared but not in the commits"
        else:
            try:
                doc = parse(raw.decode("utf-8"))
            except (UnicodeDecodeError, ValueError):
                doc = None
            data = doc.data if doc is not None else None
            if doc is None or schema.validate(doc, "task", rel) or not isinstance(data, dict):
                problem = "is not a valid task file"
            elif data.get("id") != task_id or data.get("created_by") != rules.role.name:
                problem = f"must have id {task_id} and created_by {rules.role.name}"
        if problem:
            v.refusals.append(f"proposed task {code(rel)} {problem}")
