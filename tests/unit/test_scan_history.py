"""Who created a resource, read from CloudTrail's event history (guardian.evidence.Evidence.creation): the
caller of the Create call of this life of the resource, never a namesake's before or after it, whatever the
pages LookupEvents answers in, within the budget of calls; and how far each source of an owner is trusted."""

import copy
import json
from datetime import UTC, datetime, timedelta
from typing import Any
from unittest.mock import patch

from hypothesis import given
from hypothesis import strategies as st

from guardian.attribution import STRONG_SOURCES, confidence
from guardian.evidence import Evidence
from guardian.kinds import Kind
from guardian.remediation import safety
from guardian.resource import Resource, Source
from tests.conftest import sample

NOW = datetime(2026, 11, 30, 12, tzinfo=UTC)
ARN = "arn:aws:sagemaker:us-east-1:123456789012:endpoint/fraud-xgb"


def create_call(name: str, at: datetime, who: str, number: int) -> dict[str, Any]:
    """A CreateEndpoint as LookupEvents returns it, made by ``who``'s Studio session (its source identity)."""
    detail = copy.deepcopy(sample("cloudtrail_CreateEndpoint.json")["detail"])
    event_id = f"00000000-0000-4000-8000-{number:012d}"
    detail |= {"eventTime": at.strftime("%Y-%m-%dT%H:%M:%SZ"), "eventID": event_id}
    detail["userIdentity"]["sessionContext"]["sourceIdentity"] = who
    detail["requestParameters"]["endpointName"] = name
    detail["responseElements"]["endpointArn"] = f"arn:aws:sagemaker:us-east-1:123456789012:endpoint/{name}"
    return {"EventId": event_id, "EventName": "CreateEndpoint", "EventTime": at, "CloudTrailEvent": json.dumps(detail)}


class History:
    """LookupEvents over ``calls``: newest first, in pages of ``page`` (AWS may answer fewer than asked)."""

    def __init__(self, calls: list[dict[str, Any]], page: int) -> None:
        self.calls = sorted(calls, key=lambda c: c["EventTime"], reverse=True)
        self.page = page
        self.made = 0

    def __call__(self, service: str) -> "History":
        return self

    def lookup_events(self, **request: Any) -> dict[str, Any]:
        self.made += 1
        start = int(request.get("NextToken", 0))
        answer: dict[str, Any] = {"Events": self.calls[start : start + self.page]}
        if start + self.page < len(self.calls):
            answer["NextToken"] = str(start + self.page)
        return answer


lives = st.lists(st.integers(min_value=11, max_value=60 * 24 * 20), min_size=1, max_size=4)  # minutes apart


@given(
    gaps=lives,
    others=st.lists(st.integers(min_value=0, max_value=60 * 24 * 80), max_size=30),
    page=st.integers(min_value=1, max_value=50),
    which=st.integers(min_value=0),
    skew=st.integers(min_value=-90, max_value=90),
    budget=st.integers(min_value=1, max_value=40),
)
def test_the_creator_is_of_this_life_of_the_resource_and_never_a_namesakes(gaps, others, page, which, skew, budget):
    # Lives of fraud-xgb, each made by someone else, among other endpoints' creations.
    born, moments = NOW - timedelta(days=85), []
    for gap in gaps:
        born += timedelta(minutes=gap)
        moments.append(born.replace(microsecond=0))
    calls = [create_call("fraud-xgb", at, f"user{i}", i) for i, at in enumerate(moments)]
    calls += [create_call(f"other-{i}", NOW - timedelta(minutes=m), "someone", 1000 + i) for i, m in enumerate(others)]
    life = which % len(moments)
    # The resource as the scan's describe sees it: its own creation time, a little off CloudTrail's.
    endpoint = Resource(
        arn=ARN, kind=Kind.ENDPOINT, name="fraud-xgb", created_at=moments[life] + timedelta(seconds=skew)
    )
    history = History(calls, page)
    with patch("guardian.evidence.PACE_SECONDS", 0):
        evidence = Evidence(history, NOW, max_calls=budget)
        found = evidence.creation(endpoint)
    assert history.made <= budget
    if found is None:  # only when the budget ran out before reaching its creation
        assert evidence.failed and "spent" in evidence.failed
        return
    assert found.fields["creator"].source_identity == f"user{life}"
    assert found.fields["creator"].event_name == "CreateEndpoint"


def test_older_than_cloudtrail_keeps_costs_no_call_and_names_nobody():
    history = History([create_call("fraud-xgb", NOW - timedelta(days=100), "alice", 1)], page=50)
    old = Resource(arn=ARN, kind=Kind.ENDPOINT, name="fraud-xgb", created_at=NOW - timedelta(days=100))
    assert Evidence(history, NOW).creation(old) is None and history.made == 0


def test_confidence_follows_the_source_and_remediation_trusts_only_strong_evidence():
    assert {s for s in Source if confidence(s) == "strong"} == set(STRONG_SOURCES) == set(safety.STRONG_SOURCES)
    assert {s for s in Source if confidence(s) == "weak"} == {Source.EXECUTION_ROLE, Source.GUARDIAN_TAG}
    assert confidence(Source.UNATTRIBUTED) == "none"
