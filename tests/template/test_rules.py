"""Each EventBridge rule of template.yaml matches its sample events and rejects near misses, through a
real pattern matcher: moto's EventBridge, routing to an SQS queue; and the rules route exactly the events
the ingest function has translators for."""

import json

import boto3
import pytest

from guardian.events import (
    CLOUDTRAIL_DETAIL_TYPE,
    CLOUDTRAIL_SOURCES,
    HANDLED_API_CALLS,
    HANDLED_SERVICE_EVENTS,
)
from guardian_sandbox.template import template
from tests.conftest import EVENTS, REFERENCE, load, reference, sample

RULES = {rule.name: rule for rule in template().rules()}


@pytest.fixture
def bus(sandbox):
    """The template's rules on a real (sandboxed) event bus, each delivering to its own queue."""
    events = boto3.client("events", region_name="us-east-1")
    sqs = boto3.client("sqs", region_name="us-east-1")
    queues = {}
    for name, rule in RULES.items():
        url = sqs.create_queue(QueueName=name)["QueueUrl"]
        arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
        events.put_rule(Name=name, EventPattern=rule.pattern_json)
        events.put_targets(Rule=name, Targets=[{"Id": "queue", "Arn": arn}])
        queues[name] = url

    def matched(event: dict) -> set[str]:
        entry = {
            "Source": event["source"],
            "DetailType": event["detail-type"],
            "Detail": json.dumps(event["detail"]),
            "Resources": event.get("resources", []),
        }
        assert events.put_events(Entries=[entry])["FailedEntryCount"] == 0
        hits = set()
        for name, url in queues.items():
            messages = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10).get("Messages", [])
            if messages:
                hits.add(name)
                for message in messages:
                    sqs.delete_message(QueueUrl=url, ReceiptHandle=message["ReceiptHandle"])
        return hits

    return matched


def with_detail(event: dict, **changes) -> dict:
    return event | {"detail": event["detail"] | changes}


EXPECTED = {
    "cloudtrail_RunJobFlow.json": "EmrApiCalls",
    "cloudtrail_TerminateJobFlows.json": "EmrApiCalls",
    "cloudtrail_PutAutoTerminationPolicy.json": "EmrApiCalls",
    "endpoint_state_change_IN_SERVICE.json": "EndpointStateChanges",
    "endpoint_deployment_state_change_scaling.json": "EndpointStateChanges",
    "emr_cluster_state_change_WAITING.json": "EmrStateChanges",
    "emr_cluster_state_change_TERMINATED.json": "EmrStateChanges",
    "emr_instance_group_state_change_RUNNING.json": "EmrStateChanges",
}


@pytest.mark.parametrize("path", sorted((EVENTS / "ingest").glob("*.json")), ids=lambda p: p.name)
def test_every_sample_event_reaches_exactly_its_rule(bus, path):
    assert bus(load(path)) == {EXPECTED.get(path.name, "SageMakerApiCalls")}


@pytest.mark.parametrize(
    "name",
    [
        "eb_sagemaker_endpoint_state_change_IN_SERVICE_awsdocs.json",
        "eb_emr_cluster_state_change_STARTING_awsdocs.json",
        "eb_emr_cluster_state_change_TERMINATED_awsdocs.json",
        "eb_sagemaker_hyperpod_cluster_state_change_InService_awsdocs.json",
        "eb_cloudtrail_envelope_s3_CreateBucket_awsdocs.json",
    ],
)
def test_aws_documentation_samples_match(bus, name):
    assert len(bus(reference(name))) == 1


NEAR_MISSES = {
    "an API call the guardian does not track": with_detail(
        sample("cloudtrail_CreateEndpoint.json"), eventName="CreateModel"
    ),
    "a failed CreateEndpoint": with_detail(sample("cloudtrail_CreateEndpoint.json"), errorCode="AccessDenied"),
    "EMR API calls under EMR's service-event source": sample("cloudtrail_RunJobFlow.json") | {"source": "aws.emr"},
    "an EMR step status change": reference("eb_emr_step_status_change_FAILED_awsdocs.json"),
    "an EMR auto-scaling policy change": reference("eb_emr_autoscaling_policy_state_change_PENDING_awsdocs.json"),
    "another service's CloudTrail event": with_detail(
        reference("eb_cloudtrail_envelope_s3_CreateBucket_awsdocs.json") | {"source": "aws.ec2"},
        eventSource="ec2.amazonaws.com",
        eventName="RunInstances",
    ),
    "an S3 call that changes no bucket's existence": with_detail(
        reference("eb_cloudtrail_envelope_s3_CreateBucket_awsdocs.json"), eventName="PutBucketPolicy"
    ),
    "a HyperPod cluster event (a lifecycle script ran; no state change)": reference(
        "eb_sagemaker_hyperpod_cluster_event_lcs_started_awsdocs.json"
    ),
    "an EMR instance fleet resize (its state change says what it comes to)": reference(
        "eb_emr_instance_group_state_change_RUNNING_awsdocs.json"
    )
    | {"detail-type": "EMR Instance Fleet Resize"},
    "a SageMaker training job state change": reference("eb_sagemaker_endpoint_state_change_IN_SERVICE_awsdocs.json")
    | {"detail-type": "SageMaker Training Job State Change"},
    "a SageMaker call under another event source": with_detail(
        sample("cloudtrail_CreateApp.json"), eventSource="sagemaker-geospatial.amazonaws.com"
    ),
}


@pytest.mark.parametrize("event", NEAR_MISSES.values(), ids=NEAR_MISSES.keys())
def test_near_misses_reach_no_rule(bus, event):
    assert bus(event) == set()


def test_the_sandbox_router_agrees_with_eventbridge(bus, stack):
    every = [load(p) for p in sorted((EVENTS / "ingest").glob("*.json"))] + list(NEAR_MISSES.values())
    every += [load(p) for p in sorted(REFERENCE.glob("eb_*.json"))]
    for event in every:
        assert {rule.name for rule in stack.route(event)} == bus(event)


API_CALL_RULES = {name: rule for name, rule in RULES.items() if rule.pattern["detail-type"] == [CLOUDTRAIL_DETAIL_TYPE]}
SERVICE_EVENT_RULES = {name: rule for name, rule in RULES.items() if name not in API_CALL_RULES}


def test_every_event_rule_targets_the_ingest_function():
    assert {rule.function for rule in RULES.values()} == {"IngestFunction"}


def test_the_api_call_rules_route_exactly_the_calls_there_are_translators_for():
    routed = [name for rule in API_CALL_RULES.values() for name in rule.pattern["detail"]["eventName"]]
    assert len(routed) == len(set(routed)), "a call routed by two rules would be recorded twice"
    assert set(routed) == HANDLED_API_CALLS


def test_the_api_call_rules_are_one_per_cloudtrail_source_with_its_event_source():
    sources = {}
    for rule in API_CALL_RULES.values():
        [source] = rule.pattern["source"]
        assert rule.pattern["detail"]["eventSource"] == [CLOUDTRAIL_SOURCES[source]]
        assert rule.pattern["detail"]["errorCode"] == [{"exists": False}]  # failed calls changed nothing
        sources[source] = rule.name
    assert set(sources) == set(CLOUDTRAIL_SOURCES)


def test_the_service_event_rules_route_exactly_the_events_there_are_translators_for():
    routed = [
        (source, detail_type)
        for rule in SERVICE_EVENT_RULES.values()
        for source in rule.pattern["source"]
        for detail_type in rule.pattern["detail-type"]
    ]
    assert len(routed) == len(set(routed))
    assert set(routed) == HANDLED_SERVICE_EVENTS
