"""The replay of a recorded session (runner/replay.py) behind its loopback Messages API
(runner/replay_server.py), driven by the real anthropic SDK over HTTP: requests are
matched by structure, a request the recording does not expect is refused saying what and
where, a retried request is answered again, and only the placeholder key is accepted."""

from __future__ import annotations

import json

import pytest

from runner.replay import DEMO_RECORDING, Divergence, Recording, Replay
from runner.replay_server import PLACEHOLDER_KEY, ReplayServer

DECOY_KEY = "sk-ant-api03-" + "d3c0y" * 16


def test_a_request_the_recording_does_not_expect_fails_saying_what_and_where() -> None:
    """The real SDK against the replay server: a conversation that is not the recorded
    one gets a 400 naming the session, the turn and the difference; a real key gets 401."""
    import anthropic

    with ReplayServer(Recording.load(DEMO_RECORDING)) as server:
        client = anthropic.Anthropic(api_key=PLACEHOLDER_KEY, base_url=server.url, max_retries=0)
        ask = {"model": "claude-sonnet-5-5", "max_tokens": 100}
        with pytest.raises(anthropic.BadRequestError) as wrong_task:
            client.messages.create(**ask, messages=[{"role": "user", "content": "# Task t-009"}])
        message = str(wrong_task.value)
        assert "replay diverged: session 1 of 2 (first run: drafts the ADR" in message
        assert "turn 1: the first user message lacks ['# Task t-005'" in message
        assert server.divergence.startswith("replay diverged: session 1 of 2")

        first = {"role": "user", "content": "# Task t-005\nCompare a Postgres-backed queue"}
        reply = client.messages.create(**ask, messages=[first])
        call = next(b for b in reply.content if b.type == "tool_use")
        assert (call.name, call.input) == ("read_file", {"path": "docs/architecture/overview.md"})
        assert reply.usage.cache_creation_input_tokens == 0  # no breakpoint was sent
        result = {"type": "tool_result", "tool_use_id": call.id, "content": "# Overview\n..."}
        with pytest.raises(anthropic.BadRequestError) as wrong_result:
            client.messages.create(
                **ask,
                messages=[
                    first,
                    {"role": "assistant", "content": reply.to_dict()["content"]},
                    {"role": "user", "content": [result]},
                ],
            )
        assert (
            "session 1 of 2 (first run: drafts the ADR, asks the founders to decide), turn 2, "
            "the result of read_file: the call succeeded, which the recording did not expect; "
            "its output: '# Overview ...'"
        ) in str(wrong_result.value)

        outsider = anthropic.Anthropic(api_key=DECOY_KEY, base_url=server.url, max_retries=0)
        with pytest.raises(anthropic.AuthenticationError):
            outsider.messages.create(**ask, messages=[first])


def test_the_same_request_again_gets_the_same_answer_not_the_next_turn() -> None:
    """A retried call (the SDK lost the answer) must not advance the replay."""
    replay = Replay(Recording.load(DEMO_RECORDING))
    first = {"role": "user", "content": "# Task t-005\nCompare a Postgres-backed queue"}
    body = {"model": "claude-sonnet-5-5", "messages": [first]}
    once, again = replay.answer(body), replay.answer(json.loads(json.dumps(body)))
    assert once == again and (replay.session, replay.turn, replay.served) == (0, 1, 1)
    with pytest.raises(Divergence, match="the recording expected the tool results of turn 1"):
        replay.answer({**body, "messages": [{**first, "content": first["content"] + "!"}]})


def test_the_shipped_recording_is_one_the_replay_can_follow() -> None:
    """Each turn expects one result per tool call of the reply before it, and each
    session ends on a call that ends a run (escalate, then finish): an edited recording
    that breaks this would diverge at once in every demo."""
    recording = Recording.load(DEMO_RECORDING)
    assert recording.answer and recording.role == "cto" and recording.task == "t-005"
    for session in recording.sessions:
        assert session.turns[0].first and not session.turns[0].results
        for before, turn in zip(session.turns, session.turns[1:], strict=False):
            calls = [b for b in before.reply["content"] if b["type"] == "tool_use"]
            assert len(turn.results) == len(calls), (session.name, turn)
    last = [s.turns[-1].reply["content"][-1]["name"] for s in recording.sessions]
    assert last == ["escalate", "finish"]


def test_the_demo_environment_carries_no_provider_credential_and_bypasses_proxies() -> None:
    from runner import demo_replay

    user = {
        "ANTHROPIC_API_KEY": DECOY_KEY,
        "AWS_ACCESS_KEY_ID": "AKIA" + "X" * 16,
        "OPENAI_API_KEY": "sk-" + "y" * 40,
        "PATH": "/usr/bin",
    }
    env = demo_replay.environ(user, "http://127.0.0.1:1234")
    assert env == {
        "PATH": "/usr/bin",
        "ANTHROPIC_API_KEY": PLACEHOLDER_KEY,
        "ANTHROPIC_BASE_URL": "http://127.0.0.1:1234",
    }
    process = {"NO_PROXY": "corp.example"}
    with demo_replay.direct(process):
        assert process == {
            "NO_PROXY": "corp.example,127.0.0.1,localhost",
            "no_proxy": "127.0.0.1,localhost",
        }
    assert process == {"NO_PROXY": "corp.example"}
