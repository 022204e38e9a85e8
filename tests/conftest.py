from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

from runner import scaffold
from runner.cli import cli

DATA = Path(__file__).parent / "data"


@pytest.fixture
def example(tmp_path: Path) -> Path:
    """A fresh copy of the example fleet (no git)."""
    root = tmp_path / "acme"
    scaffold.write(root, scaffold.files(example=True, name="acme"))
    return root


@pytest.fixture
def fleet_cli():
    """Invoke `fleet` in-process; returns the click Result."""
    runner = CliRunner()

    def invoke(*args: str):
        return runner.invoke(cli, list(args), catch_exceptions=True)

    return invoke
