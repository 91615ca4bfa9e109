"""Time is bounded in the inventory: an observation stamped in the future, whatever path it came by, is
ranked as if made now, so it can never freeze a record against the true observations after it."""

from datetime import UTC, datetime, timedelta

import pytest

from guardian import clock
from guardian.inventory import AHEAD, MemoryInventory, apply, bounded, merge
from guardian.kinds import Kind
from guardian.resource import Observation

ARN = "arn:aws:sagemaker:us-east-1:123456789012:endpoint/fraud"
NOW = datetime(2026, 11, 20, 8, tzinfo=UTC)
FUTURE = [timedelta(seconds=2), timedelta(minutes=6), timedelta(days=1), timedelta(days=365 * 70)]


def seen(at, source_id, fields, origin="test"):
    return Observation(arn=ARN, kind=Kind.ENDPOINT, observed_at=at, source_id=source_id, origin=origin, fields=fields)


@pytest.mark.parametrize("ahead", FUTURE, ids=str)
def test_a_future_stamped_observation_then_a_real_delete_leaves_the_record_deleted(ahead):
    inventory = MemoryInventory()
    apply(inventory, seen(NOW - timedelta(hours=1), "create", {"state": "Creating", "name": "fraud"}), now=NOW)
    bad = seen(NOW + ahead, "sweep:bad", {"state": "InService", "instance_type": "ml.g5.xlarge"}, origin="sweep")
    assert apply(inventory, bad, now=NOW).after.state == "InService"  # what it says is kept, its time is not
    record = inventory.get(ARN)
    assert all(version <= f"{NOW + AHEAD:%Y-%m-%dT%H:%M:%S.%f}Z~" for version in record.versions.values())
    later = NOW + timedelta(minutes=1)
    deleted = apply(inventory, seen(later, "delete", {"state": "Deleted", "deleted_at": later}), now=later).after
    assert (deleted.state, deleted.deleted_at) == ("Deleted", later)
    assert deleted.instance_type == "ml.g5.xlarge"  # a field nothing newer set stays
    assert deleted.first_seen_at == NOW - timedelta(hours=1)


def test_the_guardians_clock_bounds_it_when_no_moment_is_given():
    clock.set_offset(NOW - datetime.now(UTC))
    inventory = MemoryInventory()
    apply(inventory, seen(datetime(2099, 1, 1, tzinfo=UTC), "sweep:bad", {"state": "InService"}))
    clock.set_offset(NOW + timedelta(seconds=30) - datetime.now(UTC))
    apply(inventory, seen(NOW + timedelta(seconds=30), "delete", {"state": "Deleted"}))
    assert inventory.get(ARN).state == "Deleted"


def test_a_first_sighting_from_the_future_is_first_seen_now():
    record = merge(None, seen(NOW + timedelta(days=3), "a", {"state": "InService"}), now=NOW)
    assert record.first_seen_at == NOW + AHEAD


@pytest.mark.parametrize("ahead", [timedelta(0), AHEAD, -timedelta(days=1)], ids=str)
def test_a_true_stamp_is_left_as_it_is(ahead):
    observation = seen(NOW + ahead, "a", {"state": "InService"})
    assert bounded(observation, NOW) is observation
    assert merge(None, observation, now=NOW) == merge(None, observation)


def test_without_a_moment_merge_stays_pure():
    far = seen(datetime(2099, 1, 1, tzinfo=UTC), "a", {"state": "InService"})
    assert merge(None, far).first_seen_at == datetime(2099, 1, 1, tzinfo=UTC)
