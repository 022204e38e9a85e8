"""`fleet runs list|show|pages` on a real ledger: a 30-turn transcript stored by the
ledger's own finish, rendered for a terminal, as JSON and as HTML; tampering refused."""

from __future__ import annotations

import gzip
import hashlib
import json
import subprocess
from pathlib import Path

import pytest

from runner.gitrepo import Git
from runner.records import RunRecord
from runner.state import Ledger, StateStore
from runner.transcript import Transcript
from tests.conftest import git

NOW = "2026-11-24T10:30:00Z"
RUN_ID = "20261124T103000Z-tester-abc123"
PLANTED = "planted-db-password-7f3a9c"


@pytest.fixture
def local(monkeypatch) -> None:
    monkeypatch.setenv("FLEET_FORGE", "local")
    monkeypatch.setenv("FLEET_NOW", NOW)


def thirty_turns(run_id: str = RUN_ID) -> Transcript:
    t = Transcript(run_id)
    for n in range(1, 31):
        t.turn(f"Turn {n}: I will read part {n}.", {"input_tokens": 1000 + n, "output_tokens": n})
        t.tool("read_file", {"path": f"docs/part-{n}.md"}, f"content of part {n}\n" * 30)
        if n % 10 == 0:
            t.command("python3 -m pytest -q", 1 if n < 30 else 0, 1.25, "1 failed", "agent")
    t.tool("run_command", {"command": "env"}, f"DB_URL=postgres://u:{PLANTED}@db/x\n", True)
    t.acceptance(
        [
            {"kind": "check", "text": "test -f out/report.md", "passed": True, "output": ""},
            {"kind": "review", "text": "the report is readable", "passed": None},
            {"kind": "check", "text": "ruff check .", "passed": False, "output": "E501"},
        ]
    )
    t.note("acceptance passed; PR opened")
    return t


def store(repo: Path, transcript: Transcript, run_id: str = RUN_ID, **fields) -> RunRecord:
    """A finished run written the way a run writes it: Ledger.finish with its transcript,
    redacted with the secret the run held."""
    from runner.secretscan import Secret

    ledger = Ledger(StateStore(Git(repo)))
    record = RunRecord(run_id, "tester", "t-100", NOW, trigger="test", engine="anthropic")
    ledger.start(record)
    record.outcome, record.turns, record.ended = "done", 30, NOW
    record.links = {"pr": "local-pr:tester/t-100", "branch": "fleet/tester/t-100"}
    for k, v in fields.items():
        setattr(record, k, v)
    secrets = [Secret("STAGING_DATABASE_URL", PLANTED)]
    ledger.finish(record, transcript=transcript.to_dict(secrets))
    return record


def test_runs_show_renders_a_30_turn_transcript(agent_repo: Path, fleet_cli, local) -> None:
    store(agent_repo, thirty_turns())
    shown = fleet_cli("-C", str(agent_repo), "runs", "show", RUN_ID[:24])
    assert shown.exit_code == 0, shown.output
    out = shown.stdout
    assert all(f"[turn {n}]" in out and f"Turn {n}: I will read" in out for n in range(1, 31))
    assert out.count("tool read_file [builtin]") == 30
    assert out.count("$ python3 -m pytest -q   exit 1, 1.25s (agent)") == 2
    assert "[acceptance] 1/2 check(s) passed; 1 item(s) for the reviewer" in out
    assert "[?] review: the report is readable" in out and "[ ] check: ruff check ." in out
    assert "more line(s) (--full shows them)" in out
    assert PLANTED not in out and "[REDACTED:known-secret/raw]" in out
    full = fleet_cli("-C", str(agent_repo), "runs", "show", RUN_ID, "--full").stdout
    assert "more line(s)" not in full and full.count("content of part 7") == 30
    data = json.loads(
        fleet_cli("-C", str(agent_repo), "runs", "show", RUN_ID, "--format", "json").stdout
    )
    assert data["run"]["transcript"]["path"] == f"transcripts/{RUN_ID}.json.gz"
    assert (
        len(data["transcript"]["entries"]) == 30 * 2 + 3 + 3
    )  # turns and reads, 3 commands, env, acceptance, note


def test_the_ledger_holds_the_transcript_compressed_with_its_digest(
    agent_repo: Path, local
) -> None:
    record = store(agent_repo, thirty_turns())
    origin = agent_repo.parent / "origin.git"
    path = f"fleet-state:transcripts/{RUN_ID}.json.gz"
    blob = subprocess.run(
        ["git", "-C", str(origin), "cat-file", "blob", path], capture_output=True, check=True
    ).stdout
    assert hashlib.sha256(blob).hexdigest() == record.transcript["sha256"]
    assert len(blob) == record.transcript["bytes"] < 20_000  # compressed
    raw = json.loads(git(origin, "show", f"fleet-state:runs/2026-11-24/{RUN_ID}.json"))
    assert raw["transcript"] == record.transcript
    assert PLANTED.encode() not in gzip.decompress(blob)
    assert PLANTED not in git(origin, "log", "-p", "fleet-state", "--", "runs/")


def test_a_transcript_changed_after_the_run_is_refused(agent_repo: Path, fleet_cli, local) -> None:
    store(agent_repo, thirty_turns())
    forged = Transcript(RUN_ID)
    forged.note("all fine, nothing to see")
    blob, _pointer = __import__("runner.transcripts", fromlist=["pack"]).pack(forged.to_dict())
    StateStore(Git(agent_repo)).write({f"transcripts/{RUN_ID}.json.gz": blob}, "tamper")
    shown = fleet_cli("-C", str(agent_repo), "runs", "show", RUN_ID)
    assert shown.exit_code == 1
    assert "does not match its digest" in shown.output and "all fine" not in shown.output


def test_runs_list_newest_first_with_filters(agent_repo: Path, fleet_cli, local) -> None:
    store(agent_repo, thirty_turns())
    other = "20261124T113000Z-tester-def456"
    store(agent_repo, Transcript(other), other, started="2026-11-24T11:30:00Z", outcome="budget")
    listed = fleet_cli("-C", str(agent_repo), "runs", "list")
    assert listed.exit_code == 0, listed.output
    lines = listed.stdout.splitlines()
    assert lines[0].startswith(other) and lines[1].startswith(RUN_ID)
    assert "transcript" in lines[0]
    rows = json.loads(
        fleet_cli(
            "-C", str(agent_repo), "runs", "list", "--outcome", "budget", "--format", "json"
        ).stdout
    )
    assert [r["run_id"] for r in rows] == [other]
    typo = fleet_cli("-C", str(agent_repo), "runs", "list", "--outcome", "escalate")
    assert typo.exit_code == 2, typo.output  # was exit 0, "No runs on the ledger match."
    assert "'escalated'" in typo.output and "No runs" not in typo.output
    missing = fleet_cli("-C", str(agent_repo), "runs", "show", "nope")
    assert missing.exit_code == 2 and "fleet runs list" in missing.output
    ambiguous = fleet_cli("-C", str(agent_repo), "runs", "show", "20261124T1")
    assert ambiguous.exit_code == 2 and "names 2 runs" in ambiguous.output
    assert ", ...)" not in ambiguous.output  # both are listed: nothing more to hint at


def test_terminal_escapes_in_a_transcript_do_not_reach_the_terminal(
    agent_repo: Path, fleet_cli, local
) -> None:
    t = Transcript(RUN_ID)
    t.tool("run_command", {"command": "cat x"}, "\x1b]0;pwned\x07\x1b[2Jvisible\u202eevil")
    store(agent_repo, t)
    out = fleet_cli("-C", str(agent_repo), "runs", "show", RUN_ID).stdout
    assert "\x1b" not in out and "\u202e" not in out
    assert "visible[U+202E]evil" in out


def test_runs_pages_writes_one_page_per_run(agent_repo: Path, fleet_cli, local, tmp_path) -> None:
    store(agent_repo, thirty_turns())
    site = tmp_path / "site"
    refused = fleet_cli("-C", str(agent_repo), "runs", "pages", str(site))
    assert refused.exit_code == 2
    site.mkdir()
    wrote = fleet_cli("-C", str(agent_repo), "runs", "pages", str(site))
    assert wrote.exit_code == 0, wrote.output
    page = (site / f"{RUN_ID}.html").read_text()
    assert page.count('class="entry turn"') == 30 and PLANTED not in page
