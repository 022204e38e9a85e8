"""What an MCP tool call gives the model: its content as text, capped, and quoted as
untrusted data. Pure functions on the SDK's result objects (duck-typed: no SDK import).

A server is configured by a human, but what it returns (a web page, an issue, a
document) may carry instructions: the text is capped (head and tail, saying how much was
cut and how to ask for less), invisible characters are made visible and wrapper tags
escaped (`sanitize.reveal`, the seam every tool output goes through), inside an
`<untrusted source="mcp:<server>/<tool>">` wrapper the text cannot close.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from runner.sanitize import attribute, reveal

RESULT_CAP = 20_000  # characters of one result the model gets: head and tail


def text_of(result: Any) -> str:
    """The result's content as text; what is not text is named, not inlined."""
    parts: list[str] = []
    for block in getattr(result, "content", None) or ():
        kind = getattr(block, "type", "")
        if kind == "text":
            parts.append(str(block.text))
        elif kind in ("image", "audio"):
            parts.append(f"[{kind} ({getattr(block, 'mime_type', '?')}) not shown]")
        elif kind == "resource":
            res = block.resource
            parts.append(getattr(res, "text", None) or f"[resource {res.uri} not shown]")
        else:
            parts.append(f"[{kind or 'unknown'} content not shown]")
    if not parts and getattr(result, "structured_content", None) is not None:
        parts.append(json.dumps(result.structured_content, ensure_ascii=False))
    return "\n".join(parts) or "(no content)"


def capped(text: str, cap: int) -> str:
    if len(text) <= cap:
        return text
    head = cap * 3 // 4
    tail = cap - head
    return (
        text[:head] + f"\n[... {len(text) - cap} characters of this MCP result cut; ask the server "
        "for less (a narrower query, a page at a time) ...]\n" + text[-tail:]
    )


def wrap(text: str, source: str) -> str:
    """Tool output as data: invisible characters made visible, wrapper tags escaped,
    inside a wrapper labelled with the server and tool."""
    return f'<untrusted source="{attribute(source)}">\n{reveal(text)}\n</untrusted>'


def refusal(name: str, allow: Sequence[str]) -> str:
    shown = ", ".join(allow) or "none"
    return (
        f"{name}: not an MCP tool this role may use (mcp_tools: {shown}); "
        "the call was not sent to any server"
    )
