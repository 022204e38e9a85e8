from __future__ import annotations

from datetime import datetime

import pytest

from runner import cron

NOW = datetime(2026, 11, 24, 10, 17)  # a Tuesday


@pytest.mark.parametrize(
    ("expr", "expected"),
    [
        ("* * * * *", datetime(2026, 11, 24, 10, 17)),
        ("0 * * * *", datetime(2026, 11, 24, 10, 0)),
        ("30 */6 * * *", datetime(2026, 11, 24, 6, 30)),
        ("0 7 * * 1-5", datetime(2026, 11, 24, 7, 0)),
        ("0 9 * * 2,4", datetime(2026, 11, 24, 9, 0)),
        ("0 10 * * mon", datetime(2026, 11, 23, 10, 0)),
        ("0 0 1 * *", datetime(2026, 11, 1, 0, 0)),
        ("0 0 1 jan *", datetime(2026, 1, 1, 0, 0)),
        ("0 0 * * 7", datetime(2026, 11, 22, 0, 0)),  # 7 is Sunday too
        ("0 0 13 * 5", datetime(2026, 11, 20, 0, 0)),  # dom OR dow when both restricted
        ("@daily", datetime(2026, 11, 24, 0, 0)),
        ("0 0 29 2 *", datetime(2024, 2, 29, 0, 0)),
    ],
)
def test_previous_fire(expr: str, expected: datetime) -> None:
    assert cron.parse(expr).previous_fire(NOW) == expected


@pytest.mark.parametrize(
    ("expr", "message"),
    [
        ("every day", "needs 5"),
        ("0 24 * * *", "out of range"),
        ("*/0 * * * *", "step must be at least 1"),
        ("5-1 * * * *", "runs backwards"),
        ("x * * * *", "not a number"),
    ],
)
def test_parse_errors_are_plain_words(expr: str, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        cron.parse(expr)


def test_never_firing_schedule_returns_none() -> None:
    assert cron.parse("0 0 31 2 *").previous_fire(NOW) is None
