"""Token usage and what it cost, from the fleet's price table."""

from __future__ import annotations

from dataclasses import dataclass

from runner.model import Price

USAGE_KEYS = (
    "input_tokens",
    "output_tokens",
    "cache_read_input_tokens",
    "cache_creation_input_tokens",
)


@dataclass
class Usage:
    input_tokens: int = 0
    output_tokens: int = 0
    cache_read_input_tokens: int = 0
    cache_creation_input_tokens: int = 0

    def add(self, other: Usage) -> None:
        for key in USAGE_KEYS:
            setattr(self, key, getattr(self, key) + getattr(other, key))

    @classmethod
    def of(cls, usage: object) -> Usage:
        """From an SDK usage object (fields may be None)."""
        return cls(**{key: int(getattr(usage, key, 0) or 0) for key in USAGE_KEYS})

    @property
    def prompt_tokens(self) -> int:
        return self.input_tokens + self.cache_read_input_tokens + self.cache_creation_input_tokens

    @property
    def cache_share(self) -> float:
        """Share of prompt tokens read from the cache."""
        return self.cache_read_input_tokens / self.prompt_tokens if self.prompt_tokens else 0.0

    def cost(self, price: Price | None) -> float:
        if price is None:
            return 0.0
        return (
            self.input_tokens * price.input
            + self.output_tokens * price.output
            + self.cache_read_input_tokens * price.cache_read
            + self.cache_creation_input_tokens * price.cache_write
        ) / 1_000_000

    def to_dict(self) -> dict[str, int]:
        return {key: getattr(self, key) for key in USAGE_KEYS}
