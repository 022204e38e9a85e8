from __future__ import annotations

import pytest

from runner.fmt import clip, usd


@pytest.mark.parametrize(
    ("amount", "text"),
    [
        (0.0077, "$0.0077"),  # issue 12 #9: was "$0.01 of $0.01" against $0.005
        (0.005, "$0.005"),
        (0.5, "$0.50"),
        (0.12345, "$0.12"),
        (0.00004, "$0.00004"),
        (0.0, "$0.00"),
        (1.25, "$1.25"),
        (1234.5, "$1,234.50"),
        (8.0, "$8.00"),
    ],
)
def test_usd_keeps_enough_precision(amount: float, text: str) -> None:
    assert usd(amount) == text


def test_usd_tells_apart_what_cents_would_merge() -> None:
    assert usd(0.0077) != usd(0.005)


@pytest.mark.parametrize(
    ("text", "limit", "clipped"),
    [
        ("need STAGING_DATABASE_URL", 60, "need STAGING_DATABASE_URL"),
        (
            "missing credential STAGING_DATABASE_URL for deploys",
            40,
            "missing credential STAGING_DATABASE_URL…",
        ),
        ("missing credential STAGING_DATABASE_URL for deploys", 30, "missing credential…"),
        ("Add   a\n/healthz endpoint", 50, "Add a /healthz endpoint"),
        ("Supercalifragilisticexpialidocious", 10, "Supercali…"),
        ("one two, three", 9, "one two…"),
    ],
)
def test_clip_cuts_at_a_word_boundary(text: str, limit: int, clipped: str) -> None:
    out = clip(text, limit)
    assert out == clipped and len(out) <= limit
