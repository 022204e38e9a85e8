"""`fleet demo`: kept demos are never overwritten, the advice it prints works, and the
cto runs the real model engine on the replayed session (runner/replay*.py) end to end."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import pytest

from runner.commands import demo
from runner.demo_replay import NOTE
from runner.errors import FleetError
from runner.replay import DEMO_RECORDING
from runner.replay_server import PLACEHOLDER_KEY

pytestmark = pytest.mark.slow  # end-to-end (git, fake servers, whole runs): CI runs it


@pytest.fixture
def demo_env(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.setenv("GIT_CONFIG_GLOBAL", os.devnull)


def test_keep_twice_refuses_cleanly_and_leaves_the_first_demo(
    tmp_path: Path, fleet_cli, demo_env
) -> None:
    keep = tmp_path / "demo"
    first = fleet_cli("demo", "--keep", str(keep))
    assert first.exit_code == 0, first.output
    head = (keep / "acme/.git/HEAD").read_text()
    again = fleet_cli("demo", "--keep", str(keep))
    assert again.exit_code == 2, again.output
    assert again.stderr.startswith(f"fleet: {keep / 'acme'} already exists")
    assert "pass --keep a new directory" in again.stderr
    assert (keep / "acme/.git/HEAD").read_text() == head


def test_the_next_steps_the_demo_prints_succeed(tmp_path: Path, fleet_cli, demo_env) -> None:
    keep = tmp_path / "demo"
    out = fleet_cli("demo", "--keep", str(keep))
    assert "`fleet local merge devops/t-001`" in out.stdout
    assert "`fleet run --role devops`" in out.stdout
    assert "`fleet runs list`" in out.stdout and "`fleet local merge cto/t-005`" in out.stdout
    acme = str(keep / "acme")
    steps = (
        ["runs", "list"],
        ["local", "merge", "cto/t-005"],
        ["local", "merge", "devops/t-001"],
        ["run", "--role", "devops"],
        ["status"],
    )
    results = [fleet_cli("-C", acme, *args) for args in steps]
    assert [r.exit_code for r in results] == [0] * len(steps), [r.output for r in results]
    assert results[0].stdout.count("  cto/t-005  ") == 2
    assert "t-005 is done" in results[1].stdout
    assert "devops/t-002: done" in results[3].stdout


# -- the replayed model role (runner/replay.py, runner/replay_server.py) ----------------

DECOY_KEY = "sk-ant-api03-" + "d3c0y" * 16  # a user's real-looking key: must go nowhere


def _ledger(acme: Path) -> list[dict]:
    names = git_out(acme, "ls-tree", "-r", "--name-only", "fleet-state", "--", "runs/")
    return sorted(
        (json.loads(git_out(acme, "show", f"fleet-state:{n}")) for n in names.split()),
        key=lambda r: r["started"] + r["run_id"],
    )


def git_out(root: Path, *args: str) -> str:
    return subprocess.run(
        ["git", *args], cwd=root, check=True, capture_output=True, text=True
    ).stdout


def _state_json(acme: Path, path: str) -> dict:
    return json.loads(git_out(acme, "show", f"fleet-state:{path}"))


def test_the_demo_replays_a_model_role_through_the_real_engine(
    tmp_path: Path, fleet_cli, demo_env, monkeypatch
) -> None:
    """The cto's two runs go through the anthropic SDK, the tool loop, the sandboxed
    tools and acceptance; the escalation is answered with `fleet local answer` and the
    role resumes; a user's own model key and endpoint are never used."""
    monkeypatch.setenv("ANTHROPIC_API_KEY", DECOY_KEY)
    monkeypatch.setenv("ANTHROPIC_BASE_URL", "http://127.0.0.1:9")  # nothing listens
    for proxy in ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY"):  # nor here: bypassed
        monkeypatch.setenv(proxy, "http://127.0.0.1:9")
    monkeypatch.delenv("NO_PROXY", raising=False)
    monkeypatch.delenv("no_proxy", raising=False)
    keep = tmp_path / "demo"
    out = fleet_cli("demo", "--keep", str(keep))
    assert out.exit_code == 0, out.output
    assert "NO_PROXY" not in os.environ and "no_proxy" not in os.environ  # put back
    acme = keep / "acme"
    assert "cto/t-005 [REPLAY]: escalated (decision: Which job queue" in out.stdout
    assert (
        "$ fleet -C " in out.stdout
        and " local answer local-issue:cto/t-005/decision " in out.stdout
    )
    assert "Answered local-issue:cto/t-005/decision and closed it" in out.stdout
    assert "cto/t-005 [REPLAY]: done (1/1 checks passed)" in out.stdout
    assert "   its transcript (`fleet runs show 2" in out.stdout
    assert "The founder chose the Postgres-backed queue" in out.stdout  # a recorded turn

    cto = [r for r in _ledger(acme) if r["role"] == "cto"]
    assert [(r["outcome"], r["engine"], r["turns"]) for r in cto] == [
        ("escalated", "anthropic", 3),
        ("done", "anthropic", 5),
    ]
    for r in cto:
        assert r["cost_usd"] > 0
        assert r["usage"]["cache_read_input_tokens"] > 0
        assert r["usage"]["cache_creation_input_tokens"] > 0
        assert r["usage"]["output_tokens"] > 0
    first, second = cto
    assert first["links"]["issue"] == "local-issue:cto/t-005/decision"

    issue = _state_json(acme, "forge/issues/cto/t-005/decision.json")
    assert issue["state"] == "closed"
    assert "### The question\nREPLAY: " in issue["body"]
    recording = json.loads(DEMO_RECORDING.read_text())
    answers = [c for c in issue["comments"] if c.get("via") == "fleet local answer"]
    assert [c["body"] for c in answers] == [recording["answer"]]

    pr = _state_json(acme, "forge/prs/cto/t-005.json")
    assert (pr["state"], pr["draft"]) == ("open", False)
    assert "### Summary\nREPLAY: " in pr["body"]
    assert f"`fleet runs show {second['run_id']}`" in pr["body"]
    comment = _state_json(acme, f"forge/progress/progress-{second['run_id']}.json")
    assert comment["target"] == "local-pr:cto/t-005"
    assert "_REPLAY: " in comment["body"]
    assert "- [x] `test -f docs/adr/0001-job-queue.md`" in comment["body"]
    assert "**Outcome:** done: 1/1 checks passed" in comment["body"]
    assert "$0.00 " not in comment["body"]  # a cost, not nothing
    adr = git_out(acme, "show", "fleet/cto/t-005:docs/adr/0001-job-queue.md")
    assert "Status: accepted" in adr and "revisit this when background work passes" in adr

    # the transcript holds the recorded turns, in order, and `fleet runs show` renders it
    for run, session in zip(cto, recording["sessions"], strict=True):
        shown = fleet_cli("-C", str(acme), "runs", "show", run["run_id"], "--format", "json")
        assert shown.exit_code == 0, shown.output
        entries = json.loads(shown.stdout)["transcript"]["entries"]
        assert entries[0] == {"kind": "note", "text": NOTE}
        turns = [e["text"] for e in entries if e["kind"] == "turn"]
        recorded = [
            "\n".join(b["text"] for b in t["reply"]["content"] if b["type"] == "text")
            for t in session["turns"]
        ]
        assert turns == recorded
        calls = [e["name"] for e in entries if e["kind"] == "tool"]
        assert calls == [
            b["name"]
            for t in session["turns"]
            for b in t["reply"]["content"]
            if b["type"] == "tool_use"
        ]
    text = fleet_cli("-C", str(acme), "runs", "show", second["run_id"])
    assert text.exit_code == 0 and "note: REPLAY: " in text.stdout
    assert "tool run_acceptance [builtin]" in text.stdout

    branch_and_ledger = git_out(acme, "log", "-p", "--all")
    assert DECOY_KEY not in branch_and_ledger and PLACEHOLDER_KEY not in branch_and_ledger


def test_a_demo_whose_agent_diverges_from_the_recording_stops_with_the_divergence(
    tmp_path: Path, demo_env
) -> None:
    """The real engine path, against a recording that expects another tool result: the
    demo fails (exit 1) saying what diverged and where, instead of replaying on."""
    data = json.loads(DEMO_RECORDING.read_text())
    data["sessions"][0]["turns"][1]["results"] = [{"is_error": False, "contains": ["# Overview"]}]
    altered = tmp_path / "altered.json"
    altered.write_text(json.dumps(data))
    with pytest.raises(FleetError) as stopped:
        demo.run(tmp_path / "demo", recording=altered)
    assert stopped.value.exit_code == 1
    assert str(stopped.value).startswith(
        "replay diverged: session 1 of 2 (first run: drafts the ADR, asks the founders to "
        "decide), turn 2, the result of read_file: the call failed, which the recording did "
        "not expect; its output: 'docs/architecture/overview.md: no such file'"
    )
    assert "re-record runner/recordings/" in (stopped.value.hint or "")
    (run,) = [r for r in _ledger(tmp_path / "demo/acme") if r["role"] == "cto"]
    assert run["outcome"] == "error" and "replay diverged" in run["reason"]
