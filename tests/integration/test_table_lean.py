"""What the guardian's table costs on DynamoDB: each observation one conditional write (the sweep's records not
read again, the ownership tags folded into the same write); records stored without a version per field; indexes
that carry only what their queries read; a finding whose condition simply continues never rewritten (so notify
is not woken); notify not invoked by its own marks; a one-space check reading that space, not the account."""

import contextlib
import io
import json
from collections import Counter
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from guardian import findings as lifecycle
from guardian.cost import Cost
from guardian.dynamo_inventory import _doc, _record
from guardian.evaluation import evaluate
from guardian.findings import MOMENTARY, lasting_evidence
from guardian.inventory import merge
from guardian.kinds import Kind
from guardian.resource import Attribution, Observation, Resource, Source, Via
from guardian.rules import Detection
from guardian.runtime import from_env
from guardian_sandbox.bench_table import item_size, metering
from guardian_sandbox.eventfactory import sample
from guardian_sandbox.stack import SandboxStack
from guardian_sandbox.worlds import Scale, seed

WORLD = Scale(endpoints=6, spaces=3, profiles=2, emr_clusters=2)
NOW = datetime.now(UTC).replace(microsecond=0)


def sweep(stack: SandboxStack) -> dict:
    with contextlib.redirect_stdout(io.StringIO()):  # Powertools' metric flush
        return stack.invoke("SweepFunction", sample("scheduled.json", "sweep"))


@pytest.fixture
def world(sandbox) -> SandboxStack:
    seed(sandbox, WORLD)
    return SandboxStack(sandbox).deploy()


def writes_per_record(log: list[tuple[str, str]]) -> Counter:
    return Counter(pk for op, pk in log if op in ("PutItem", "TransactWriteItems") and pk.startswith("RES#"))


def test_a_first_sweep_writes_each_endpoint_once_and_reads_none_of_them(world):
    """Half the endpoints lack the guardian's tags: writing them (AddTags) and describing their config is part
    of the same single write; the sweep queried the (empty) kind, so no record is read by key."""
    with metering(world) as meter:
        sweep(world)
    endpoints = [f"RES#{e['EndpointArn']}" for e in world.clients("sagemaker").list_endpoints()["Endpoints"]]
    writes = writes_per_record(meter.log)
    reads = Counter(pk for op, pk in meter.log if op in ("GetItem", "BatchGetItem"))
    assert {pk: writes[pk] for pk in endpoints} == dict.fromkeys(endpoints, 1)
    assert not any(reads[pk] for pk in endpoints)


def test_a_steady_sweep_reads_no_record_by_key(world):
    sweep(world)
    with metering(world) as meter:
        sweep(world)
    assert [pk for op, pk in meter.log if op == "GetItem" and pk.startswith("RES#")] == []


def test_an_event_about_a_known_endpoint_is_one_conditional_write_of_its_record(world):
    sweep(world)
    sm = world.clients("sagemaker")
    endpoint = sm.list_endpoints()["Endpoints"][0]
    event = sample("endpoint_state_change_IN_SERVICE.json")
    event["resources"] = [endpoint["EndpointArn"]]
    event["time"] = (NOW + timedelta(minutes=5)).strftime("%Y-%m-%dT%H:%M:%SZ")
    event["detail"] |= {
        "EndpointName": endpoint["EndpointName"],
        "EndpointArn": endpoint["EndpointArn"],
        "EndpointStatus": "UPDATING",
        "EndpointConfigName": sm.describe_endpoint(EndpointName=endpoint["EndpointName"])["EndpointConfigName"],
    }
    event["account"], event["region"] = "123456789012", "us-east-1"
    with metering(world) as meter:
        world.deliver(event)
    key = f"RES#{endpoint['EndpointArn']}"
    assert writes_per_record(meter.log)[key] == 1, [entry for entry in meter.log if entry[1] == key]
    assert [op for op, pk in meter.log if pk == key and op == "GetItem"] == ["GetItem"]  # read once, to merge


def test_stored_records_are_smaller_than_their_facts_and_versions_were(world):
    """The versions are stored once per observation, not once per field: no larger than the facts they version
    (they were half of a 3.3-4.1 KB item), and the record reads back with each field's source and time."""
    sweep(world)
    sizes = []
    for item in world.clients("dynamodb").scan(TableName=world.table_name)["Items"]:
        if item.get("type", {}).get("S") == "resource":
            sizes.append(item_size(item))
            doc = json.loads(item["doc"]["S"])
            versions = json.dumps(doc.pop("versions_by_source"))
            assert len(versions) <= len(json.dumps(doc))
            record = _record(item)
            assert record.provenance("state") is not None  # each field's source and time is known
    assert max(sizes) < 3 * 1024


def test_index_items_carry_only_what_the_index_projects(world):
    """The sandbox answers a query on an index with the projected attributes only, as DynamoDB does."""
    sweep(world)
    dynamodb = world.clients("dynamodb")
    table_keys = {"PK", "SK"}
    for index, partition, allowed in (
        ("GSI1", "KIND#endpoint", {"GSI1PK", "GSI1SK", "type", "doc"}),
        ("GSI3", None, {"GSI3PK", "GSI3SK"}),
        ("GSI2", None, {"GSI2PK", "GSI2SK", "in_space"}),
    ):
        if partition is None:  # any partition the index holds
            scanned = dynamodb.scan(TableName=world.table_name, IndexName=index, Limit=1)["Items"]
            partition = scanned[0][f"{index}PK"]["S"]
        items = dynamodb.query(
            TableName=world.table_name,
            IndexName=index,
            KeyConditionExpression=f"{index}PK = :pk",
            ExpressionAttributeValues={":pk": {"S": partition}},
        )["Items"]
        assert items
        assert all(set(item) <= table_keys | allowed for item in items), index


def test_the_sandbox_honours_keys_only_and_include_projections(sandbox):
    dynamodb = sandbox("dynamodb")
    keys = [{"AttributeName": "PK", "KeyType": "HASH"}]
    dynamodb.create_table(
        TableName="projections",
        BillingMode="PAY_PER_REQUEST",
        AttributeDefinitions=[{"AttributeName": n, "AttributeType": "S"} for n in ("PK", "A", "B")],
        KeySchema=keys,
        GlobalSecondaryIndexes=[
            {
                "IndexName": "keys",
                "KeySchema": [{"AttributeName": "A", "KeyType": "HASH"}],
                "Projection": {"ProjectionType": "KEYS_ONLY"},
            },
            {
                "IndexName": "include",
                "KeySchema": [{"AttributeName": "B", "KeyType": "HASH"}],
                "Projection": {"ProjectionType": "INCLUDE", "NonKeyAttributes": ["kept"]},
            },
        ],
    )
    item = {"PK": {"S": "1"}, "A": {"S": "a"}, "B": {"S": "b"}, "kept": {"S": "k"}, "dropped": {"S": "d"}}
    dynamodb.put_item(TableName="projections", Item=item)

    def query(index: str, attribute: str, value: str) -> dict:
        return dynamodb.query(
            TableName="projections",
            IndexName=index,
            KeyConditionExpression=f"{attribute} = :v",
            ExpressionAttributeValues={":v": {"S": value}},
        )["Items"][0]

    assert set(query("keys", "A", "a")) == {"PK", "A"}
    assert set(query("include", "B", "b")) == {"PK", "B", "kept"}


def long_running_app(created: datetime) -> Resource:
    return Resource(
        arn="arn:aws:sagemaker:us-east-1:123456789012:app/d-studio/alice-lab/jupyterlab/default",
        kind=Kind.APP,
        name="default",
        state="InService",
        app_type="JupyterLab",
        instance_type="ml.g5.xlarge",
        created_at=created,
        attribution=Attribution(source=Source.AUTO_TAG, owner="alice", space="alice-lab", domain_id="d-studio"),
    )


def test_a_finding_whose_condition_continues_is_not_rewritten_sweep_after_sweep(stack):
    """An app running past its limit: its uptime grows every hour, but the finding stores when it started and
    is written once; the message still says how long, as of when it is read."""
    guardian = from_env(stack.environment("SweepFunction"), clients=stack.clients)
    app = long_running_app(NOW - timedelta(hours=20))
    evaluate(guardian, [app], NOW, complete=False)
    stack.pump_streams()  # notify tells (or holds for) alice, and marks the finding so
    [finding] = guardian.findings.many([lifecycle.finding_id("long-running-app", app.arn)])
    for hour in range(1, 4):
        report = evaluate(guardian, [app], NOW + timedelta(hours=hour), complete=False)
        assert (report.updated, report.unchanged) == (0, 1)
    [again] = guardian.findings.many([finding.id])
    assert again.revision == finding.revision
    assert stack.stream_batch() == []  # nothing for notify
    assert "uptime_hours" not in again.evidence and again.evidence["started_at"]


def test_notify_is_not_invoked_by_its_own_mark_on_a_finding(sandbox):
    owners = {"OWNER_EMAILS": json.dumps({"alice": "alice@example.com"})}
    stack = SandboxStack(sandbox, parameters=owners, confirm_subscriptions_automatically=True).deploy()
    guardian = from_env(stack.environment("NotifyFunction"), clients=stack.clients)
    app = long_running_app(NOW - timedelta(hours=20))
    detection = Detection("long-running-app", app, NOW - timedelta(hours=8), "running past the limit", {})
    finding, audit = lifecycle.opened(detection, Cost(Decimal("1.4"), "ml.g5.xlarge"), lifecycle.Exemption(False), NOW)
    guardian.findings.put(finding, audit, before=None)
    stack.pump_streams()  # notify tells alice, and marks the finding notified
    assert [r["dynamodb"]["Keys"]["PK"]["S"] for r in stack.last_stream_batch] == [f"FINDING#{finding.id}"]
    assert guardian.findings.get(finding.id).status is lifecycle.Status.NOTIFIED
    assert stack.stream_batch() == []  # its own mark does not come back to it


@given(
    held=st.dictionaries(st.sampled_from(["state", "reason", *MOMENTARY]), st.integers(0, 3), max_size=5),
    measured=st.dictionaries(st.sampled_from(sorted(MOMENTARY)), st.integers(0, 3)),
)
def test_a_new_measurement_alone_keeps_the_evidence_held_and_a_new_fact_replaces_it(held, measured):
    facts = {k: v for k, v in held.items() if k not in MOMENTARY}
    detected = facts | {k: measured.get(k, v) for k, v in held.items() if k in MOMENTARY}
    assert lasting_evidence(held, detected) == held
    changed = detected | {"state": held.get("state", 0) + 1}
    assert lasting_evidence(held, changed) == changed


OBSERVED = st.builds(
    Observation,
    arn=st.just("arn:aws:sagemaker:us-east-1:123456789012:endpoint/e"),
    kind=st.just(Kind.ENDPOINT),
    observed_at=st.datetimes(min_value=datetime(2026, 1, 1), max_value=datetime(2027, 1, 1), timezones=st.just(UTC)),
    source_id=st.sampled_from(["sweep:1", "evt-1", "evt-2"]),
    origin=st.just("test"),
    via=st.just(Via.DESCRIBE),
    fields=st.fixed_dictionaries(
        {},
        optional={
            "state": st.sampled_from(["InService", "Updating", "", None]),
            "instance_count": st.one_of(st.none(), st.integers(0, 4)),
            "name": st.sampled_from(["e", ""]),
        },
    ),
    tags=st.one_of(st.none(), st.dictionaries(st.sampled_from(["a", "b"]), st.sampled_from(["", "x"]))),
    groups=st.one_of(st.none(), st.just({"v": {"instance_type": "ml.m5.large", "instance_count": 1}})),
    complete_maps=st.booleans(),
)


@given(st.lists(OBSERVED, min_size=1, max_size=5))
def test_a_record_reads_back_from_its_item_exactly_as_it_was_merged(observations):
    record = None
    for observation in observations:
        record = merge(record, observation)
    assert _record({"PK": {"S": f"RES#{record.arn}"}, "doc": {"S": _doc(record)}}) == record


def test_a_one_space_check_reads_that_space_and_its_owner_not_the_account(world):
    """The orphan check scheduled for one stopped space judges what it left running: that space's resources,
    and what its owner runs outside any space (orphaned once the owner's last space stops). Resources of the
    owner's other spaces and the account's active findings are not read."""
    sweep(world)
    guardian = from_env(world.environment("SweepFunction"), clients=world.clients)
    records = [r for kind in Kind for r in guardian.inventory.by_kind(kind)]
    space = next(r for r in records if r.kind is Kind.SPACE and r.owner_arn and r.name == "space-00000")
    judged = {
        r.arn
        for r in records
        if r.arn in (space.arn, space.owner_arn)
        or r.space_arn == space.arn
        or (r.owner_arn == space.owner_arn and (r.space_arn is None or r.kind is Kind.SPACE))
    }
    elsewhere = {r.arn for r in records if r.owner_arn == space.owner_arn} - judged
    assert elsewhere  # the owner has resources in another space: the check must leave them alone
    with metering(world) as meter:
        world.invoke("SweepFunction", {"evaluate": {"space_arn": space.arn}})
    read = {pk.removeprefix("RES#") for op, pk in meter.log if op in ("GetItem", "BatchGetItem") and "RES#" in pk}
    assert read <= judged
    assert not [pk for op, pk in meter.log if op == "Query" and "FINDINGS#" in pk]  # no account-wide read
