"""The ingest function, fed a deterministic sample of the mutation corpus (tests/unit/test_mutation_corpus):
each event is recorded or rejected the designed way (InvalidEvent, logged and counted), nothing else
escapes, and no record it leaves in the table is malformed."""

import itertools
from datetime import datetime
from typing import Any

import pytest

from guardian import clock
from guardian.dynamo_inventory import DynamoInventory
from guardian.events import InvalidEvent, from_cloudtrail_record
from guardian.kinds import Kind
from guardian.resource import Resource
from guardian_sandbox.stack import SandboxStack
from tests.conftest import reference, sent_now
from tests.unit.test_mutation_corpus import _is_record, _problems_of_arn, _problems_of_value, corpus

SAMPLE_EVERY = 50  # of ~29,000: about 580 events, a few seconds


def _problems_of_record(record: Resource, now: datetime) -> list[str]:
    found = list(_problems_of_arn(record.arn, record.kind))
    if record.name != record.name.strip() or (record.name == "" and record.kind is not Kind.EMR_CLUSTER):
        found.append(f"name {record.name!r} is blank")  # only an EMR cluster met by its groups has none yet
    values: dict[str, Any] = record.model_dump(exclude={"attribution", "creator"})
    found += _problems_of_value("record", values, now)
    for field in ("owner_arn", "space_arn"):
        arn = getattr(record.attribution, field)
        kind = Kind.USER_PROFILE if field == "owner_arn" else Kind.SPACE
        if arn is not None:
            found += [f"attribution.{field}: {p}" for p in _problems_of_arn(arn, kind)]
    return found


def test_mutated_events_are_recorded_well_or_rejected_by_design(stack: SandboxStack) -> None:
    escaped: dict[str, str] = {}
    rejected = recorded = 0
    for label, event in itertools.islice(corpus(), 0, None, SAMPLE_EVERY):
        wrapped = event
        if _is_record(event):
            try:
                wrapped = from_cloudtrail_record(event)
            except InvalidEvent:
                rejected += 1
                continue
        try:
            stack.invoke("IngestFunction", wrapped)
            recorded += 1
        except InvalidEvent:
            rejected += 1
        except Exception as error:
            escaped[label] = f"{type(error).__name__}: {str(error)[:200]}"
    assert escaped == {}
    assert recorded and rejected  # the sample holds both
    inventory = DynamoInventory(stack.clients("dynamodb"), stack.table_name)
    now = clock.now()
    records = [record for kind in Kind for record in inventory.by_kind(kind)]
    assert records
    garbage = {record.arn[:120]: problems for record in records if (problems := _problems_of_record(record, now))}
    assert garbage == {}


JUNK_OWNERSHIP_TAGS = [
    {"studio-cost-guardian:owner": "alice", "studio-cost-guardian:space-arn": "x"},
    {"studio-cost-guardian:owner": "alice", "studio-cost-guardian:owner-arn": "x"},
    {"sagemaker:space-arn": "x"},
    {"sagemaker:user-profile-arn": "arn:aws:sagemaker:us-east-1:123456789012:user-profile/d-1"},
]


@pytest.mark.parametrize(
    "tags", JUNK_OWNERSHIP_TAGS, ids=["space-arn=x", "owner-arn=x", "auto-space=x", "auto-profile-cut"]
)
def test_a_user_set_ownership_tag_that_is_no_arn_is_ignored(stack: SandboxStack, tags: dict[str, str]) -> None:
    event = sent_now(reference("eb_sagemaker_endpoint_state_change_IN_SERVICE_awsdocs.json"))
    event["detail"] = event["detail"] | {"Tags": tags}
    stack.invoke("IngestFunction", event)
    [record] = DynamoInventory(stack.clients("dynamodb"), stack.table_name).by_kind(Kind.ENDPOINT)
    assert _problems_of_record(record, clock.now()) == []
