"""Transcript storage: what the ledger keeps of a run's transcript, and what it refuses."""

from __future__ import annotations

import gzip
import json
import random
import string

import pytest

from runner.secretscan import Secret
from runner.transcript import Transcript
from runner.transcripts import TranscriptError, cleaned, pack, unpack

PLANTED = "s3cr3t-planted-value-4242"
GITHUB_SHAPE = "ghp_" + "A1b2C3d4E5f6G7h8I9j0K1l2M3n4O5p6Q7r8"


def _transcript(turns: int, noise: int = 0) -> Transcript:
    rng = random.Random(turns)
    t = Transcript("20261124T103000Z-tester-abc123")
    for n in range(1, turns + 1):
        t.turn(f"turn {n}: reading", {"input_tokens": 100 * n, "output_tokens": 10})
        output = "".join(rng.choice(string.ascii_letters) for _ in range(noise)) or "ok"
        t.tool("read_file", {"path": f"f{n}.txt"}, output)
    return t


def test_pack_and_unpack_round_trip_with_a_digest() -> None:
    data = _transcript(3).to_dict()
    blob, pointer = pack(data)
    assert pointer["path"] == "transcripts/20261124T103000Z-tester-abc123.json.gz"
    assert pointer["entries"] == 6 and pointer["bytes"] == len(blob)
    assert unpack(blob, pointer) == data


def test_a_tampered_blob_is_refused() -> None:
    _blob, pointer = pack(_transcript(2).to_dict())
    forged = gzip.compress(json.dumps({"run_id": "x", "entries": []}).encode())
    with pytest.raises(TranscriptError, match="digest"):
        unpack(forged, pointer)


def test_a_transcript_over_the_cap_keeps_its_start_and_end() -> None:
    noisy = _transcript(200, noise=3000)
    blob, pointer = pack(noisy.to_dict(), limit=64 * 1024)
    assert len(blob) <= 64 * 1024
    entries = unpack(blob, pointer)["entries"]
    assert pointer["cut"] > 0 and pointer["entries"] == 400 - pointer["cut"]
    assert entries[0]["text"] == "turn 1: reading"
    assert entries[-1]["input"] == {"path": "f200.txt"}
    assert any("cut from the middle" in e.get("text", "") for e in entries)


def test_a_decompression_bomb_is_bounded() -> None:
    bomb = gzip.compress(b'{"entries": ["' + b"a" * (40 * 1024 * 1024) + b'"]}')
    import hashlib

    pointer = {"path": "transcripts/x.json.gz", "sha256": hashlib.sha256(bomb).hexdigest()}
    with pytest.raises(TranscriptError, match="expands past"):
        unpack(bomb, pointer)


def test_cleaning_agent_data_redacts_caps_and_counts_secrets() -> None:
    """What apply does with the agent job's transcript: it is never trusted to be
    redacted, however it is shaped."""
    hostile = {
        "run_id": "another-run",
        "entries": [
            {"kind": "tool", "name": "run_command", "input": {"cmd": "env"},
             "output": f"DB={PLANTED}\ntoken {GITHUB_SHAPE}\n"},
            {"kind": "turn", "text": "x" * 100_000},
            {"kind": "note", "nested": {PLANTED: [PLANTED]}},
            "not an entry",
            42,
        ],
    }  # fmt: skip
    kept, hits = cleaned(hostile, "the-claimed-run", [Secret("STAGING_DATABASE_URL", PLANTED)])
    text = json.dumps(kept)
    assert PLANTED not in text and GITHUB_SHAPE not in text
    assert hits >= 3
    assert kept["run_id"] == "the-claimed-run"
    assert len(kept["entries"]) == 3
    assert len(kept["entries"][1]["text"]) < 25_000


def test_cleaning_garbage_gives_an_empty_transcript() -> None:
    for junk in (None, [], "text", {"entries": "no"}, {"entries": [[1]]}):
        kept, hits = cleaned(junk, "r", [])
        assert kept == {"run_id": "r", "entries": []} and hits == 0
