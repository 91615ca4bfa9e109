"""When a space last stopped comes from its apps' recorded ends, and is unknown when an app nobody dated may
have gone later: nothing downstream (orphans, stale storage) counts from a guess."""

from datetime import UTC, datetime, timedelta

from guardian.derive import space_activity
from guardian.inventory import merge
from guardian.kinds import Kind
from guardian.resource import Observation, Resource, Via

T0 = datetime(2026, 11, 20, 8, tzinfo=UTC)
SPACE = "arn:aws:sagemaker:us-east-1:123456789012:space/d-1/lab"


def app(name: str, seen_gone_hours: float, deleted_hours: float | None) -> Resource:
    """An app of the space, seen deleted ``seen_gone_hours`` after T0, its end dated or not."""
    fields = {"name": name, "state": "Deleted", "studio_space": "lab", "domain_id": "d-1"}
    if deleted_hours is not None:
        fields["deleted_at"] = T0 + timedelta(hours=deleted_hours)
    observation = Observation(
        arn=f"arn:aws:sagemaker:us-east-1:123456789012:app/d-1/lab/jupyterlab/{name}",
        kind=Kind.APP,
        observed_at=T0 + timedelta(hours=seen_gone_hours),
        source_id=f"sweep:{seen_gone_hours}",
        origin="test",
        via=Via.DESCRIBE,
        fields=fields,
    )
    return merge(None, observation)


def test_the_last_recorded_end_is_when_the_space_stopped():
    activity = space_activity([app("a", 2, deleted_hours=1), app("b", 6, deleted_hours=5)])
    assert (activity.running, activity.at) == (False, T0 + timedelta(hours=5))


def test_an_undated_app_seen_gone_before_the_last_recorded_end_changes_nothing():
    activity = space_activity([app("old", 3, deleted_hours=None), app("b", 6, deleted_hours=5)])
    assert activity.at == T0 + timedelta(hours=5)


def test_an_undated_app_seen_gone_after_the_last_recorded_end_makes_the_stop_unknown():
    """It may have run until just before the sweep saw it deleted: the space was in use after 5 h."""
    activity = space_activity([app("b", 6, deleted_hours=5), app("short", 9, deleted_hours=None)])
    assert (activity.running, activity.at) == (False, None)
