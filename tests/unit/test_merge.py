"""Merging observations: an older event never overwrites newer state, maps merge key by key, and a
complete view (the sweep's) removes what it no longer sees without letting older events revive it."""

from datetime import UTC, datetime, timedelta

from guardian.inventory import MemoryInventory, apply, merge
from guardian.kinds import Kind
from guardian.resource import Observation

ARN = "arn:aws:sagemaker:us-east-1:123456789012:endpoint/fraud"
T0 = datetime(2026, 11, 20, 8, tzinfo=UTC)


def seen(minutes, source_id, fields=None, tags=None, groups=None, complete=False):
    return Observation(
        arn=ARN,
        kind=Kind.ENDPOINT,
        observed_at=T0 + timedelta(minutes=minutes),
        source_id=source_id,
        origin="test",
        fields=fields or {},
        tags=tags,
        groups=groups,
        complete_maps=complete,
    )


def test_an_older_event_does_not_overwrite_newer_state():
    record = merge(
        merge(None, seen(10, "b", {"state": "Deleting"})), seen(0, "a", {"state": "Creating", "name": "fraud"})
    )
    assert record.state == "Deleting"
    assert record.name == "fraud"  # what only the older event knew is kept


def test_at_the_same_instant_the_later_lifecycle_stage_wins_in_any_order():
    starting, waiting = seen(0, "x", {"state": "Creating"}), seen(0, "x", {"state": "InService"})
    assert merge(merge(None, starting), waiting).state == merge(merge(None, waiting), starting).state == "InService"


def test_tags_and_groups_merge_key_by_key_and_attribute_by_attribute():
    record = merge(None, seen(0, "a", tags={"team": "fraud"}, groups={"AllTraffic": {"instance_type": "ml.m5.xlarge"}}))
    record = merge(record, seen(5, "b", tags={"project": "x"}, groups={"AllTraffic": {"instance_count": 3}}))
    assert record.tags == {"team": "fraud", "project": "x"}
    assert (record.groups["AllTraffic"].instance_type, record.groups["AllTraffic"].instance_count) == (
        "ml.m5.xlarge",
        3,
    )


def test_a_complete_view_removes_what_it_lacks_and_older_partial_views_cannot_bring_it_back():
    partial_old = seen(0, "a", tags={"stale": "1"})
    sweep = seen(10, "sweep", tags={"team": "fraud"}, complete=True)
    for order in ([partial_old, sweep], [sweep, partial_old]):
        record = None
        for observation in order:
            record = merge(record, observation)
        assert record.tags == {"team": "fraud"}
    later = merge(merge(None, sweep), seen(20, "c", tags={"new": "1"}))
    assert later.tags == {"team": "fraud", "new": "1"}


def test_a_duplicate_writes_nothing():
    inventory = MemoryInventory()
    first = apply(inventory, seen(0, "a", {"state": "Creating"}))
    again = apply(inventory, seen(0, "a", {"state": "Creating"}))
    assert first.changed and not again.changed
    assert inventory.get(ARN).revision == 1


def test_state_transitions_are_kept_as_history():
    inventory = MemoryInventory()
    apply(inventory, seen(0, "a", {"state": "Creating"}))
    apply(inventory, seen(5, "b", {"state": "InService"}))
    apply(inventory, seen(6, "c", {"name": "fraud"}))
    assert [(h.state_before, h.state_after) for _, h in inventory.history] == [("Creating", "InService")]
