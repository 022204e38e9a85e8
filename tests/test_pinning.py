"""fleet init writes workflows that use the runner action by commit SHA, and fleet
validate flags a workflow that installs the runner unpinned."""

from __future__ import annotations

from pathlib import Path

import pytest

from runner.pinning import check_ref, scan
from runner.resources import RUNNER_ACTION_REF, data_dir

SHA = "0123456789abcdef0123456789abcdef01234567"

UNPINNED = [
    "        run: pip install fleet-runner",
    '        run: python -m pip install --quiet "fleet-runner"',
    "        run: pip3 install fleet-runner>=0.1",
    "        run: uv pip install 'fleet-runner[extra]'",
    '        run: python -m pip install --quiet "$FLEET_RUNNER_PIP"',
    "        run: pip install ${{ vars.FLEET_RUNNER_PIP }}",
    "        run: pip install git+https://github.com/acme/fleet-runner@main",
    "      - uses: acme/fleet-runner@main",
    "        uses: acme/fleet-runner@v1.2.0  # a tag can move",
    "      - uses: acme/fleet-runner@0123456",
]
PINNED = [
    "        run: pip install fleet-runner==0.1.0",
    "        run: pip install --require-hashes -r requirements.lock fleet-runner",
    f"      - uses: acme/fleet-runner@{SHA}  # v0.1.0",
    f"        uses: {RUNNER_ACTION_REF}",
    "        run: pip install ./fleet-runner",
    "        # run: pip install fleet-runner  (a comment)",
    "      - uses: actions/checkout@main  # not the runner: zizmor's business",
    "        run: pip install -e .",
]


@pytest.mark.parametrize("line", UNPINNED)
def test_unpinned_installs_are_findings(line: str) -> None:
    (finding,) = scan("w.yml", f"jobs:\n  x:\n    steps:\n{line}\n")
    assert (finding.line, finding.severity, finding.code) == (4, "error", "unpinned-runner")
    assert "uses: <owner>/fleet-runner@<40-hex sha>" in finding.message


@pytest.mark.parametrize("line", PINNED)
def test_pinned_installs_are_not(line: str) -> None:
    assert scan("w.yml", f"jobs:\n  x:\n    steps:\n{line}\n") == []


def test_validate_reports_an_unpinned_workflow(tmp_path: Path, fleet_cli) -> None:
    assert fleet_cli("init", str(tmp_path)).exit_code == 0
    workflow = tmp_path / ".github/workflows/fleet-tick.yml"
    text = workflow.read_text()
    workflow.write_text(text.replace(f"uses: {RUNNER_ACTION_REF}", "run: pip install fleet-runner"))
    result = fleet_cli("-C", str(tmp_path), "validate")
    assert result.exit_code == 1
    assert ".github/workflows/fleet-tick.yml:" in result.output
    assert "[unpinned-runner]" in result.output


def test_shipped_workflows_use_the_pinned_action() -> None:
    texts = {p.name: p.read_text() for p in data_dir("workflows").glob("*.yml")}
    assert texts and all(f"uses: {RUNNER_ACTION_REF}" in t for t in texts.values())
    assert all(scan(name, t) == [] for name, t in texts.items())
    assert "pip install" not in "".join(texts.values())
    assert check_ref(RUNNER_ACTION_REF) is None


def test_init_writes_the_runner_ref_it_is_given(tmp_path: Path, fleet_cli) -> None:
    ref = f"my-org/fleet-runner@{SHA}"
    result = fleet_cli("init", str(tmp_path), "--runner-ref", ref)
    assert result.exit_code == 0, result.output
    for path in (tmp_path / ".github/workflows").glob("*.yml"):
        text = path.read_text()
        assert RUNNER_ACTION_REF not in text
        assert f"uses: {ref}" in text or "fleet-runner" not in text, path
    assert fleet_cli("-C", str(tmp_path), "validate").exit_code == 0


@pytest.mark.parametrize("ref", ["my-org/fleet-runner@main", "fleet-runner@" + SHA, "x/y@v1"])
def test_init_refuses_a_movable_runner_ref(tmp_path: Path, fleet_cli, ref: str) -> None:
    result = fleet_cli("init", str(tmp_path), "--runner-ref", ref)
    assert result.exit_code == 2
    assert "40-hex commit SHA" in result.output
    assert not (tmp_path / ".github").exists()
