"""What a run did, step by step: the record a reviewer reads besides the diff and the cost.

Every engine writes the same entries (a model turn, a tool call, a command, the
acceptance results, a note), so `fleet runs show`, the HTML page and the progress
comment render one shape whatever ran. Outputs are capped when they are recorded (a
30-turn run must stay readable and storable) and every string is redacted when the
transcript leaves memory (`to_dict`): the runner's known secret values and token shapes
never reach the ledger, a comment or a page, whichever tool printed them.

The module is pure data: callers pass durations and usage in; it reads no clock.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from runner.secretscan import Secret, redact

OUTPUT_CAP = 4000  # characters kept of one output: its head and its tail
TEXT_CAP = 20000  # characters kept of one model turn's text
CUT = "\n[… {n} characters cut …]\n"
KINDS = ("turn", "tool", "command", "acceptance", "note")


def cap(text: str, limit: int = OUTPUT_CAP) -> str:
    """The head and the tail of `text` (a failure's cause is usually at the end, what
    ran at the start), with how much was cut in between."""
    if len(text) <= limit:
        return text
    head = limit * 2 // 3
    tail = limit - head
    return text[:head] + CUT.format(n=len(text) - limit) + text[-tail:]


@dataclass
class Transcript:
    """The entries of one run, in order. Engines append; renderers read `to_dict()`."""

    run_id: str
    entries: list[dict[str, Any]] = field(default_factory=list)
    output_cap: int = OUTPUT_CAP
    # called after each entry (the progress comment watches the run through this)
    listeners: list[Callable[[], None]] = field(default_factory=list, repr=False, compare=False)

    def _add(self, entry: dict[str, Any]) -> None:
        self.entries.append(entry)
        for listener in self.listeners:
            listener()

    def turn(self, text: str, usage: dict[str, int] | None = None) -> None:
        """A model turn: its text (tool calls are their own entries) and its usage."""
        entry: dict[str, Any] = {"kind": "turn", "text": cap(text, TEXT_CAP)}
        if usage:
            entry["usage"] = dict(usage)
        self._add(entry)

    def tool(
        self,
        name: str,
        tool_input: Any,
        output: str,
        is_error: bool = False,
        source: str = "builtin",
    ) -> None:
        """A tool call with its input and capped output; `source` says whose tool it
        was ("builtin", "mcp:<server>", "claude-code")."""
        self._add(
            {
                "kind": "tool",
                "name": name,
                "input": tool_input,
                "output": cap(output, self.output_cap),
                "is_error": bool(is_error),
                "source": source,
            }
        )

    def command(
        self, command: str, exit_code: int | None, duration_s: float, output: str, phase: str
    ) -> None:
        """A command the runner ran: `phase` is "setup", "agent" or "acceptance";
        `exit_code` None when it timed out or could not start."""
        self._add(
            {
                "kind": "command",
                "phase": phase,
                "command": command,
                "exit_code": exit_code,
                "duration_s": round(duration_s, 3),
                "output": cap(output, self.output_cap),
            }
        )

    def acceptance(self, results: Sequence[dict[str, Any]]) -> None:
        """The acceptance results as the runner judged them (`text`, `kind`, `passed`,
        optional `output`)."""
        items = []
        for r in results:
            item = dict(r)
            if "output" in item:
                item["output"] = cap(str(item["output"]), self.output_cap)
            items.append(item)
        self._add({"kind": "acceptance", "results": items})

    def note(self, text: str) -> None:
        """Something the runner decided (a stop, a revert, an escalation), in words."""
        self._add({"kind": "note", "text": cap(text, self.output_cap)})

    def to_dict(self, secrets: Sequence[Secret] = ()) -> dict[str, Any]:
        """The transcript as stored and rendered: every string redacted."""
        return {
            "run_id": self.run_id,
            "entries": [_redacted(e, secrets) for e in self.entries],
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Transcript:
        """Read a stored transcript; entries of kinds this runner does not know are
        kept (a newer runner wrote them) and renderers skip them."""
        entries = [e for e in data.get("entries", []) if isinstance(e, dict)]
        return cls(run_id=str(data.get("run_id", "")), entries=entries)


def _redacted(value: Any, secrets: Sequence[Secret]) -> Any:
    if isinstance(value, str):
        return redact(value, secrets)
    if isinstance(value, dict):
        return {redact(str(k), secrets): _redacted(v, secrets) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_redacted(v, secrets) for v in value]
    return value
