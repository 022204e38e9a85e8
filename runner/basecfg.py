"""Where an acting command's configuration comes from: the base branch, always.

Roles, directives, tasks and their checks decide what an agent may do, so they are
never read from a pull request or a work branch: a PR merge checkout (where `fleet
revise` used to run) holds whatever the agent wrote there, `commands: ["*"]` included.
When the checkout's HEAD is the base branch's tip, its working tree is used (a user's
own uncommitted edits on the base branch are theirs to make); otherwise the fleet files
are exported from the base branch's commit into a temporary directory and loaded from
there. The base branch's name is GitHub's default branch when the event says so (a
checkout's fleet.yaml could name any branch), else the checkout's fleet.yaml.
"""

from __future__ import annotations

import atexit
import io
import json
import shutil
import tarfile
import tempfile
from collections.abc import Mapping
from pathlib import Path

from runner.gitrepo import Git, GitError
from runner.model import ForgeSettings

EXPORTED = ("fleet", "tasks", "schemas")


def trusted_base_name(environ: Mapping[str, str], configured: str) -> str:
    """The repository's default branch from the Actions event (set by GitHub, not by any
    file in the checkout), else the name fleet.yaml gives."""
    path = environ.get("GITHUB_EVENT_PATH")
    if path:
        try:
            payload = json.loads(Path(path).read_text("utf-8"))
            name = payload.get("repository", {}).get("default_branch")
        except (OSError, ValueError, AttributeError):
            name = None
        if isinstance(name, str) and name:
            return name
    return configured


def base_ref(git: Git, name: str, remote: str | None) -> str | None:
    for ref in (f"refs/heads/{name}", f"refs/remotes/{remote}/{name}" if remote else ""):
        if ref and git.rev(ref):
            return ref
    return None


def snapshot(
    git: Git, root: Path, settings: ForgeSettings, environ: Mapping[str, str]
) -> tuple[Path, str]:
    """(directory to load the fleet from, note for the user). The directory is `root`
    when the checkout is the base branch's tip; otherwise a temporary export of the base
    branch (removed at exit). Raises ValueError when no base branch can be found."""
    name = trusted_base_name(environ, settings.base_branch)
    remote = settings.remote if git.has_remote(settings.remote) else None
    ref = base_ref(git, name, remote)
    head = git.rev("HEAD")
    if ref is None:
        if head is None or (name == settings.base_branch and _on_branch(git, name)):
            return root, ""
        raise ValueError(
            f"the base branch '{name}' is not in this clone; fetch it (the fleet's roles and "
            "tasks are only ever read from the base branch)"
        )
    if head == git.rev(ref):
        return root, ""
    prefix = git.run("rev-parse", "--show-prefix").strip()
    target = Path(tempfile.mkdtemp(prefix="fleet-base-"))
    atexit.register(shutil.rmtree, target, True)
    tree = f"{ref}:{prefix}" if prefix else ref
    paths = [p for p in EXPORTED if git.succeeds("cat-file", "-e", f"{ref}:{prefix}{p}")]
    try:
        data = git.run_bytes("archive", "--format=tar", tree, *paths)
    except GitError as exc:
        raise ValueError(f"cannot read the fleet from {ref}: {exc.stderr[:200]}") from None
    with tarfile.open(fileobj=io.BytesIO(data)) as archive:
        archive.extractall(target, filter="data")
    return target, f"configuration read from the base branch {name} ({ref}), not from HEAD"


def _on_branch(git: Git, name: str) -> bool:
    try:
        return git.run("symbolic-ref", "--quiet", "HEAD").strip() == f"refs/heads/{name}"
    except GitError:
        return False
