"""Is the runner a workflow installs pinned? `fleet validate` asks this of every file in
`.github/workflows/`.

The jobs that run the fleet hold write tokens and the model key, so the code they
install must be exactly the reviewed code: the composite action by a 40-hex commit SHA
(`uses: owner/fleet-runner@<sha>`), never a branch or tag, which can move; never
`pip install fleet-runner` without `==` or `--require-hashes`, which installs whatever
an index serves under a name anyone could register; never a variable whose value the
check cannot see. Text-level on purpose: it must also judge workflows that are not
valid YAML, and report the line.
"""

from __future__ import annotations

import re
from pathlib import Path

from runner.model import Finding

NAME = "fleet-runner"
_SHA = re.compile(r"^[0-9a-f]{40}$")
_REF = re.compile(r"^[A-Za-z0-9_.-]+/[A-Za-z0-9_.-]+(?:/[^@\s]+)?@[0-9a-f]{40}$")
_USES = re.compile(r"^\s*(?:-\s*)?uses:\s*['\"]?([^\s'\"#]+)")
_PIP = re.compile(r"\b(?:pip3?|pipx|uv\s+pip)\s+install\b")
_UNPINNED = re.compile(r"(?<![\w/.-])fleet-runner(?:\[[^\]]*\])?(?!\s*[=@\w/.-])")
_GIT = re.compile(r"/fleet-runner(?:\.git)?@(?![0-9a-f]{40}\b)")
_VARIABLE = re.compile(r"\$\{?\{?\s*(?:vars\.|env\.)?(\w*FLEET_RUNNER\w*)", re.IGNORECASE)
FIX = "use the runner's action by commit SHA: `uses: <owner>/fleet-runner@<40-hex sha>`"


def check_ref(ref: str) -> str | None:
    """Why `owner/repo@sha` is not a pinned action reference, or None if it is."""
    if _REF.match(ref):
        return None
    return f"{ref!r} is not OWNER/REPO@<40-hex commit SHA>"


def scan(path: str, text: str) -> list[Finding]:
    """Findings for each place in one workflow that installs the runner unpinned."""
    found: list[Finding] = []
    for number, line in enumerate(text.splitlines(), 1):
        code = line.split("#", 1)[0] if not line.lstrip().startswith("#") else ""
        if not code.strip():
            continue
        uses = _USES.match(code)
        if uses and "@" in uses[1] and uses[1].split("@")[0].endswith(f"/{NAME}"):
            ref = uses[1].split("@", 1)[1]
            if not _SHA.match(ref):
                col = line.index(uses[1]) + 1
                message = f"the runner action is used at {ref!r}, which can move; {FIX}"
                found.append(_finding(path, number, col, message))
        if not _PIP.search(code) or "--require-hashes" in code:
            continue
        if unpinned := _UNPINNED.search(code) or _GIT.search(code):
            message = f"`pip install {NAME}` without `==` installs whatever the index serves; {FIX}"
            found.append(_finding(path, number, unpinned.start() + 1, message))
        elif variable := _VARIABLE.search(code):
            message = (
                f"the runner is installed from the variable {variable[1]}, whose value may be "
                f"unpinned; {FIX}"
            )
            found.append(_finding(path, number, variable.start() + 1, message))
    return found


def check_workflows(root: Path) -> list[Finding]:
    """Findings for every workflow file under `root/.github/workflows/`."""
    folder = root / ".github" / "workflows"
    found: list[Finding] = []
    if not folder.is_dir():
        return found
    for file in sorted([*folder.glob("*.yml"), *folder.glob("*.yaml")]):
        if file.is_symlink() or not file.is_file() or file.stat().st_size > 1 << 20:
            continue
        text = file.read_text("utf-8", errors="replace")
        found += scan(file.relative_to(root).as_posix(), text)
    return found


def _finding(path: str, line: int, col: int, message: str) -> Finding:
    return Finding(path, line, col, "error", message, code="unpinned-runner")
