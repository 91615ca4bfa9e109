"""EventBridge Scheduler's schedule expressions, as the simulation needs them: when does a recurring
schedule fire next? ``rate(15 minutes)`` fires every period from when the schedule was made;
``cron(0 8 ? * MON-FRI *)`` fires at the minutes its six fields match, read in the schedule's time zone.

AWS's cron is not Unix's (six fields, a year, day-of-week 1-7 from Sunday, ``?``), so it is read here
rather than by a Unix cron library. ``L``, ``W`` and ``#`` are refused by name: the template uses none.
"""

import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

_RATE = re.compile(r"^rate\(\s*(\d+)\s+(minute|minutes|hour|hours|day|days)\s*\)$")
_CRON = re.compile(r"^cron\((.+)\)$")
_UNIT = {"minute": 60, "hour": 3600, "day": 86400}
_MONTHS = ["JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC"]
_DAYS = ["SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT"]
# Each cron field: its bounds and the names it accepts (as numbers from the bound's start).
_FIELDS: tuple[tuple[str, int, int, list[str]], ...] = (
    ("minutes", 0, 59, []),
    ("hours", 0, 23, []),
    ("day-of-month", 1, 31, []),
    ("month", 1, 12, _MONTHS),
    ("day-of-week", 1, 7, _DAYS),
    ("year", 1970, 2199, []),
)
# Far enough to find the next fire of any schedule that fires at least once a year.
_SEARCH_LIMIT = timedelta(days=400)


class ScheduleExpressionError(ValueError):
    """An expression the simulation cannot read: the message says which part and why."""


@dataclass(frozen=True)
class Rate:
    period: timedelta

    def next_after(self, moment: datetime, since: datetime) -> datetime:
        """The first fire strictly after ``moment`` of a schedule made at ``since`` (fires at since + k period)."""
        elapsed = max((moment - since) // self.period, 0)
        return since + (elapsed + 1) * self.period


@dataclass(frozen=True)
class Cron:
    fields: tuple[frozenset[int], ...]  # minutes, hours, day-of-month, month, day-of-week (1=SUN), year
    zone: ZoneInfo

    def matches(self, moment: datetime) -> bool:
        local = moment.astimezone(self.zone)
        return self._hour_matches(local) and local.minute in self.fields[0]

    def _hour_matches(self, local: datetime) -> bool:
        _, hours, days, months, weekdays, years = self.fields
        return (
            local.hour in hours
            and local.day in days
            and local.month in months
            and (local.isoweekday() % 7) + 1 in weekdays
            and local.year in years
        )

    def next_after(self, moment: datetime, since: datetime) -> datetime | None:
        """The first matching minute strictly after ``moment`` (None within 400 days: never)."""
        candidate = moment.astimezone(UTC).replace(second=0, microsecond=0) + timedelta(minutes=1)
        end = candidate + _SEARCH_LIMIT
        while candidate < end:
            local = candidate.astimezone(self.zone)
            if not self._hour_matches(local):
                # On to the next local hour: local minutes run with UTC's, whatever the zone's offset.
                candidate += timedelta(minutes=60 - local.minute)
                continue
            if local.minute in self.fields[0]:
                return candidate
            candidate += timedelta(minutes=1)
        return None


Schedule = Rate | Cron


def parse(expression: str, timezone: str = "UTC") -> Schedule:
    """A recurring schedule expression (``rate(...)`` or ``cron(...)``) in ``timezone``."""
    text = expression.strip()
    rate = _RATE.match(text)
    if rate:
        value, unit = int(rate.group(1)), rate.group(2).rstrip("s")
        if value < 1:
            raise ScheduleExpressionError(f"{expression!r}: a rate is at least 1 {unit}")
        return Rate(timedelta(seconds=value * _UNIT[unit]))
    cron = _CRON.match(text)
    if not cron:
        raise ScheduleExpressionError(f"{expression!r} is neither rate(N unit) nor cron(6 fields)")
    parts = cron.group(1).split()
    if len(parts) != len(_FIELDS):
        raise ScheduleExpressionError(f"{expression!r}: cron has 6 fields, not {len(parts)}")
    if (parts[2] == "?") == (parts[4] == "?"):
        raise ScheduleExpressionError(f"{expression!r}: exactly one of day-of-month and day-of-week is '?'")
    try:
        zone = ZoneInfo(timezone)
    except Exception as error:
        raise ScheduleExpressionError(f"unknown time zone {timezone!r}") from error
    values = tuple(_field(part, *spec, expression) for part, spec in zip(parts, _FIELDS, strict=True))
    return Cron(values, zone)


def _field(text: str, name: str, low: int, high: int, names: list[str], expression: str) -> frozenset[int]:
    if text in ("*", "?"):
        return frozenset(range(low, high + 1))
    chosen: set[int] = set()
    for item in text.split(","):
        if any(mark in item.upper() for mark in ("L", "W", "#")) and not _is_name(item, names):
            raise ScheduleExpressionError(f"{expression!r}: {name} {item!r} (L, W and # are not simulated)")
        span, _, step_text = item.partition("/")
        step = _number(step_text, name, expression) if step_text else 1
        if span == "*":
            first, last = low, high
        elif "-" in span:
            start, _, end = span.partition("-")
            first, last = _value(start, low, names, name, expression), _value(end, low, names, name, expression)
        else:
            first = _value(span, low, names, name, expression)
            last = high if step_text else first
        if not (low <= first <= high and low <= last <= high) or step < 1:
            raise ScheduleExpressionError(f"{expression!r}: {name} {item!r} is outside {low}-{high}")
        chosen.update(range(first, last + 1, step))
    return frozenset(chosen)


def _is_name(item: str, names: list[str]) -> bool:
    return all(part.upper() in names for part in re.split(r"[-/]", item) if not part.isdigit())


def _value(text: str, low: int, names: list[str], name: str, expression: str) -> int:
    if text.upper() in names:
        return names.index(text.upper()) + low
    return _number(text, name, expression)


def _number(text: str, name: str, expression: str) -> int:
    if not text.isdigit():
        raise ScheduleExpressionError(f"{expression!r}: {name} {text!r} is not a number")
    return int(text)
