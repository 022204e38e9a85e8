"""The transcript crosses the trust boundary as agent data: apply never trusts it.

A hostile agent job hands apply a transcript holding a secret only the apply job knows
(raw, base64, hex), a pointer to someone else's transcript and an oversized entry, or a
transcript "file" that is a link out of the outputs directory. Apply stores only what it
cleaned itself, under the claimed run's id, and says what it found.
"""

from __future__ import annotations

import base64
import gzip
import json
import os
import subprocess
from pathlib import Path

import pytest

from runner.outputs import OutputsError, read_transcript
from tests.conftest import git
from tests.security.apply_helpers import AgentJob, add_wide_role, apply

SECRET = "s3cr3t-DEPLOY-9f8e7d6c5b4a"  # DEPLOY_TOKEN: the apply job holds it


@pytest.fixture
def wide(repo: Path) -> Path:
    add_wide_role(repo)
    return repo


def _stored(repo: Path, run_id: str) -> tuple[dict, bytes]:
    origin = repo.parent / "origin.git"
    record = json.loads(git(origin, "show", f"fleet-state:runs/2026-11-24/{run_id}.json"))
    blob = subprocess.run(
        [
            "git",
            "-C",
            str(origin),
            "cat-file",
            "blob",
            f"fleet-state:{record['transcript']['path']}",
        ],
        capture_output=True,
        check=True,
    ).stdout
    return record, blob


def test_apply_redacts_the_agents_transcript_again_and_sets_its_own_pointer(wide: Path) -> None:
    job = AgentJob(wide, DEPLOY_TOKEN=SECRET)
    job.write("docs/guide.md", "# Guide\n")
    job.commit()
    forms = [SECRET, base64.b64encode(SECRET.encode()).decode(), SECRET.encode().hex()]
    hostile = {
        "run_id": "someone-else",
        "entries": [
            {"kind": "turn", "text": "I will look at the environment."},
            {"kind": "tool", "name": "run_command", "input": {"command": "env"},
             "output": "\n".join(f"DEPLOY={f}" for f in forms), "is_error": False},
            {"kind": "note", "text": "y" * 200_000},
        ],
    }  # fmt: skip
    out = job.outputs(
        transcript="transcript.json",
        run={"transcript": {"path": "transcripts/other.json.gz", "sha256": "0" * 64}},
    )
    (out / "transcript.json").write_text(json.dumps(hostile))
    applied = apply(wide, out, DEPLOY_TOKEN=SECRET)
    assert applied.review is not None and applied.review.bundle_ok and applied.pushed
    assert "transcript" in applied.review.blocked  # said, in the security escalation
    assert applied.security is not None
    record, blob = _stored(wide, job.record.run_id)
    assert record["transcript"]["path"] == f"transcripts/{job.record.run_id}.json.gz"
    text = gzip.decompress(blob).decode()
    for leaked in forms:
        assert leaked not in text
    stored = json.loads(text)
    assert stored["run_id"] == job.record.run_id
    assert len(stored["entries"][2]["text"]) < 25_000
    everything = git(wide.parent / "origin.git", "log", "-p", "--all")
    assert not any(leaked in everything for leaked in forms)


def test_a_transcript_that_links_out_of_the_outputs_is_not_read(wide: Path, tmp_path) -> None:
    job = AgentJob(wide, DEPLOY_TOKEN=SECRET)
    job.write("docs/guide.md", "# Guide\n")
    job.commit()
    outside = tmp_path / "apply-secrets.json"
    outside.write_text(json.dumps({"entries": [{"kind": "note", "text": "host file"}]}))
    out = job.outputs(transcript="transcript.json")
    os.symlink(outside, out / "transcript.json")
    applied = apply(wide, out, DEPLOY_TOKEN=SECRET)
    assert applied.pushed and applied.pr is not None  # the work is still published
    assert any("transcript was not stored" in n for n in applied.review.notes)
    origin = wide.parent / "origin.git"
    record = json.loads(
        git(origin, "show", f"fleet-state:runs/2026-11-24/{job.record.run_id}.json")
    )
    assert "transcript" not in record


def test_only_the_contracts_file_name_is_opened(tmp_path: Path) -> None:
    (tmp_path / "secrets.json").write_text("{}")
    (tmp_path / "out").mkdir()
    for name in ("../secrets.json", "/etc/passwd", "outputs.json"):
        with pytest.raises(OutputsError, match=r"not transcript\.json"):
            read_transcript(tmp_path / "out", name, 1000)
    (tmp_path / "out/transcript.json").write_text("[" * 2000)
    with pytest.raises(OutputsError, match="larger than"):
        read_transcript(tmp_path / "out", "transcript.json", 1000)
