"""Parsing ARNs and times is total: any text goes in, a value or a refusal (None, InvalidEvent) comes out,
never an exception. What parses well round-trips; what does not is never mistaken for a resource."""

from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest
from hypothesis import example, given
from hypothesis import strategies as st

from guardian import arns, clock
from guardian.arns import Location, canonical, kind_of, location_of, resource_name, resource_path, well_formed
from guardian.events import REASONS, InvalidEvent, translate
from guardian.kinds import Kind
from tests.conftest import sample

# Any text at all, lone surrogates and control characters included.
ANY_TEXT = st.text(st.characters(codec=None, exclude_categories=()), max_size=80)
NAMES = st.from_regex(r"[A-Za-z0-9][A-Za-z0-9-]{0,20}", fullmatch=True)
# Text that looks like an ARN often enough to reach every branch: the six parts from a small vocabulary.
PART = st.one_of(
    st.sampled_from(["", "arn", "aws", "aws-cn", "sagemaker", "elasticmapreduce", "iam", "us-east-1", "123456789012"]),
    ANY_TEXT,
)
RESOURCE = st.lists(
    st.one_of(st.sampled_from(["space", "app", "user-profile", "endpoint", "cluster", "domain", "", "x"]), ANY_TEXT),
    max_size=6,
).map("/".join)
ARN_LIKE = st.builds(lambda parts, resource: ":".join([*parts, resource]), st.lists(PART, max_size=6), RESOURCE)
JUNK = st.one_of(
    ANY_TEXT,
    ARN_LIKE,
    st.sampled_from(
        ["x", "", "arn:aws", "arn:aws:sagemaker", "arn:" * 5, "\ud800", "a" * 100_000, "arn:aws:" + "x" * 5000]
    ),
)


@given(JUNK)
@example("studio-cost-guardian:space-arn=x")
@example("arn:aws:sagemaker:us-east-1:123456789012:space")
@example("arn:aws:sagemaker:us-east-1:123456789012:space/")
@example("arn:aws:sagemaker:us-east-1:123456789012:space/d-1/İ")
def test_arn_functions_never_raise_on_any_text(text: str) -> None:
    key = canonical(text)
    assert isinstance(key, str)
    assert canonical(key) == key
    kind = kind_of(text)
    assert kind is None or isinstance(kind, Kind)
    assert kind_of(key) is kind
    location = location_of(text)
    assert isinstance(location, Location)
    path = resource_path(text)
    assert isinstance(path, list) and all(isinstance(part, str) for part in path)
    name = resource_name(text)
    assert name is None or (name and name == path[-1])
    parsed = arns.parse(text)
    if parsed is None:
        assert (key, location, path, kind) == (text, Location(region="", account=""), [], None)


@given(JUNK)
def test_what_kind_of_says_is_a_resource_has_every_name_in_place(text: str) -> None:
    """Callers index resource_path of an ARN whose kind is known: its parts are all there, and the
    ARN rebuilt from them is the same key."""
    kind = kind_of(text)
    if kind is None:
        return
    path, location = resource_path(text), location_of(text)
    assert all(arns.NAME.fullmatch(part) for part in path)
    rebuilt = {
        Kind.DOMAIN: lambda: location.domain(*path),
        Kind.USER_PROFILE: lambda: location.user_profile(*path),
        Kind.SPACE: lambda: location.space(*path),
        Kind.APP: lambda: location.app(*path),
        Kind.ENDPOINT: lambda: location.endpoint(*path),
        Kind.HYPERPOD_CLUSTER: lambda: location.sagemaker(f"cluster/{path[0]}"),
        Kind.MLFLOW_TRACKING_SERVER: lambda: location.mlflow_tracking_server(*path),
        Kind.NOTEBOOK_INSTANCE: lambda: location.notebook_instance(*path),
        Kind.EMR_CLUSTER: lambda: location.emr_cluster(*path),
    }[kind]()
    assert rebuilt == canonical(text)


@given(st.sampled_from(["us-east-1", "eu-central-2", "us-gov-west-1"]), NAMES, NAMES, NAMES)
def test_arns_built_from_valid_names_are_well_formed(region: str, domain_id: str, holder: str, name: str) -> None:
    location = Location(region=region, account="123456789012")
    cases = [
        (location.domain(domain_id), Kind.DOMAIN),
        (location.user_profile(domain_id, name), Kind.USER_PROFILE),
        (location.space(domain_id, name), Kind.SPACE),
        (location.app(domain_id, holder, "JupyterLab", name), Kind.APP),
        (location.endpoint(name), Kind.ENDPOINT),
        (location.notebook_instance(name), Kind.NOTEBOOK_INSTANCE),
        (location.mlflow_tracking_server(name), Kind.MLFLOW_TRACKING_SERVER),
        (location.emr_cluster(name), Kind.EMR_CLUSTER),
    ]
    for arn, kind in cases:
        assert well_formed(arn, kind), arn
        last = domain_id if kind is Kind.DOMAIN else name
        assert resource_name(arn) == (last if kind is Kind.EMR_CLUSTER else last.lower())
        assert location_of(arn) == location


@pytest.mark.parametrize(
    ("junk", "why"),
    [
        ("x", "no ARN"),
        ("", "empty"),
        ("arn:aws", "two parts"),
        ("arn:aws:sagemaker:us-east-1:123456789012:space/d-1", "a space ARN without the space's name"),
        ("arn:aws:sagemaker:us-east-1:123456789012:space/d-1/a/b", "a name with a slash in it"),
        ("arn:aws:sagemaker:us-east-1:123456789012:app/d-1//jupyterlab/default", "an app without its space"),
        ("arn:aws:sagemaker:us-east-1:12345:endpoint/e", "a short account"),
        ("arn:aws:sagemaker::123456789012:endpoint/e", "no region"),
        ("arn:aws:sagemaker:us-east-1:123456789012:endpoint/e f", "a space in a name"),
        ("arn:aws:sagemaker:us-east-1:123456789012:endpoint/\ud800", "a lone surrogate"),
        ("arn:aws:sagemaker:us-east-1:123456789012:endpoint/" + "e" * 5000, "longer than any ARN"),
        ("arn:aws:s3:::bucket/key", "a resource the guardian does not track"),
    ],
)
def test_what_is_not_a_tracked_resource_has_no_kind(junk: str, why: str) -> None:
    assert kind_of(junk) is None, why
    assert not any(well_formed(junk, kind) for kind in Kind)


# --- times -------------------------------------------------------------------------------------------

ANY_MOMENT = st.datetimes(
    min_value=datetime(1, 1, 2), max_value=datetime(9999, 12, 30), timezones=st.one_of(st.none(), st.timezones())
) | st.builds(
    lambda at, minutes: at.replace(tzinfo=timezone(timedelta(minutes=minutes))),
    st.sampled_from([datetime(1, 1, 1), datetime(9999, 12, 31, 23, 59, 59)]),
    st.integers(-23 * 60 - 59, 23 * 60 + 59),
)


@given(ANY_MOMENT)
def test_implausible_says_why_for_any_moment_and_never_raises(moment: datetime) -> None:
    why = clock.implausible(moment)
    assert why is None or isinstance(why, str)
    if why is None:
        at = moment if moment.tzinfo else moment.replace(tzinfo=UTC)
        assert clock.EARLIEST <= at <= clock.now() + clock.FUTURE_SKEW


def test_the_bounds_of_a_plausible_moment() -> None:
    now = clock.now()
    assert clock.implausible(now) is None
    assert clock.implausible(now + timedelta(minutes=4)) is None
    assert "after now" in (clock.implausible(now + timedelta(minutes=6)) or "")
    assert "before 2006" in (clock.implausible(datetime(2005, 12, 31, 23, 59, tzinfo=UTC)) or "")
    assert clock.implausible(datetime(2006, 1, 1)) is None  # no zone: read as UTC
    assert clock.implausible(datetime(9999, 12, 31, 23, 59, tzinfo=timezone(timedelta(hours=-14)))) is not None


TIMES: list[Any] = [
    "9999-12-31T23:59:59Z",
    "9999-12-31T23:59:59-14:00",
    "0001-01-01T00:00:00+14:00",
    "1970-01-01T00:00:00Z",
    "2005-12-31T23:59:59Z",
    "2026-13-45T99:99:99Z",
    0,
    -1,
    10**20,
    float("nan"),
    float("inf"),
    True,
    None,
    [],
    {},
    "\ud800",
]


@pytest.mark.parametrize("field", ["time", "detail.eventTime"])
@pytest.mark.parametrize("value", TIMES, ids=repr)
def test_an_event_stamped_with_an_impossible_time_is_rejected_naming_the_field(field: str, value: Any) -> None:
    event = sample("cloudtrail_CreateEndpoint.json")
    if field == "time":
        event["time"] = value
    else:
        event["detail"] = event["detail"] | {"eventTime": value}
    with pytest.raises(InvalidEvent) as rejected:
        translate(event)
    assert rejected.value.reason in ("out-of-range", "malformed")
    assert field.split(".")[-1] in rejected.value.message


@pytest.mark.parametrize("field", ["time", "detail.eventTime"])
def test_an_event_from_the_future_or_before_aws_is_out_of_range(field: str) -> None:
    for moment in (
        clock.now() + timedelta(hours=1),
        datetime(9999, 12, 31, tzinfo=UTC),
        datetime(2001, 1, 1, tzinfo=UTC),
    ):
        event = sample("cloudtrail_CreateEndpoint.json")
        stamp = moment.strftime("%Y-%m-%dT%H:%M:%SZ")
        if field == "time":
            event["time"] = stamp
        else:
            event["detail"] = event["detail"] | {"eventTime": stamp}
        with pytest.raises(InvalidEvent) as rejected:
            translate(event)
        assert rejected.value.reason == "out-of-range"
        assert field in rejected.value.message


def test_an_endpoint_event_whose_creation_time_is_in_the_future_is_out_of_range() -> None:
    event = sample("endpoint_state_change_IN_SERVICE.json")
    event["detail"] = event["detail"] | {"CreationTime": (clock.now() + timedelta(days=1)).timestamp() * 1000}
    with pytest.raises(InvalidEvent) as rejected:
        translate(event)
    assert (rejected.value.reason, "detail.CreationTime" in rejected.value.message) == ("out-of-range", True)


def test_an_event_a_few_minutes_ahead_of_the_clock_is_accepted() -> None:
    """Clocks drift: a stamp up to five minutes after the guardian's now is still believed."""
    event = sample("cloudtrail_CreateEndpoint.json")
    stamp = (clock.now() + timedelta(minutes=3)).strftime("%Y-%m-%dT%H:%M:%SZ")
    event["time"] = stamp
    event["detail"] = event["detail"] | {"eventTime": stamp}
    [observation] = translate(event).observations
    assert observation.observed_at.strftime("%Y-%m-%dT%H:%M:%SZ") == stamp


def test_reasons_are_the_documented_few() -> None:
    assert set(REASONS) == {"malformed", "unsupported", "out-of-range", "stale", "foreign-account"}


def test_a_rejection_message_is_a_printable_log_line_whatever_the_event_held() -> None:
    event = sample("cloudtrail_CreateEndpoint.json")
    event["detail"] = event["detail"] | {"eventName": "Create\ud800" + "x" * 100_000}
    with pytest.raises(InvalidEvent) as rejected:
        translate(event)
    assert len(rejected.value.message) <= 500
    rejected.value.message.encode("utf-8")  # no lone surrogate left in it
