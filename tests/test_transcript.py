"""The transcript's shape: capped outputs, every string redacted on the way out."""

from __future__ import annotations

import json

from runner.secretscan import Secret
from runner.transcript import OUTPUT_CAP, Transcript, cap

PLANTED = "planted-secret-value-7f3a9c"


def test_cap_keeps_head_and_tail_and_says_how_much_was_cut() -> None:
    text = "START" + "x" * 10_000 + "END"
    out = cap(text, 300)
    assert out.startswith("START") and out.endswith("END")
    assert "9708 characters cut" in out
    assert cap("short", 300) == "short"


def test_a_planted_secret_appears_nowhere_in_the_stored_transcript() -> None:
    t = Transcript("r1")
    t.turn(f"I found {PLANTED} in the env", {"input_tokens": 10})
    t.tool("read_file", {"path": "x", PLANTED: [PLANTED]}, f"value={PLANTED}")
    t.command(f"echo {PLANTED}", 0, 0.01234, PLANTED, phase="setup")
    t.acceptance([{"text": "c", "kind": "check", "passed": False, "output": PLANTED}])
    t.note(f"stopped after {PLANTED}")
    t.tool("x", {}, "ghp_" + "a1B2" * 9)  # a token shape the runner never held
    stored = json.dumps(t.to_dict([Secret("ROLE_TOKEN", PLANTED)]))
    assert PLANTED not in stored
    assert "ghp_" not in stored
    assert stored.count("[REDACTED:") >= 8
    # the in-memory entries are untouched: redaction happens where the data leaves
    assert PLANTED in t.entries[0]["text"]


def test_outputs_are_capped_when_recorded_and_round_trip() -> None:
    t = Transcript("r2")
    t.tool("bash", {"command": "yes"}, "y\n" * 50_000)
    t.command("make", None, 1.5, "z" * 50_000, phase="agent")
    assert all(len(e["output"]) < OUTPUT_CAP + 100 for e in t.entries)
    back = Transcript.from_dict(json.loads(json.dumps(t.to_dict())))
    assert back.entries == t.entries and back.run_id == "r2"


def test_entries_from_a_newer_runner_are_kept() -> None:
    back = Transcript.from_dict({"run_id": "r", "entries": [{"kind": "video"}, "junk"]})
    assert back.entries == [{"kind": "video"}]
