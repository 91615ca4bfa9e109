"""`guardian replay`: events from files routed to the functions by template.yaml's rules, as EventBridge
would, on a sandbox; a line (or a JSON entry) per event, and a failing status if any was rejected."""

import json
from pathlib import Path
from typing import Any

from guardian_cli.account import Endpoint, account
from guardian_cli.event_files import at_its_moment, read_events


def run(files: list[Path], endpoint: Endpoint, fmt: str) -> int:
    from guardian_sandbox.stack import SandboxStack

    events = [event for path in files for event in read_events(path)]
    with account(endpoint) as clients:
        stack = SandboxStack(clients).deploy()
        entries: list[dict[str, Any]] = []
        for index, event in enumerate(events, 1):
            with at_its_moment(clients, event):
                deliveries = stack.deliver(event)
            entry: dict[str, Any] = {
                "event": index,
                "id": event.get("id"),
                "detail-type": event.get("detail-type"),
                "matched": [f"{d.rule.function}/{d.rule.name}" for d in deliveries],
            }
            if not deliveries:
                entry["error"] = "no rule in template.yaml matches this event"
            for delivery in deliveries:
                if delivery.error is not None:
                    entry["error"] = str(delivery.error)
                else:
                    entry["result"] = delivery.result
            entries.append(entry)
    failed = sum("error" in entry for entry in entries)
    if fmt == "json":
        print(json.dumps(entries, indent=2, default=str))
    else:
        for entry in entries:
            print(_line(entry))
        print(f"{len(events)} events, {len(events) - failed} recorded, {failed} rejected or unmatched")
    return 1 if failed else 0


def _line(entry: dict[str, Any]) -> str:
    head = f"#{entry['event']} {entry['detail-type']} -> {', '.join(entry['matched']) or 'no rule'}"
    if "error" in entry:
        return f"{head}: REJECTED: {entry['error']}"
    result = entry["result"]
    if result.get("ignored"):
        return f"{head}: ignored ({result['ignored']})"
    parts = [
        f"{r['kind']} {r['arn'].rsplit(':', 1)[-1]} {r['state']} owner={r['owner'] or '?'} [{r['attribution']}]"
        + (" changed" if r["changed"] else " unchanged")
        + (" +tags" if r["tagged"] else "")
        for r in result["resources"]
    ]
    return f"{head}: {'; '.join(parts)}"
