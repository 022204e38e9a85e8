"""Where a run's transcript is kept: gzip-compressed JSON on the ledger branch, beside
the run record, which holds a pointer to it and its sha256.

A transcript is agent-controlled data (in the two-phase split the agent job writes it),
so the side that stores it never trusts what it gets: every string is capped and
redacted again with the secrets that side holds, the run id is the claim's, and the
stored blob is capped in size by dropping entries from the middle (the start says what
the run set out to do, the end how it ended). Readers check the digest and bound the
decompressed size, so a tampered or oversized blob is refused rather than rendered.
Plain data in, plain data out: the ledger writes and reads the bytes.
"""

from __future__ import annotations

import gzip
import hashlib
import json
import zlib
from collections.abc import Sequence
from typing import Any

from runner.errors import FleetError
from runner.secretscan import Secret, scan
from runner.transcript import TEXT_CAP, Transcript, cap

DIRECTORY = "transcripts/"
MAX_STORED_BYTES = 1024 * 1024  # one compressed transcript on the ledger
MAX_INPUT_BYTES = 8 * 1024 * 1024  # the agent phase's transcript.json, read by apply
MAX_EXPANDED_BYTES = 32 * 1024 * 1024  # a stored blob, decompressed
OUTPUTS_FILE = "transcript.json"  # its name in the agent phase's outputs directory
_MAX_DEPTH = 12


class TranscriptError(FleetError):
    """A stored transcript cannot be read: missing, tampered with or malformed."""


def path_for(run_id: str) -> str:
    return f"{DIRECTORY}{run_id}.json.gz"


def cleaned(data: Any, run_id: str, secrets: Sequence[Secret]) -> tuple[dict[str, Any], int]:
    """`data` (untrusted) as a transcript of `run_id`: entries that are objects, every
    string capped and redacted; with the number of secret hits removed."""
    entries = data.get("entries") if isinstance(data, dict) else None
    if not isinstance(entries, list):
        entries = []
    kept = [_capped(e, 0) for e in entries[:5000] if isinstance(e, dict)]
    raw = json.dumps(kept)
    hits = len(scan(raw, secrets))
    redacted = Transcript(run_id, kept).to_dict(secrets)
    return redacted, hits


def _capped(value: Any, depth: int) -> Any:
    if isinstance(value, str):
        return cap(value, TEXT_CAP)
    if depth >= _MAX_DEPTH:
        return "[nested too deep]"
    if isinstance(value, dict):
        return {cap(str(k), 200): _capped(v, depth + 1) for k, v in list(value.items())[:200]}
    if isinstance(value, list | tuple):
        return [_capped(v, depth + 1) for v in list(value)[:1000]]
    if value is None or isinstance(value, bool | int | float):
        return value
    return cap(str(value), TEXT_CAP)


def pack(data: dict[str, Any], limit: int = MAX_STORED_BYTES) -> tuple[bytes, dict[str, Any]]:
    """The gzip blob to store and the pointer the run record keeps (path, sha256, size,
    entries, how many were cut from the middle to fit `limit`)."""
    entries = list(data.get("entries", []))
    run_id = str(data.get("run_id", ""))

    def blob_of(cut: int) -> bytes:
        doc = {"run_id": run_id, "entries": _with_cut(entries, cut)}
        return gzip.compress(json.dumps(doc, sort_keys=True).encode(), mtime=0)

    cut, blob = 0, blob_of(0)
    if len(blob) > limit:  # the fewest entries cut that fit: a binary search
        low, high = 1, len(entries)
        while low < high:
            middle = (low + high) // 2
            if len(blob_of(middle)) <= limit:
                high = middle
            else:
                low = middle + 1
        cut, blob = low, blob_of(low)
    pointer = {
        "path": path_for(run_id),
        "sha256": hashlib.sha256(blob).hexdigest(),
        "bytes": len(blob),
        "entries": len(entries) - cut,
    }
    if cut:
        pointer["cut"] = cut
    return blob, pointer


def _with_cut(entries: list[dict[str, Any]], cut: int) -> list[dict[str, Any]]:
    if not cut:
        return entries
    if cut >= len(entries):
        return [{"kind": "note", "text": f"[all {len(entries)} entries cut to fit the size cap]"}]
    head = (len(entries) - cut) // 2
    tail = len(entries) - cut - head
    note = {"kind": "note", "text": f"[{cut} entries cut from the middle to fit the size cap]"}
    return [*entries[:head], note, *entries[len(entries) - tail :]]


def unpack(blob: bytes, pointer: dict[str, Any]) -> dict[str, Any]:
    """A stored transcript, checked against the record's pointer."""
    if hashlib.sha256(blob).hexdigest() != pointer.get("sha256"):
        raise TranscriptError(
            f"the transcript at {pointer.get('path')} does not match its digest in the run "
            "record (changed after it was written); not shown",
            hint="look at the history of the fleet-state branch for who changed it",
        )
    try:
        inflater = zlib.decompressobj(wbits=31)
        raw = inflater.decompress(blob, MAX_EXPANDED_BYTES)
        if inflater.unconsumed_tail:
            raise TranscriptError(f"the transcript expands past {MAX_EXPANDED_BYTES} bytes")
        data = json.loads(raw)
    except (zlib.error, ValueError) as exc:
        where = pointer.get("path")
        raise TranscriptError(f"the transcript at {where} is unreadable: {exc}") from None
    if not isinstance(data, dict) or not isinstance(data.get("entries"), list):
        raise TranscriptError(f"the transcript at {pointer.get('path')} has no entries")
    return data
