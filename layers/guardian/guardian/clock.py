"""The moment the guardian acts at. In Lambda it is the wall clock. The sandbox moves it, in-process and
never from configuration, to play a story whose moments are in the past (the demo, the tests).

It also bounds the moments an event may claim: nothing the guardian hears of happened before AWS existed,
or later than a few minutes from now (clocks drift; a later stamp is a broken or forged one, and kept it
would outrank every true observation after it)."""

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

_offset = timedelta(0)

EARLIEST = datetime(2006, 1, 1, tzinfo=UTC)  # before any AWS service emitted an event
FUTURE_SKEW = timedelta(minutes=5)  # how far ahead of the guardian's clock an event's stamp may be
_LONGEST_ZONE_NAME = 64  # the longest IANA name is 32 characters


def now() -> datetime:
    return datetime.now(UTC) + _offset


def offset() -> timedelta:
    return _offset


def set_offset(value: timedelta) -> None:
    global _offset
    _offset = value


def implausible(moment: datetime) -> str | None:
    """Why ``moment`` cannot be when something happened (too early, too far ahead), or None if it can.
    A moment without a time zone is read as UTC."""
    try:
        at = moment.astimezone(UTC) if moment.tzinfo else moment.replace(tzinfo=UTC)
    except (OverflowError, ValueError):  # a UTC offset that pushes it past year 1 or 9999
        return "is outside the years a calendar can hold"
    if at < EARLIEST:
        return f"is before {EARLIEST:%Y-%m-%d}"
    latest = now() + FUTURE_SKEW
    if at > latest:
        return f"is more than {FUTURE_SKEW.seconds // 60} minutes after now ({latest - FUTURE_SKEW:%Y-%m-%dT%H:%M:%SZ})"
    return None


def zone(name: str) -> ZoneInfo:
    """The IANA time zone ``name``; anything else (a path, a megabyte, not a string) is a ValueError."""
    if not isinstance(name, str) or not 0 < len(name) <= _LONGEST_ZONE_NAME:
        raise ValueError(f"unknown time zone {str(name)[:_LONGEST_ZONE_NAME]!r} (an IANA name such as Europe/Berlin)")
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError, OSError) as error:
        raise ValueError(f"unknown time zone {name!r} (an IANA name such as Europe/Berlin)") from error
