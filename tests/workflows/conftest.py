"""The fleet repository every act test starts from."""

from __future__ import annotations

from pathlib import Path

import pytest

from runner import scaffold
from tests.conftest import commit_all, git


@pytest.fixture
def fleet_repo(tmp_path: Path) -> tuple[Path, Path]:
    """A minimal fleet (one model role, one task) with a bare origin."""
    root, origin = tmp_path / "work", tmp_path / "origin.git"
    scaffold.write(root, scaffold.files(example=False, name="acme"))
    git(tmp_path, "init", "-q", "--bare", "-b", "main", str(origin))
    git(root, "init", "-q", "-b", "main")
    commit_all(root, "fleet")
    git(root, "remote", "add", "origin", str(origin))
    git(root, "push", "-q", "origin", "main")
    return root, origin
