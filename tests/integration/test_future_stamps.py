"""Time is bounded. A future stamp, by whatever path, never freezes a record: a sweep run on a clock far
ahead (its describe responses and listings all stamped then) is ranked as now, and the real delete that
follows wins. And an event older than the guardian keeps records (a delayed replay, a forged stamp) is
rejected with its reason: applied, it would bring back a resource whose record has expired."""

from datetime import UTC, datetime, timedelta

from guardian import clock
from guardian.arns import Location
from guardian.dynamo_inventory import DynamoInventory
from guardian.events import STALE, InvalidEvent
from guardian.ingest import RECORD_RETENTION
from guardian.kinds import Kind
from guardian.reconcile import reconcile
from guardian_sandbox.eventfactory import Caller, EventFactory
from guardian_sandbox.stack import SANDBOX_ACCOUNT
from tests.integration.test_ingest import make_endpoint

LOCATION = Location(region="us-east-1", account=SANDBOX_ACCOUNT)
T0 = datetime(2026, 11, 20, 8, tzinfo=UTC)
BOB = Caller(role="AmazonSageMaker-ExecutionRole-Default", source_identity="bob")


def at(moment: datetime) -> None:
    clock.set_offset(moment - datetime.now(UTC))


def test_a_sweep_stamped_in_the_future_then_a_real_delete_leaves_the_endpoint_deleting(stack, guardian):
    arn = make_endpoint(stack.clients)
    events = EventFactory(LOCATION)
    at(T0)
    create = events.api_call(
        "CreateEndpoint", T0, BOB, {"endpointName": "churn", "endpointConfigName": "churn-config"}, {"endpointArn": arn}
    )
    assert all(d.error is None for d in stack.deliver(create))
    at(T0 + timedelta(minutes=10))
    reconcile(guardian, T0 + timedelta(days=3650), LOCATION)  # a sweep whose moment is ten years ahead
    inventory = DynamoInventory(stack.clients("dynamodb"), stack.table_name)
    swept = inventory.get(arn.lower())
    assert swept.state == "InService"  # what the sweep saw is kept; when it claims to have seen it is not
    assert max(swept.versions.values()) < f"{T0 + timedelta(minutes=10, seconds=2):%Y-%m-%dT%H:%M:%S}"
    deleted_at = T0 + timedelta(minutes=11)
    at(deleted_at)
    delete = events.api_call("DeleteEndpoint", deleted_at, BOB, {"endpointName": "churn"})
    assert all(d.error is None for d in stack.deliver(delete))
    assert inventory.get(arn.lower()).state == "Deleting"


def test_an_event_older_than_records_are_kept_is_rejected_and_brings_nothing_back(stack):
    arn = make_endpoint(stack.clients)
    long_ago = datetime.now(UTC) - RECORD_RETENTION - timedelta(days=1)
    create = EventFactory(LOCATION).api_call(
        "CreateEndpoint", long_ago, BOB, {"endpointName": "churn", "endpointConfigName": "c"}, {"endpointArn": arn}
    )
    [delivery] = stack.deliver(create)
    assert isinstance(delivery.error, InvalidEvent) and delivery.error.reason == STALE
    assert "more than 90 days ago" in str(delivery.error)
    assert list(DynamoInventory(stack.clients("dynamodb"), stack.table_name).by_kind(Kind.ENDPOINT)) == []
    [parked] = stack.parked()  # kept for a look, as every rejected event is
    assert parked["requestPayload"]["id"] == create["id"]
    # The same event, in its own time, is applied: only its age is wrong.
    at(long_ago + timedelta(seconds=1))
    assert all(d.error is None for d in stack.deliver(create))
