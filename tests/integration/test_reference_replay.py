"""What AWS really sends never corrupts the picture. Every real sample in tests/fixtures/aws-reference (AWS's own
events and CloudTrail records, copied from the shared reference) is replayed, as if sent just now, into a
sandbox account that holds the resources it names, after a sweep has recorded them: no instance count and no
cost moves. And each sample with any of its fields dropped leaves every fact either as it was or as the whole
sample would have set it: it never zeroes a count, never blanks an owner, never moves a state the whole
sample would not have moved (absent is not zero; guardian.inventory).

A sample names its resources in its own region and account, and EMR clusters by ids moto cannot be told to
use: it is rebased onto the sandbox (region, account, cluster ids), nothing else."""

import contextlib
import dataclasses
import json
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from guardian.cost import hourly_cost
from guardian.dynamo_inventory import DynamoInventory
from guardian.events import InvalidEvent, from_cloudtrail_record, translate
from guardian.findings_store import MemoryFindings
from guardian.ingest import ingest_event
from guardian.inventory import MemoryInventory
from guardian.kinds import Kind, is_billing
from guardian.resource import MERGED_FIELDS, Resource
from guardian.runtime import Guardian, from_env
from guardian_sandbox import clock
from guardian_sandbox.stack import SANDBOX_ACCOUNT, SandboxStack
from tests.conftest import REFERENCE, load, sample, sent_now

ROLE = f"arn:aws:iam::{SANDBOX_ACCOUNT}:role/service-role/AmazonSageMaker-ExecutionRole-Default"
SAMPLE_ACCOUNTS = ("651393343886", "444455556666", "111122223333")
TERMINATED = "eb_emr_cluster_state_change_TERMINATED_awsdocs.json"
# Bookkeeping of the sweep and of the guardian's own acts, not facts an event carries.
BOOKKEEPING = {"fingerprint", "described_at", "config_described", "guardian_tagged_at"}


def events_in_reference() -> dict[str, dict[str, Any]]:
    """Every sample that is an event: EventBridge events, and CloudTrail records wrapped as theirs. The rest
    are facts, rule patterns, API skeletons and userIdentity blocks cut off in a screenshot (no event)."""
    found: dict[str, dict[str, Any]] = {}
    for path in sorted(REFERENCE.glob("*.json")):
        document = load(path)
        if isinstance(document, dict) and isinstance(document.get("detail-type"), str):  # a pattern's is a list
            found[path.name] = document
        elif isinstance(document, dict) and ("Records" in document or "eventName" in document):
            for index, record in enumerate(document.get("Records", [document])):
                found[f"{path.name}#{index}"] = from_cloudtrail_record(record)
    return found


EVENTS = events_in_reference()


def test_the_reference_holds_the_events_this_test_replays():
    names = {name.partition("#")[0] for name in EVENTS}
    assert {
        "eb_sagemaker_endpoint_state_change_IN_SERVICE_awsdocs.json",
        "eb_sagemaker_endpoint_deployment_state_change_scaling_awsdocs.json",
        "eb_emr_instance_group_state_change_RUNNING_awsdocs.json",
        TERMINATED,
        "cloudtrail_sagemaker_CreateEndpoint_IAMUser_awsdocs.json",
        "cloudtrail_emr_RunJobFlow_IAMUser_awsdocs.json",
        "eb_sagemaker_hyperpod_cluster_state_change_InService_awsdocs.json",
    } <= names
    not_events = {p.name for p in REFERENCE.glob("*.json")} - names
    assert all(
        n.startswith(("reference_", "enums_", "eventpattern_", "sagemaker_", "cloudwatch_")) or "userIdentity" in n
        for n in not_events
    )


# --- the sandbox world the samples name ---------------------------------------------------------------


@dataclasses.dataclass
class World:
    stack: SandboxStack
    clusters: dict[str, str]  # the sample's cluster ids (EMR's; HyperPod's in its ARN) -> the sandbox's

    def rebase(self, event: dict[str, Any]) -> dict[str, Any]:
        """The sample as the sandbox's account would have sent it."""
        text = json.dumps(event).replace("us-west-2", "us-east-1")
        for account in SAMPLE_ACCOUNTS:
            text = text.replace(account, SANDBOX_ACCOUNT)
        for theirs, ours in self.clusters.items():
            text = text.replace(theirs, ours)
        return json.loads(text)

    def records(self) -> dict[str, Resource]:
        inventory = DynamoInventory(self.stack.clients("dynamodb"), self.stack.table_name)
        return {r.arn: r for kind in Kind for r in inventory.by_kind(kind)}


def endpoint(sm: Any, name: str, config: str, count: int) -> None:
    sm.create_endpoint_config(
        EndpointConfigName=config,
        ProductionVariants=[
            {
                "VariantName": "AllTraffic",
                "ModelName": "m",
                "InstanceType": "ml.m5.xlarge",
                "InitialInstanceCount": count,
            }
        ],
    )
    sm.create_endpoint(EndpointName=name, EndpointConfigName=config)


def emr_cluster(emr: Any, name: str, groups: list[tuple[str, str, int]]) -> str:
    instances = [
        {"InstanceRole": role, "InstanceType": kind, "InstanceCount": count, "Market": "ON_DEMAND"}
        for role, kind, count in groups
    ]
    return emr.run_job_flow(
        Name=name,
        ReleaseLabel="emr-5.16.0",
        JobFlowRole="r",
        ServiceRole="s",
        Instances={"InstanceGroups": instances, "KeepJobFlowAliveWhenNoSteps": True},
    )["JobFlowId"]


def build_world(stack: SandboxStack, now: datetime) -> World:
    """Each resource as its sample says it is (sizes, types, names), made two hours ago."""
    sm, emr = stack.clients("sagemaker"), stack.clients("emr")
    with clock.at(stack.clients, now - timedelta(hours=2)):
        sm.create_model(ModelName="m", ExecutionRoleArn=ROLE, PrimaryContainer={"Image": "i"})
        endpoint(sm, "MyEndpoint", "MyEndpointConfig", 1)  # DesiredInstanceCount 1
        endpoint(sm, "sample-endpoint", "sample-endpoint-config-1", 3)  # CurrentInstanceCount 3
        endpoint(sm, "ExampleEndpoint", "ExampleEndpointConfig", 2)  # its CreateEndpoint says no count
        development = emr_cluster(emr, "Development Cluster", [("MASTER", "m3.xlarge", 1), ("CORE", "m3.xlarge", 2)])
        mine = emr_cluster(emr, "MyCluster", [("MASTER", "m5.xlarge", 1)])  # instanceCount 1: the master alone
        hyperpod = sm.create_cluster(
            ClusterName="sample-cluster",
            InstanceGroups=[
                {
                    "InstanceGroupName": "example instance group name",
                    "InstanceType": "ml.t3.medium",
                    "InstanceCount": 1,
                    "LifeCycleConfig": {
                        "SourceS3Uri": "s3://sagemaker-hyperpod//LifeCycleScripts/base-config/provisioning_parameters.json",
                        "OnCreate": "on_create.sh",
                    },
                    "ExecutionRole": ROLE,
                    "ThreadsPerCore": 2,
                }
            ],
        )
        stack.clients("s3").create_bucket(Bucket="bucket-test-iad")
    # A HyperPod ARN carries the cluster's id (AWS's sample puts its name there): the sandbox's id replaces it.
    hyperpod_id = hyperpod["ClusterArn"].rsplit("/", 1)[-1]
    clusters = {
        "j-123456789ABCD": development,
        "j-2WDJCGEG4E6AJ": mine,
        "cluster/sample-cluster": f"cluster/{hyperpod_id}",
    }
    return World(stack, clusters)


def sweep_at(stack: SandboxStack, at: datetime) -> None:
    with clock.at(stack.clients, at):
        stack.invoke("SweepFunction", sample("scheduled.json", "sweep"))


def billing(record: Resource, guardian: Guardian) -> Decimal | None:
    """What it bills an hour as it stands: nothing once stopped or gone."""
    return hourly_cost(record, guardian.prices).hourly if is_billing(record.kind, record.state) else Decimal(0)


def bill(records: dict[str, Resource], guardian: Guardian) -> dict[str, Any]:
    return {
        arn: (
            billing(r, guardian),
            r.instance_count,
            {k: (g.instance_type, g.instance_count) for k, g in sorted(r.groups.items())},
        )
        for arn, r in records.items()
    }


# --- (a) every sample, as AWS sends it --------------------------------------------------------------------


@pytest.mark.parametrize("name", sorted(EVENTS))
def test_a_real_sample_after_a_sweep_moves_no_count_and_no_cost(stack: SandboxStack, guardian: Guardian, name: str):
    now = datetime.now(UTC)
    world = build_world(stack, now)
    sweep_at(stack, now - timedelta(hours=1))
    if name == TERMINATED:  # the world as the sample says: the cluster was terminated, and a sweep saw it gone
        with clock.at(stack.clients, now - timedelta(minutes=50)):
            stack.clients("emr").terminate_job_flows(JobFlowIds=[world.clusters["j-123456789ABCD"]])
        sweep_at(stack, now - timedelta(minutes=40))
    before = world.records()
    event = sent_now(world.rebase(EVENTS[name]))
    try:
        named = {o.arn for o in translate(event).observations}
    except InvalidEvent:
        named = set()  # no translator reads it: it must change nothing either
    assert named <= set(before), f"the world does not hold what {name} names: {named - set(before)}"
    for delivery in stack.deliver(event):
        assert delivery.error is None or isinstance(delivery.error, InvalidEvent), delivery.error
    after = world.records()
    assert bill(after, guardian) == bill(before, guardian)


def test_an_endpoint_state_change_without_its_variants_leaves_two_instances_and_their_cost(
    stack: SandboxStack, guardian: Guardian
):
    """The issue's case: AWS documents that it may send several events per state change, some without
    ProductionVariants. Summed, an empty list made a 2 x ml.m5.xlarge endpoint 0 instances and $0/h."""
    now = datetime.now(UTC)
    sm = stack.clients("sagemaker")
    with clock.at(stack.clients, now - timedelta(hours=2)):
        sm.create_model(ModelName="m", ExecutionRoleArn=ROLE, PrimaryContainer={"Image": "i"})
        endpoint(sm, "MyEndpoint", "MyEndpointConfig", 2)
    sweep_at(stack, now - timedelta(hours=1))
    world = World(stack, {})
    [before] = [r for r in world.records().values() if r.kind is Kind.ENDPOINT]
    assert (before.instance_count, billing(before, guardian)) == (2, Decimal("0.23") * 2)
    silences: list[dict[str, Any]] = [
        {},
        {"ProductionVariants": []},
        {"ProductionVariants": [{"VariantName": "AllTraffic"}]},
    ]
    for variants in silences:  # none; an empty list; a variant without a count
        event = world.rebase(EVENTS["eb_sagemaker_endpoint_state_change_IN_SERVICE_awsdocs.json"])
        event["detail"] = {k: v for k, v in event["detail"].items() if k != "ProductionVariants"} | variants
        stack.deliver(sent_now(event))
        [after] = [r for r in world.records().values() if r.kind is Kind.ENDPOINT]
        assert (after.instance_count, after.groups["AllTraffic"].instance_count) == (2, 2)
        assert billing(after, guardian) == billing(before, guardian)


# --- (a) every sample, with any of its fields dropped -------------------------------------------------------


def paths(value: Any, at: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    """Every place in an event's detail something can be dropped from: each key, each list item."""
    found: list[tuple[Any, ...]] = []
    items = value.items() if isinstance(value, dict) else enumerate(value) if isinstance(value, list) else ()
    for key, inner in items:
        found.append((*at, key))
        found += paths(inner, (*at, key))
    return found


def dropped(event: dict[str, Any], gone: set[tuple[Any, ...]]) -> dict[str, Any]:
    def prune(value: Any, at: tuple[Any, ...]) -> Any:
        if isinstance(value, dict):
            return {k: prune(v, (*at, k)) for k, v in value.items() if (*at, k) not in gone}
        if isinstance(value, list):
            return [prune(v, (*at, i)) for i, v in enumerate(value) if (*at, i) not in gone]
        return value

    return event | {"detail": prune(event["detail"], ())}


def facts(record: Resource | None, guardian: Guardian) -> dict[str, Any]:
    """What a record says, flat: each merged field (the creator attribute by attribute), each group
    attribute, each tag, the owner, and what it bills."""
    if record is None:
        return {}
    found: dict[str, Any] = {n: getattr(record, n) for n in MERGED_FIELDS - BOOKKEEPING if n != "creator"}
    found |= {f"creator.{k}": v for k, v in (record.creator.model_dump() if record.creator else {}).items()}
    for key, group in record.groups.items():
        found |= {f"groups.{key}.{attr}": v for attr, v in group.model_dump().items()}
    found |= {f"tags.{key}": v for key, v in record.tags.items()}
    return found | {"owner": record.owner, "owner_arn": record.owner_arn, "bills": billing(record, guardian)}


def replayed(guardian: Guardian, records: dict[str, Resource], event: dict[str, Any], now: datetime):
    """The records after ``event`` was ingested into a copy of them (in memory: one world, many replays)."""
    inventory = MemoryInventory()
    for record in records.values():
        inventory.put(record, 0, None)
    copy = dataclasses.replace(guardian, inventory=inventory, findings=MemoryFindings(), _directories={})
    with contextlib.suppress(InvalidEvent):  # rejected: nothing written
        ingest_event(event, copy, now)
    return {r.arn: r for r in inventory.all()}


def corruptions(before: dict[str, Resource], whole: dict[str, Resource], partial: dict[str, Resource], guardian):
    """Each fact the partial sample left neither as it was nor as the whole sample set it."""
    found = []
    for arn in sorted(set(before) | set(partial)):
        if arn in before and arn not in partial:
            found.append(f"{arn}: lost")
            continue
        was, would, became = (facts(r.get(arn), guardian) for r in (before, whole, partial))
        for name in sorted(set(was) | set(would) | set(became)):
            if became.get(name) not in (was.get(name), would.get(name)):
                found.append(f"{arn} {name}: {was.get(name)!r} -> {became.get(name)!r} (whole: {would.get(name)!r})")
    return found


def test_a_sample_with_fields_dropped_never_corrupts_a_fact(stack: SandboxStack):
    now = datetime.now(UTC)
    world = build_world(stack, now)
    sweep_at(stack, now - timedelta(hours=1))
    guardian = from_env(stack.environment("IngestFunction"), clients=stack.clients)
    before = world.records()
    whole: dict[str, dict[str, Resource]] = {}
    stamped: dict[str, dict[str, Any]] = {}

    # Each sample gets as many tries as a property gets by default (25; 300 with HYPOTHESIS_PROFILE=thorough).
    @settings(
        max_examples=settings().max_examples * len(EVENTS),
        suppress_health_check=[HealthCheck.too_slow],
        deadline=None,
    )
    @given(st.data())
    def check(data: st.DataObject) -> None:
        name = data.draw(st.sampled_from(sorted(EVENTS)), label="sample")
        if name not in whole:  # stamped once: the whole and its parts were sent at one moment
            stamped[name] = sent_now(world.rebase(EVENTS[name]))
            whole[name] = replayed(guardian, before, stamped[name], now)
        event = stamped[name]
        gone = data.draw(st.sets(st.sampled_from(paths(event["detail"])), min_size=1), label="dropped")
        partial = replayed(guardian, before, dropped(event, gone), now)
        assert corruptions(before, whole[name], partial, guardian) == []

    check()
