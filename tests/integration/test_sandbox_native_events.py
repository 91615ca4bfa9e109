"""The sandbox's event bus behaves like the account's on AWS, driven with plain boto3: each state an endpoint,
a notebook instance, a HyperPod cluster or an EMR cluster passes through arrives as its service's own
state-change event, in the shape of AWS's samples, dated when it was reached, whether or not a trail exists;
"AWS API Call via CloudTrail" events arrive only while a trail is logging, though LookupEvents keeps every
call regardless. UpdateEndpoint moves an endpoint to another configuration through Updating, as SageMaker
does, and the guardian sees what it now bills."""

import json
from datetime import UTC, datetime, timedelta
from typing import Any

import boto3
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pydantic import BaseModel

from guardian.arns import canonical
from guardian.dynamo_inventory import DynamoInventory
from guardian.events import models as event_models
from guardian_sandbox import clock, cloudtrail, studio, transitions
from guardian_sandbox.simulation.bus import CloudTrailBus
from guardian_sandbox.stack import SANDBOX_ACCOUNT, SandboxStack
from tests.conftest import reference

REGION = "us-east-1"
ROLE = f"arn:aws:iam::{SANDBOX_ACCOUNT}:role/service-role/AmazonSageMaker-ExecutionRole-Default"
TRANSITION = timedelta(minutes=10)
CALL = "AWS API Call via CloudTrail"
SAMPLES = {  # each service event and AWS's own sample of it (there is none of a notebook instance's)
    "SageMaker Endpoint State Change": "eb_sagemaker_endpoint_state_change_IN_SERVICE_awsdocs.json",
    "SageMaker HyperPod Cluster State Change": "eb_sagemaker_hyperpod_cluster_state_change_InService_awsdocs.json",
    "EMR Cluster State Change": "eb_emr_cluster_state_change_WAITING_awsdocs.json",
}
MODELS: dict[str, type[BaseModel]] = {
    "SageMaker Endpoint State Change": event_models.EndpointStateChangeEvent,
    "SageMaker Notebook Instance State Change": event_models.NotebookInstanceStateChangeEvent,
    "SageMaker HyperPod Cluster State Change": event_models.HyperPodClusterStateChangeEvent,
    "EMR Cluster State Change": event_models.EmrClusterStateChangeEvent,
}


@pytest.fixture
def start(monkeypatch) -> datetime:
    """Each in-between state lasts TRANSITION, from this moment on."""
    monkeypatch.setattr(studio.settings, "transition_seconds", TRANSITION.total_seconds())
    return datetime.now(UTC).replace(microsecond=0)


@pytest.fixture
def bus(sandbox) -> CloudTrailBus:
    return CloudTrailBus(SANDBOX_ACCOUNT, REGION)


def heard(sandbox, bus: CloudTrailBus, at: datetime) -> list[dict[str, Any]]:
    """What reached the bus by ``at`` (the sandbox's clock showing it)."""
    with clock.at(sandbox, at):
        return bus.new_events()


def states(events: list[dict[str, Any]], detail_type: str, key: str) -> list[tuple[str, str]]:
    return [(e["detail"][key], e["time"]) for e in events if e["detail-type"] == detail_type]


def iso(at: datetime) -> str:
    return at.strftime("%Y-%m-%dT%H:%M:%SZ")


def like_the_sample(sandbox, event: dict[str, Any]) -> None:
    """The envelope AWS's has; a detail with no member AWS's sample lacks, each of the sample's type; and
    the guardian's own model of the event reads it (when it was sent)."""
    with clock.at(sandbox, datetime.fromisoformat(event["time"].replace("Z", "+00:00"))):
        MODELS[event["detail-type"]].model_validate(event)
    name = SAMPLES.get(event["detail-type"])
    if name is None:
        return
    sample = reference(name)
    assert set(event) == set(sample)
    assert set(event["detail"]) <= set(sample["detail"]), set(event["detail"]) - set(sample["detail"])
    for key, value in event["detail"].items():
        expected = sample["detail"][key]
        assert isinstance(value, type(expected)) or {type(value), type(expected)} <= {int, float}, key


def make_endpoint(sm, name: str = "fraud", instance_type: str = "ml.m5.xlarge", count: int = 1) -> None:
    sm.create_model(ModelName=f"{name}-m", ExecutionRoleArn=ROLE, PrimaryContainer={"Image": "i"})
    config(sm, f"{name}-c", f"{name}-m", instance_type, count)
    sm.create_endpoint(EndpointName=name, EndpointConfigName=f"{name}-c")


def config(sm, name: str, model: str, instance_type: str, count: int) -> None:
    variant = {"VariantName": "AllTraffic", "ModelName": model, "InstanceType": instance_type}
    sm.create_endpoint_config(EndpointConfigName=name, ProductionVariants=[variant | {"InitialInstanceCount": count}])


# --- the services' own events ----------------------------------------------------------------------------


def test_an_endpoint_announces_each_state_it_reaches_when_it_reaches_it(sandbox, bus, start):
    sm = sandbox("sagemaker")
    with clock.at(sandbox, start):
        make_endpoint(sm)
    first = heard(sandbox, bus, start)
    assert states(first, "SageMaker Endpoint State Change", "EndpointStatus") == [("CREATING", iso(start))]
    later = heard(sandbox, bus, start + 2 * TRANSITION)  # reached between two looks: announced all the same
    [in_service] = [e for e in later if e["detail-type"] == "SageMaker Endpoint State Change"]
    assert in_service["detail"]["EndpointStatus"] == "IN_SERVICE"
    assert in_service["time"] == iso(start + TRANSITION)
    assert in_service["resources"] == [in_service["detail"]["EndpointArn"]]
    assert "ProductionVariants" not in in_service["detail"]  # as real ones may: absent is not zero
    like_the_sample(sandbox, in_service)
    assert heard(sandbox, bus, start + 3 * TRANSITION) == []  # each state once


def test_a_notebook_instance_announces_its_start_and_its_stop(sandbox, bus, start):
    sm = sandbox("sagemaker")
    with clock.at(sandbox, start):
        sm.create_notebook_instance(NotebookInstanceName="nb", InstanceType="ml.t3.medium", RoleArn=ROLE)
    with clock.at(sandbox, start + 2 * TRANSITION):
        sm.stop_notebook_instance(NotebookInstanceName="nb")
    events = heard(sandbox, bus, start + 4 * TRANSITION)
    assert states(events, "SageMaker Notebook Instance State Change", "NotebookInstanceStatus") == [
        ("Pending", iso(start)),
        ("InService", iso(start + TRANSITION)),
        ("Stopping", iso(start + 2 * TRANSITION)),
        ("Stopped", iso(start + 3 * TRANSITION)),
    ]
    for event in events:
        if event["detail-type"] != CALL:
            like_the_sample(sandbox, event)
            assert event["detail"]["InstanceType"] == "ml.t3.medium"


def test_a_hyperpod_cluster_announces_its_resize_with_its_new_counts(sandbox, bus, start):
    sm = sandbox("sagemaker")
    group = {
        "InstanceGroupName": "workers",
        "InstanceType": "ml.g5.8xlarge",
        "InstanceCount": 1,
        "LifeCycleConfig": {"SourceS3Uri": "s3://sagemaker-lifecycle/", "OnCreate": "on_create.sh"},
        "ExecutionRole": ROLE,
        "ThreadsPerCore": 1,
    }
    with clock.at(sandbox, start):
        sm.create_cluster(ClusterName="train", InstanceGroups=[group])
    with clock.at(sandbox, start + 2 * TRANSITION):
        sm.update_cluster(ClusterName="train", InstanceGroups=[group | {"InstanceCount": 4}])
    events = [
        e
        for e in heard(sandbox, bus, start + 4 * TRANSITION)
        if e["detail-type"] == "SageMaker HyperPod Cluster State Change"
    ]
    assert [(e["detail"]["ClusterStatus"], e["time"]) for e in events] == [
        ("Creating", iso(start)),
        ("InService", iso(start + TRANSITION)),
        ("Updating", iso(start + 2 * TRANSITION)),
        ("InService", iso(start + 3 * TRANSITION)),
    ]
    assert events[-1]["detail"]["InstanceGroups"][0]["CurrentCount"] == 4
    assert events[-1]["detail"]["ClusterArn"].rsplit("/", 1)[-1] != "train"  # an id, as real ARNs carry
    for event in events:
        like_the_sample(sandbox, event)


def test_an_emr_cluster_announces_its_start_and_its_end_with_the_reason(sandbox, bus, start):
    emr = sandbox("emr")
    with clock.at(sandbox, start):
        cluster_id = emr.run_job_flow(
            Name="etl",
            ReleaseLabel="emr-7.2.0",
            JobFlowRole="r",
            ServiceRole="s",
            Instances={"MasterInstanceType": "m5.xlarge", "InstanceCount": 1, "KeepJobFlowAliveWhenNoSteps": True},
        )["JobFlowId"]
    with clock.at(sandbox, start + 3 * TRANSITION):
        emr.terminate_job_flows(JobFlowIds=[cluster_id])
    events = [e for e in heard(sandbox, bus, start + 5 * TRANSITION) if e["detail-type"] == "EMR Cluster State Change"]
    assert [(e["detail"]["state"], e["time"]) for e in events] == [
        ("STARTING", iso(start)),
        ("BOOTSTRAPPING", iso(start + TRANSITION)),
        ("WAITING", iso(start + 2 * TRANSITION)),
        ("TERMINATING", iso(start + 3 * TRANSITION)),
        ("TERMINATED", iso(start + 4 * TRANSITION)),
    ]
    assert all(e["detail"]["clusterId"] == cluster_id and e["source"] == "aws.emr" for e in events)
    assert events[-1]["detail"]["stateChangeReason"] == '{"code":"USER_REQUEST","message":"Terminated by user request"}'
    for event in events:
        like_the_sample(sandbox, event)


def test_with_no_in_between_time_only_the_end_is_announced(sandbox, bus):
    make_endpoint(sandbox("sagemaker"))  # transition_seconds is 0 in tests
    events = bus.new_events()
    assert states(events, "SageMaker Endpoint State Change", "EndpointStatus") == [("IN_SERVICE", events[-1]["time"])]


# --- CloudTrail's events need a trail -----------------------------------------------------------------------


def test_without_a_trail_no_cloudtrail_event_reaches_ingest_while_the_services_events_do(sandbox):
    stack = SandboxStack(sandbox).deploy(trail=False)
    bus = CloudTrailBus(SANDBOX_ACCOUNT, REGION)
    sm = sandbox("sagemaker")
    make_endpoint(sm)
    events = bus.new_events()
    assert [e["detail-type"] for e in events] == ["SageMaker Endpoint State Change"]
    routed = {rule.function for event in events for rule in stack.route(event)}
    assert routed == {"IngestFunction"}
    for event in events:
        assert all(delivery.error is None for delivery in stack.deliver(event))
    record = DynamoInventory(sandbox("dynamodb"), stack.table_name).get(canonical(events[0]["detail"]["EndpointArn"]))
    assert record is not None and record.state == "InService"  # the guardian learnt of it by its own event
    # The history keeps the calls all the same, as LookupEvents does with no trail on AWS.
    found = sandbox("cloudtrail").lookup_events(
        LookupAttributes=[{"AttributeKey": "EventName", "AttributeValue": "CreateEndpoint"}]
    )["Events"]
    assert len(found) == 1


def test_calls_reach_the_bus_only_while_a_trail_that_covers_the_region_is_logging(sandbox):
    bus = CloudTrailBus(SANDBOX_ACCOUNT, REGION)
    sm, trails = sandbox("sagemaker"), sandbox("cloudtrail")

    def calls() -> list[str]:
        return [e["detail"]["eventName"] for e in bus.new_events() if e["detail-type"] == CALL]

    sm.create_model(ModelName="before", ExecutionRoleArn=ROLE, PrimaryContainer={"Image": "i"})
    assert calls() == []
    cloudtrail.ensure_trail(sandbox)
    sm.create_model(ModelName="during", ExecutionRoleArn=ROLE, PrimaryContainer={"Image": "i"})
    assert calls() == ["CreateModel"]
    trails.stop_logging(Name=cloudtrail.TRAIL_NAME)
    sm.create_model(ModelName="stopped", ExecutionRoleArn=ROLE, PrimaryContainer={"Image": "i"})
    assert calls() == []
    # A trail of another region's, not multi-region, does not cover this one.
    other = boto3.client("cloudtrail", region_name="eu-west-1")
    sandbox("s3").create_bucket(Bucket="eu-trail", CreateBucketConfiguration={"LocationConstraint": "eu-west-1"})
    other.create_trail(Name="eu-only", S3BucketName="eu-trail")
    other.start_logging(Name="eu-only")
    sm.create_model(ModelName="elsewhere", ExecutionRoleArn=ROLE, PrimaryContainer={"Image": "i"})
    assert calls() == []
    kept = trails.lookup_events(LookupAttributes=[{"AttributeKey": "EventName", "AttributeValue": "CreateModel"}])
    assert len(kept["Events"]) == 4  # the history kept every one


def test_a_deployed_stack_has_a_logging_trail_unless_told_not_to(sandbox):
    SandboxStack(sandbox).deploy()
    [trail] = sandbox("cloudtrail").describe_trails()["trailList"]
    assert trail["IsMultiRegionTrail"]
    assert sandbox("cloudtrail").get_trail_status(Name=trail["Name"])["IsLogging"]
    SandboxStack(sandbox).deploy()  # again, as the CLI's commands do on a served sandbox: still the one
    assert len(sandbox("cloudtrail").describe_trails()["trailList"]) == 1


# --- UpdateEndpoint ----------------------------------------------------------------------------------------


def test_update_endpoint_passes_through_updating_then_shows_the_new_configuration(sandbox, bus, start):
    sm = sandbox("sagemaker")
    with clock.at(sandbox, start):
        make_endpoint(sm)
        config(sm, "bigger", "fraud-m", "ml.m5.2xlarge", 2)
    with clock.at(sandbox, start + 2 * TRANSITION):
        sm.update_endpoint(EndpointName="fraud", EndpointConfigName="bigger")
        during = sm.describe_endpoint(EndpointName="fraud")
        with pytest.raises(ClientError, match="Cannot update in-progress endpoint"):
            sm.update_endpoint(EndpointName="fraud", EndpointConfigName="fraud-c")
    assert (during["EndpointStatus"], during["EndpointConfigName"]) == ("Updating", "fraud-c")
    with clock.at(sandbox, start + 4 * TRANSITION):
        after = sm.describe_endpoint(EndpointName="fraud")
    assert (after["EndpointStatus"], after["EndpointConfigName"]) == ("InService", "bigger")
    assert after["ProductionVariants"][0]["CurrentInstanceCount"] == 2
    assert abs(after["LastModifiedTime"] - (start + 3 * TRANSITION)) < timedelta(seconds=1)  # when it ended
    events = heard(sandbox, bus, start + 4 * TRANSITION)
    assert states(events, "SageMaker Endpoint State Change", "EndpointStatus")[-2:] == [
        ("UPDATING", iso(start + 2 * TRANSITION)),
        ("IN_SERVICE", iso(start + 3 * TRANSITION)),
    ]
    with clock.at(sandbox, start + 4 * TRANSITION):
        refused, recorded = sandbox("cloudtrail").lookup_events(  # newest first
            LookupAttributes=[{"AttributeKey": "EventName", "AttributeValue": "UpdateEndpoint"}]
        )["Events"]
    assert json.loads(refused["CloudTrailEvent"])["errorCode"] == "ValidationException"
    assert "errorCode" not in json.loads(recorded["CloudTrailEvent"])
    assert {"ResourceType": "AWS::SageMaker::Endpoint", "ResourceName": "fraud"} in recorded["Resources"]


def test_update_endpoint_can_retain_the_variants_weights_and_counts(sandbox):
    sm = sandbox("sagemaker")
    make_endpoint(sm, count=3)
    config(sm, "other", "fraud-m", "ml.c5.xlarge", 1)
    sm.update_endpoint(EndpointName="fraud", EndpointConfigName="other", RetainAllVariantProperties=True)
    assert sm.describe_endpoint(EndpointName="fraud")["ProductionVariants"][0]["CurrentInstanceCount"] == 3


def test_update_endpoint_refuses_what_sagemaker_refuses(sandbox):
    sm = sandbox("sagemaker")
    make_endpoint(sm)
    with pytest.raises(ClientError, match="Could not find endpoint configuration"):
        sm.update_endpoint(EndpointName="fraud", EndpointConfigName="nowhere")
    with pytest.raises(ClientError, match="Could not find endpoint"):
        sm.update_endpoint(EndpointName="nobody", EndpointConfigName="fraud-c")
    unchecked = boto3.client("sagemaker", region_name=REGION, config=Config(parameter_validation=False))
    with pytest.raises(ClientError) as refused:
        unchecked.update_endpoint(EndpointName="fraud")  # no EndpointConfigName: the input shape requires it
    assert refused.value.response["Error"]["Code"] == "ValidationException"
    assert sm.describe_endpoint(EndpointName="fraud")["EndpointConfigName"] == "fraud-c"  # nothing half done


def test_an_endpoint_moved_to_a_bigger_configuration_reaches_the_guardians_inventory_by_its_events(sandbox):
    stack = SandboxStack(sandbox).deploy()
    bus = CloudTrailBus(SANDBOX_ACCOUNT, REGION)
    sm = sandbox("sagemaker")
    make_endpoint(sm)
    config(sm, "bigger", "fraud-m", "ml.m5.2xlarge", 2)
    sm.update_endpoint(EndpointName="fraud", EndpointConfigName="bigger")
    events = bus.new_events()
    assert [e["detail"]["eventName"] for e in events if e["detail-type"] == CALL][-1] == "UpdateEndpoint"
    for event in events:
        assert all(delivery.error is None for delivery in stack.deliver(event))
    arn = sm.describe_endpoint(EndpointName="fraud")["EndpointArn"]
    record = DynamoInventory(sandbox("dynamodb"), stack.table_name).get(canonical(arn))
    assert record is not None
    assert (record.instance_type, record.instance_count) == ("ml.m5.2xlarge", 2)


# --- the invariant ----------------------------------------------------------------------------------------


class _Resource:
    """Any resource a passage moves (what is announced is recorded, not built)."""

    status = "Before"


@given(
    passing=st.lists(st.sampled_from(["Creating", "Updating", "Stopping", "Deleting"]), min_size=1, max_size=3),
    end=st.sampled_from(["InService", "Stopped", None]),
    seconds=st.sampled_from([0.0, 1.0, 600.0]),
    looks=st.lists(st.floats(min_value=0, max_value=3_000), max_size=6),
)
@settings(suppress_health_check=[HealthCheck.function_scoped_fixture])
def test_every_state_a_passage_shows_is_announced_once_in_order_when_reached(monkeypatch, passing, end, seconds, looks):
    """However the sandbox's requests fall (each look settles the passage), the states shown by the last look
    are announced exactly once each, in order, each dated when it was reached; a resource's end in deletion
    is never one."""
    announced: list[tuple[str, datetime]] = []
    monkeypatch.setattr(studio.settings, "transition_seconds", seconds)
    monkeypatch.setattr(
        transitions.service_events, "announce", lambda _r, state, at, user_request=True: announced.append((state, at))
    )
    since = datetime(2026, 12, 1, tzinfo=UTC)
    monkeypatch.setattr(studio, "_now", lambda: since)
    collection = {"r": _Resource()}
    transitions.begin(collection["r"], transitions.Change("status", tuple(passing), end))
    last = since
    for offset in sorted(looks):
        last = since + timedelta(seconds=offset)
        transitions._settle(collection, last)
    step = timedelta(seconds=seconds)
    expected = [(state, since + step * i) for i, state in enumerate(passing)] if seconds else []
    expected.append((end, since + step * len(passing)))
    assert announced == [(state, at) for state, at in expected if at <= last and state is not None]
