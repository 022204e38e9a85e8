"""What a pull request changes, read from git in the checkout fleet-validate.yml now makes:
GitHub's merge commit `refs/pull/<n>/merge` fetched at depth 2 (the merge and its two
parents, no branch), as actions/checkout does with `fetch-depth: 2`. The plan comment's
task list must equal a full clone's, also after the base branch moved on."""

from __future__ import annotations

from pathlib import Path

from runner.changes import changed_tasks
from runner.workspace import open_workspace
from tests.conftest import commit_all, git


def _pull_request(repo: Path) -> str:
    """A PR adding t-900 and changing t-001, and GitHub's merge commit of it into main,
    published as refs/pull/7/merge on origin; returns origin's file URL."""
    git(repo, "checkout", "-q", "-b", "new-task")
    text = (repo / "tasks/t-001.yaml").read_text()
    (repo / "tasks/t-900.yaml").write_text(text.replace("id: t-001", "id: t-900"))
    (repo / "tasks/t-001.yaml").write_text(text.replace("title:", "title: Renamed -", 1))
    commit_all(repo, "a new task, a renamed one")
    git(repo, "checkout", "-q", "main")
    git(repo, "merge", "-q", "--no-ff", "-m", "Merge new-task into main", "new-task")
    git(repo, "push", "-q", "origin", "HEAD:refs/pull/7/merge")
    git(repo, "reset", "-q", "--hard", "HEAD^1")
    return f"file://{repo.parent / 'origin.git'}"


def _checkout(url: str, where: Path, depth: int | None) -> Path:
    """What actions/checkout does for a pull_request event."""
    where.mkdir()
    git(where, "init", "-q")
    git(where, "remote", "add", "origin", url)
    deep = [f"--depth={depth}"] if depth else []
    spec = "+refs/pull/7/merge:refs/remotes/pull/7/merge"
    if depth is None:
        spec_all = "+refs/heads/*:refs/remotes/origin/*"
        git(where, "-c", "protocol.file.allow=always", "fetch", "-q", "origin", spec_all, spec)
    else:
        git(where, "-c", "protocol.file.allow=always", "fetch", "-q", *deep, "origin", spec)
    git(where, "checkout", "-q", "--detach", "refs/remotes/pull/7/merge")
    return where


def _changed(checkout: Path) -> list[str]:
    """As `fleet tick` reads a PR's own files for its plan comment."""
    return sorted(changed_tasks(open_workspace(checkout, allow_errors=True, from_base=False)))


def test_a_depth_2_merge_checkout_sees_the_same_changed_tasks_as_a_full_clone(
    repo: Path, tmp_path: Path
) -> None:
    url = _pull_request(repo)
    full = _checkout(url, tmp_path / "full", None)
    shallow = _checkout(url, tmp_path / "shallow", 2)
    assert git(shallow, "rev-parse", "--is-shallow-repository").strip() == "true"
    expected = _changed(full)
    assert expected == ["t-001", "t-900"]
    assert _changed(shallow) == expected

    # main moves on (another task edited) before the job runs: still the PR's tasks only
    text = (repo / "tasks/t-002.yaml").read_text()
    (repo / "tasks/t-002.yaml").write_text(text.replace("title:", "title: Moved -", 1))
    commit_all(repo, "main moves on")
    git(repo, "push", "-q", "origin", "main")
    later = _checkout(url, tmp_path / "later", 2)
    assert _changed(later) == expected
