"""A real run's transcript end to end: the scripted Messages API over HTTP, real git, the
local forge and the fake GitHub. A role credential printed by a tool (`env`) reaches the
model (it must, to be useful) and nothing the runner stores or posts: not the stored
transcript, not the PR, not its comments, not the ledger's history."""

from __future__ import annotations

import gzip
import json
import subprocess
from pathlib import Path

import pytest

from tests.conftest import agent_phase, claim_run, git
from tests.fakes.anthropic_server import FakeAnthropic, reply, text, tool
from tests.fakes.github_server import FakeGitHub
from tests.forge.test_github import PEOPLE, _env
from tests.security.scripted import run_scripted

pytestmark = pytest.mark.slow  # end-to-end (git, fake servers, whole runs): CI runs it


PLANTED = "planted-staging-pw-8c1d5e"


def thirty_turns(repo: Path) -> list:
    """Turn 1 prints the environment; 27 turns read distinct files (no loop); then the
    report is written and the run finished: 30 model turns."""
    files = sorted(str(p.relative_to(repo)) for p in (repo / "tasks").glob("*.yaml")) + sorted(
        str(p.relative_to(repo)) for p in (repo / "fleet").rglob("*.*")
    )
    assert len(files) >= 27
    steps = [reply(text("Checking the environment first."), tool("run_command", command="env"))]
    steps += [
        reply(text(f"Reading {path} (step {n})."), tool("read_file", path=path))
        for n, path in enumerate(files[:27], start=2)
    ]
    steps.append(reply(tool("write_file", path="out/report.md", content="# Report\n")))
    steps.append(reply(tool("finish", summary="Wrote the report.")))
    return steps


def _blobs(origin: Path) -> str:
    """Every transcript ever stored on origin's fleet-state, decompressed."""
    listed = git(
        origin, "log", "--format=", "--raw", "--no-abbrev", "fleet-state", "--", "transcripts/"
    )
    shas = {line.split()[3] for line in listed.splitlines() if line.startswith(":")}
    out = []
    for sha in shas - {"0" * 40}:
        blob = subprocess.run(
            ["git", "-C", str(origin), "cat-file", "blob", sha], capture_output=True, check=True
        ).stdout
        out.append(gzip.decompress(blob).decode())
    return "\n".join(out)


def _history(origin: Path) -> str:
    text = git(origin, "log", "-p", "--all", "--", ".", ":(exclude)transcripts")
    return text + _blobs(origin)


def test_a_30_turn_run_is_stored_and_shown_and_its_secret_is_nowhere(
    agent_repo: Path, fleet_cli, monkeypatch
) -> None:
    outcome, model = run_scripted(
        agent_repo, thirty_turns(agent_repo), extra_env={"STAGING_DATABASE_URL": PLANTED}
    )
    assert outcome.record.outcome == "done", outcome.record.reason
    assert outcome.record.turns == 30
    assert any(PLANTED in json.dumps(r) for r in model.requests)  # the tool really printed it
    run_id = outcome.record.run_id
    for k, v in {"FLEET_FORGE": "local", "FLEET_NOW": "2026-11-24T10:30:00Z"}.items():
        monkeypatch.setenv(k, v)
    shown = fleet_cli("-C", str(agent_repo), "runs", "show", run_id, "--full")
    assert shown.exit_code == 0, shown.output
    assert all(f"[turn {n}]" in shown.stdout for n in range(1, 31))
    assert "tool run_command [builtin]" in shown.stdout
    assert "STAGING_DATABASE_URL=[REDACTED:known-secret/raw]" in shown.stdout
    assert "[acceptance] 1/1 check(s) passed; 1 item(s) for the reviewer" in shown.stdout
    assert "[?] review: the report is readable" in shown.stdout
    assert PLANTED not in shown.stdout
    origin = agent_repo.parent / "origin.git"
    history = _history(origin)
    assert f"transcripts/{run_id}.json.gz" in history  # the record points at it
    assert "STAGING_DATABASE_URL=[REDACTED" in history  # the transcript is in there
    assert PLANTED not in history
    assert f"fleet runs show {run_id}" in history  # the PR record names the transcript
    assert f"forge/progress/progress-{run_id}.json" in git(
        origin, "ls-tree", "-r", "--name-only", "fleet-state", "forge/progress/"
    )  # the local forge's progress comment: in the history checked above


def test_two_phases_with_github_keep_the_secret_out_of_everything(
    agent_repo: Path, fleet_cli, monkeypatch, tmp_path: Path
) -> None:
    origin = agent_repo.parent / "origin.git"
    summary = tmp_path / "summary.md"
    with FakeGitHub(permissions=dict(PEOPLE)) as gh:
        for k, v in _env(gh, STAGING_DATABASE_URL=PLANTED).items():
            monkeypatch.setenv(k, v)
        run_id = claim_run(fleet_cli, agent_repo)
        outdir = tmp_path / "outputs"
        with FakeAnthropic(thirty_turns(agent_repo)) as model:
            monkeypatch.setenv("ANTHROPIC_API_KEY", "sk-ant-test-key")
            monkeypatch.setenv("ANTHROPIC_BASE_URL", model.url)
            agent = agent_phase(fleet_cli, agent_repo, run_id, outdir)
        assert agent.exit_code == 0, agent.output
        assert any(PLANTED in json.dumps(r) for r in model.requests)
        assert PLANTED not in (outdir / "transcript.json").read_text()
        monkeypatch.delenv("ANTHROPIC_API_KEY")
        monkeypatch.delenv("STAGING_DATABASE_URL")  # the apply job holds no role credential
        monkeypatch.setenv("GITHUB_ACTIONS", "true")
        monkeypatch.setenv("GITHUB_STEP_SUMMARY", str(summary))
        applied = fleet_cli("-C", str(agent_repo), "apply", str(outdir), "--run-id", run_id)
        assert applied.exit_code == 0, applied.output
        posted = json.dumps([gh.issues, gh.comments])
    (pr,) = [i for i in gh.issues.values() if i.get("pull_request") or i.get("head")]
    assert f"fleet runs show {run_id}" in pr["body"]
    assert f"fleet runs show {run_id}" in summary.read_text()
    (progress,) = [c for c in gh.comments if "fleet:kind=progress-" in c["body"]]
    assert progress["number"] == pr["number"]  # posted once, by apply, on the PR
    assert "- [x] `test -f out/report.md`" in progress["body"]
    assert "**Turns** 30 of 40" in progress["body"] and "**Outcome:** done" in progress["body"]
    assert PLANTED not in posted
    history = _history(origin)
    assert "STAGING_DATABASE_URL=[REDACTED" in history
    assert PLANTED not in history
