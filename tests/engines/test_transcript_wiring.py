"""Every run holds one Transcript (RunOutcome.transcript) that its engine records into:
the built-in loop's turns with usage and its tool calls with input and output, every
command with its exit code and duration, the runner's acceptance results, and how the
run ended."""

from __future__ import annotations

from pathlib import Path

from runner.forge.select import open_forge
from runner.outcome import anthropic_client
from runner.run import execute
from runner.workspace import open_workspace
from tests.fakes.anthropic_server import FakeAnthropic, reply, text, tool

ENV = {"PATH": "/usr/bin:/bin", "HOME": "/tmp", "FLEET_FORGE": "local"}
ENV["FLEET_NOW"] = "2026-11-24T10:30:00Z"


def _kinds(entries: list[dict], kind: str) -> list[dict]:
    return [e for e in entries if e["kind"] == kind]


def test_the_built_in_loop_records_turns_tools_commands_and_acceptance(agent_repo: Path) -> None:
    script = [
        reply(text("Writing it."), tool("write_file", path="out/report.md", content="# R\n")),
        reply(tool("read_file", path="nope/missing.md")),
        reply(tool("finish", summary="Wrote out/report.md")),
    ]
    with FakeAnthropic(script) as fake:
        env = {**ENV, "ANTHROPIC_API_KEY": "sk-ant-test-key", "ANTHROPIC_BASE_URL": fake.url}
        env["STAGING_DATABASE_URL"] = "postgres://staging"
        ws = open_workspace(agent_repo, env)
        out = execute(
            ws,
            open_forge(ws),
            "tester",
            "t-100",
            trigger="test",
            client_factory=anthropic_client(ws),
        )
    assert out.record.outcome == "done", out.record.reason
    entries = out.transcript.to_dict()["entries"]
    assert out.transcript.run_id == out.record.run_id
    turns = _kinds(entries, "turn")
    assert len(turns) == 3 and turns[0]["text"] == "Writing it."
    prompt = ("input_tokens", "cache_read_input_tokens", "cache_creation_input_tokens")
    assert all(sum(t["usage"][k] for k in prompt) > 0 for t in turns)
    assert all(t["usage"]["output_tokens"] > 0 for t in turns)
    tools = _kinds(entries, "tool")
    assert [t["name"] for t in tools] == ["write_file", "read_file", "finish"]
    assert tools[0]["input"] == {"path": "out/report.md", "content": "# R\n"}
    assert tools[1]["is_error"] and not tools[0]["is_error"]
    checks = [c for c in _kinds(entries, "command") if c["phase"] == "acceptance"]
    assert checks and all(c["exit_code"] == 0 and c["duration_s"] >= 0 for c in checks)
    (judged,) = _kinds(entries, "acceptance")
    assert any(r["kind"] == "check" and r["passed"] for r in judged["results"])
    assert entries[-1] == {"kind": "note", "text": f"done: {out.record.reason}"}


def test_the_shell_engine_records_each_step_and_the_checks(repo: Path) -> None:
    ws = open_workspace(repo, ENV)
    out = execute(ws, open_forge(ws), "devops", "t-001", trigger="test", client_factory=None)
    assert out.record.outcome == "done", out.record.reason
    entries = out.transcript.to_dict()["entries"]
    steps = [c for c in _kinds(entries, "command") if c["phase"] == "agent"]
    assert [s["command"] for s in steps] == list(ws.fleet.tasks["t-001"].steps)
    assert all(s["exit_code"] == 0 for s in steps)
    checks = [c for c in _kinds(entries, "command") if c["phase"] == "acceptance"]
    assert [c["command"] for c in checks] == [a.text for a in ws.fleet.tasks["t-001"].checks]
    assert _kinds(entries, "acceptance") and entries[-1]["kind"] == "note"
