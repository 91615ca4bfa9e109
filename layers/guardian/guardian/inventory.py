"""The inventory: merging observations into resource records, whatever order they arrive in.

EventBridge delivers at least once and in no particular order, and the sweep repairs what events
missed. Every field of a record is a last-writer-wins register stamped with the version of the
observation that set it (:attr:`Observation.version`), and maps (tags, instance groups) are merged
key by key. Merging is therefore commutative, associative and idempotent: any permutation of a set of
observations, with duplicates, yields the same record, and an older event never overwrites newer state.
Writes are conditional on the revision read, so concurrent updates of one item retry, never clobber.

Absent is not zero (:func:`merge` is the one place this is decided). An observation that lacks a field, or
carries it as None or empty, says nothing about it: the value known stays, whatever the observation's time.
AWS sends partial and repeated events (an endpoint state change without its variants, say), and a silence
must not read as "none". Only the resource's own describe (:attr:`Observation.authoritative`, via the
sweep) may report a field as empty, or a map as complete, and so replace what was known. Each value keeps
where and when it came from in its version (:meth:`Resource.provenance`).

Time is bounded: an observation stamped later than the guardian's clock (plus AHEAD) is ranked as if made
at that moment (:func:`bounded`), whatever path it came by. An event's time is checked when it is parsed
(clock.implausible), but a sweep's describe response, say, is not: a stamp from the future would otherwise
outrank every true observation after it and freeze the record (a real delete could never win).
"""

import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Protocol

from guardian import clock
from guardian.arns import Location
from guardian.kinds import GONE, Kind
from guardian.observability import logger
from guardian.resource import KEYED_FIELDS, Observation, Resource, Via

MAX_WRITE_ATTEMPTS = 8
# How far past the guardian's clock an observation's stamp still counts as it is. AWS stamps events to the
# second and the sweep stamps with the guardian's own clock, so a true stamp is never later than now by
# more than the clocks' drift: a second is ample, and bounds how long a false stamp can hold a record.
AHEAD = timedelta(seconds=1)


class Conflict(Exception):
    """Another writer changed the record since it was read."""


@dataclass(frozen=True)
class HistoryEntry:
    """A state transition, kept as the resource's history."""

    version: str
    at: datetime
    origin: str
    state_before: str | None
    state_after: str | None


class Inventory(Protocol):
    """Where resource records live: DynamoDB when deployed, memory for read-only audits."""

    def get(self, arn: str) -> Resource | None: ...

    def put(self, record: Resource, expected_revision: int, history: HistoryEntry | None) -> None:
        """Store ``record`` if the stored revision is still ``expected_revision``, else raise Conflict."""

    def by_kind(self, kind: Kind, at: Location | None = None) -> Iterator[Resource]:
        """Resources of a kind in one account and region (``at``), or in every one the guardian watches."""

    def by_space(self, space_arn: str) -> list[Resource]: ...

    def by_name(self, kind: Kind, name: str, at: Location | None = None) -> list[Resource]: ...

    def by_owner(self, owner_key: str, outside_spaces: bool = False) -> list[Resource]:
        """Resources whose owner is this profile ARN (or, where no ARN is known, this name). ``outside_spaces``:
        only the owner's spaces and what belongs to no space (the rest is read by space)."""


@dataclass(frozen=True)
class Applied:
    before: Resource | None
    after: Resource
    changed: bool


def bounded(observation: Observation, now: datetime) -> Observation:
    """The observation as last-writer-wins may rank it: stamped at most ``now`` + AHEAD."""
    latest = (now.astimezone(UTC) if now.tzinfo else now.replace(tzinfo=UTC)) + AHEAD
    if observation.observed_at <= latest:
        return observation
    return observation.model_copy(update={"observed_at": latest})


def merge(current: Resource | None, observation: Observation, now: datetime | None = None) -> Resource:
    """Fold one observation into a record. Pure: the same inputs always give the same record. With ``now``,
    the observation's time is first bounded by it (see :func:`bounded`)."""
    if now is not None:
        observation = bounded(observation, now)
    record: dict[str, Any] = (
        current.model_dump()
        if current
        else {"arn": observation.arn, "kind": observation.kind, "first_seen_at": observation.observed_at}
    )
    versions = dict(record.get("versions") or {})
    version = observation.version
    authoritative = observation.authoritative
    for name, value in observation.fields.items():
        if _silent(value) and not authoritative:
            continue  # absent is not zero: only the describe may say a field is empty
        if _wins(version, value, versions.get(name), record.get(name)):
            record[name] = value
            versions[name] = version
    for map_name in KEYED_FIELDS:
        incoming = getattr(observation, map_name)
        if incoming is not None:
            record[map_name] = _merge_map(
                map_name,
                record.get(map_name) or {},
                incoming,
                observation.complete_maps,
                version,
                versions,
                authoritative,
            )
    record["versions"] = versions
    if record.get("first_seen_at") and observation.observed_at < record["first_seen_at"]:
        record["first_seen_at"] = observation.observed_at
    return Resource.model_validate(record)


def _merge_map(
    map_name: str,
    held: dict[str, Any],
    incoming: dict[str, Any],
    complete: bool,
    version: str,
    versions: dict[str, str],
    authoritative: bool,
) -> dict[str, Any]:
    """Merge a map key by key (and a group attribute by attribute), each with its own version.

    A complete map (a sweep's full tag set) also removes keys it lacks, and remembers its version so a
    key that an older partial observation still carries is not brought back: merging stays commutative.
    A group attribute an event carries as None says nothing (a tag's empty value is a value).
    """
    merged = {key: dict(value) if isinstance(value, dict) else value for key, value in held.items()}
    snapshot_slot = f"{map_name}#complete"
    snapshot = versions.get(snapshot_slot, "")
    for key, value in incoming.items():
        slot = f"{map_name}.{key}"
        if key not in merged and version < snapshot:
            continue  # a later complete view did not have it
        if isinstance(value, dict):
            group = merged.get(key) or {"name": key}
            for attr, attr_value in value.items():
                attr_slot = f"{slot}.{attr}"
                if _silent(attr_value) and not authoritative:
                    continue
                if _wins(version, attr_value, versions.get(attr_slot), group.get(attr)):
                    group[attr] = attr_value
                    versions[attr_slot] = version
            merged[key] = group
            versions[slot] = max(versions.get(slot, ""), version)
        elif _wins(version, value, versions.get(slot), merged.get(key)):
            merged[key] = value
            versions[slot] = version
    if complete and version > snapshot:
        versions[snapshot_slot] = version
        for key in [k for k in merged if k not in incoming]:
            if versions.get(f"{map_name}.{key}", "") < version:
                del merged[key]
                # Its slots go too (the snapshot's version keeps it out): the item does not keep what it lost.
                for slot in [s for s in versions if s == f"{map_name}.{key}" or s.startswith(f"{map_name}.{key}.")]:
                    del versions[slot]
    return merged


def _silent(value: Any) -> bool:
    """What an observation carries when it does not know: nothing, or an empty value."""
    return value is None or (isinstance(value, str | list | tuple | dict) and not value)


def _wins(version: str, value: Any, held_version: str | None, held_value: Any) -> bool:
    if held_version is None or version > held_version:
        return True
    if version < held_version:
        return False
    # Same instant, same event: break the tie on the value so every order agrees.
    return _sort_key(value) > _sort_key(held_value)


def _sort_key(value: Any) -> str:
    if hasattr(value, "model_dump"):
        value = value.model_dump(mode="json")
    return json.dumps(value, sort_keys=True, default=str)


Derive = Callable[[Resource], Resource]
# What else a merged record calls for before it is written (an endpoint config described, ownership tags
# written): more observations, folded into the same write. Asked once; its answer is kept for any retry.
FollowedBy = Callable[[Resource], list[Observation]]


class Unread:
    """No record passed in: read it from the inventory."""


UNREAD = Unread()


def apply(
    inventory: Inventory,
    observation: Observation,
    derive: Derive = lambda r: r,
    now: datetime | None = None,
    held: "Resource | None | Unread" = UNREAD,
    followed_by: FollowedBy | None = None,
) -> Applied:
    """Merge an observation into the stored record and write it back, retrying on concurrent writes.

    ``derive`` recomputes derived fields (owner, activity) from the merged record before the write, so
    the record and its attribution land together or not at all. The observation's time is bounded by
    ``now`` (the guardian's clock unless given): a stamp from the future counts as now. ``held``: the record
    as the caller just read it (None: it read that there is none), so it is not read again; the write is
    conditional on its revision all the same, and a stale one is read afresh. ``followed_by``: see FollowedBy.
    One observation costs one conditional write (with its history entry, when the state moved), or none.
    """
    claimed = observation
    observation = bounded(observation, now or clock.now())
    if observation is not claimed:
        logger.warning(
            "observation stamped in the future: ranked as now",
            extra={
                "arn": observation.arn,
                "origin": observation.origin,
                "source_id": observation.source_id,
                "stamped": claimed.observed_at.isoformat(),
                "ranked_at": observation.observed_at.isoformat(),
            },
        )
    following: list[Observation] | None = None
    for attempt in range(MAX_WRITE_ATTEMPTS):
        before = held if attempt == 0 and not isinstance(held, Unread) else inventory.get(observation.arn)
        after = derive(merge(before, observation))
        if followed_by is not None:
            if following is None:
                following = [bounded(more, now or clock.now()) for more in followed_by(after)]
            for more in following:
                after = derive(merge(after, more))
        if before is not None and _content(before) == _content(after):
            return Applied(before, before, changed=False)
        after = after.model_copy(update={"revision": (before.revision if before else 0) + 1})
        try:
            inventory.put(after, before.revision if before else 0, _history(before, after, observation))
        except Conflict:
            continue
        return Applied(before, after, changed=True)
    raise Conflict(f"gave up on {observation.arn} after {MAX_WRITE_ATTEMPTS} concurrent updates")


def rewrite(
    inventory: Inventory, arn: str, derive: Derive, held: "Resource | None | Unread" = UNREAD
) -> Applied | None:
    """Recompute a record's derived fields (after what they depend on changed) and store it if different.
    ``held``: the record as the caller holds it, not read again (as for :func:`apply`)."""
    for attempt in range(MAX_WRITE_ATTEMPTS):
        before = held if attempt == 0 and not isinstance(held, Unread) else inventory.get(arn)
        if before is None:
            return None
        after = derive(before)
        if _content(before) == _content(after):
            return Applied(before, before, changed=False)
        after = after.model_copy(update={"revision": before.revision + 1})
        try:
            inventory.put(after, before.revision, None)
        except Conflict:
            continue
        return Applied(before, after, changed=True)
    raise Conflict(f"gave up on {arn} after {MAX_WRITE_ATTEMPTS} concurrent updates")


def _content(record: Resource) -> dict[str, Any]:
    return record.model_dump(exclude={"revision"})


def _history(before: Resource | None, after: Resource, observation: Observation) -> HistoryEntry | None:
    """A transition between two known states (a first sighting is the record itself, not history)."""
    old_state = before.state if before else None
    if old_state is None or after.state == old_state:
        return None
    return HistoryEntry(
        version=observation.version,
        at=observation.observed_at,
        origin=observation.origin,
        state_before=old_state,
        state_after=after.state,
    )


def gone_observation(record: Resource, at: datetime, source_id: str, origin: str) -> Observation:
    """The observation that a resource no longer exists (the sweep no longer lists it)."""
    return Observation(
        arn=record.arn,
        kind=record.kind,
        observed_at=at,
        source_id=source_id,
        origin=origin,
        via=Via.DESCRIBE,  # the sweep's list no longer names it
        fields={"state": GONE, "deleted_at": record.deleted_at or at},
    )


class MemoryInventory:
    """An inventory held in memory: read-only audits (`guardian inventory`, `guardian scan`)."""

    def __init__(self) -> None:
        self._records: dict[str, Resource] = {}
        self.history: list[tuple[str, HistoryEntry]] = []

    def get(self, arn: str) -> Resource | None:
        return self._records.get(arn)

    def put(self, record: Resource, expected_revision: int, history: HistoryEntry | None) -> None:
        held = self._records.get(record.arn)
        if (held.revision if held else 0) != expected_revision:
            raise Conflict(record.arn)
        self._records[record.arn] = record
        if history:
            self.history.append((record.arn, history))

    def by_kind(self, kind: Kind, at: Location | None = None) -> Iterator[Resource]:
        records = (r for r in self._records.values() if r.kind is kind and _located(r, at))
        return iter(sorted(records, key=lambda r: r.arn))

    def by_space(self, space_arn: str) -> list[Resource]:
        return [r for r in self._records.values() if r.space_arn == space_arn]

    def by_name(self, kind: Kind, name: str, at: Location | None = None) -> list[Resource]:
        return [
            r for r in self._records.values() if r.kind is kind and r.name.lower() == name.lower() and _located(r, at)
        ]

    def by_owner(self, owner_key: str, outside_spaces: bool = False) -> list[Resource]:
        return [
            r
            for r in self._records.values()
            if (r.owner_arn or r.owner) == owner_key and (not outside_spaces or _outside_spaces(r))
        ]

    def all(self) -> list[Resource]:
        return sorted(self._records.values(), key=lambda r: (r.kind.value, r.arn))


def _located(record: Resource, at: Location | None) -> bool:
    return at is None or (record.account == at.account and record.region == at.region)


def _outside_spaces(record: Resource) -> bool:
    """A space, or what belongs to no space (Inventory.by_owner's ``outside_spaces``)."""
    return record.kind is Kind.SPACE or not record.space_arn
