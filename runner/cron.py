"""Five-field cron expressions (UTC), as GitHub Actions and crontab read them.

The planner asks one question: did the schedule fire between the role's last run and
now? `previous_fire` answers it without stepping minute by minute.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

_ALIASES = {
    "@yearly": "0 0 1 1 *",
    "@annually": "0 0 1 1 *",
    "@monthly": "0 0 1 * *",
    "@weekly": "0 0 * * 0",
    "@daily": "0 0 * * *",
    "@midnight": "0 0 * * *",
    "@hourly": "0 * * * *",
}
_NAMES = {
    3: {m: i + 1 for i, m in enumerate("jan feb mar apr may jun jul aug sep oct nov dec".split())},
    4: {d: i for i, d in enumerate("sun mon tue wed thu fri sat".split())},
}
_FIELDS = (
    ("minute", 0, 59),
    ("hour", 0, 23),
    ("day of month", 1, 31),
    ("month", 1, 12),
    ("day of week", 0, 7),
)


@dataclass(frozen=True)
class Cron:
    minutes: frozenset[int]
    hours: frozenset[int]
    days: frozenset[int]
    months: frozenset[int]
    weekdays: frozenset[int]  # 0 = Sunday
    dom_any: bool  # the field starts with '*' (Vixie's DOM_STAR), not "is every day"
    dow_any: bool

    def _day_matches(self, day: datetime) -> bool:
        if day.month not in self.months:
            return False
        dom = day.day in self.days
        dow = (day.isoweekday() % 7) in self.weekdays
        if self.dom_any or self.dow_any:  # Vixie: either field starts with '*' -> AND
            return dom and dow
        return dom or dow  # neither starts with '*': either matches

    def previous_fire(self, now: datetime) -> datetime | None:
        """The latest fire time at or before `now` (within ~4 years), else None."""
        start = now.replace(second=0, microsecond=0)
        hours = sorted(self.hours, reverse=True)
        minutes = sorted(self.minutes, reverse=True)
        for back in range(366 * 4 + 1):
            day = start - timedelta(days=back)
            if not self._day_matches(day):
                continue
            for hour in hours:
                if back == 0 and hour > start.hour:
                    continue
                for minute in minutes:
                    if back == 0 and hour == start.hour and minute > start.minute:
                        continue
                    return day.replace(hour=hour, minute=minute)
        return None


def parse(expr: str) -> Cron:
    """Parse a cron expression; ValueError says what is wrong in words."""
    text = _ALIASES.get(expr.strip().lower(), expr.strip())
    parts = text.split()
    if len(parts) != 5:
        raise ValueError(
            f"cron expression '{expr}' has {len(parts)} fields; it needs 5 "
            "(minute hour day-of-month month day-of-week), e.g. '0 */6 * * *'"
        )
    sets = [_field(p, i) for i, p in enumerate(parts)]
    weekdays = frozenset(d % 7 for d in sets[4])
    # Vixie cron (what GitHub Actions runs) sets DOM_STAR/DOW_STAR when the field merely
    # *starts with* '*', so '*/2' counts as unrestricted for the day-of-month OR rule.
    dom_star, dow_star = parts[2].startswith("*"), parts[4].startswith("*")
    return Cron(sets[0], sets[1], sets[2], sets[3], weekdays, dom_star, dow_star)


def _field(text: str, index: int) -> frozenset[int]:
    name, lo, hi = _FIELDS[index]
    values: set[int] = set()
    for item in text.split(","):
        rng, _, step_text = item.partition("/")
        step = _number(step_text, name, index) if step_text else 1
        if step < 1:
            raise ValueError(f"{name}: step must be at least 1 in '{item}'")
        if rng == "*":
            first, last = lo, hi if index != 4 else 6
        elif "-" in rng:
            a, _, b = rng.partition("-")
            first, last = _number(a, name, index), _number(b, name, index)
        else:
            first = _number(rng, name, index)
            last = hi if step_text else first
        for value in (first, last):
            if not lo <= value <= hi:
                raise ValueError(f"{name}: {value} is out of range {lo}-{hi} in '{item}'")
        if first > last:
            raise ValueError(f"{name}: range '{rng}' runs backwards")
        values.update(range(first, last + 1, step))
    return frozenset(values)


def _number(text: str, name: str, index: int) -> int:
    lowered = text.lower()
    if lowered in _NAMES.get(index, {}):
        return _NAMES[index][lowered]
    if not text.isdigit():
        raise ValueError(f"{name}: '{text}' is not a number")
    return int(text)
