"""Set-up steps before the agent: real runs (the scripted Messages API over HTTP, real
git, the local forge, the real jail where this machine has one)."""

from __future__ import annotations

import socket
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from runner.gitrepo import Git
from runner.state import Ledger, StateStore
from tests.conftest import agent_phase, claim_run, commit_all, git
from tests.fakes.anthropic_server import FakeAnthropic, reply, tool
from tests.security.scripted import ENV, dry_run_scripted, require_jail, run_scripted

pytestmark = pytest.mark.slow  # end-to-end (git, fake servers, whole runs): CI runs it


ROOT = Path(__file__).parents[1]


def finish() -> list:
    return [
        reply(tool("write_file", path="out/report.md", content="# Report\n")),
        reply(tool("finish", summary="Wrote the report")),
    ]


def _setup(repo: Path, role_steps: list | None, default_steps: list | None = None) -> None:
    if role_steps is not None:
        path = repo / "fleet/roles/tester.yaml"
        role = yaml.safe_load(path.read_text())
        role["setup"] = role_steps
        path.write_text(yaml.safe_dump(role))
    if default_steps is not None:
        cfg = repo / "fleet/fleet.yaml"
        data = yaml.safe_load(cfg.read_text())
        data["defaults"]["setup"] = default_steps
        cfg.write_text(yaml.safe_dump(data))
    commit_all(repo, "set-up steps")
    git(repo, "push", "-q", "origin", "main")


def test_setup_runs_before_the_model_with_the_roles_credentials_into_the_transcript(
    agent_repo: Path,
) -> None:
    _setup(
        agent_repo,
        ["echo installing deps", 'test -n "$STAGING_DATABASE_URL" && echo credential granted'],
        default_steps=["echo fleet default"],  # the role's own list replaces it
    )
    out, fake = run_scripted(agent_repo, finish())
    assert out.record.outcome == "done", out.record.reason
    assert len(fake.requests) == 2
    setup = [e for e in out.transcript.entries if e.get("phase") == "setup"]
    assert [(e["command"], e["exit_code"]) for e in setup] == [
        ("echo installing deps", 0),
        ('test -n "$STAGING_DATABASE_URL" && echo credential granted', 0),
    ]
    assert "installing deps" in setup[0]["output"]
    assert "credential granted" in setup[1]["output"]
    assert out.transcript.entries[:2] == setup  # before anything the agent did


def test_fleet_default_setup_applies_to_a_role_without_its_own(agent_repo: Path) -> None:
    _setup(agent_repo, None, default_steps=["echo fleet default"])
    out, _ = run_scripted(agent_repo, finish())
    assert out.record.outcome == "done", out.record.reason
    [entry] = [e for e in out.transcript.entries if e.get("phase") == "setup"]
    assert entry["command"] == "echo fleet default" and "fleet default" in entry["output"]


def _tick(repo: Path, fake: FakeAnthropic) -> str:
    env = {**ENV, "ANTHROPIC_BASE_URL": fake.url, "PYTHONPATH": str(ROOT)}
    proc = subprocess.run(
        [sys.executable, "-m", "runner", "-C", str(repo), "tick", "--due", "tester"],
        env=env,
        capture_output=True,
        text=True,
        timeout=180,
    )
    return proc.stdout + proc.stderr


def test_a_failing_setup_step_escalates_once_and_never_calls_the_model(agent_repo: Path) -> None:
    for other in (agent_repo / "tasks").glob("t-0*.yaml"):  # the tick runs tester's task only
        other.unlink()
    _setup(
        agent_repo,
        ["mkdir -p out && echo partial > out/setup-left-this", "echo broken deps >&2; exit 3"],
    )
    with FakeAnthropic(finish()) as fake:
        first = _tick(agent_repo, fake)
        second = _tick(agent_repo, fake)
        assert fake.requests == [], first + second  # no Messages API call, either tick
    assert "tester/t-100: escalated" in first, first
    assert "set-up step 2 failed (exit 3)" in first, first
    assert "tester/t-100" not in second, second  # held by the open escalation: not run
    store = StateStore(Git(agent_repo))
    store.refresh()
    issues = store.list("forge/issues/")
    assert issues == ["forge/issues/tester/t-100/setup.json"], issues
    issue = store.read_json(issues[0])
    assert "broken deps" in issue["body"] and "Fix the step" in issue["body"]
    assert not issue["comments"]  # the second tick did not ask again
    git(agent_repo, "fetch", "-q", "origin", "+fleet-state:refs/remotes/origin/fleet-state")
    runs = Ledger(StateStore(Git(agent_repo))).runs()
    assert [r.outcome for r in runs] == ["escalated"]
    # nothing the failed set-up left in the work tree was committed or pushed
    heads = git(agent_repo, "ls-remote", "origin", "refs/heads/fleet/*")
    assert "fleet/tester/t-100" not in heads, heads


def test_dry_run_shows_the_setup_steps_and_runs_none(agent_repo: Path) -> None:
    _setup(agent_repo, ["touch ran-setup", {"run": "make deps", "timeout_s": 900}])
    out = dry_run_scripted(agent_repo)
    assert "Set-up steps (run first, in the sandbox):\n  $ touch ran-setup\n" in out.dry_run
    assert "  $ make deps  (timeout 900s)" in out.dry_run
    assert not (agent_repo / "ran-setup").exists()


def test_a_failing_setup_step_in_the_agent_phase_reaches_apply_as_one_setup_escalation(
    agent_repo: Path, fleet_cli, monkeypatch, tmp_path: Path
) -> None:
    """Two phases: the agent job runs the failing step and writes the escalation into its
    outputs (no model call); the apply job (no model key) opens it."""
    _setup(agent_repo, ["echo no network here >&2; exit 7"])
    for k, v in {"FLEET_NOW": "2026-11-24T10:30:00Z", "STAGING_DATABASE_URL": "x"}.items():
        monkeypatch.setenv(k, v)
    run_id = claim_run(fleet_cli, agent_repo)
    outdir = tmp_path / "outputs"
    with FakeAnthropic(finish()) as model:
        monkeypatch.setenv("ANTHROPIC_API_KEY", "sk-ant-test-key")
        monkeypatch.setenv("ANTHROPIC_BASE_URL", model.url)
        agent = agent_phase(fleet_cli, agent_repo, run_id, outdir)
        assert model.requests == []
    assert agent.exit_code == 0, agent.output
    monkeypatch.delenv("ANTHROPIC_API_KEY")
    applied = fleet_cli("-C", str(agent_repo), "apply", str(outdir), "--run-id", run_id)
    assert applied.exit_code == 0, applied.output
    store = StateStore(Git(agent_repo))
    store.refresh()
    assert store.list("forge/issues/") == ["forge/issues/tester/t-100/setup.json"]
    assert "no network here" in store.read_json("forge/issues/tester/t-100/setup.json")["body"]


@pytest.mark.parametrize("network", ["off", "allow"])
def test_setup_gets_the_roles_network_policy(agent_repo: Path, network: str) -> None:
    """In the jail, a set-up step reaches a loopback server only with network: allow."""
    require_jail()
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen(1)
        port = listener.getsockname()[1]
        path = agent_repo / "fleet/roles/tester.yaml"
        role = yaml.safe_load(path.read_text())
        role["network"] = network
        path.write_text(yaml.safe_dump(role))
        step = (
            'python3 -c "import socket; '
            f"socket.create_connection(('127.0.0.1', {port}), 3); print('connected')\""
        )
        _setup(agent_repo, [step])
        out, fake = run_scripted(agent_repo, finish())
    [entry] = [e for e in out.transcript.entries if e.get("phase") == "setup"]
    if network == "allow":
        assert out.record.outcome == "done", out.record.reason
        assert "connected" in entry["output"]
    else:
        assert out.record.outcome == "escalated" and "set-up step 1 failed" in out.record.reason
        assert entry["exit_code"] != 0 and fake.requests == []
