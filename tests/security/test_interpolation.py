"""S3: `${{ }}` expressions and shell metacharacters in task fields are never
interpolated: not by the runner (no shell ever sees a task's title or description), not
into the Actions step outputs the workflows read (`matrix`), not into the job summary
as anything but text, and a task id that is not a plain id never reaches a matrix.

The workflows' side (no `${{ github.event.* }}` or matrix value inside a `run:` script;
everything goes through `env:`) is checked statically in tests/workflows/test_jobs.py.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from runner import actions
from tests.conftest import commit_all, git

CANARY = "/tmp/fleet-s3-canary"
HOSTILE = (
    f"Ship it $(touch {CANARY}) `touch {CANARY}` ; touch {CANARY} | tee {CANARY} "
    "${{ secrets.ANTHROPIC_API_KEY }} ${{ github.token }}"
)


def _outputs(path: Path) -> dict[str, str]:
    """Parse GITHUB_OUTPUT as the Actions runner does (key=value and key<<DELIM)."""
    lines = path.read_text().split("\n")
    found: dict[str, str] = {}
    i = 0
    while i < len(lines):
        line = lines[i]
        if "<<" in line:
            key, delim = line.split("<<", 1)
            j = lines.index(delim, i + 1)
            found[key] = "\n".join(lines[i + 1 : j])
            i = j + 1
        elif "=" in line:
            key, value = line.split("=", 1)
            found[key] = value
            i += 1
        else:
            i += 1
    return found


@pytest.fixture
def hostile_repo(repo: Path) -> Path:
    task = (repo / "tasks/t-001.yaml").read_text()
    task = task.replace("title: Add the CI pipeline skeleton", f"title: {json.dumps(HOSTILE)}")
    task = task.replace(
        "description: |\n",
        'description: |\n  line one\n  FLEET_EOF_1\n  matrix={"include": [{"role": "evil"}]}\n',
    )
    (repo / "tasks/t-001.yaml").write_text(task)
    bad_id = (repo / "tasks/t-005.yaml").read_text().replace("id: t-005", 'id: "t-5$(id)"')
    (repo / "tasks/t-005.yaml").write_text(bad_id)
    commit_all(repo, "Hostile task fields")
    git(repo, "push", "-q", "origin", "main")
    return repo


def test_metacharacters_and_expressions_in_task_fields_are_never_interpolated(
    hostile_repo: Path, fleet_cli, monkeypatch, tmp_path: Path
) -> None:
    Path(CANARY).unlink(missing_ok=True)
    output, summary = tmp_path / "output", tmp_path / "summary"
    output.touch()
    summary.touch()
    monkeypatch.setenv("FLEET_NOW", "2026-11-24T10:30:00Z")
    monkeypatch.setenv("GITHUB_ACTIONS", "true")
    monkeypatch.setenv("GITHUB_OUTPUT", str(output))
    monkeypatch.setenv("GITHUB_STEP_SUMMARY", str(summary))
    monkeypatch.setenv("ANTHROPIC_API_KEY", "sk-ant-api03-S3CANARY0123456789")
    monkeypatch.setenv("GITHUB_EVENT_NAME", "schedule")
    event = tmp_path / "event.json"
    event.write_text(
        json.dumps({"schedule": "0 * * * *", "repository": {"default_branch": "main"}})
    )
    monkeypatch.setenv("GITHUB_EVENT_PATH", str(event))

    plan = fleet_cli("-C", str(hostile_repo), "plan", "--format", "matrix")
    assert plan.exit_code == 0, plan.output
    matrix = json.loads(_outputs(output)["matrix"])
    assert {"role": "devops", "task": "t-001"} in matrix["include"]
    assert all(set(entry) == {"role", "task"} for entry in matrix["include"])
    assert "evil" not in json.dumps(matrix)
    assert all("$(" not in entry["task"] for entry in matrix["include"])  # t-5$(id) quarantined

    run = fleet_cli("-C", str(hostile_repo), "run", "--role", "devops", "--task", "t-001")
    assert run.exit_code == 0, run.output
    assert not Path(CANARY).exists()
    state = git(hostile_repo, "log", "-p", "--all")
    for text in (summary.read_text(), output.read_text(), run.output, state):
        assert "S3CANARY" not in text  # no expression was ever evaluated
    assert "${{ secrets.ANTHROPIC_API_KEY }}" in state  # the title travels as text


def test_step_output_delimiters_cannot_be_guessed_or_closed(tmp_path: Path) -> None:
    """A value holding what looks like a heredoc delimiter, or a newline and `key=`,
    stays one value."""
    out = tmp_path / "out"
    out.touch()
    value = 'a\nFLEET_EOF_1\nmatrix={"include": []}\nb'
    actions.set_outputs({"GITHUB_OUTPUT": str(out)}, {"note": value, "count": "1"})
    parsed = _outputs(out)
    assert parsed == {"note": value, "count": "1"}
