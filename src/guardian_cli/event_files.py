"""Reading the files `guardian replay` and `guardian invoke` are given: whatever shape an event was saved
in, the EventBridge events inside it.

A file that cannot be what it claims (unreadable, not text, not JSON, empty, or JSON that holds no event)
is refused as a whole, with one line naming it (InputError: exit status 2), before anything is replayed:
an event in it is never half-delivered. An event-shaped object that the guardian would reject is not the
file's fault: it is replayed, and its rejection reported with the others."""

import contextlib
import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from guardian import clock as guardian_clock
from guardian.aws import AwsClients
from guardian.events import from_cloudtrail_record
from guardian_cli.errors import InputError

PLAYED_AFTER = timedelta(seconds=1)  # EventBridge delivers an event a moment after its stamp


def read_json(path: Path) -> Any:
    """One JSON document, whatever it holds (`guardian invoke` passes it to a function as it is)."""
    text = _read_text(path)
    if not text.strip():
        raise InputError(f"{path}: empty file, expected JSON")
    return _parse(text, str(path))


def read_events(path: Path) -> list[dict[str, Any]]:
    """Events from a file: one JSON object, an array, JSON lines, a CloudTrail log file ({"Records": []}),
    or records parked by Lambda's on-failure destination ({"requestPayload": ...})."""
    text = _read_text(path)
    if not text.strip():
        raise InputError(f"{path}: empty file, expected events (JSON)")
    try:
        documents = [json.loads(text)]
    except (ValueError, RecursionError):  # not one document: JSON lines, or junk said so line by line
        lines = enumerate(text.splitlines(), 1)
        documents = [_parse(line, f"{path}:{number}") for number, line in lines if line.strip()]
    events: list[dict[str, Any]] = []
    for document in documents:
        items = document if isinstance(document, list) else [document]
        for item in items:
            events.extend(_unwrap(item, path))
    if not events:
        raise InputError(f"{path}: holds no events")
    return events


def _read_text(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8")
    except OSError as error:
        raise InputError(f"{path}: {error.strerror or error}") from error
    except UnicodeDecodeError as error:
        raise InputError(f"{path}: not text (byte {error.start} is not UTF-8), expected JSON") from error


def _parse(text: str, where: str) -> Any:
    try:
        return json.loads(text)
    except json.JSONDecodeError as error:
        raise InputError(f"{where}: not JSON ({error.msg})") from error
    except (ValueError, RecursionError) as error:  # a number too long to read, arrays nested past the stack
        raise InputError(f"{where}: not JSON the guardian can read ({type(error).__name__})") from error


def _unwrap(item: object, path: Path) -> list[dict[str, Any]]:
    """The events one JSON object holds: CloudTrail records become the events EventBridge would carry."""
    if not isinstance(item, dict):
        raise InputError(f"{path}: expected JSON objects, found {_kind(item)}")
    if "Records" in item and isinstance(item["Records"], list):
        records = item["Records"]
        for record in records:
            if not isinstance(record, dict):
                raise InputError(f"{path}: expected CloudTrail records (JSON objects), found {_kind(record)}")
        return [from_cloudtrail_record(record) for record in records]
    if "requestPayload" in item:
        return _unwrap(item["requestPayload"], path)
    if "eventSource" in item and "detail" not in item:
        return [from_cloudtrail_record(item)]
    if not ("source" in item or "detail-type" in item):
        keys = ", ".join(sorted(map(str, item))[:5]) or "none"
        raise InputError(
            f"{path}: expected EventBridge events (with source and detail-type), found an object with keys: {keys}"
        )
    return [item]


def _kind(value: object) -> str:
    return {dict: "an object", list: "an array", str: "a string", bool: "a boolean", type(None): "null"}.get(
        type(value), "a number"
    )


def sent_at(event: Any, now: datetime) -> datetime | None:
    """When ``event`` says AWS sent it (its envelope's ``time``: ISO 8601 or epoch milliseconds), if that is
    before ``now``: the moment a sandbox plays it at, so that an event of any age is judged as it was when
    sent (the guardian rejects what is older than the records it keeps). None when it says no usable time
    (left for the guardian to judge at ``now``, a future stamp included)."""
    value = event.get("time") if isinstance(event, dict) else None
    try:
        if isinstance(value, str) and value.isdigit():
            moment = datetime.fromtimestamp(int(value) / 1000, UTC)
        elif isinstance(value, str):
            moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
        else:
            return None
    except (ValueError, OverflowError, OSError):
        return None
    moment = moment if moment.tzinfo else moment.replace(tzinfo=UTC)
    return moment if moment < now else None


@contextlib.contextmanager
def at_its_moment(clients: AwsClients, event: Any) -> Iterator[None]:
    """Play ``event`` on the sandbox at the moment it was sent (its clock, and the guardian's, set back)."""
    from guardian_sandbox import clock

    moment = sent_at(event, guardian_clock.now())
    if moment is None:
        yield
        return
    with clock.at(clients, moment + PLAYED_AFTER):
        yield
