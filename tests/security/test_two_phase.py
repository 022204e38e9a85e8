"""Two phases through the CLI: `fleet claim`, `fleet run --phase agent`, `fleet apply`.

The agent phase runs against an origin that refuses every push and a GitHub whose
token can only read: it must still finish, writing only its outputs directory. The
apply phase then publishes the work, and the ledger shows one finished run.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path

from tests.conftest import agent_phase, claim_run, git
from tests.fakes.anthropic_server import FakeAnthropic, reply, tool

REFUSE = "#!/bin/sh\necho 'the agent phase may not push' >&2\nexit 1\n"


def _hook(origin: Path, on: bool) -> None:
    hook = origin / "hooks/pre-receive"
    if on:
        hook.write_text(REFUSE)
        hook.chmod(hook.stat().st_mode | stat.S_IEXEC)
    else:
        hook.unlink()


def test_agent_phase_writes_nothing_and_apply_publishes(
    agent_repo: Path, fleet_cli, monkeypatch, tmp_path: Path
) -> None:
    origin = agent_repo.parent / "origin.git"
    for k, v in {"FLEET_NOW": "2026-11-24T10:30:00Z", "STAGING_DATABASE_URL": "x"}.items():
        monkeypatch.setenv(k, v)
    run_id = claim_run(fleet_cli, agent_repo)
    state_after_claim = git(origin, "rev-parse", "fleet-state")
    outdir = tmp_path / "outputs"
    script = [
        reply(tool("write_file", path="out/report.md", content="# Report\n")),
        reply(tool("finish", summary="wrote the report")),
    ]
    _hook(origin, True)
    with FakeAnthropic(script) as model:
        monkeypatch.setenv("ANTHROPIC_API_KEY", "sk-ant-test-key")
        monkeypatch.setenv("ANTHROPIC_BASE_URL", model.url)
        agent = agent_phase(fleet_cli, agent_repo, run_id, outdir)
    _hook(origin, False)
    assert agent.exit_code == 0, agent.output
    assert git(origin, "rev-parse", "fleet-state") == state_after_claim  # no ledger write
    assert "fleet/tester/t-100" not in git(origin, "branch", "--list")
    assert (outdir / "outputs.json").is_file() and (outdir / "work.bundle").is_file()
    monkeypatch.delenv("ANTHROPIC_API_KEY")  # the apply job holds no model key
    applied = fleet_cli("-C", str(agent_repo), "apply", str(outdir), "--run-id", run_id)
    assert applied.exit_code == 0, applied.output
    assert "out/report.md" in git(origin, "ls-tree", "-r", "--name-only", "fleet/tester/t-100")
    record = git(origin, "show", f"fleet-state:runs/2026-11-24/{run_id}.json")
    assert '"outcome": "done"' in record
    again = fleet_cli("-C", str(agent_repo), "apply", str(outdir), "--run-id", run_id)
    assert "applied before" in again.stdout
    assert os.environ.get("ANTHROPIC_API_KEY") is None
