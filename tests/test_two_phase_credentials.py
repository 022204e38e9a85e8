"""A credential problem found in the agent job is the fleet's, as in one process: apply
files one escalation per credential (`credential-<NAME>`), which holds every task that
needs it. The agent job's escalations used to be filed under the run's task, so every
task (and every tick) opened one of its own and nothing was held."""

from __future__ import annotations

import json
from pathlib import Path

from runner import outputs as contract
from runner.gitrepo import Git
from runner.state import StateStore
from tests.conftest import agent_phase, claim_run, commit_all, git


def _agent(repo: Path, fleet_cli, tmp_path: Path, task: str) -> tuple[str, Path]:
    """Claim and the agent phase: the run id and its outputs directory."""
    run_id = claim_run(fleet_cli, repo, task=task)
    outdir = tmp_path / f"outputs-{task}"
    agent = agent_phase(fleet_cli, repo, run_id, outdir, task=task)
    assert agent.exit_code in (0, 1), agent.output
    return run_id, outdir


def _apply(repo: Path, fleet_cli, run_id: str, outdir: Path) -> None:
    applied = fleet_cli("-C", str(repo), "apply", str(outdir), "--run-id", run_id)
    assert applied.exit_code in (0, 1), applied.output
    assert "applied before" not in applied.output


def _issues(repo: Path) -> list[str]:
    store = StateStore(Git(repo))
    store.refresh()
    return store.list("forge/issues/")


def test_a_missing_role_credential_is_one_fleet_escalation_through_the_phases(
    agent_repo: Path, fleet_cli, monkeypatch, tmp_path: Path
) -> None:
    second = (agent_repo / "tasks/t-100.yaml").read_text().replace("t-100", "t-101")
    (agent_repo / "tasks/t-101.yaml").write_text(second)
    commit_all(agent_repo, "second tester task")
    git(agent_repo, "push", "-q", "origin", "main")
    monkeypatch.setenv("FLEET_NOW", "2026-11-24T10:30:00Z")
    monkeypatch.setenv("ANTHROPIC_API_KEY", "sk-ant-test-key")
    run_id, outdir = _agent(agent_repo, fleet_cli, tmp_path, "t-100")
    sent = json.loads((outdir / contract.OUTPUTS_FILE).read_text())
    assert [e.get("credential") for e in sent["escalations"]] == ["STAGING_DATABASE_URL"]
    _apply(agent_repo, fleet_cli, run_id, outdir)
    assert _issues(agent_repo) == [
        "forge/issues/tester/credential-STAGING_DATABASE_URL/credential.json"
    ]
    plan = fleet_cli("-C", str(agent_repo), "plan", "--task", "t-101", "--format", "json")
    data = json.loads(plan.stdout)
    assert data["picks"] == [], plan.stdout
    reasons = {d["task"]: d["reason"] for d in data["decisions"] if d["task"]}
    assert "credential" in reasons["t-101"], reasons


def test_an_agent_job_cannot_hold_other_roles_by_naming_their_credential(
    agent_repo: Path, fleet_cli, monkeypatch, tmp_path: Path
) -> None:
    """The agent job is untrusted: a credential escalation naming a variable its role does
    not need stays under its own task, holding nothing else."""
    monkeypatch.setenv("FLEET_NOW", "2026-11-24T10:30:00Z")
    monkeypatch.setenv("ANTHROPIC_API_KEY", "sk-ant-test-key")
    run_id, outdir = _agent(agent_repo, fleet_cli, tmp_path, "t-100")
    path = outdir / contract.OUTPUTS_FILE
    forged = json.loads(path.read_text())
    assert forged["escalations"], forged
    forged["escalations"][0]["credential"] = "GITHUB_TOKEN"
    path.write_text(json.dumps(forged))
    _apply(agent_repo, fleet_cli, run_id, outdir)
    assert _issues(agent_repo) == ["forge/issues/tester/t-100/credential.json"]


def test_a_missing_model_key_in_the_agent_job_is_one_fleet_escalation_not_an_error_per_tick(
    agent_repo: Path, fleet_cli, monkeypatch, tmp_path: Path
) -> None:
    """Without ANTHROPIC_API_KEY the agent job failed as a configuration error, apply
    recorded an error run, and the task stayed ready: every tick, for every model role,
    with nobody asked. Now the first run asks once for the fleet and the plan holds every
    role on that key (a one-process `fleet run` says it is blocked on that issue; with
    no issue open it still fails at once as a configuration error, exit 2)."""
    monkeypatch.setenv("FLEET_NOW", "2026-11-24T10:30:00Z")
    monkeypatch.setenv("STAGING_DATABASE_URL", "postgres://db")
    run_id, outdir = _agent(agent_repo, fleet_cli, tmp_path, "t-100")
    sent = json.loads((outdir / contract.OUTPUTS_FILE).read_text())
    assert sent["run"]["outcome"] == "escalated", sent["run"]
    assert [e.get("credential") for e in sent["escalations"]] == ["ANTHROPIC_API_KEY"]
    _apply(agent_repo, fleet_cli, run_id, outdir)
    assert _issues(agent_repo) == [
        "forge/issues/fleet/credential-ANTHROPIC_API_KEY/credential.json"
    ]
    plan = json.loads(fleet_cli("-C", str(agent_repo), "plan", "--format", "json").stdout)
    held = {d["role"]: d["reason"] for d in plan["decisions"] if d["role"] in ("tester", "cto")}
    assert not [p for p in plan["picks"] if p["role"] in ("tester", "cto")], plan["picks"]
    assert "ANTHROPIC_API_KEY" in held["tester"] or "credential" in held["tester"], held

    one = fleet_cli("-C", str(agent_repo), "run", "--role", "tester", "--task", "t-100")
    assert "blocked" in one.output and "credential-ANTHROPIC_API_KEY" in one.output, one.output
