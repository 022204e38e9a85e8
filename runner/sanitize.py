"""Untrusted text on its way into a prompt: hidden parts removed, wrappers unbreakable.

Issue and PR text, comments, commit messages, file contents and command output may carry
instructions meant for the model but invisible to the human who reviews the same page:
HTML comments, elements GitHub does not render, zero-width and bidi control characters,
Unicode tag characters (which spell ASCII invisibly, and which models read). What a
human cannot see is removed; what remains is quoted inside a wrapper the text cannot
close (`</untrusted>` in any spelling is escaped), labelled with its source and author.

Two strengths, by where the text goes:
- `clean` for forge and git text quoted to the model: hidden HTML and invisible
  characters are removed, since nobody reviewing the page saw them.
- `reveal` for tool output (file contents, command output): the model must see files as
  they are to edit them, so nothing visible is dropped; invisible characters become
  visible `[U+200B]` marks (tag-character runs, which hide whole sentences, are
  dropped and counted), and wrapper tags are escaped.

Pure functions on strings. The few regular expressions are compiled at import (cheap);
no table over all of Unicode is built, so the CLI start-up does not pay for this module.
"""

from __future__ import annotations

import re
import unicodedata

from runner.fmt import clip

WRAPPER_TAGS = ("untrusted", "instruction")

# Invisible or direction-changing code points, beyond category Cf (checked per char).
_EXTRA_INVISIBLE = (
    "\u034f"  # combining grapheme joiner
    "\u115f\u1160\u3164\uffa0"  # Hangul fillers (render as blank)
    "\u17b4\u17b5"  # Khmer inherent vowels (invisible)
    "\u180b-\u180f"  # Mongolian variation selectors and vowel separator
    "\u2800"  # braille blank
    "\ufe00-\ufe0f"  # variation selectors
    "\U000e0100-\U000e01ef"  # variation selectors supplement
)
_INVISIBLE = re.compile(
    "["
    "\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f"  # C0/C1 controls but tab, newline, CR
    "\u00ad\u0600-\u0605\u061c\u06dd\u070f\u0890\u0891\u08e2\u180e"
    "\u200b-\u200f\u202a-\u202e\u2060-\u206f\ufeff\ufff9-\ufffb"
    "\U000110bd\U000110cd\U00013430-\U0001343f\U0001bca0-\U0001bca3\U0001d173-\U0001d17a"
    "\U000e0000-\U000e007f" + _EXTRA_INVISIBLE + "]"  # tag characters: invisible ASCII
)
_TAG_RUN = re.compile("[\U000e0000-\U000e007f]+")
_ANSI = re.compile(r"\x1b(?:\[[0-?]*[ -/]*[@-~]|\][^\x07\x1b]*(?:\x07|\x1b\\)|[@-Z\\-_])")
_NEWLINES = re.compile("\r\n?|[\u2028\u2029\x85]")

_COMMENT = re.compile(r"<!--(?:>|->|.*?(?:--!?>|\Z))", re.DOTALL)
_TAG = re.compile(r"<(/?)([A-Za-z][A-Za-z0-9-]*)((?:\s[^<>]*?)?)(/?)>")
_DROP_WITH_CONTENT = {"script", "style", "template", "noscript", "iframe", "object", "embed"}
_HIDING_ATTRS = re.compile(
    r"(?i)(?:^|\s)hidden(?:\s|=|$)|aria-hidden\s*=\s*[\"']?true|"
    r"style\s*=\s*[\"'][^\"']*(?:display\s*:\s*none|visibility\s*:\s*hidden|"
    r"font-size\s*:\s*0(?![.\d]*[1-9])|opacity\s*:\s*0(?![.\d]*[1-9])|"
    r"(?:max-)?(?:height|width)\s*:\s*0(?![.\d]*[1-9]))"
)
_UNSHOWN_ATTRS = re.compile(
    r"(?i)\s(?:title|alt|aria-[\w-]+|data-[\w-]+)\s*=\s*(?:\"[^\"]*\"|'[^']*'|[^\s>]+)"
)
_REF_COMMENT = re.compile(r"(?m)^ {0,3}\[[^\]\n]*\]:[ \t]*(?:#|<>)(?:[ \t].*)?(?:\n|$)")
_WRAPPER = re.compile(
    r"(?i)[<\uff1c\ufe64\u2039\u3008\u27e8\u2329](?=\s*/?\s*(?:" + "|".join(WRAPPER_TAGS) + r")\b)"
)


def strip_invisible(text: str) -> str:
    """Newlines normalised; terminal escapes, controls and invisible characters removed."""
    text = _NEWLINES.sub("\n", text)
    text = _ANSI.sub("", text)
    text = _INVISIBLE.sub("", text)
    return "".join(ch for ch in text if unicodedata.category(ch) != "Cf")


def _drop_hidden_elements(text: str) -> str:
    """Remove elements a reader never sees, with their content; an unclosed one hides
    everything after it (fail closed). `<img>` becomes `[image]` (its alt text is not
    shown on the page); unshown attributes (title, alt, aria-*, data-*) go."""
    out: list[str] = []
    pos = 0
    while True:
        m = _TAG.search(text, pos)
        if m is None:
            out.append(text[pos:])
            break
        closing, name, attrs, selfclose = m.group(1), m.group(2).lower(), m.group(3), m.group(4)
        out.append(text[pos : m.start()])
        pos = m.end()
        if closing:
            out.append(m.group(0))
            continue
        if name == "img":
            out.append("[image]")
            continue
        if name in _DROP_WITH_CONTENT or _HIDING_ATTRS.search(attrs):
            pos = len(text) if selfclose else _end_of_element(text, name, pos)
            continue
        out.append(_UNSHOWN_ATTRS.sub("", m.group(0)))
    return "".join(out)


def _end_of_element(text: str, name: str, pos: int) -> int:
    """The index after the `</name>` matching an open `<name>` that ended at `pos`."""
    depth = 1
    pattern = re.compile(rf"(?i)<(/?){re.escape(name)}(?=[\s/>])[^<>]*>")
    for m in pattern.finditer(text, pos):
        depth += -1 if m.group(1) else 1
        if depth == 0:
            return m.end()
    return len(text)


def clean(text: str) -> str:
    """Forge or git text with everything a human reader would not see removed."""
    text = strip_invisible(text)
    text = _COMMENT.sub("", text)
    text = _REF_COMMENT.sub("", text)
    return _drop_hidden_elements(text)


def escape_wrappers(text: str) -> str:
    """`<untrusted`, `</instruction >`, a full-width `</untrusted` ... lose their bracket,
    so no quoted text can close its wrapper or open a fake instruction."""
    return _WRAPPER.sub("&lt;", text)


def reveal(text: str) -> str:
    """Tool output for the model: nothing visible dropped, the invisible made visible."""
    text = _NEWLINES.sub("\n", text)
    text = _TAG_RUN.sub(lambda m: f"[{len(m.group(0))} hidden tag characters removed]", text)
    text = _ANSI.sub("", text)

    def mark(m: re.Match[str]) -> str:
        return f"[U+{ord(m.group(0)):04X}]"

    text = _INVISIBLE.sub(mark, text)
    text = "".join(f"[U+{ord(ch):04X}]" if unicodedata.category(ch) == "Cf" else ch for ch in text)
    return escape_wrappers(text)


def one_line(text: str, limit: int = 200) -> str:
    """A cleaned single line (titles, subjects, names), cut at a word boundary."""
    return clip(clean(text), limit)


def attribute(value: str) -> str:
    """A wrapper attribute value: one cleaned line without quotes or brackets."""
    return one_line(value, 100).replace('"', "'").replace("<", "(").replace(">", ")")


def quote(text: str, *, source: str, author: str | None = None) -> str:
    """`text` as data: cleaned, wrapper-safe, inside `<untrusted source=... author=...>`."""
    who = f' author="{attribute(author)}"' if author else ""
    body = escape_wrappers(clean(text)).strip("\n")
    return f'<untrusted source="{attribute(source)}"{who}>\n{body}\n</untrusted>'


def instruction(text: str, *, author: str, via: str, at: str = "") -> str:
    """A write-access human's words, which the agent follows: cleaned (hidden text is
    nobody's instruction), wrapper-safe, and labelled with who said it and where."""
    when = f' at="{attribute(at)}"' if at else ""
    who = "@" + attribute(author).lstrip("@")
    body = escape_wrappers(clean(text)).strip("\n")
    return f'<instruction from="{who}" via="{attribute(via)}"{when}>\n{body}\n</instruction>'
