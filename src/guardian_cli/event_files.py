"""Reading the files `guardian replay` and `guardian invoke` are given: whatever shape an event was saved
in, the EventBridge events inside it."""

import json
from pathlib import Path
from typing import Any

from guardian.events import from_cloudtrail_record
from guardian_cli.errors import InputError


def read_json(path: Path) -> Any:
    try:
        return json.loads(path.read_text())
    except OSError as error:
        raise InputError(f"{path}: {error.strerror}") from error
    except json.JSONDecodeError as error:
        raise InputError(f"{path}: not JSON ({error.msg})") from error


def read_events(path: Path) -> list[dict[str, Any]]:
    """Events from a file: one JSON object, an array, JSON lines, a CloudTrail log file ({"Records": []}),
    or records parked by Lambda's on-failure destination ({"requestPayload": ...})."""
    try:
        text = path.read_text()
    except OSError as error:
        raise InputError(f"{path}: {error.strerror}") from error
    try:
        documents = [json.loads(text)]
    except json.JSONDecodeError:
        documents = []
        for number, line in enumerate(text.splitlines(), 1):
            if line.strip():
                try:
                    documents.append(json.loads(line))
                except json.JSONDecodeError as error:
                    raise InputError(f"{path}:{number}: not JSON ({error.msg})") from error
    events: list[dict[str, Any]] = []
    for document in documents:
        items = document if isinstance(document, list) else [document]
        for item in items:
            events.extend(_unwrap(item, path))
    return events


def _unwrap(item: object, path: Path) -> list[dict[str, Any]]:
    """The events one JSON object holds: CloudTrail records become the events EventBridge would carry."""
    if not isinstance(item, dict):
        raise InputError(f"{path}: expected JSON objects, found {type(item).__name__}")
    if "Records" in item and isinstance(item["Records"], list):
        return [from_cloudtrail_record(record) for record in item["Records"]]
    if "requestPayload" in item:
        return [item["requestPayload"]]
    if "eventSource" in item and "detail" not in item:
        return [from_cloudtrail_record(item)]
    return [item]
