"""Reading the Claude Code stream (runner.engines.claude_code_stream): the events the
pinned CLI writes, fed line by line as the engine does."""

from __future__ import annotations

import json

from runner.engines.claude_code_stream import REJECTED, Stream
from runner.transcript import Transcript


def _retry(status: int) -> str:
    return json.dumps({"type": "system", "subtype": "api_retry", "error_status": status})


def test_a_rejected_key_names_the_engines_model_key() -> None:
    """The escalation names the secret the engine's model_key(role) says, not a fixed
    name (the built-in loop names the provider's credential)."""
    stream = Stream(Transcript("r-1"), key_name="FLEET_MODEL_KEY")
    assert stream.feed(_retry(401)) is True  # stop the CLI now
    verdict = stream.verdict(None, "", 40)
    assert verdict.outcome == "escalated" and verdict.reason == REJECTED
    assert verdict.escalation is not None
    assert "Check the FLEET_MODEL_KEY secret." in verdict.escalation.summary
    assert "ANTHROPIC_API_KEY" not in verdict.escalation.summary


def test_an_mcp_tool_error_that_is_not_a_lost_server_lets_the_run_go_on() -> None:
    """Only a lost connection ends the run: a tool's own error is the model's to handle."""
    stream = Stream(Transcript("r-1"))
    call = {"type": "tool_use", "id": "t1", "name": "mcp__docs__search", "input": {}}
    stream.feed(json.dumps({"type": "assistant", "message": {"id": "m1", "content": [call]}}))
    result = {"type": "tool_result", "tool_use_id": "t1", "is_error": True,
              "content": "no page matches 'ECONNRESET': the index is not connected"}  # fmt: skip
    assert stream.feed(json.dumps({"type": "user", "message": {"content": [result]}})) is False
    assert stream.mcp_down is None
