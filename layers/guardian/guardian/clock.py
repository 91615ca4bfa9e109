"""The moment the guardian acts at. In Lambda it is the wall clock. The sandbox moves it, in-process and
never from configuration, to play a story whose moments are in the past (the demo, the tests)."""

from datetime import UTC, datetime, timedelta

_offset = timedelta(0)


def now() -> datetime:
    return datetime.now(UTC) + _offset


def set_offset(offset: timedelta) -> None:
    global _offset
    _offset = offset
