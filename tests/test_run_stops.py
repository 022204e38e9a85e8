"""Runs that cannot end well: a refused push, a cancelled job, a second run of a live task.

Real processes, real git (a bare origin whose pre-receive hook refuses pushes), the
scripted Messages API over HTTP."""

from __future__ import annotations

import json
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
from tests.conftest import git
from tests.fakes.anthropic_server import FakeAnthropic, reply, tool

pytestmark = pytest.mark.slow  # end-to-end (git, fake servers, whole runs): CI runs it


ROOT = Path(__file__).parents[1]
WORKFLOW_REFUSAL = (
    "refusing to allow a GitHub App to create or update workflow "
    "`.github/workflows/x.yml` without `workflows` permission"
)
WORK = [
    reply(tool("write_file", path="out/report.md", content="# Report\n")),
    reply(tool("finish", summary="wrote it")),
]


def refuse_work_pushes(repo: Path, message: str) -> Path:
    """The origin's pre-receive hook refuses every push to a fleet/ branch with `message`."""
    hook = repo.parent / "origin.git" / "hooks" / "pre-receive"
    hook.write_text(
        '#!/bin/sh\nwhile read old new ref; do case "$ref" in refs/heads/fleet/*)\n'
        f"  echo '{message}' >&2; exit 1;; esac; done\nexit 0\n"
    )
    hook.chmod(0o755)
    return hook


def fleet(repo: Path, fake: FakeAnthropic, *args: str, **env: str) -> subprocess.Popen[str]:
    full = {**_env(fake, **env), "PYTHONPATH": str(ROOT)}
    return subprocess.Popen(
        [sys.executable, "-m", "runner", "-C", str(repo), *args],
        env=full,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )


def records(repo: Path) -> list:
    git(repo, "fetch", "-q", "origin", "+fleet-state:refs/remotes/origin/fleet-state")
    return Ledger(StateStore(Git(repo))).runs()


def test_failed_push_is_a_failed_run_and_the_next_run_pushes_the_work(agent_repo: Path) -> None:
    hook = refuse_work_pushes(agent_repo, "error: the server is having a bad day")
    with FakeAnthropic(list(WORK)) as fake:
        proc = fleet(agent_repo, fake, "run", "--role", "tester", "--task", "t-100")
        out = proc.communicate(timeout=120)[0]
    assert proc.returncode == 1, out
    assert "push_failed" in out and "bad day" in out and "PR" not in out
    [run] = records(agent_repo)
    assert run.outcome == "push_failed" and "pr" not in run.links
    state = Git(agent_repo)
    assert not StateStore(state).list("forge/prs/")  # no PR for a branch the forge lacks
    assert "fleet/tester/t-100" not in git(agent_repo.parent / "origin.git", "branch")
    kept = git(agent_repo, "show", "fleet/tester/t-100:out/report.md")
    assert kept == "# Report\n"  # the work is on the local branch

    hook.unlink()  # the remote is back: the next run resumes the local work and pushes it
    with FakeAnthropic([reply(tool("finish", summary="pushed at last"))]) as fake:
        outcome, _, _ = _run(agent_repo, fake)
    assert outcome.record.outcome == "done" and outcome.pr is not None
    origin = agent_repo.parent / "origin.git"
    assert git(origin, "show", "fleet/tester/t-100:out/report.md") == "# Report\n"
    assert "work in progress" in fake.requests[0]["messages"][0]["content"][0]["text"]


def test_push_refused_for_a_human_reason_escalates_once_with_the_work(agent_repo: Path) -> None:
    refuse_work_pushes(agent_repo, WORKFLOW_REFUSAL)
    with FakeAnthropic(list(WORK)) as fake:
        outcome, _, forge = _run(agent_repo, fake)
    assert outcome.record.outcome == "push_failed" and outcome.pr is None
    assert outcome.issue is not None and outcome.issue.kind == "blocked"
    assert len([i for i in forge.activity(None) if i.kind == "escalation"]) == 1
    body = StateStore(Git(agent_repo)).read_json("forge/issues/tester/t-100/blocked.json")
    assert "`workflows` permission" in body["body"]  # what to do
    assert "+# Report" in body["body"]  # the work itself, as a patch
    with FakeAnthropic([reply(tool("finish", summary="again"))]) as fake:
        again, _, forge = _run(agent_repo, fake)
    assert again.record.outcome == "push_failed" and not again.issue.created_now
    assert len([i for i in forge.activity(None) if i.kind == "escalation"]) == 1


def test_transient_push_failures_escalate_after_three_runs(agent_repo: Path) -> None:
    refuse_work_pushes(agent_repo, "error: flaky")
    issues = []
    for n in range(3):
        with FakeAnthropic(list(WORK) if n == 0 else [reply(tool("finish", summary="x"))]) as f:
            outcome, _, _ = _run(agent_repo, f)
        assert outcome.record.outcome == "push_failed"
        issues.append(outcome.issue)
    assert issues[:2] == [None, None] and issues[2] is not None and issues[2].kind == "blocked"


def _sleepers(marker: str) -> list[int]:
    """Host pids of `sleep <marker>` processes (seen through /proc whatever namespace the
    tool's sandbox gave them)."""
    found = []
    for entry in Path("/proc").iterdir():
        try:
            argv = (entry / "cmdline").read_bytes().split(b"\0")
        except OSError:
            continue
        if argv[:2] == [b"sleep", marker.encode()]:
            found.append(int(entry.name))
    return found


def test_sigterm_records_cancelled_kills_the_tool_and_the_work_resumes(agent_repo: Path) -> None:
    marker = str(300 + os.getpid() % 600)  # this test's own sleep duration
    sleeper = f"import subprocess, time\nsubprocess.Popen(['sleep', '{marker}'])\ntime.sleep(300)\n"
    script = [
        reply(
            tool("write_file", path="out/report.md", content="draft"),
            tool("write_file", path="out/sleeper.py", content=sleeper),
        ),
        reply(tool("run_command", command="python3 out/sleeper.py")),
    ]
    with FakeAnthropic(script) as fake:
        proc = fleet(agent_repo, fake, "run", "--role", "tester", "--task", "t-100")
        deadline = time.monotonic() + 60
        while not _sleepers(marker):  # the tool runs, with a grandchild
            assert proc.poll() is None and time.monotonic() < deadline, proc.stdout.read()
            time.sleep(0.05)
        proc.send_signal(signal.SIGTERM)  # as Actions does when a job is cancelled
        out = proc.communicate(timeout=30)[0]
    assert proc.returncode == 1, out
    assert "cancelled" in out
    [run] = records(agent_repo)
    assert run.outcome == "cancelled" and "SIGTERM" in run.reason
    for _ in range(100):  # the tool's whole process group is gone, grandchild included
        if not _sleepers(marker):
            break
        time.sleep(0.05)
    assert not _sleepers(marker)
    origin = agent_repo.parent / "origin.git"
    assert git(origin, "show", "fleet/tester/t-100:out/report.md") == "draft"
    assert not StateStore(Git(agent_repo)).list("leases/")  # released: resumable at once
    with FakeAnthropic([reply(tool("finish", summary="resumed"))]) as fake:
        outcome, _, _ = _run(agent_repo, fake)
    assert outcome.record.outcome == "done"


def test_two_live_runs_of_one_task_call_the_model_once(agent_repo: Path, tmp_path: Path) -> None:
    """Two clones, two processes, one bare origin: the lease lets exactly one work."""
    origin = agent_repo.parent / "origin.git"
    clones = []
    for name in ("a", "b"):
        git(tmp_path, "clone", "-q", str(origin), str(tmp_path / name))
        clones.append(tmp_path / name)

    def slow_write(body: dict) -> dict:
        time.sleep(3)  # long enough for the other process to try the task
        return WORK[0]

    with FakeAnthropic([slow_write, WORK[1]]) as fake:
        procs = [fleet(c, fake, "run", "--role", "tester", "--task", "t-100") for c in clones]
        outs = [p.communicate(timeout=120)[0] for p in procs]
    assert [p.returncode for p in procs] == [0, 0], outs
    assert len(fake.requests) == 2  # one run's two turns; the other never called
    assert sum("tester/t-100: done" in o for o in outs) == 1, outs
    assert sum(("holds the task" in o) or ("already running" in o) for o in outs) == 1
    assert [r.outcome for r in records(agent_repo)] == ["done"]


def test_heartbeat_keeps_a_long_run_live_past_its_ttl(agent_repo: Path, tmp_path: Path) -> None:
    """With the wall clock (no FLEET_NOW), a run longer than the lease TTL keeps its task:
    a run started after one TTL is refused, because the heartbeat renewed the lease."""
    terms = {"FLEET_LEASE_TTL": "2", "FLEET_LEASE_HEARTBEAT": "0.3", "FLEET_NOW": ""}

    def slow_write(body: dict) -> dict:
        time.sleep(6)
        return WORK[0]

    with FakeAnthropic([slow_write, WORK[1]]) as fake:
        first = fleet(agent_repo, fake, "run", "--role", "tester", "--task", "t-100", **terms)
        store = StateStore(Git(agent_repo))
        deadline = time.monotonic() + 60
        while not fake.requests:  # the first run is working
            assert first.poll() is None and time.monotonic() < deadline, first.stdout.read()
            time.sleep(0.05)
        time.sleep(3)  # past one TTL since the lease was taken
        clone = tmp_path / "b"
        git(tmp_path, "clone", "-q", str(agent_repo.parent / "origin.git"), str(clone))
        second = fleet(clone, fake, "run", "--role", "tester", "--task", "t-100", **terms)
        second_out = second.communicate(timeout=60)[0]
        first_out = first.communicate(timeout=60)[0]
    assert second.returncode == 0 and "t-100: done" not in second_out, second_out
    assert "tester/t-100: done" in first_out, first_out
    assert len(fake.requests) == 2
    store.refresh()
    assert not store.list("leases/")


def test_dead_key_is_one_escalation_per_fleet_and_stops_the_tick(agent_repo: Path) -> None:
    """Every role is due; five use the anthropic engine and the key is rejected: one
    preflight, no Messages call, one `credential` escalation keyed on the key (not the
    task) and one ledger record for them; the shell roles still run. The open issue holds
    every model-engine task, so a second tick calls nothing and adds nothing to it."""
    with FakeAnthropic(list(WORK), api_key="sk-ant-the-real-one") as fake:
        proc = fleet(agent_repo, fake, "tick")
        out = proc.communicate(timeout=120)[0]
        assert len(fake.model_requests) == 1 and not fake.requests, out  # the key check only
        again = fleet(agent_repo, fake, "tick")
        out2 = again.communicate(timeout=120)[0]
        assert len(fake.model_requests) == 1 and not fake.requests, out2  # held, not asked
    assert proc.returncode == 0 and again.returncode == 0, out + out2
    assert out.count("escalated (model API credential rejected") == 1
    assert out.count("rejected ANTHROPIC_API_KEY earlier") == 4, out  # no call, no record
    assert out.count(": done") == 2  # the shell-engine roles are not stopped
    assert "escalated" not in out2 and "rejected" not in out2, out2
    store = StateStore(Git(agent_repo))
    store.refresh()
    issues = store.list("forge/issues/")
    assert issues == ["forge/issues/fleet/credential-ANTHROPIC_API_KEY/credential.json"]
    issue = store.read_json(issues[0])
    assert "rotate the ANTHROPIC_API_KEY secret" in issue["body"]
    assert not issue["comments"]  # the second tick did not ask again
    outcomes = [r.outcome for r in records(agent_repo)]
    assert outcomes.count("escalated") == 1 and "error" not in outcomes, outcomes
    assert not store.list("leases/")  # no lease was taken with a dead key


def test_missing_role_credential_is_one_escalation_that_holds_every_task_needing_it(
    agent_repo: Path,
) -> None:
    """Issue 12 #5: a credential a role lists is missing: one escalation per credential
    per fleet (not one per task); every task of a role that needs it waits on that one
    issue, and closing it makes them runnable again."""
    second = (agent_repo / "tasks/t-100.yaml").read_text().replace("t-100", "t-101")
    (agent_repo / "tasks/t-101.yaml").write_text(second)
    git(agent_repo, "add", "-A")
    git(agent_repo, "commit", "-q", "-m", "second tester task")
    git(agent_repo, "push", "-q", "origin", "main")
    with FakeAnthropic(list(WORK)) as fake:
        outs = []
        for task in ("t-100", "t-101"):
            proc = fleet(agent_repo, fake, "run", "--role", "tester", "--task", task,
                         STAGING_DATABASE_URL="")  # fmt: skip
            outs.append(out := proc.communicate(timeout=120)[0])
        assert not fake.requests  # no model call without the credential
    assert "missing credential" in out or "blocked" in out, out
    assert "no work branch" in outs[0] and "commit(s) on -" not in outs[0], outs[0]
    store = StateStore(Git(agent_repo))
    store.refresh()
    issues = store.list("forge/issues/")
    assert issues == ["forge/issues/tester/credential-STAGING_DATABASE_URL/credential.json"]
    for task in ("t-100", "t-101"):
        plan = subprocess.run(
            [sys.executable, "-m", "runner", "-C", str(agent_repo), "plan", "--task", task,
             "--format", "json"],
            capture_output=True, text=True, check=True,
            env={**_env(fake), "PYTHONPATH": str(ROOT)},
        ).stdout  # fmt: skip
        data = json.loads(plan)
        assert data["picks"] == [], plan
        reasons = {d["task"]: d["reason"] for d in data["decisions"] if d["task"]}
        assert "credential" in reasons[task], reasons
