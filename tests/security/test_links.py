"""Attack 7, link tricks: the in-process file tools (run by the runner, which holds every
credential) never follow a symlink and never write through a hard link."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.conftest import git
from tests.fakes.anthropic_server import FakeAnthropic, reply, tool
from tests.security.scripted import run_scripted

pytestmark = pytest.mark.slow  # end-to-end (git, fake servers, whole runs): CI runs it


LINKS = """\
import os
os.symlink("/proc/self/environ", "out/env")
os.symlink("/proc/self", "out/self")
os.link("fleet/fleet.yaml", "out/hard.yaml")
"""


def _result(fake: FakeAnthropic, n: int) -> dict:
    return fake.requests[n]["messages"][-1]["content"][0]


def _run(repo: Path, steps: list) -> FakeAnthropic:
    return run_scripted(repo, steps)[1]


def test_attack7_symlink_to_proc_self_environ_is_never_read(agent_repo: Path) -> None:
    fake = _run(
        agent_repo,
        [
            reply(tool("write_file", path="out/links.py", content=LINKS)),
            reply(tool("run_command", command="python3 out/links.py")),
            reply(tool("read_file", path="out/env")),
            reply(tool("read_file", path="out/self/environ")),
            reply(tool("search", pattern="PATH=|ANTHROPIC|STAGING")),
            reply(tool("list_files", pattern="out/**")),
            reply(tool("escalate", kind="blocked", summary="stop")),
        ],
    )
    assert _result(fake, 2)["content"].startswith("exit code 0"), _result(fake, 2)
    for n in (3, 4):
        assert _result(fake, n)["is_error"]
        assert "PATH=" not in _result(fake, n)["content"]
    assert "PATH=" not in _result(fake, 5)["content"]
    assert "postgres://granted" not in str(fake.requests)


def test_attack7_write_through_a_hard_link_is_refused(agent_repo: Path) -> None:
    before = git(agent_repo, "show", "main:fleet/fleet.yaml")
    fake = _run(
        agent_repo,
        [
            reply(tool("write_file", path="out/links.py", content=LINKS)),
            reply(tool("run_command", command="python3 out/links.py")),
            reply(tool("write_file", path="out/hard.yaml", content="pwned: true\n")),
            reply(tool("edit_file", path="out/hard.yaml", old="version", new="pwned")),
            reply(tool("escalate", kind="blocked", summary="stop")),
        ],
    )
    for n in (3, 4):
        assert _result(fake, n)["is_error"] and "hard link" in _result(fake, n)["content"]
    assert (agent_repo / "fleet/fleet.yaml").read_text() == before


def test_a_symlinked_directory_is_not_written_through(agent_repo: Path, tmp_path: Path) -> None:
    outside = tmp_path / "outside"
    outside.mkdir()
    script = f"import os\nos.symlink({str(outside)!r}, 'out/dir')\n"
    fake = _run(
        agent_repo,
        [
            reply(tool("write_file", path="out/mk.py", content=script)),
            reply(tool("run_command", command="python3 out/mk.py")),
            reply(tool("write_file", path="out/dir/x.txt", content="pwned\n")),
            reply(tool("escalate", kind="blocked", summary="stop")),
        ],
    )
    assert _result(fake, 3)["is_error"]
    assert list(outside.iterdir()) == []
