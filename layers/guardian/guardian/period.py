"""The span of time a report covers: an ISO week that begins at Monday midnight in a time zone, or the
last N days up to now; the period before it (what the report compares against); and its calendar days in
its time zone (a day when daylight saving changes has 23 or 25 hours).

A week in progress stops at now (``up_to``): no hour that has not happened is counted, no day that has not
begun is listed, and it is compared with the week before up to the same point."""

import re
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from guardian.clock import zone

WEEK = timedelta(days=7)
_ISO_WEEK = r"(\d{4})-W(\d{2})"


@dataclass(frozen=True)
class Period:
    label: str
    start: datetime  # UTC
    end: datetime  # UTC, exclusive
    timezone: str = "UTC"
    scheduled_end: datetime | None = None  # a period in progress: where it will end (``end`` is now)

    def __post_init__(self) -> None:
        zone(self.timezone)  # an unknown time zone is refused here, once, with a message that names it

    @classmethod
    def iso_week(cls, week: str, timezone: str = "UTC") -> "Period":
        """`2026-W47`: Monday 00:00 to the next Monday 00:00 in the time zone."""
        zone(timezone)
        match = re.fullmatch(_ISO_WEEK, week)
        if not match:
            raise ValueError(f"{week!r} is not an ISO week such as 2026-W47")
        monday = date.fromisocalendar(int(match[1]), int(match[2]), 1)  # ValueError for a week the year lacks
        return cls(week, _midnight(monday, timezone), _midnight(monday + WEEK, timezone), timezone)

    @classmethod
    def week_before(cls, now: datetime, timezone: str = "UTC") -> "Period":
        """The ISO week that ended most recently in the time zone (on a Monday morning: last week)."""
        today = now.astimezone(ZoneInfo(timezone)).date()
        year, week, _ = (today - timedelta(days=today.weekday()) - WEEK).isocalendar()
        return cls.iso_week(f"{year}-W{week:02d}", timezone)

    @classmethod
    def last_days(cls, now: datetime, days: int = 7, timezone: str = "UTC") -> "Period":
        end = now.astimezone(UTC)
        return cls(f"the {days} days to {end:%Y-%m-%d %H:%M} UTC", end - timedelta(days=days), end, timezone)

    @property
    def in_progress(self) -> bool:
        return self.scheduled_end is not None

    def up_to(self, now: datetime) -> "Period":
        """This period, stopped at ``now`` if it has not ended yet (a week in progress); as it is otherwise."""
        if not self.start < now < self.end:
            return self
        return Period(self.label, self.start, now.astimezone(UTC), self.timezone, scheduled_end=self.end)

    def previous(self) -> "Period":
        """The week before an ISO week (a week in progress: that week up to the same point); otherwise the span
        of the same length that ends where this begins."""
        if re.fullmatch(_ISO_WEEK, self.label):
            year, week, _ = (self.start.astimezone(ZoneInfo(self.timezone)).date() - WEEK).isocalendar()
            before = Period.iso_week(f"{year}-W{week:02d}", self.timezone)
            if not self.in_progress:
                return before
            local = ZoneInfo(self.timezone)
            same_point = (self.end.astimezone(local) - WEEK).astimezone(UTC)  # the same local time, a week ago
            return Period(f"{before.label} to the same point", before.start, same_point, self.timezone)
        length = self.end - self.start
        return Period(f"the {length.days} days before", self.start - length, self.start, self.timezone)

    def days(self) -> list[tuple[date, datetime, datetime]]:
        """The calendar days of the period in its time zone (a DST day has 23 or 25 hours)."""
        days: list[tuple[date, datetime, datetime]] = []
        local, cursor = ZoneInfo(self.timezone), self.start
        while cursor < self.end:
            day = cursor.astimezone(local).date()
            until = min(_midnight(day + timedelta(days=1), self.timezone), self.end)
            days.append((day, cursor, until))
            cursor = until
        return days


def _midnight(day: date, timezone: str) -> datetime:
    return datetime.combine(day, time(), ZoneInfo(timezone)).astimezone(UTC)
