"""Long and violent sessions: 300 turns of compaction, a run killed mid-flight."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from runner.gitrepo import Git
from runner.state import Ledger, StateStore
from tests.agent.test_engine import _env, _run
from tests.conftest import commit_all, git
from tests.fakes.anthropic_server import FakeAnthropic, error, reply, tool

WINDOW = 40_000


@pytest.mark.slow
def test_300_turn_session_compacts_and_never_exceeds_the_window(agent_repo: Path) -> None:
    cfg = agent_repo / "fleet/fleet.yaml"
    cfg.write_text(
        cfg.read_text()
        .replace("context_window: 200000", f"context_window: {WINDOW}")
        .replace("max_turns: 40 ", "max_turns: 400 ")
    )
    role = agent_repo / "fleet/roles/tester.yaml"
    role.write_text(
        role.read_text()
        .replace("max_turns: 40", "max_turns: 400")
        .replace("run_usd: 5.0, daily_usd: 8.0", "run_usd: 30.0, daily_usd: 30.0")
    )
    (agent_repo / "docs").mkdir(exist_ok=True)
    for n in range(1, 299):  # a file per read: the same read again would be a loop
        (agent_repo / f"docs/big-{n}.txt").write_text(
            "".join(f"line {i}: {'x' * 60}\n" for i in range(90))
        )  # ~6 KB: 300 reads are 45x the window
    commit_all(agent_repo, "big files, small window")
    turns = {"n": 0}

    def model(body: dict) -> dict:
        turns["n"] += 1
        if turns["n"] < 299:
            return reply(tool("read_file", path=f"docs/big-{turns['n']}.txt"))
        if turns["n"] == 299:
            return reply(tool("write_file", path="out/report.md", content="read it all"))
        return reply(tool("finish", summary="300 turns"))

    with FakeAnthropic([model] * 300, context_limit=WINDOW) as fake:
        outcome, _, _ = _run(agent_repo, fake)
    assert fake.over_limit == 0
    assert outcome.record.outcome == "done", outcome.record.reason
    assert outcome.record.turns == 300
    last = str(fake.requests[-1]["messages"])
    assert "[compacted to save context: read_file" in last
    assert "# Task t-100" in str(fake.requests[-1]["messages"][0])  # the task is never cut
    usage = outcome.record.usage
    share = usage["cache_read_input_tokens"] / (
        usage["input_tokens"]
        + usage["cache_read_input_tokens"]
        + usage["cache_creation_input_tokens"]
    )
    assert share > 0.5


@pytest.mark.slow
def test_killed_run_is_visible_and_the_next_run_resumes_its_branch(agent_repo: Path) -> None:
    def hang(body: dict) -> dict:
        time.sleep(30)
        return error(500, "api_error", "too late")

    with FakeAnthropic(
        [reply(tool("write_file", path="out/report.md", content="draft")), hang]
    ) as fake:
        env = {**_env(fake), "PYTHONPATH": str(Path(__file__).parents[2])}
        proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "runner",
                "-C",
                str(agent_repo),
                "run",
                "--role",
                "tester",
                "--task",
                "t-100",
            ],
            env=env,
            start_new_session=True,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
        )
        origin = agent_repo.parent / "origin.git"
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if "fleet/tester/t-100" in git(origin, "branch", "--list"):
                break
            assert proc.poll() is None, proc.stdout.read().decode()
            time.sleep(0.05)
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
    git(agent_repo, "fetch", "-q", "origin", "+fleet-state:refs/remotes/origin/fleet-state")
    killed = Ledger(StateStore(Git(agent_repo))).runs()
    assert [r.outcome for r in killed] == ["running"]  # the killed run is visible
    assert git(origin, "show", "fleet/tester/t-100:out/report.md") == "draft"  # work kept

    with FakeAnthropic([reply(tool("finish", summary="finished the draft"))]) as fake:
        held, _, _ = _run(agent_repo, fake)  # its lease is live for 5 minutes: no model call
        assert "holds the task" in held.skipped and not fake.requests
        # six minutes later the lease has expired without a heartbeat: the task is free
        outcome, _, _ = _run(agent_repo, fake, FLEET_NOW="2026-11-24T10:36:00Z")
    first_turn = fake.requests[0]["messages"][0]["content"][0]["text"]
    assert "## Resuming" in first_turn and "work in progress (turn 1)" in first_turn
    assert outcome.record.outcome == "done"
    assert outcome.pr is not None
    records = {r.run_id: r for r in Ledger(StateStore(Git(agent_repo))).runs()}
    dead = records[killed[0].run_id]  # the ledger keeps no run "running" that nobody runs
    assert dead.outcome == "error" and "killed: its lease expired" in dead.reason
