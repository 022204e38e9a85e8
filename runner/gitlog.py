"""Commits as records: one `git log` call, parsed.

Shared by the sync delta and by status, which must agree on who made a commit (an agent's
commits carry a Fleet-Role trailer); kept out of `sync` so the reports need not import it.
"""

from __future__ import annotations

from runner.clock import iso
from runner.clock import parse as parse_time
from runner.gitrepo import Git
from runner.records import Commit

ROLE_TRAILER = "Fleet-Role"


def read_log(git: Git, *revs: str) -> list[Commit]:
    """Commits of `git log REVS`, newest first: committer time in UTC, files touched, and
    the role of an agent's commit (its Fleet-Role trailer). One `git log` call."""
    trailer = f"%(trailers:key={ROLE_TRAILER},valueonly,separator=%x2C)"
    fmt = f"%x1e%H%x1f%an%x1f%ae%x1f%cI%x1f%s%x1f{trailer}"
    out = git.run("-c", "core.quotePath=false", "log", f"--format={fmt}", "--name-only", *revs)
    commits = []
    for chunk in out.split("\x1e")[1:]:
        header, _, rest = chunk.partition("\n")
        fields = header.split("\x1f")
        if len(fields) < 6:
            continue
        sha, author, email, time, subject, trailer = fields[:6]
        files = tuple(line for line in rest.split("\n") if line.strip())
        commits.append(
            Commit(
                sha, author, email, iso(parse_time(time)), subject, files, trailer.strip() or None
            )
        )
    return commits
