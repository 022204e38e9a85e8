"""With providers a fleet has more than one model key: a key the API rejects stops the
roles that use it, and only those. One tick's ModelGate checks each key once; the
credential escalation names the rejected key and holds every task of every role on
that key, and none on another provider's key."""

from __future__ import annotations

import json
from pathlib import Path

from runner.forge.select import open_forge
from runner.outcome import anthropic_client
from runner.run import execute
from runner.run_gates import ModelGate
from runner.workspace import open_workspace
from tests.conftest import TESTER_ROLE, TESTER_TASK, commit_all
from tests.fakes.anthropic_server import FakeAnthropic, reply, tool
from tests.fakes.openai_server import FakeOpenAI

WORK = [
    reply(tool("write_file", path="out/report.md", content="# Report\n")),
    reply(tool("finish", summary="wrote it")),
]


def _two_providers(repo: Path, base_url: str) -> None:
    """`tester` on the Anthropic API; `local` (same work) on an OpenAI-compatible server."""
    local = TESTER_ROLE.replace("name: tester", "name: local") + "provider: openai-compatible\n"
    (repo / "fleet/roles/local.yaml").write_text(local)
    (repo / "tasks/t-101.yaml").write_text(
        TESTER_TASK.replace("id: t-100", "id: t-101").replace("role: tester", "role: local")
    )
    cfg = repo / "fleet/fleet.yaml"
    settings = {"base_url": base_url, "api_key_env": "LOCAL_MODEL_KEY"}
    cfg.write_text(cfg.read_text() + f"providers:\n  openai-compatible: {json.dumps(settings)}\n")
    commit_all(repo, "two providers")


def test_a_rejected_key_stops_its_roles_and_not_a_role_on_another_key(agent_repo: Path) -> None:
    with (
        FakeAnthropic(list(WORK), api_key="sk-ant-the-real-one") as anthropic,
        FakeOpenAI(list(WORK), api_key="local-key") as local,
    ):
        _two_providers(agent_repo, local.base_url)
        env = {
            "PATH": "/usr/bin:/bin",
            "HOME": "/tmp",
            "FLEET_FORGE": "local",
            "FLEET_NOW": "2026-11-24T10:30:00Z",
            "STAGING_DATABASE_URL": "postgres://staging",
            "ANTHROPIC_API_KEY": "sk-ant-a-dead-one",
            "ANTHROPIC_BASE_URL": anthropic.url,
            "LOCAL_MODEL_KEY": "local-key",
        }
        ws = open_workspace(agent_repo, env)
        forge = open_forge(ws)
        gate = ModelGate()  # one tick: tester first, then local, then tester again

        def run(role: str, task: str):
            return execute(ws, forge, role, task, trigger="test",
                           client_factory=anthropic_client(ws), gate=gate)  # fmt: skip

        dead, alive, again = run("tester", "t-100"), run("local", "t-101"), run("tester", "t-100")
    assert dead.record.outcome == "escalated", dead.record.reason
    assert dead.issue is not None and dead.issue.kind == "credential"
    assert "credential-ANTHROPIC_API_KEY" in (dead.issue.url or dead.issue.id)
    assert alive.record.outcome == "done", alive.skipped or alive.record.reason
    assert "rejected ANTHROPIC_API_KEY earlier" in again.skipped
    assert anthropic.requests == [] and len(local.requests) == 2  # no Messages call with it
    states = ws.states(ws.runs(), forge.view())
    assert states["t-100"].state == "blocked"  # held by the open credential escalation
    assert states["t-101"].state == "review"  # its key is fine: its PR waits for review


def test_the_key_blamed_is_the_providers_own_and_it_holds_the_roles_that_use_it() -> None:
    from runner import engines
    from runner.lifecycle import needs
    from runner.model import FleetConfig, Role

    config = FleetConfig.from_dict(
        {
            "name": "f",
            "defaults": {"model": "m"},
            "providers": {"openai-compatible": {"base_url": "http://x/v1", "api_key_env": "K"}},
        }
    )
    base = {"description": "d", "engine": "anthropic"}
    role = {
        p: Role.from_dict({**base, "name": p, "provider": p}, config.defaults)
        for p in ("anthropic", "bedrock", "vertex", "openai-compatible")
    }
    engine = engines.get("anthropic")
    keys = {p: engine.model_key(r) for p, r in role.items()}
    assert keys == {
        "anthropic": "ANTHROPIC_API_KEY",
        "bedrock": "AWS_ACCESS_KEY_ID",
        "vertex": "GOOGLE_APPLICATION_CREDENTIALS",
        "openai-compatible": "K",
    }
    assert needs(role["bedrock"], "AWS_ACCESS_KEY_ID")  # held by its escalation
    assert not needs(role["bedrock"], "ANTHROPIC_API_KEY")
    assert engines.get("shell").model_key(role["anthropic"]) is None
