"""Find secrets in text the runner is about to publish (diffs, bodies, comments, logs).

Two kinds of hit. **Known values**: the runner's own secrets (the model key, the forge
token, a role's credentials) are searched for raw and in the encodings an exfiltrating
agent would use to slip them past a plain search: base64 (standard and URL-safe, at all
three byte alignments, so a secret inside a longer encoded blob is still found), hex
(any case), and URL-encoding. **Patterns**: token shapes nobody should publish even if
the runner never saw them (GitHub, Anthropic, AWS, Slack, Google, Stripe, private key
blocks) and `NAME = value` assignments whose name says secret and whose value looks
random (an entropy and character-class test, tuned against false positives on code).

A finding says where and which kind, never the value: findings are logged and quoted in
escalations, and must not leak what they report. `redact` replaces every hit instead.
Pure functions on plain data; the caller decides what a hit blocks.
"""

from __future__ import annotations

import base64
import html
import math
import re
import unicodedata
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from urllib.parse import quote, quote_plus

from runner.sanitize import clean, strip_invisible

# Words in a variable's name that say it holds a credential (here, a leaf module, so the
# sandbox's environment scrub and `known_secrets` share them without an import cycle).
SECRET_WORDS = ("TOKEN", "KEY", "SECRET", "PASSW", "CREDENTIAL", "PRIVATE", "COOKIE")
MIN_SECRET_LENGTH = 8  # shorter known values match too much ordinary text to be useful
REDACTED = "[REDACTED:{kind}]"


@dataclass(frozen=True)
class Secret:
    """A value the runner knows is secret, with the name it is known by (never printed
    together: findings carry only the name)."""

    name: str
    value: str


@dataclass(frozen=True)
class Finding:
    where: str  # what was scanned: "PR body", "file app/x.py", "escalation body", ...
    line: int  # 1-based
    column: int  # 1-based
    kind: str  # e.g. known-secret/base64, github-token, private-key, generic-secret
    name: str = ""  # the known secret's name (e.g. GITHUB_TOKEN); never an assigned name

    def describe(self) -> str:
        named = f" ({self.name})" if self.name else ""
        return f"{self.where}:{self.line}:{self.column}: {self.kind}{named}"


# -- patterns -------------------------------------------------------------------------

_B = r"(?<![A-Za-z0-9_])"  # token start: not in the middle of a longer word
PATTERNS: dict[str, re.Pattern[str]] = {
    "github-token": re.compile(_B + r"(?:gh[pousr]_[A-Za-z0-9]{36,}|github_pat_[A-Za-z0-9_]{40,})"),
    "anthropic-key": re.compile(_B + r"sk-ant-[A-Za-z0-9]+-[A-Za-z0-9_\-]{20,}"),
    "openai-key": re.compile(_B + r"sk-(?:proj-|svcacct-|admin-)?[A-Za-z0-9_\-]{20,256}T3BlbkFJ"),
    "aws-access-key": re.compile(r"(?<![A-Z0-9])(?:AKIA|ASIA|ABIA|ACCA)[A-Z0-9]{16}(?![A-Z0-9])"),
    "slack-token": re.compile(_B + r"xox[abposr]-[A-Za-z0-9-]{10,}"),
    "google-api-key": re.compile(_B + r"AIza[0-9A-Za-z_\-]{35}"),
    "stripe-key": re.compile(_B + r"[rs]k_live_[0-9A-Za-z]{20,}"),
    "private-key": re.compile(r"-----BEGIN (?:[A-Z0-9]+ )*PRIVATE KEY(?: BLOCK)?-----"),
}

_SECRET_WORD = (
    r"(?:secret|token|passw(?:or)?d|api[_-]?key|private[_-]?key|access[_-]?key|credential|auth)"
)
# Linear time on any input (an agent controls what is scanned): a name starts where a
# word does and says a secret word within its first 64 characters (a bounded look), and
# the name, the value and the spacing never backtrack (possessive). The end of the value
# is checked in `_pattern_hits`: backtracking into it could never have found an end.
_ASSIGNMENT = re.compile(
    r"(?i)(?<![A-Za-z0-9_.-])(?=[A-Za-z0-9_.-]{0,64}?" + _SECRET_WORD + r")"
    r"(?P<name>[A-Za-z0-9_.-]++)[\"']?\s*+(?::|=|:=|=>)\s*+[\"']?"
    r"(?P<value>[A-Za-z0-9+/=_\-.~]{20,}+)",
    re.MULTILINE,
)
_VALUE_END = re.compile(r"$|[\s\"'`,;)}\]]", re.MULTILINE)
_PLACEHOLDER = re.compile(
    r"(?i)example|placeholder|changeme|change_me|your[_-]|dummy|sample|redacted|fake|"
    r"xxxx|\*\*\*|\.\.\.|0000000|1234567|abcdef"
)


def entropy(value: str) -> float:
    """Shannon entropy in bits per character: random tokens score ~4-6, words ~2.5-3.5."""
    counts: dict[str, int] = {}
    for ch in value:
        counts[ch] = counts.get(ch, 0) + 1
    n = len(value)
    return -sum(c / n * math.log2(c / n) for c in counts.values()) if n else 0.0


def _looks_random(value: str) -> bool:
    """A token, not an identifier: long, a run of 10+ characters between separators,
    digits mixed with both cases or high entropy, and no long English-like lowercase run
    (`pbkdf2_sha256_iterations`, `authTokenProviderFactory2Impl` are code, not secrets)."""
    runs = re.split(r"[_\-.~]", value)
    digits = sum(ch.isdigit() for ch in value)
    lower_run = max((len(r) for r in re.findall(r"[a-z]+", value)), default=0)
    upper_run = max((len(r) for r in re.findall(r"[A-Z]+", value)), default=0)
    mixed = any(ch.islower() for ch in value) and any(ch.isupper() for ch in value)
    if re.fullmatch(r"[0-9a-f]{32,}|[0-9A-F]{32,}", value):
        return entropy(value) >= 3.0 and digits >= 4
    return (
        len(value) >= 20
        and max(len(r) for r in runs) >= 10
        and digits >= 1
        and (mixed or entropy(value) >= 3.8)
        and entropy(value) >= 3.5
        and lower_run < 7
        and upper_run < 7
        and len(re.findall(r"[A-Z]?[a-z]{4,}|[A-Z]{4,}", value)) < 3  # words: an identifier
        and not re.fullmatch(r"[A-Za-z_]\w*(?:\.[A-Za-z_]\w*)+", value)  # module.attribute
        and not _PLACEHOLDER.search(value)
    )


# -- known values ---------------------------------------------------------------------


def encodings(value: str) -> Iterator[tuple[str, str, bool]]:
    """(form, needle, case_insensitive) for every way `value` may appear encoded."""
    raw = value.encode("utf-8")
    yield "raw", value, False
    for p in range(3):  # the value starting at each byte offset of a longer base64 stream
        total = p + len(raw)
        for encode in (base64.b64encode, base64.urlsafe_b64encode):
            text = encode(b"\0" * p + raw).decode("ascii")
            needle = text[(4 if p else 0) : (total // 3) * 4]
            if len(needle) >= 8:
                yield "base64", needle, False
    yield "hex", raw.hex(), True
    for encoded in (quote(value, safe=""), quote_plus(value, safe=""), _percent_all(raw)):
        if encoded != value:
            yield "url-encoded", encoded, True


def _percent_all(raw: bytes) -> str:
    return "".join(f"%{b:02x}" for b in raw)


def _compact(text: str) -> tuple[str, list[int]]:
    """`text` without whitespace, with each kept character's index in the original:
    encoded secrets are often wrapped (base64 at 76 columns) or spaced (hex dumps)."""
    kept = [i for i, ch in enumerate(text) if not ch.isspace()]
    return "".join(text[i] for i in kept), kept


def _find_all(haystack: str, needle: str) -> Iterator[int]:
    start = haystack.find(needle)
    while start != -1:
        yield start
        start = haystack.find(needle, start + 1)


def _known_hits(text: str, secrets: Sequence[Secret]) -> Iterator[tuple[int, int, str, str]]:
    """(start, end, kind, name) in `text` for every known secret in every form."""
    lower = text.lower()
    compact, index = _compact(text)
    compact_lower = compact.lower()
    for secret in secrets:
        if len(secret.value) < MIN_SECRET_LENGTH:
            continue
        for form, needle, fold in encodings(secret.value):
            kind = f"known-secret/{form}"
            target = needle.lower() if fold else needle
            seen: set[int] = set()
            for at in _find_all(lower if fold else text, target):
                seen.add(at)
                yield at, at + len(needle), kind, secret.name
            if form == "url-encoded":
                continue  # spacing inside it is not an encoding anyone uses
            # raw too: a known value is random, so with spaces or line breaks inside it is
            # still that value to a reader (an agent splitting it across lines)
            for at in _find_all(compact_lower if fold else compact, target):
                start, end = index[at], index[at + len(needle) - 1] + 1
                if start not in seen:
                    yield start, end, kind, secret.name


def _pattern_hits(text: str) -> Iterator[tuple[int, int, str, str]]:
    for kind, pattern in PATTERNS.items():
        for m in pattern.finditer(text):
            yield m.start(), m.end(), kind, ""
    for m in _ASSIGNMENT.finditer(text):
        if _VALUE_END.match(text, m.end()) and _looks_random(m.group("value")):
            # the assigned name is the writer's choice (`<a credential>_token = ...`), so
            # a finding never quotes it: line and column say where
            yield m.start("value"), m.end("value"), "generic-secret", ""


def _hits(text: str, secrets: Sequence[Secret]) -> list[tuple[int, int, str, str]]:
    return sorted(set(_known_hits(text, secrets)) | set(_pattern_hits(text)))


# -- public API -----------------------------------------------------------------------


def shown(text: str) -> str:
    """`text` as a reader of the posted page reads it: HTML comments and hidden elements
    gone, Markdown backslash escapes and HTML entities resolved, invisible characters
    removed, compatibility forms (full-width, mathematical letters) folded. The runner's
    own rendering (`neutralize.for_post`) and GitHub's do these after any scan of the raw
    text, so a secret written as `&#112;w...`, `p<!-- -->w...`, `p\\-w...` or with a
    zero-width space inside would otherwise be posted whole."""
    text = html.unescape(_MD_ESCAPE.sub(r"\1", clean(text)))
    return unicodedata.normalize("NFKC", strip_invisible(text))


_MD_ESCAPE = re.compile(r"\\([!-/:-@\[-`{-~])")


def _findings(text: str, secrets: Sequence[Secret], where: str) -> list[Finding]:
    findings = []
    for start, _end, kind, name in _hits(text, secrets):
        line = text.count("\n", 0, start) + 1
        column = start - (text.rfind("\n", 0, start) + 1) + 1
        findings.append(Finding(where, line, column, kind, name))
    return findings


def scan(
    text: str, secrets: Sequence[Secret] = (), where: str = "text", *, rendered: bool = True
) -> list[Finding]:
    """Every secret in `text`, one finding per (position, kind); never the value. With
    `rendered` (text that is posted), also every secret only its `shown` form holds,
    reported at its place in that form (`where` says "as shown")."""
    findings = _findings(text, secrets, where)
    if rendered:
        visible = shown(text)
        if visible != text:
            found = {(f.kind, f.name) for f in findings}
            extra = _findings(visible, secrets, f"{where} (as shown)")
            findings += [f for f in extra if (f.kind, f.name) not in found]
    return findings


def scan_bytes(data: bytes, secrets: Sequence[Secret] = (), where: str = "data") -> list[Finding]:
    """`scan` over bytes of any encoding (binary files too): latin-1 keeps every byte as
    one character, so ASCII secrets and their encodings are found wherever they sit."""
    return scan(data.decode("latin-1"), secrets, where, rendered=False)


def scan_added(
    old: bytes, new: bytes, secrets: Sequence[Secret] = (), where: str = "data"
) -> list[Finding]:
    """`scan_bytes` of a file's new version, without the hits on lines its old version
    already had (a line already on the base branch is not a new leak)."""
    before = set(old.decode("latin-1").splitlines())
    lines = new.decode("latin-1").splitlines()
    return [
        h
        for h in scan_bytes(new, secrets, where)
        if not (0 < h.line <= len(lines) and lines[h.line - 1] in before)
    ]


def scan_many(texts: Mapping[str, str], secrets: Sequence[Secret] = ()) -> list[Finding]:
    """`scan` each (where -> text); the apply phase's one call for all it will publish."""
    return [f for where, text in texts.items() for f in scan(text, secrets, where)]


def redact(text: str, secrets: Sequence[Secret] = ()) -> str:
    """`text` with every hit replaced by `[REDACTED:<kind>]` (for logs and transcripts).
    When only its `shown` form holds a secret (hidden in an entity, a comment, around an
    invisible character), that form is returned redacted instead: positions in the two
    cannot be matched, and the disguise must not survive into a record a page shows."""
    out = _redact(text, secrets)
    visible = shown(out)
    if visible != out and _hits(visible, secrets):
        return _redact(visible, secrets)
    return out


def _redact(text: str, secrets: Sequence[Secret]) -> str:
    hits = _hits(text, secrets)
    out, pos = [], 0
    for start, end, kind, _name in hits:
        if end <= pos:
            continue  # inside a hit already replaced
        out.append(text[pos : max(start, pos)])
        out.append(REDACTED.format(kind=kind))
        pos = end
    out.append(text[pos:])
    return "".join(out)


def known_secrets(environ: Mapping[str, str], names: Iterable[str] | None = None) -> list[Secret]:
    """The secret values the runner holds: the variables `names` (default: every name
    whose name says credential, by the sandbox's own words), if set and long enough.
    Not every GITHUB_* variable: GITHUB_REPOSITORY is public and would match everywhere."""
    if names is None:
        names = [n for n in environ if any(word in n.upper() for word in SECRET_WORDS)]
    out = []
    for name in sorted(set(names)):
        value = environ.get(name, "")
        if len(value) >= MIN_SECRET_LENGTH:
            out.append(Secret(name, value))
    return out
