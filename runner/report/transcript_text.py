"""A run and its transcript for a terminal (`fleet runs show`, `fleet runs list`).

Everything in a transcript is what a model, a tool or an agent's command printed, so it
is shown with terminal escapes removed and invisible characters made visible: a
transcript must not be able to clear the screen, retitle the terminal or hide a line
from the person reading it. Long outputs are cut to their first lines unless `full`.
"""

from __future__ import annotations

import json
from typing import Any

from runner.fmt import usd
from runner.records import RunRecord
from runner.sanitize import reveal

SHOWN_LINES = 12  # of one output, unless full


def safe(text: Any) -> str:
    """Text from a transcript, fit for a terminal."""
    return reveal(str(text))


def header(record: RunRecord) -> list[str]:
    usage = record.usage or {}
    lines = [
        f"run {record.run_id}: {record.role} on {record.task or '-'}",
        f"  outcome: {record.outcome}" + (f" ({safe(record.reason)})" if record.reason else ""),
        f"  started {record.started}, ended {record.ended or '-'}; engine {record.engine or '-'}"
        + (f", model {record.model}" if record.model else ""),
        f"  {record.turns} turn(s), {usage.get('input_tokens', 0):,} in / "
        f"{usage.get('output_tokens', 0):,} out tokens, "
        f"{usage.get('cache_read_input_tokens', 0):,} read from cache, "
        f"cost {usd(record.cost_usd)}",
    ]
    for name in ("pr", "issue", "branch", "commit"):
        if record.links.get(name):
            lines.append(f"  {name}: {safe(record.links[name])}")
    if record.sandbox:
        lines.append(f"  sandbox: {safe(record.sandbox)}")
    return lines


def render(record: RunRecord, transcript: dict[str, Any] | None, *, full: bool = False) -> str:
    lines = header(record)
    pointer = record.transcript
    if transcript is None:
        lines += ["", "No transcript was stored for this run."]
        return "\n".join(lines)
    entries = [e for e in transcript.get("entries", []) if isinstance(e, dict)]
    where = f"{pointer.get('path')} sha256 {str(pointer.get('sha256', ''))[:12]}"
    cut = f", {pointer['cut']} cut to fit the size cap" if pointer.get("cut") else ""
    lines += ["", f"transcript: {len(entries)} entries ({where}{cut})"]
    turn = 0
    for entry in entries:
        kind = entry.get("kind")
        if kind == "turn":
            turn += 1
        lines += _entry(entry, turn, full)
    return "\n".join(lines)


def _entry(entry: dict[str, Any], turn: int, full: bool) -> list[str]:
    kind = entry.get("kind")
    if kind == "turn":
        return _turn(entry, turn)
    if kind == "tool":
        mark = " (error)" if entry.get("is_error") else ""
        source = entry.get("source") or "builtin"
        head = f"  tool {safe(entry.get('name'))}{mark} [{safe(source)}] {_input(entry)}"
        return [head, *_output(entry.get("output", ""), full)]
    if kind == "command":
        code = entry.get("exit_code")
        status = "timed out or did not start" if code is None else f"exit {code}"
        head = (
            f"  $ {safe(entry.get('command'))}   {status}, {entry.get('duration_s', 0)}s "
            f"({safe(entry.get('phase'))})"
        )
        return [head, *_output(entry.get("output", ""), full)]
    if kind == "acceptance":
        return _acceptance(entry, full)
    if kind == "note":
        return [f"  note: {safe(entry.get('text'))}"]
    return []  # a kind a newer runner wrote: skipped


def _turn(entry: dict[str, Any], turn: int) -> list[str]:
    usage = entry.get("usage") or {}
    tokens = ""
    if usage:
        tokens = (
            f"  ({usage.get('input_tokens', 0):,} in, {usage.get('output_tokens', 0):,} out, "
            f"{usage.get('cache_read_input_tokens', 0):,} cached)"
        )
    lines = ["", f"[turn {turn}]{tokens}"]
    text = safe(entry.get("text", "")).strip()
    lines += [f"  {line}" for line in text.splitlines()] if text else []
    return lines


def _input(entry: dict[str, Any]) -> str:
    shown = json.dumps(entry.get("input"), ensure_ascii=False, sort_keys=True)
    shown = safe(shown)
    return shown if len(shown) <= 300 else shown[:300] + " ..."


def _output(text: Any, full: bool) -> list[str]:
    lines = safe(text).rstrip("\n").splitlines()
    if not lines:
        return []
    shown = lines if full else lines[:SHOWN_LINES]
    out = [f"    | {line}" for line in shown]
    if len(shown) < len(lines):
        out.append(f"    | ... {len(lines) - len(shown)} more line(s) (--full shows them)")
    return out


def _acceptance(entry: dict[str, Any], full: bool) -> list[str]:
    """Checks as passed or failed; review items (judged by a person, `passed` None) as
    waiting for the reviewer."""
    results = [r for r in entry.get("results", []) if isinstance(r, dict)]
    checks = [r for r in results if r.get("passed") is not None]
    passed = sum(1 for r in checks if r.get("passed"))
    reviews = len(results) - len(checks)
    more = f"; {reviews} item(s) for the reviewer" if reviews else ""
    lines = ["", f"[acceptance] {passed}/{len(checks)} check(s) passed{more}"]
    for r in results:
        ok = r.get("passed")
        mark = "?" if ok is None else "x" if ok else " "
        lines.append(f"  [{mark}] {safe(r.get('kind', 'check'))}: {safe(r.get('text', ''))}")
        if r.get("output") and ok is False:
            lines += _output(r["output"], full)
    return lines


def listing(records: list[RunRecord]) -> str:
    """`fleet runs list`: one line per run, newest first."""
    if not records:
        return "No runs on the ledger match."
    lines = []
    for r in records:
        transcript = "transcript" if r.transcript.get("path") else "no transcript"
        reason = f" ({safe(r.reason)[:80]})" if r.reason else ""
        lines.append(
            f"{r.run_id}  {r.role}/{r.task or '-'}  {r.outcome}{reason}  "
            f"{r.turns} turn(s)  {usd(r.cost_usd)}  {transcript}"
        )
    return "\n".join(lines)
