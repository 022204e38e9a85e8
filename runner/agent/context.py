"""The conversation sent to the model: prompt-cache breakpoints and compaction.

Caching: breakpoints sit on the last tool, the last system block and the newest
message, so each request re-reads everything before its new tail from the cache.

Compaction: the size of the next request is known from the last response's usage plus
what was appended since. Before it would pass `compact_at` of the window, older tool
results are replaced by one-line stubs (what was called, and how it ended). The first
turn (task, criteria, delta) and the latest turns are never touched.
"""

from __future__ import annotations

import copy
import json
from dataclasses import dataclass, field
from typing import Any

CHARS_PER_TOKEN = 3  # conservative for code and JSON: overestimating is the safe side
KEEP_LAST_MESSAGES = 4  # the last two exchanges stay whole
_CACHE = {"type": "ephemeral"}


def estimate_tokens(value: Any) -> int:
    text = value if isinstance(value, str) else json.dumps(value, separators=(",", ":"))
    return len(text) // CHARS_PER_TOKEN + 1


@dataclass
class Conversation:
    system: list[dict[str, Any]]
    tools: list[dict[str, Any]]
    messages: list[dict[str, Any]] = field(default_factory=list)
    calls: dict[str, str] = field(default_factory=dict)  # tool_use id -> "name {input}"
    compactions: int = 0
    _measured: int | None = None  # prompt tokens of the last request, from usage
    _since: int = 0  # estimated tokens appended since that request

    def __post_init__(self) -> None:
        self._static = estimate_tokens(self.system) + estimate_tokens(self.tools)

    def add(self, role: str, content: list[dict[str, Any]]) -> None:
        """Append a message; one that continues the last role's turn (the reply after a
        `pause_turn`) extends that message, so roles keep alternating."""
        last = self.messages[-1] if self.messages else None
        if last is not None and last["role"] == role and isinstance(last["content"], list):
            last["content"] = [*last["content"], *content]
        else:
            self.messages.append({"role": role, "content": content})
        self._since += estimate_tokens(content)
        if role == "assistant":
            for block in content:
                if block.get("type") == "tool_use":
                    args = json.dumps(block.get("input", {}), sort_keys=True)[:160]
                    self.calls[block["id"]] = f"{block['name']} {args}"

    def measured(self, prompt_tokens: int) -> None:
        """Record the real size of the request just sent (from the response's usage)."""
        self._measured = prompt_tokens
        self._since = 0

    def tokens(self) -> int:
        """Estimated prompt tokens of the next request."""
        if self._measured is not None:
            return self._measured + self._since
        return self._static + sum(estimate_tokens(m["content"]) for m in self.messages)

    def compact(self, target_tokens: int) -> int:
        """Stub older tool results until the next request fits `target_tokens`.

        Returns how many results were stubbed."""
        stubbed = 0
        end = len(self.messages) - KEEP_LAST_MESSAGES
        for message in self.messages[1 : max(end, 1)]:
            if self.tokens() <= target_tokens:
                break
            if message["role"] != "user" or not isinstance(message["content"], list):
                continue
            for block in message["content"]:
                if block.get("type") != "tool_result" or block.get("compacted"):
                    continue
                before = estimate_tokens(block.get("content", ""))
                original = block.get("content", "")
                size = len(original) if isinstance(original, str) else len(json.dumps(original))
                call = self.calls.get(block["tool_use_id"], "a tool call")
                status = "failed" if block.get("is_error") else "succeeded"
                block["content"] = (
                    f"[compacted to save context: {call} {status}; "
                    f"{size} characters of output removed]"
                )
                block["compacted"] = True
                stubbed += 1
                self._shrink(before - estimate_tokens(block["content"]))
        if stubbed:
            self.compactions += 1
        return stubbed

    def _shrink(self, tokens: int) -> None:
        if self._measured is not None:
            self._measured = max(0, self._measured - tokens)

    def request(self) -> dict[str, Any]:
        """Keyword arguments for messages.create, with cache breakpoints placed."""
        tools = (
            [*self.tools[:-1], {**self.tools[-1], "cache_control": _CACHE}] if self.tools else []
        )
        system = [*self.system[:-1], {**self.system[-1], "cache_control": _CACHE}]
        messages = [_clean(m) for m in self.messages]
        if messages:
            last = copy.deepcopy(messages[-1])
            if isinstance(last["content"], list) and last["content"]:
                last["content"][-1]["cache_control"] = _CACHE
            messages[-1] = last
        return {"system": system, "tools": tools, "messages": messages}


def _clean(message: dict[str, Any]) -> dict[str, Any]:
    """The message as the API accepts it (internal bookkeeping keys removed)."""
    content = message["content"]
    if isinstance(content, list) and any("compacted" in b for b in content):
        content = [{k: v for k, v in b.items() if k != "compacted"} for b in content]
        return {"role": message["role"], "content": content}
    return message
