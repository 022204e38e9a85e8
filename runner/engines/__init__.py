"""The engine registry: the one place engines are named.

Everything else asks the engine (`get(role.engine)`) instead of comparing names, so
adding an engine is one module plus its tests and one line here. Modules are imported on
first use: `fleet validate` asks an engine about a role without importing any SDK, and
a run imports only the engine it uses.
"""

from __future__ import annotations

import importlib
from functools import cache
from typing import TYPE_CHECKING

from runner.engines.base import Engine
from runner.errors import ConfigError

# name -> "module:class"; the role schema's `engine` enum equals these keys (a test)
_ENGINES: dict[str, str] = {
    "anthropic": "runner.engines.anthropic:AnthropicEngine",
    "shell": "runner.engines.shell:ShellEngine",
    "claude-code": "runner.engines.claude_code:ClaudeCodeEngine",
}
DEFAULT = "anthropic"  # what `fleet init` writes for a model role


def names() -> tuple[str, ...]:
    """Every registered engine, in registration order."""
    return tuple(_ENGINES)


@cache
def get(name: str) -> Engine:
    """The engine called `name`; ConfigError (exit 2) naming the known ones otherwise."""
    target = _ENGINES.get(name)
    if target is None:
        raise ConfigError(f"unknown engine '{name}' (engines: {', '.join(_ENGINES)})")
    module, _, cls = target.partition(":")
    engine: Engine = getattr(importlib.import_module(module), cls)()
    return engine


if TYPE_CHECKING:  # each engine satisfies the protocol (mypy checks these)
    from runner.engines.anthropic import AnthropicEngine
    from runner.engines.claude_code import ClaudeCodeEngine
    from runner.engines.shell import ShellEngine

    _checked: tuple[Engine, ...] = (AnthropicEngine(), ShellEngine(), ClaudeCodeEngine())
