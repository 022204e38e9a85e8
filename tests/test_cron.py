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


# Vixie cron (GitHub's scheduler) ANDs day-of-month and day-of-week when either field
# *starts with* '*' (DOM_STAR / DOW_STAR), and ORs them only when both are restricted.
# NOW is Tuesday 2026-11-24 10:17; the 17th and 24th are Tuesdays, the 15th and 22nd
# Sundays, the 20th a Friday.
@pytest.mark.parametrize(
    ("expr", "expected", "why"),
    [
        ("0 0 */2 * 2", datetime(2026, 11, 17, 0, 0), "odd day AND Tuesday ('*/2' is a star)"),
        ("0 0 */1 * 5", datetime(2026, 11, 20, 0, 0), "'*/1' is a star: Fridays only"),
        ("0 0 15 * */3", datetime(2026, 11, 15, 0, 0), "15th AND Sun/Wed/Sat"),
        ("0 0 *,2 * 5", datetime(2026, 11, 20, 0, 0), "'*,2' starts with '*': Fridays only"),
        ("0 0 1-31/2 * 2", datetime(2026, 11, 24, 0, 0), "a range is restricted: odd OR Tue"),
        ("0 0 1,15 * 2", datetime(2026, 11, 24, 0, 0), "both restricted: 1st, 15th OR Tue"),
        ("0 0 13 * 5", datetime(2026, 11, 20, 0, 0), "Friday OR the 13th"),
        ("0 0 */2 * *", datetime(2026, 11, 23, 0, 0), "odd days"),
        ("0 12 * * */2", datetime(2026, 11, 22, 12, 0), "Sun/Tue/Thu/Sat at noon"),
        ("0 0 * * 1-5", datetime(2026, 11, 24, 0, 0), "weekdays"),
        ("0 0 1 * *", datetime(2026, 11, 1, 0, 0), "first of the month"),
        ("0 0 1 * 0", datetime(2026, 11, 22, 0, 0), "1st OR Sunday"),
        ("0 0 * * 0", datetime(2026, 11, 22, 0, 0), "Sundays"),
    ],
)
def test_day_fields_follow_vixie_star_rule(expr: str, expected: datetime, why: str) -> None:
    assert cron.parse(expr).previous_fire(NOW) == expected, why
