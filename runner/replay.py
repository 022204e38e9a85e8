"""A recorded model session, replayed turn by turn against the requests the agent sends.

Why a replay of the Messages API rather than a fake engine: `fleet demo` runs offline,
yet it should show a model role doing real work through the real path (the anthropic
SDK over HTTP, the runner's tool loop, its tools in the sandbox, the acceptance checks,
cost and cache accounting, the escalation and the resume). Only the model's answers are
recorded; everything the runner does with them happens for real.

Matching is by structure, never by bytes: a request belongs to the next turn of the
current session when it carries the tool results of the previous recorded reply (the
same tool-use ids, the same error flags, and the text the recording expects in them); a
conversation of one message starts the next session (the next run) and must carry the
phrases the recording expects in its first turn. Anything else is a `Divergence` that
says which session and turn expected what and what the agent sent instead: the replay
never answers a conversation it does not recognise.

Usage is estimated from what was sent (4 characters a token) with prompt caching
simulated by prefix (a request reads from the cache the longest prefix, at a block
boundary, that an earlier request marked with a breakpoint): the figures follow the
runner's real breakpoints, and are labelled the replay's wherever the demo shows them.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

CHARS_PER_TOKEN = 4
RECORDINGS = Path(__file__).parent / "recordings"
DEMO_RECORDING = RECORDINGS / "demo-cto-t-005.json"


class Divergence(Exception):
    """The agent's request does not continue the recorded session: what, and where."""


@dataclass(frozen=True)
class Turn:
    """One recorded model reply, and what the request it answers must carry: for the
    first turn of a session, phrases of the first user message (`first`); for the
    others, one entry per tool call of the previous reply (`results`: `is_error`, and
    `contains`, phrases its output must hold)."""

    reply: dict[str, Any]
    first: tuple[str, ...] = ()
    results: tuple[dict[str, Any], ...] = ()


@dataclass(frozen=True)
class Session:
    name: str
    turns: tuple[Turn, ...]


@dataclass(frozen=True)
class Recording:
    about: str
    role: str  # the role and task of the example fleet the session was recorded on
    task: str
    model: str
    sessions: tuple[Session, ...]
    answer: str = ""  # what the person answers the recorded escalation with

    @classmethod
    def load(cls, path: Path) -> Recording:
        data = json.loads(path.read_text("utf-8"))
        sessions = tuple(
            Session(
                str(s["name"]),
                tuple(
                    Turn(
                        t["reply"],
                        tuple(t.get("first", ())),
                        tuple(t.get("results", ())),
                    )
                    for t in s["turns"]
                ),
            )
            for s in data["sessions"]
        )
        return cls(
            str(data.get("about", "")),
            str(data["role"]),
            str(data["task"]),
            str(data["model"]),
            sessions,
            str(data.get("answer", "")),
        )


@dataclass
class Replay:
    """Where the replay is: the session and the next turn it expects."""

    recording: Recording
    session: int = 0
    turn: int = 0  # the next turn of `session` to serve (0: the session has not started)
    served: int = 0
    _cache: set[str] = field(default_factory=set)
    _last: tuple[str, dict[str, Any]] | None = None  # the last request's digest, answer

    def answer(self, body: dict[str, Any]) -> dict[str, Any]:
        """The recorded reply to `body` as a Messages API message; `Divergence` when
        `body` is not the request the recording expects next. The same request again
        (the SDK retrying a call whose answer it lost) gets the same answer."""
        digest = hashlib.sha256(json.dumps(body, sort_keys=True).encode()).hexdigest()
        if self._last is not None and self._last[0] == digest:
            return self._last[1]
        message = self._next(body)
        self._last = (digest, message)
        return message

    def _next(self, body: dict[str, Any]) -> dict[str, Any]:
        messages = body.get("messages") or []
        if body.get("model") != self.recording.model:
            raise Divergence(
                f"{self._where()}: the recording was made with model "
                f"{self.recording.model!r}; the request asks for {body.get('model')!r}"
            )
        if len(messages) == 1:
            self._start(messages[0])
        else:
            self._continue(messages)
        s, t = self.session, self.turn
        turn = self.recording.sessions[s].turns[t]
        self.turn += 1
        self.served += 1
        content = [
            {**b, "id": tool_id(s, t, i)} if b.get("type") == "tool_use" else dict(b)
            for i, b in enumerate(turn.reply["content"])
        ]
        stop = turn.reply.get("stop_reason") or (
            "tool_use" if any(b["type"] == "tool_use" for b in content) else "end_turn"
        )
        usage = self.usage(body)
        usage["output_tokens"] = max(1, _tokens(content))
        return {
            "id": f"msg_replay_s{s + 1}t{t + 1}",
            "type": "message",
            "role": "assistant",
            "model": self.recording.model,
            "content": content,
            "stop_reason": stop,
            "stop_sequence": None,
            "usage": usage,
        }

    def _where(self) -> str:
        total = len(self.recording.sessions)
        if self.session >= total:
            return f"after the recording's last session ({total})"
        name = self.recording.sessions[self.session].name
        return f"session {self.session + 1} of {total} ({name}), turn {self.turn + 1}"

    def _start(self, message: dict[str, Any]) -> None:
        """A conversation of one message: a run starts the next session."""
        sessions = self.recording.sessions
        if self.turn:
            left = len(sessions[self.session].turns) - self.turn
            if left:
                raise Divergence(
                    f"{self._where()}: the recording expected the tool results of turn "
                    f"{self.turn}, but the agent started a new conversation ({left} recorded "
                    "turn(s) of this session were never asked for)"
                )
            self.session, self.turn = self.session + 1, 0
        if self.session >= len(sessions):
            raise Divergence(
                f"the recording has {len(sessions)} session(s), all replayed; the agent "
                f"started another conversation: {_describe(message)}"
            )
        text = _text(message)
        missing = [p for p in sessions[self.session].turns[0].first if p not in text]
        if missing:
            raise Divergence(
                f"{self._where()}: the first user message lacks {missing!r}, which the "
                f"recording expects there; it begins: {_clip(text)!r}"
            )

    def _continue(self, messages: list[dict[str, Any]]) -> None:
        """A longer conversation: it must answer the reply served last."""
        turns = self.recording.sessions[self.session].turns if self._open() else ()
        if not self.turn or len(messages) != 2 * self.turn + 1:
            raise Divergence(
                f"{self._where()}: the request has {len(messages)} messages; the recording "
                f"expected {2 * self.turn + 1 if self.turn else 1} (its last message: "
                f"{_describe(messages[-1])})"
            )
        if self.turn >= len(turns):
            raise Divergence(
                f"{self._where()}: the recorded session ended with turn {self.turn}, but "
                f"the agent went on: {_describe(messages[-1])}"
            )
        previous = turns[self.turn - 1].reply["content"]
        calls = [(i, b) for i, b in enumerate(previous) if b.get("type") == "tool_use"]
        got = messages[-1].get("content")
        results = (
            [b for b in got if b.get("type") == "tool_result"] if isinstance(got, list) else []
        )
        if messages[-1].get("role") != "user" or len(results) != len(calls):
            raise Divergence(
                f"{self._where()}: the recording expected {len(calls)} tool result(s) "
                f"({', '.join(b['name'] for _, b in calls)}); the agent sent "
                f"{_describe(messages[-1])}"
            )
        expected = turns[self.turn].results
        for n, ((i, call), result) in enumerate(zip(calls, results, strict=True)):
            want = expected[n] if n < len(expected) else {}
            self._check(call, tool_id(self.session, self.turn - 1, i), want, result)

    def _check(
        self, call: dict[str, Any], wanted_id: str, want: dict[str, Any], result: dict[str, Any]
    ) -> None:
        where = f"{self._where()}, the result of {call['name']}"
        output = _text({"content": result.get("content", "")})
        if result.get("tool_use_id") != wanted_id:
            raise Divergence(
                f"{where}: it answers tool call {result.get('tool_use_id')!r}, the recording's "
                f"call was {wanted_id!r}"
            )
        if "is_error" in want and bool(result.get("is_error")) != bool(want["is_error"]):
            state = "failed" if result.get("is_error") else "succeeded"
            raise Divergence(
                f"{where}: the call {state}, which the recording did not expect; its "
                f"output: {_clip(output)!r}"
            )
        missing = [p for p in want.get("contains", ()) if p not in output]
        if missing:
            raise Divergence(
                f"{where}: the output lacks {missing!r}, which the recording expects; "
                f"it was: {_clip(output)!r}"
            )

    def _open(self) -> bool:
        return self.session < len(self.recording.sessions)

    def usage(self, body: dict[str, Any]) -> dict[str, int]:
        """Prompt tokens split as the API reports them, from simulated prefix caching."""
        blocks: list[tuple[Any, bool]] = [
            (_bare(t), "cache_control" in t) for t in body.get("tools", [])
        ]
        system = body.get("system", [])
        if isinstance(system, str):
            system = [{"type": "text", "text": system}]
        blocks += [(_bare(b), "cache_control" in b) for b in system]
        for m in body.get("messages", []):
            content = m["content"]
            if isinstance(content, str):
                content = [{"type": "text", "text": content}]
            blocks += [({"role": m["role"], **_bare(b)}, "cache_control" in b) for b in content]
        digest = hashlib.sha256()
        total, hit, last_mark, marks = 0, 0, 0, []
        for block, marked in blocks:
            digest.update(json.dumps(block, sort_keys=True).encode())
            total += _tokens(block)
            key = digest.hexdigest()
            if key in self._cache:
                hit = total
            if marked:
                last_mark = total
                marks.append(key)
        self._cache.update(marks)
        read = min(hit, last_mark) if last_mark else 0
        write = max(0, last_mark - read)
        return {
            "input_tokens": total - read - write,
            "cache_read_input_tokens": read,
            "cache_creation_input_tokens": write,
        }


def tool_id(session: int, turn: int, index: int) -> str:
    """The id the replay gives a recorded tool call (the agent's result must carry it)."""
    return f"toolu_replay_s{session + 1}t{turn + 1}_{index + 1}"


def _tokens(value: Any) -> int:
    return len(json.dumps(value, separators=(",", ":"), sort_keys=True)) // CHARS_PER_TOKEN


def _bare(block: Any) -> Any:
    return (
        {k: v for k, v in block.items() if k != "cache_control"}
        if isinstance(block, dict)
        else block
    )


def _text(message: dict[str, Any]) -> str:
    content = message.get("content", "")
    if isinstance(content, str):
        return content
    parts = []
    for b in content if isinstance(content, list) else []:
        if isinstance(b, dict) and isinstance(b.get("text"), str):
            parts.append(b["text"])
        elif isinstance(b, dict) and "content" in b:
            parts.append(_text(b))
    return "\n".join(parts)


def _describe(message: dict[str, Any]) -> str:
    """A message in one line: its role and what each block is."""
    content = message.get("content")
    blocks = content if isinstance(content, list) else [{"type": "text", "text": content}]
    shown = []
    for b in blocks:
        if not isinstance(b, dict):
            continue
        if b.get("type") == "tool_result":
            flag = " (error)" if b.get("is_error") else ""
            shown.append(f"tool_result{flag} {_clip(_text(b), 120)!r}")
        elif b.get("type") == "tool_use":
            shown.append(f"tool_use {b.get('name')}")
        else:
            shown.append(f"{b.get('type', 'text')} {_clip(str(b.get('text', '')), 120)!r}")
    return f"{message.get('role')}: " + "; ".join(shown)


def _clip(text: str, limit: int = 200) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 3] + "..."
