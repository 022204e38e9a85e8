"""Agent- or outsider-written text on its way out to the forge: it may not ping, close,
or mark anything.

On GitHub, `@name` in a body notifies that person or team, and `Fixes #1` (or `closes
owner/repo#2`, `resolves <issue URL>`, any of GitHub's nine keywords, any case, with or
without a colon) in a PR body closes the issue when the PR is merged. An agent's summary,
or an outsider's comment re-posted in the sync delta, must do neither; nor may it carry
text that looks like the runner's hidden markers, or HTML that hides part of itself.

GitHub links neither mentions nor references inside code, so both are wrapped in a code
span. That is only safe where the wrapping really opens a code span, so the text is split
into code (top-level fenced blocks, one-line code spans) and prose first; in prose, HTML
is escaped (no HTML block, in which backticks are literal, can form) and stray backticks
become `&#96;` (so none can pair with an inserted one). Where the split is unsure (an
indented fence, a code span across lines) the text is treated as prose: over-quoting is
cosmetic, under-quoting pings someone. Zero-width characters are not used to break
keywords: the runner strips those from everything it reads.
"""

from __future__ import annotations

import html
import re

from runner.sanitize import clean, strip_invisible

KEYWORDS = ("close", "closes", "closed", "fix", "fixes", "fixed", "resolve", "resolves", "resolved")
_REF = (
    r"(?:https?://[^\s)\]>]+/(?:issues|pull|discussions)/\d+"  # full issue or PR URL
    r"|[^\s`#]*#[*_~]*\d+"  # #3, owner#3, owner/repo#3 (any prefix: over-quoting is harmless)
    r"|GH-\d+)"
)
# A closing phrase (keyword, separator, reference) or a mention: the reference (with the
# token characters after it) or the mention (an `@` not inside a word, up to the next
# space, so `@*bob*` and `@~x~` are caught too) becomes one code span. Nothing can start
# right after an inserted backtick, and no span crosses a line.
_LINKY = re.compile(
    r"(?i)(?P<keyword>(?<![A-Za-z0-9])(?:"
    + "|".join(sorted(KEYWORDS, key=len, reverse=True))
    + r")(?![A-Za-z0-9])[\s:*_~>]*)?"
    r"(?P<ref>(?(keyword)" + _REF + r"[\w@/.#-]*|(?<![A-Za-z0-9])@\S*))"
)
# `&` first (so the others stay entities); `]` so no link or image can form (a link
# destination swallows a code span; an image is fetched, a way to send data out).
_ESCAPES = (("&", "&amp;"), ("\\", "&#92;"), ("<", "&lt;"), ("`", "&#96;"), ("]", "&#93;"))
_MD_ESCAPE = re.compile(r"\\([!-/:-@\[-`{-~])")
_FENCE = re.compile(r"^(`{3,}|~{3,})")
_TICKS = re.compile(r"(?<!\\)(?:\\\\)*(`+)")
MAX_BODY = 60_000  # GitHub refuses bodies over 65,536 characters


def _segments(text: str) -> list[tuple[bool, str]]:
    """(is_code, piece) in order; top-level fences and one-line code spans are code."""
    out: list[tuple[bool, str]] = []
    lines = text.splitlines(keepends=True)
    i = 0
    while i < len(lines):
        fence = _FENCE.match(lines[i])
        if fence is not None and fence.group(1)[0] == "`" and "`" in lines[i][fence.end() :]:
            fence = None  # CommonMark: a backtick fence's info string has no backtick
        if fence is None:
            out.extend(_inline(lines[i]))
            i += 1
            continue
        mark = fence.group(1)
        closer = re.compile(rf"^ {{0,3}}{re.escape(mark[0])}{{{len(mark)},}}[ \t]*$")
        j = i + 1
        while j < len(lines) and not closer.match(lines[j].rstrip("\n")):
            j += 1
        block = "".join(lines[i : j + 1])
        if j >= len(lines):  # unclosed: close it, so nothing after is swallowed
            block += ("" if block.endswith("\n") else "\n") + mark + "\n"
        out.append((True, block))
        i = j + 1
    return out


def _inline(line: str) -> list[tuple[bool, str]]:
    out: list[tuple[bool, str]] = []
    pos = 0
    for m in _TICKS.finditer(line):
        if m.start(1) < pos:
            continue
        run = m.group(1)
        close = re.compile(rf"(?<!`){run}(?!`)").search(line, m.end(1))
        if close is None:
            continue
        out.append((False, line[pos : m.start(1)]))
        out.append((True, line[m.start(1) : close.end()]))
        pos = close.end()
    out.append((False, line[pos:]))
    return out


def _code(m: re.Match[str]) -> str:
    """`ref` as a code span, after a space unless one is there: GFM's bare-URL autolink
    would otherwise swallow the opening backtick (`https://x/a@b` -> link `...a`)."""
    before = m.string[m.start("ref") - 1] if m.start("ref") else " "
    space = "" if before.isspace() else " "
    return f"{m.group('keyword') or ''}{space}`{m.group('ref')}`"


def _prose(text: str) -> str:
    """Resolve what Markdown would (backslash escapes, entities: `&#64;alice` is a
    mention too), then escape so that nothing but the code spans inserted here is
    markup: no entity, backslash, tag or backtick is left to interfere with them."""
    text = _resolved(text)
    for raw, escaped in _ESCAPES:
        text = text.replace(raw, escaped)
    return _LINKY.sub(_code, text)


def _resolved(prose: str) -> str:
    """Prose as GitHub reads it: backslash escapes and entities resolved (`&#64;alice`
    is a mention too), invisible characters gone."""
    return strip_invisible(html.unescape(_MD_ESCAPE.sub(r"\1", prose)))


def _merged(text: str) -> list[tuple[bool, str]]:
    """`_segments` with adjacent prose joined: a closing phrase may run across lines
    ("closes:\n#4" closes)."""
    merged: list[tuple[bool, str]] = []
    for code, piece in _segments(text):
        if merged and not code and not merged[-1][0]:
            merged[-1] = (False, merged[-1][1] + piece)
        else:
            merged.append((code, piece))
    return merged


def neutralize(text: str) -> str:
    """Mentions and closing references quoted as code, HTML escaped, hidden text (and so
    any marker-like comment) removed. Code is left as it is: nothing links inside it."""
    out: list[str] = []
    for code, piece in _merged(clean(text)):
        done = piece if code else _prose(piece)
        if out and done.startswith("`") and not out[-1][-1:].isspace():
            out.append(" ")  # no merging of backtick runs, no autolink swallowing one
        out.append(done)
    return "".join(out)


def live_references(text: str, *, mentions: bool = True) -> list[str]:
    """The mentions and closing references that would be live if `text` were posted as
    it is. The apply phase checks the agent phase's bodies with this instead of trusting
    them (a compromised agent job writes `outputs.json` itself) or re-neutralising them
    (which would mangle the runner's own Markdown); a hit blocks the output."""
    found = []
    for code, piece in _merged(text):
        if code:
            continue
        for m in _LINKY.finditer(_resolved(piece)):
            if m.group("keyword") or (mentions and len(m.group("ref")) > 1):
                found.append(m.group(0).strip())
    return found


def cap(text: str, limit: int) -> str:
    """At most `limit` characters, cut at a line end, saying how much was cut."""
    if len(text) <= limit:
        return text
    cut = text[:limit].rsplit("\n", 1)[0] or text[:limit]
    return f"{cut}\n\n[... {len(text) - len(cut)} characters cut]"


def for_post(text: str, limit: int = 4000) -> str:
    """Agent- or outsider-written text made safe to post: capped, then neutralised (so
    the cut cannot reopen anything), with any fence it opened closed."""
    return neutralize(cap(text, limit)).rstrip("\n")


def inline_code(text: str) -> str:
    """`text` as one code span whatever backticks it holds (commands in PR bodies)."""
    flat = " ".join(text.split())
    longest = max((len(r) for r in re.findall(r"`+", flat)), default=0)
    ticks = "`" * (longest + 1)
    pad = " " if flat.startswith("`") or flat.endswith("`") else ""
    return f"{ticks}{pad}{flat}{pad}{ticks}"
