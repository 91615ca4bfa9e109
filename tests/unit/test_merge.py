"""Merging observations: an older event never overwrites newer state, maps merge key by key, a complete
view (the sweep's) removes what it no longer sees without letting older events revive it, and a silence
(a field absent, None or empty) never overwrites a fact: only the describe may say a field is empty."""

from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st
from pydantic import ValidationError

from guardian.inventory import MemoryInventory, apply, merge
from guardian.kinds import Kind
from guardian.resource import Observation, Via, provenance_of

ARN = "arn:aws:sagemaker:us-east-1:123456789012:endpoint/fraud"
T0 = datetime(2026, 11, 20, 8, tzinfo=UTC)


def seen(minutes, source_id, fields=None, tags=None, groups=None, complete=False, via=None):
    return Observation(
        arn=ARN,
        kind=Kind.ENDPOINT,
        observed_at=T0 + timedelta(minutes=minutes),
        source_id=source_id,
        origin="test",
        via=via or (Via.DESCRIBE if complete else Via.EVENT),  # only a describe sees every tag
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


# --- Absent is not zero: a silence never overwrites a fact -------------------------------------------

KNOWN = {
    "state": "InService",
    "instance_count": 2,
    "instance_type": "ml.m5.xlarge",
    "studio_owner": "alice",
    "endpoint_config_name": "fraud-config",
    "auto_termination_idle_seconds": 3600,
}
NEWS = {
    "state": "Updating",
    "instance_count": 3,
    "instance_type": "ml.c5.xlarge",
    "studio_owner": "bob",
    "endpoint_config_name": "fraud-config-2",
    "auto_termination_idle_seconds": 60,
}
# What an event says of each field: nothing (absent), None, "" (silences), or news.
SAID = st.fixed_dictionaries({}, optional={name: st.sampled_from([None, "", news]) for name, news in NEWS.items()})


@given(said=SAID, minutes=st.integers(min_value=-30, max_value=30).filter(bool))  # 0: a tie, by rank
def test_an_event_that_lacks_a_field_or_says_none_leaves_the_known_value(said, minutes):
    known = merge(None, seen(0, "sweep:t0", KNOWN, groups={"AllTraffic": {"instance_count": 2}}, complete=True))
    partial_groups = {"AllTraffic": {"instance_count": None, "instance_type": ""}}
    after = merge(known, seen(minutes, "event", said, groups=partial_groups))
    for name, value in KNOWN.items():
        spoke = said.get(name) not in (None, "")
        expected = said[name] if spoke and minutes > 0 else value
        assert getattr(after, name) == expected, name
    assert after.groups["AllTraffic"].instance_count == 2


def test_only_the_describe_may_say_a_field_is_empty_and_only_when_it_is_the_newest_word():
    known = merge(None, seen(0, "a", {"auto_termination_idle_seconds": 3600, "state": "WAITING"}))
    assert merge(known, seen(5, "event", {"auto_termination_idle_seconds": None})).auto_termination_idle_seconds == 3600
    described = merge(known, seen(5, "sweep:t5", {"auto_termination_idle_seconds": None}, via=Via.DESCRIBE))
    assert described.auto_termination_idle_seconds is None  # the policy was removed: the describe says so
    newer_event = merge(
        merge(None, seen(10, "b", {"auto_termination_idle_seconds": 60})),
        seen(5, "sweep:t5", {"auto_termination_idle_seconds": None}, via=Via.DESCRIBE),
    )
    assert newer_event.auto_termination_idle_seconds == 60  # an older describe does not blank a newer fact


def test_a_complete_view_is_the_describes_alone():
    with pytest.raises(ValidationError, match="complete_maps needs via=describe"):
        seen(0, "event", tags={"team": "fraud"}, complete=True, via=Via.EVENT)


def test_each_field_remembers_where_and_when_it_came_from():
    record = merge(None, seen(0, "sweep:t0", {"state": "InService", "instance_count": 2}, via=Via.DESCRIBE))
    record = merge(record, seen(5, "evt-1", {"state": "Updating"}, groups={"AllTraffic": {"instance_count": 3}}))
    record = merge(record, seen(6, "guardian-tag:t6", tags={"studio-cost-guardian:owner": "alice"}, via=Via.TAG))
    state, count = record.provenance("state"), record.provenance("instance_count")
    assert (state.via, state.at, state.source_id) == (Via.EVENT, T0 + timedelta(minutes=5), "evt-1")
    assert (count.via, count.at, count.source_id) == (Via.DESCRIBE, T0, "sweep:t0")
    assert record.provenance("groups.AllTraffic.instance_count").via is Via.EVENT
    assert record.provenance("tags.studio-cost-guardian:owner").via is Via.TAG
    assert record.provenance("instance_type") is None  # never observed


def test_a_version_written_before_provenance_reads_as_unknown_origin():
    old = "2026-11-20T08:00:00.000000Z#03#d2921b5a-b0ad-cace-a8e3-0f159d018e06"
    found = provenance_of(old)
    assert (found.via, found.source_id, found.at) == (None, "d2921b5a-b0ad-cace-a8e3-0f159d018e06", T0)


OBSERVATIONS = [
    seen(0, "sweep:t0", {"state": "WAITING", "auto_termination_idle_seconds": 3600}, tags={"a": "1"}, complete=True),
    seen(5, "e1", {"state": "RUNNING", "auto_termination_idle_seconds": None}, groups={"g": {"instance_count": 2}}),
    seen(7, "sweep:t7", {"auto_termination_idle_seconds": None, "instance_count": 0}, tags={"b": "2"}, complete=True),
    seen(7, "e2", {"instance_count": None, "name": ""}, groups={"g": {"instance_count": None, "instance_type": "m5"}}),
    seen(9, "e3", {"auto_termination_idle_seconds": 60}, tags={"c": ""}),
]


@given(st.permutations(OBSERVATIONS + OBSERVATIONS[:2]))
def test_with_silences_merging_still_gives_one_record_in_any_order_with_duplicates(order):
    record = None
    for observation in order:
        record = merge(record, observation)
    in_order = None
    for observation in OBSERVATIONS:
        in_order = merge(in_order, observation)
    assert record == in_order
    assert (record.auto_termination_idle_seconds, record.instance_count, record.tags) == (60, 0, {"b": "2", "c": ""})
