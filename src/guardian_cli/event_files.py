"""Reading the files `guardian replay` and `guardian invoke` are given: whatever shape an event was saved
in, the EventBridge events inside it.

A file that cannot be what it claims (unreadable, not text, not JSON, empty, or JSON that holds no event)
is refused as a whole, with one line naming it (InputError: exit status 2), before anything is replayed:
an event in it is never half-delivered. An event-shaped object that the guardian would reject is not the
file's fault: it is replayed, and its rejection reported with the others."""

import json
from pathlib import Path
from typing import Any

from guardian.events import from_cloudtrail_record
from guardian_cli.errors import InputError


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
