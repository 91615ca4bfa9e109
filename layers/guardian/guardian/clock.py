"""The moment the guardian acts at. In Lambda it is the wall clock. The sandbox moves it, in-process and
never from configuration, to play a story whose moments are in the past (the demo, the tests)."""

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

_offset = timedelta(0)


def now() -> datetime:
    return datetime.now(UTC) + _offset


def offset() -> timedelta:
    return _offset


def set_offset(value: timedelta) -> None:
    global _offset
    _offset = value


def zone(name: str) -> ZoneInfo:
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError) as error:
        raise ValueError(f"unknown time zone {name!r} (an IANA name such as Europe/Berlin)") from error
