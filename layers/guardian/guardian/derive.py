"""Derived fields, recomputed from a record's merged facts on every write: owner, shape, activity.

Derived fields are functions of merged state, so they inherit merging's order independence.
"""

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from guardian.attribution import Directory, OwnershipTags, attribute
from guardian.kinds import Kind
from guardian.resource import Resource

RUNNING_APP_STATES = ("InService", "Pending")


def derive(record: Resource, directory: Directory, tags: OwnershipTags) -> Resource:
    return record.model_copy(update={"attribution": attribute(record, directory, tags)} | _shape(record))


def _shape(record: Resource) -> dict[str, Any]:
    """Instance type and count from instance groups (EMR, HyperPod) or production variants."""
    groups = [g for g in record.groups.values() if g.instance_type]
    if not groups:
        return {}
    shape: dict[str, Any]
    if record.kind is Kind.ENDPOINT:
        # The event path knows the total count; variant types come from the endpoint config.
        shape = {"serverless": all(g.serverless for g in groups)}
    else:
        shape = {"instance_count": sum(g.instance_count for g in groups)}
    # Name the type that does the work first (EMR core, then task nodes, then the master).
    order = {"CORE": 0, "TASK": 1, "MASTER": 2}
    ranked = sorted(groups, key=lambda g: (order.get(g.role or "", 1), g.instance_type or ""))
    shape["instance_type"] = "+".join(dict.fromkeys(g.instance_type for g in ranked if g.instance_type))
    return shape


@dataclass(frozen=True)
class SpaceActivity:
    running: bool
    at: datetime | None  # when the space last started (running) or stopped (not running)
    version: str  # the newest app state that decided it


def space_activity(apps: list[Resource]) -> SpaceActivity | None:
    """A space runs while one of its apps is InService or Pending; it stopped when its last app went."""
    apps = [a for a in apps if a.kind is Kind.APP and a.versions.get("state")]
    if not apps:
        return None
    version = max(a.versions["state"] for a in apps)
    running = [a for a in apps if a.state in RUNNING_APP_STATES]
    if running:
        at = max((a.created_at for a in running if a.created_at), default=None)
        return SpaceActivity(True, at, version)
    return SpaceActivity(False, _last_stop(apps), version)


def _last_stop(apps: list[Resource]) -> datetime | None:
    """When the last of a space's apps went: the newest end recorded, unless an app whose end nobody dated (one
    the sweep first saw already deleted) may have gone later, having been seen gone only after it. Unknown
    then: the sweep looks for evidence (guardian.reconcile), and nothing is counted from a guess."""
    at = max((a.deleted_at for a in apps if a.deleted_at), default=None)
    for app in apps:
        seen_gone = app.provenance("state")
        if app.deleted_at is None and (at is None or seen_gone is None or seen_gone.at > at):
            return None
    return at


def with_activity(space: Resource, activity: SpaceActivity) -> Resource:
    if space.activity_version and space.activity_version >= activity.version:
        return space
    return space.model_copy(
        update={"running": activity.running, "activity_at": activity.at, "activity_version": activity.version}
    )
