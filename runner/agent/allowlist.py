"""Command allow-lists matched over argv, token by token, not over a command string.

A pattern is split like a shell would (shlex) into tokens. The program and every
argument must be matched in order:

- a plain token matches one argument exactly (`log`, `-q`, `--output=report.txt`);
- a token with glob characters (`ci/*.sh`, `test_*.py`) matches one argument by fnmatch;
- a token that is exactly `*` matches any number of arguments, none included;
- `word*` as the last token is shorthand for `word *` (so `ls*` and `git log*` keep
  their old meaning: the program, then any arguments).

An argument matched by a wildcard (`*` or a glob token) must not be an option that
writes files, runs programs or moves git elsewhere (`--output`, `-o`, `--exec`, `-c`,
`-C`, `--upload-pack`, `--config`, `--git-dir`, `--work-tree`, `--ext-diff`,
`--textconv`, find's `-exec`/`-fprint`, ...), nor an abbreviation of one (git accepts
`--outp=`), nor a cluster of short options containing one (`-lo`). Such an option is
allowed only where a pattern names it literally: `git -C docs log*` allows that `-C`.
Inside the jail this is defence in depth, not the boundary.
"""

from __future__ import annotations

import fnmatch
import re
import shlex
from collections.abc import Iterable, Sequence

REST = "*"
_GLOB = re.compile(r"[*?\[]")
_WORD_STAR = re.compile(r"^[A-Za-z0-9_.+-]+\*$")
# Long options (any program) that write files, run programs or redirect git.
LONG = frozenset(
    {
        "--output",
        "--output-directory",
        "--exec",
        "--exec-path",
        "--upload-pack",
        "--receive-pack",
        "--config",
        "--config-env",
        "--git-dir",
        "--work-tree",
        "--namespace",
        "--super-prefix",
        "--ext-diff",
        "--textconv",
        "--open-files-in-pager",
        "--template",
        "--separate-git-dir",
        "--command",
        "--run",
        "--eval",
        "--init-file",
        "--rcfile",
        "--log-file",
        "--post-file",
        "--to-command",
        "--checkpoint-action",
        "--use-compress-program",
        "--rsh",
        "--pager",
        "--editor",
    }
)
# find(1) primaries and similar single-dash words that execute or write.
WORDS = frozenset(
    {"-exec", "-execdir", "-ok", "-okdir", "-fprint", "-fprint0", "-fprintf", "-fls", "-delete"}
)
# Short options that write a file, run code or change directory in common tools
# (-o output, -c command/config, -C directory, -O output/pager).
SHORT = frozenset("ocCO")


def tokens(pattern: str) -> list[str]:
    """A pattern's tokens, with the `word*` shorthand expanded."""
    parts = shlex.split(pattern)
    if parts and parts[-1] != REST and _WORD_STAR.match(parts[-1]) and len(parts[-1]) > 1:
        parts[-1:] = [parts[-1][:-1], REST]
    return parts


def dangerous(arg: str) -> bool:
    """Is this argument an option that writes, executes or redirects?"""
    if arg.startswith("--"):
        name = arg.split("=", 1)[0]
        return len(name) > 2 and any(full.startswith(name) for full in LONG)
    if arg.startswith("-") and len(arg) > 1:
        if arg.split("=", 1)[0] in WORDS:
            return True
        letters = arg[1:]
        if letters.isalnum():
            return any(ch in SHORT for ch in letters)
        return arg[1] in SHORT  # -o/path, -c'cmd'
    return False


def _literal_option(pattern_token: str, arg: str) -> bool:
    """Does a glob token like `--output=*.txt` name this argument's option literally?"""
    head = pattern_token.split("=", 1)[0]
    return not _GLOB.search(head) and head == arg.split("=", 1)[0]


def _match(pat: Sequence[str], argv: Sequence[str]) -> bool:
    if not pat:
        return not argv
    first, rest = pat[0], pat[1:]
    if first == REST:
        for split in range(len(argv) + 1):
            if any(dangerous(a) for a in argv[:split]):
                break
            if _match(rest, argv[split:]):
                return True
        return False
    if not argv:
        return False
    arg = argv[0]
    if _GLOB.search(first):
        if not fnmatch.fnmatchcase(arg, first):
            return False
        if dangerous(arg) and not _literal_option(first, arg):
            return False
    elif arg != first:
        return False
    return _match(rest, argv[1:])


def allowed(argv: Sequence[str], patterns: Iterable[str]) -> bool:
    """Does any pattern match this argv (see the module docstring for the language)?"""
    if not argv:
        return False
    for pattern in patterns:
        try:
            pat = tokens(pattern)
        except ValueError:
            continue  # an unparsable pattern matches nothing
        if pat and _match(pat, list(argv)):
            return True
    return False
