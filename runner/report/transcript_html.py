"""A run's transcript as one self-contained HTML page beside the dashboard.

Like the dashboard: inline CSS, no script, no request, works from disk or Pages. Every
string in a transcript is what a model, a tool or an agent's command produced, so all of
it is escaped; long outputs sit in collapsed `<details>` so a 30-turn run stays
readable. The page says where the transcript came from and its digest.
"""

from __future__ import annotations

import json
from html import escape
from typing import Any

from runner.fmt import usd
from runner.records import RunRecord
from runner.report.html import CSS

PAGE_CSS = (
    CSS
    + """
main.transcript{display:block;max-width:1100px}.entry{border-left:3px solid #e3e6eb;
padding:4px 10px;margin:6px 0}.entry.turn{border-color:#4269d0}.entry.tool{border-color:#6cc5b0}
.entry.command{border-color:#efb118}.entry.acceptance{border-color:#3ca951}
.entry.note{border-color:#9498a0}.entry.error{border-color:#ff725c}
pre{white-space:pre-wrap;word-break:break-word;background:#f6f7f9;padding:6px 8px;margin:4px 0;
font:12px/1.4 ui-monospace,SFMono-Regular,Menlo,monospace}.label{font-weight:600}
.pass{color:#2e7d32}.fail{color:#c0392b}.run-id{white-space:nowrap}
"""
)


def render(record: RunRecord, transcript: dict[str, Any] | None) -> str:
    title = f"fleet run {record.run_id}"
    body = [_summary(record)]
    if transcript is None:
        body.append("<section><p>No transcript was stored for this run.</p></section>")
    else:
        entries = [e for e in transcript.get("entries", []) if isinstance(e, dict)]
        pointer = record.transcript
        body.append(
            f'<p class="muted">{len(entries)} entries, stored at '
            f"<code>{escape(str(pointer.get('path', '')))}</code> (sha256 "
            f"<code>{escape(str(pointer.get('sha256', ''))[:16])}</code>), recorded by the "
            "run and redacted before storing; all of it is data the agent and its tools "
            "produced.</p>"
        )
        turn = 0
        for entry in entries:
            turn += entry.get("kind") == "turn"
            body.append(_entry(entry, turn))
    return (
        '<!doctype html><html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width,initial-scale=1">'
        f"<title>{escape(title)}</title><style>{PAGE_CSS}</style></head><body>"
        f'<header><h1 class="run-id">{escape(title)}</h1></header>'
        f'<main class="transcript">{"".join(body)}</main></body></html>\n'
    )


def _summary(record: RunRecord) -> str:
    usage = record.usage or {}
    rows = [
        ("role / task", f"{record.role} / {record.task or '-'}"),
        ("outcome", record.outcome + (f": {record.reason}" if record.reason else "")),
        ("started / ended", f"{record.started} / {record.ended or '-'}"),
        ("engine", record.engine + (f" ({record.model})" if record.model else "")),
        ("turns", str(record.turns)),
        (
            "tokens in / out / cached",
            f"{usage.get('input_tokens', 0):,} / {usage.get('output_tokens', 0):,} / "
            f"{usage.get('cache_read_input_tokens', 0):,}",
        ),
        ("cost", usd(record.cost_usd)),
    ]
    rows += [(k, record.links[k]) for k in ("pr", "issue", "branch") if k in record.links]
    cells = "".join(f"<tr><th>{escape(k)}</th><td>{escape(v)}</td></tr>" for k, v in rows)
    return f'<section id="run"><table>{cells}</table></section>'


def _pre(text: Any, summary: str) -> str:
    text = str(text or "")
    if not text:
        return ""
    return f"<details><summary>{escape(summary)}</summary><pre>{escape(text)}</pre></details>"


def _entry(entry: dict[str, Any], turn: int) -> str:
    kind = entry.get("kind")
    if kind == "turn":
        usage = entry.get("usage") or {}
        tokens = (
            f" <span class=muted>({usage.get('input_tokens', 0):,} in, "
            f"{usage.get('output_tokens', 0):,} out)</span>"
            if usage
            else ""
        )
        text = escape(str(entry.get("text", "")))
        return (
            f'<div class="entry turn" data-turn="{turn}"><span class=label>Turn {turn}</span>'
            f"{tokens}<pre>{text}</pre></div>"
        )
    if kind == "tool":
        error = " error" if entry.get("is_error") else ""
        name = escape(str(entry.get("name", "")))
        source = escape(str(entry.get("source") or "builtin"))
        short = json.dumps(entry.get("input"), ensure_ascii=False, sort_keys=True)
        if len(short) <= 160:  # one line: shown beside the name
            shown = f" <code>{escape(short)}</code>"
        else:
            long = json.dumps(entry.get("input"), ensure_ascii=False, sort_keys=True, indent=1)
            shown = _pre(long, "input")
        return (
            f'<div class="entry tool{error}"><span class=label>{name}</span> '
            f"<span class=muted>[{source}]</span>{shown}"
            f"{_pre(entry.get('output'), 'output')}</div>"
        )
    if kind == "command":
        code = entry.get("exit_code")
        status = "timed out or did not start" if code is None else f"exit {code}"
        cls = "" if code == 0 else " error"
        return (
            f'<div class="entry command{cls}"><code>$ {escape(str(entry.get("command", "")))}'
            f"</code> <span class=muted>{escape(status)}, {escape(str(entry.get('duration_s')))}s"
            f" ({escape(str(entry.get('phase', '')))})</span>"
            f"{_pre(entry.get('output'), 'output')}</div>"
        )
    if kind == "acceptance":
        return _acceptance(entry)
    if kind == "note":
        return f'<div class="entry note">{escape(str(entry.get("text", "")))}</div>'
    return ""


def _acceptance(entry: dict[str, Any]) -> str:
    results = [r for r in entry.get("results", []) if isinstance(r, dict)]
    items = []
    for r in results:
        ok = r.get("passed")
        mark = {
            None: '<span class="muted">for the reviewer</span>',
            True: '<span class="pass">passed</span>',
        }.get(ok, '<span class="fail">failed</span>')
        text = escape(f"{r.get('kind', 'check')}: {r.get('text', '')}")
        output = _pre(r.get("output"), "output") if ok is False else ""
        items.append(f"<li>{mark} {text}{output}</li>")
    checks = [r for r in results if r.get("passed") is not None]
    passed = sum(1 for r in checks if r.get("passed"))
    return (
        f'<div class="entry acceptance"><span class=label>Acceptance: {passed}/{len(checks)} '
        f"check(s) passed</span><ul>{''.join(items)}</ul></div>"
    )
