"""Read-only git inside the jail: `git log`/`diff`/`status` answer from a throwaway git
directory the runner builds before each command; whatever the agent writes there (or
tries to write into the runner's object store) reaches nothing the runner runs.

Real runs: the scripted Messages API over HTTP, the real bubblewrap jail (as root here:
dropped to an unprivileged user), real git."""

from __future__ import annotations

import json
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml

from runner.agent.jail import foreign_user, probe
from tests.conftest import commit_all, git
from tests.fakes.anthropic_server import reply, tool
from tests.security.scripted import require_jail, run_scripted, tool_results

pytestmark = pytest.mark.slow  # end-to-end (git, fake servers, whole runs): CI runs it


ROLE = {
    "name": "reader",
    "description": "Reads history like the example cto role.",
    "engine": "anthropic",
    "model": "claude-sonnet-5-5",
    "directives": "fleet/directives/cto.md",
    "writable": ["out/**"],
    "commands": ["git log*", "git diff*", "git status*", "python3 *"],
    "budget": {"run_usd": 5.0, "daily_usd": 8.0, "max_turns": 40},
    "max_attempts": 1,
}
TASK = {
    "id": "t-300",
    "title": "Summarise the history",
    "role": "reader",
    "created": "2026-11-20",
    "description": "Read git log.",
    "acceptance": [{"review": "fine"}],
}


@pytest.fixture(autouse=True)
def jail_here() -> None:
    require_jail()


def _setup(repo: Path) -> Path:
    (repo / "fleet/roles/reader.yaml").write_text(yaml.safe_dump(ROLE))
    (repo / "tasks/t-300.yaml").write_text(yaml.safe_dump(TASK))
    (repo / "out").mkdir(exist_ok=True)
    (repo / "out/notes.md").write_text("first line\n")
    cfg = repo / "fleet/fleet.yaml"
    cfg.write_text(cfg.read_text() + "sandbox: required\n")
    commit_all(repo, "reader role: history the agent should see")
    git(repo, "push", "-q", "origin", "main")
    return repo


@pytest.fixture
def reachable_repo(agent_repo: Path) -> Iterator[Path]:
    """The fleet repository where the jail's user can reach its object store (pytest's
    own temporary directories are private to root)."""
    parent = Path(tempfile.mkdtemp(prefix="fleet-jailgit-"))
    parent.chmod(0o711)
    dest = parent / "acme"
    shutil.copytree(agent_repo, dest, symlinks=True)
    yield _setup(dest)
    shutil.rmtree(parent, ignore_errors=True)


def _run(repo: Path, steps: list, extra_env: dict[str, str] | None = None):
    return run_scripted(repo, steps, "reader", "t-300", extra_env)


def test_git_log_diff_and_status_answer_inside_the_jail(reachable_repo: Path) -> None:
    steps = [
        reply(
            tool("write_file", path="out/a.md", content="agent work\n"),
            tool("run_command", command="git log --oneline -5"),
        ),
        reply(
            tool("write_file", path="out/notes.md", content="first line\nsecond line\n"),
            tool("write_file", path="out/b.md", content="new\n"),
            tool("run_command", command="git diff"),
            tool("run_command", command="git status --short"),
            tool("run_command", command="git log --oneline -1"),
            tool("run_command", command="git diff --stat main"),
        ),
        reply(tool("escalate", kind="blocked", summary="stop")),
    ]
    _, fake = _run(reachable_repo, steps)
    log = tool_results(fake.requests[1])[1]
    assert "reader role: history the agent should see" in log and "Initial fleet" in log
    diff, status, last, against_base = tool_results(fake.requests[2])[2:]
    assert "+second line" in diff and "out/notes.md" in diff
    assert " M out/notes.md" in status and "?? out/b.md" in status
    # the runner committed turn 1; the next command's git sees that commit as HEAD
    assert "t-300: work in progress (turn 1)" in last
    assert "out/a.md" in against_base  # the base ref is there too


ATTACK = """\
import json, os, pathlib, sys
canary = sys.argv[1]
gitdir = pathlib.Path(os.environ["GIT_DIR"])
run = f"sh -c 'echo ran >> {canary}'"
report = {}
def attempt(name, fn):
    try:
        fn()
        report[name] = "written"
    except OSError as exc:
        report[name] = type(exc).__name__
# the throwaway directory is the agent's: scribble on it
with open(gitdir / "config", "a") as cfg:
    cfg.write(f'[core]\\n\\tfsmonitor = "{run}"\\n\\thooksPath = {gitdir}/hooks\\n')
    cfg.write(f'[filter "evil"]\\n\\tclean = {run}\\n\\trequired = true\\n')
(gitdir / "hooks").mkdir(exist_ok=True)
for name in ("post-commit", "pre-commit", "reference-transaction", "post-index-change"):
    (gitdir / "hooks" / name).write_text(f"#!/bin/sh\\necho hook >> {canary}\\n")
    (gitdir / "hooks" / name).chmod(0o755)
pathlib.Path(".gitattributes").write_text("* filter=evil\\n")
pathlib.Path(".git").write_text(f"gitdir: {gitdir}\\n")
(gitdir / "refs/heads/evil").parent.mkdir(parents=True, exist_ok=True)
os.symlink(canary, gitdir / "index.lock")  # a link the runner must never write through
# the runner's object store: every write must fail
stores = [l for l in (gitdir / "objects/info/alternates").read_text().splitlines() if l]
store = pathlib.Path(stores[0])
report["store"] = str(store)
attempt("new object", lambda: (store / "pwned").write_text("x"))
attempt("alternates", lambda: (store / "info").mkdir(exist_ok=True) or
        (store / "info" / "alternates").write_text("/tmp\\n"))
loose = next(p for p in store.iterdir() if len(p.name) == 2)
obj = next(loose.iterdir())
attempt("append to object", lambda: open(obj, "ab").write(b"x"))
attempt("chmod object", lambda: os.chmod(obj, 0o666))
attempt("unlink object", lambda: obj.unlink())
attempt("runner config", lambda: (store.parent / "config").write_text("[core]\\n"))
report["object"] = str(obj)
print("REPORT " + json.dumps(report))
"""

PEEK = """\
import os, pathlib
cfg = pathlib.Path(os.environ["GIT_DIR"], "config").read_text()
print("FSMONITOR" if "fsmonitor" in cfg else "CLEAN", sorted(os.listdir(os.environ["GIT_DIR"])))
"""


def test_scribbling_on_the_jails_git_dir_reaches_nothing_the_runner_runs(
    reachable_repo: Path, tmp_path: Path
) -> None:
    """The agent rewrites the throwaway git config (fsmonitor, hooksPath, a required
    filter), plants hooks, a .gitattributes filter, a .git file and a symlinked
    index.lock, and tries to write into the runner's object store and config. The runner
    then commits (twice) and pushes: none of it runs; the store is untouched."""
    canary = tmp_path / "canary"  # on the host, outside anything the jail mounts
    before = {
        p: p.read_bytes()
        for p in (reachable_repo / ".git/objects").rglob("*")
        if p.is_file() and "info" not in p.parts
    }
    steps = [
        reply(
            tool("write_file", path="out/attack.py", content=ATTACK),
            tool("write_file", path="out/peek.py", content=PEEK),
            tool("run_command", command=f"python3 out/attack.py {canary}"),
            tool("run_command", command="git status --short"),
        ),
        reply(
            tool("write_file", path="out/a.md", content="more work\n"),
            tool("run_command", command="python3 out/peek.py"),
            tool("run_command", command="git status --short"),
        ),
        reply(tool("escalate", kind="blocked", summary="stop")),
    ]
    out, fake = _run(reachable_repo, steps)
    report_line = next(
        x for x in tool_results(fake.requests[1])[2].splitlines() if x.startswith("REPORT ")
    )
    report = json.loads(report_line.removeprefix("REPORT "))
    for name in ("new object", "alternates", "append to object", "unlink object"):
        assert report[name] != "written", (name, report)
    assert report["chmod object"] != "written"
    # the runner's git dir is not mounted: that path is a directory of the jail's own
    # /tmp, so the write lands there and vanishes; the runner's config never changed
    assert '[remote "origin"]' in (reachable_repo / ".git/config").read_text()
    assert Path(report["store"]) == (reachable_repo / ".git/objects").resolve()
    # the store holds exactly what it held, plus the runner's own new objects
    for path, data in before.items():
        assert path.read_bytes() == data, path
    assert not (reachable_repo / ".git/objects/pwned").exists()
    assert not (reachable_repo / ".git/objects/info/alternates").exists()
    # the next command got a fresh throwaway directory, the runner committed and pushed
    peek = tool_results(fake.requests[2])[1]
    assert "CLEAN" in peek and "hooks" not in peek
    assert not canary.exists()
    record = out.record  # type: ignore[attr-defined]
    assert record.sandbox == "bwrap" and len(out.commits) >= 2  # type: ignore[attr-defined]
    assert not any("git config" in p for p in record.reverted)
    branch = "fleet/reader/t-300"
    files = git(reachable_repo, "ls-tree", "-r", "--name-only", branch).split()
    assert "out/a.md" in files and ".gitattributes" not in files
    origin = Path(git(reachable_repo, "remote", "get-url", "origin").strip())
    assert git(origin, "rev-parse", branch).strip() == out.commits[-1]  # type: ignore[attr-defined]


def test_an_unreachable_object_store_is_said_not_silent(agent_repo: Path) -> None:
    """pytest's temporary directories are private to root, so a jail that drops to
    another user cannot mount the object store: git says why, instead of 'not a git
    repository' alone."""
    if foreign_user(probe("auto")) is None:
        pytest.skip("the jail runs as the runner's own user here: the store is reachable")
    _setup(agent_repo)
    steps = [
        reply(tool("run_command", command="git log --oneline -1")),
        reply(tool("escalate", kind="blocked", summary="stop")),
    ]
    _, fake = _run(agent_repo, steps)
    result = tool_results(fake.requests[1])[0]
    assert "git is unavailable in this sandbox" in result
    assert "cannot reach the object store" in result and "chmod o+x" in result
