"""The sandbox's CloudTrail event history: the calls made to it, recorded as CloudTrail records them, and
LookupEvents answering as the service does, in shapes botocore's model describes."""

import json
from datetime import UTC, datetime, timedelta

import boto3
import botocore.session
import pytest
from botocore.exceptions import ClientError
from botocore.validate import ParamValidator

from guardian.arns import canonical
from guardian.events import translate
from guardian_sandbox import clock, cloudtrail
from guardian_sandbox.eventfactory import Caller
from guardian_sandbox.simulation.bus import CloudTrailBus
from guardian_sandbox.stack import SandboxStack

ROLE = "arn:aws:iam::123456789012:role/service-role/AmazonSageMaker-ExecutionRole-Default"
LOOKUP_OUTPUT = (
    botocore.session.get_session().get_service_model("cloudtrail").operation_model("LookupEvents").output_shape
)


@pytest.fixture
def sm(sandbox):
    return sandbox("sagemaker")


@pytest.fixture
def trail(sandbox):
    return sandbox("cloudtrail")


@pytest.fixture
def domain_id(sm):
    arn = sm.create_domain(
        DomainName="lab", AuthMode="IAM", DefaultUserSettings={"ExecutionRole": ROLE}, SubnetIds=["s"], VpcId="v"
    )["DomainArn"]
    return arn.rsplit("/", 1)[-1]


def space_with_app(sm, domain_id):
    sm.create_space(
        DomainId=domain_id,
        SpaceName="alice-lab",
        SpaceSettings={"AppType": "JupyterLab"},
        Tags=[{"Key": "team", "Value": "fraud"}],
    )
    sm.create_app(
        DomainId=domain_id,
        SpaceName="alice-lab",
        AppType="JupyterLab",
        AppName="default",
        ResourceSpec={"InstanceType": "ml.g5.xlarge"},
    )


def by_name(trail, name: str) -> list[dict]:
    attribute = [{"AttributeKey": "EventName", "AttributeValue": name}]
    return [
        e for page in trail.get_paginator("lookup_events").paginate(LookupAttributes=attribute) for e in page["Events"]
    ]


def valid(response: dict) -> dict:
    """The response as botocore parsed it, still of the shape its model describes (no extra, no missing)."""
    body = {k: v for k, v in response.items() if k != "ResponseMetadata"}
    report = ParamValidator().validate(body, LOOKUP_OUTPUT)
    assert not report.has_errors(), report.generate_report()
    return response


def test_a_call_is_recorded_as_cloudtrail_records_it_at_the_sandbox_clock(sandbox, sm, trail, domain_id):
    space_with_app(sm, domain_id)
    deleted = (datetime.now(UTC) - timedelta(hours=2)).replace(microsecond=0)
    with clock.at(sandbox, deleted + timedelta(microseconds=400_000)):
        sm.delete_app(DomainId=domain_id, SpaceName="alice-lab", AppType="JupyterLab", AppName="default")
    [event] = valid(
        trail.lookup_events(LookupAttributes=[{"AttributeKey": "EventName", "AttributeValue": "DeleteApp"}])
    )["Events"]
    assert (event["EventName"], event["EventSource"], event["ReadOnly"]) == (
        "DeleteApp",
        "sagemaker.amazonaws.com",
        "false",
    )
    assert event["EventTime"] == deleted  # to the second, as CloudTrail stamps
    assert {"ResourceType": "AWS::SageMaker::App", "ResourceName": "default"} in event["Resources"]
    record = json.loads(event["CloudTrailEvent"])
    assert record["eventTime"] == deleted.strftime("%Y-%m-%dT%H:%M:%SZ")
    assert record["requestParameters"] == {
        "domainId": domain_id,
        "spaceName": "alice-lab",
        "appType": "JupyterLab",
        "appName": "default",
    }
    assert record["responseElements"] is None
    assert record["userIdentity"]["type"] == "IAMUser" and record["userIdentity"]["accountId"] == "123456789012"
    assert (record["eventID"], record["recipientAccountId"], record["awsRegion"]) == (
        event["EventId"],
        "123456789012",
        "us-east-1",
    )


def test_requests_and_responses_are_spelled_as_cloudtrail_spells_them(sm, trail, domain_id):
    space_with_app(sm, domain_id)
    [create_app] = by_name(trail, "CreateApp")
    record = json.loads(create_app["CloudTrailEvent"])
    assert record["requestParameters"]["resourceSpec"] == {"instanceType": "ml.g5.xlarge"}
    assert record["responseElements"] == {
        "appArn": f"arn:aws:sagemaker:us-east-1:123456789012:app/{domain_id}/alice-lab/jupyterlab/default"
    }
    [create_space] = by_name(trail, "CreateSpace")
    assert json.loads(create_space["CloudTrailEvent"])["requestParameters"]["tags"] == [
        {"key": "team", "value": "fraud"}
    ]


def test_a_recorded_call_reads_as_the_event_path_reads_its_event(sm, trail, domain_id):
    space_with_app(sm, domain_id)
    sm.delete_app(DomainId=domain_id, SpaceName="alice-lab", AppType="JupyterLab", AppName="default")
    [event] = by_name(trail, "DeleteApp")
    envelope = cloudtrail.api_call_event(json.loads(event["CloudTrailEvent"]))
    assert (envelope["detail-type"], envelope["source"], envelope["id"]) == (
        "AWS API Call via CloudTrail",
        "aws.sagemaker",
        event["EventId"],
    )
    [observation] = translate(envelope).observations
    assert observation.arn == canonical(
        f"arn:aws:sagemaker:us-east-1:123456789012:app/{domain_id}/alice-lab/jupyterlab/default"
    )
    assert observation.fields["deleted_at"] == event["EventTime"]


def test_failed_calls_carry_their_error_and_reads_are_not_kept(sm, trail, domain_id):
    with pytest.raises(ClientError):
        sm.delete_space(DomainId=domain_id, SpaceName="nope")
    sm.list_spaces()
    sm.describe_domain(DomainId=domain_id)
    [failed] = by_name(trail, "DeleteSpace")
    record = json.loads(failed["CloudTrailEvent"])
    assert record["errorCode"] == "ResourceNotFound" and "nope" in record["errorMessage"]
    assert translate(
        {
            "version": "0",
            "id": failed["EventId"],
            "detail-type": "AWS API Call via CloudTrail",
            "source": "aws.sagemaker",
            "account": "123456789012",
            "time": record["eventTime"],
            "region": "us-east-1",
            "resources": [],
            "detail": record,
        }
    ).ignored
    names = {e["EventName"] for page in trail.get_paginator("lookup_events").paginate() for e in page["Events"]}
    assert names == {"CreateDomain", "DeleteSpace"}


def test_moto_own_calls_and_emr_are_recorded_too(sandbox, sm, trail):
    sm.create_model(ModelName="m", ExecutionRoleArn=ROLE, PrimaryContainer={"Image": "i"})
    sm.create_endpoint_config(
        EndpointConfigName="c",
        ProductionVariants=[
            {"VariantName": "AllTraffic", "ModelName": "m", "InstanceType": "ml.m5.xlarge", "InitialInstanceCount": 1}
        ],
    )
    sm.create_endpoint(EndpointName="fraud", EndpointConfigName="c")
    sm.delete_endpoint(EndpointName="fraud")
    emr = sandbox("emr")
    cluster = emr.run_job_flow(
        Name="etl",
        ReleaseLabel="emr-7.2.0",
        JobFlowRole="r",
        ServiceRole="s",
        Instances={"MasterInstanceType": "m5.xlarge", "InstanceCount": 1, "KeepJobFlowAliveWhenNoSteps": True},
    )["JobFlowId"]
    emr.terminate_job_flows(JobFlowIds=[cluster])
    [deleted] = by_name(trail, "DeleteEndpoint")
    assert {"ResourceType": "AWS::SageMaker::Endpoint", "ResourceName": "fraud"} in deleted["Resources"]
    [terminated] = by_name(trail, "TerminateJobFlows")
    assert terminated["EventSource"] == "elasticmapreduce.amazonaws.com"
    assert json.loads(terminated["CloudTrailEvent"])["requestParameters"] == {"jobFlowIds": [cluster]}
    [ran] = by_name(trail, "RunJobFlow")
    assert json.loads(ran["CloudTrailEvent"])["responseElements"]["jobFlowId"] == cluster
    by_resource = trail.lookup_events(LookupAttributes=[{"AttributeKey": "ResourceName", "AttributeValue": "fraud"}])
    assert [e["EventName"] for e in valid(by_resource)["Events"]] == ["DeleteEndpoint", "CreateEndpoint"]


def test_newest_first_in_pages_whose_token_survives_new_calls(sandbox, sm, trail):
    start = datetime.now(UTC) - timedelta(hours=5)
    for hour in range(5):
        with clock.at(sandbox, start + timedelta(hours=hour)):
            sm.create_model(ModelName=f"m{hour}", ExecutionRoleArn=ROLE, PrimaryContainer={"Image": "i"})
    first = valid(trail.lookup_events(MaxResults=2))
    assert [e["EventName"] for e in first["Events"]] == ["CreateModel", "CreateModel"]
    times = [e["EventTime"] for e in first["Events"]]
    assert times == sorted(times, reverse=True)
    sm.create_model(ModelName="newer", ExecutionRoleArn=ROLE, PrimaryContainer={"Image": "i"})  # between pages
    rest = []
    token = first["NextToken"]
    while token:
        page = valid(trail.lookup_events(MaxResults=2, NextToken=token))
        rest += page["Events"]
        token = page.get("NextToken")
    models = [json.loads(e["CloudTrailEvent"])["requestParameters"]["modelName"] for e in first["Events"] + rest]
    assert models == ["m4", "m3", "m2", "m1", "m0"]


def test_a_time_range_bounds_what_is_found(sandbox, sm, trail):
    now = datetime.now(UTC)
    for hours_ago in (30, 3):
        with clock.at(sandbox, now - timedelta(hours=hours_ago)):
            sm.create_model(ModelName=f"m{hours_ago}", ExecutionRoleArn=ROLE, PrimaryContainer={"Image": "i"})
    found = trail.lookup_events(StartTime=now - timedelta(hours=4), EndTime=now)["Events"]
    assert [json.loads(e["CloudTrailEvent"])["requestParameters"]["modelName"] for e in found] == ["m3"]
    with clock.at(sandbox, now + timedelta(days=89)):
        assert [e["EventName"] for e in trail.lookup_events()["Events"]] == ["CreateModel"]  # m30 aged out


def test_the_real_error_codes(trail):
    def code(**request) -> str:
        with pytest.raises(ClientError) as raised:
            trail.lookup_events(**request)
        return raised.value.response["Error"]["Code"]

    two = [{"AttributeKey": "EventName", "AttributeValue": "A"}, {"AttributeKey": "Username", "AttributeValue": "b"}]
    assert code(LookupAttributes=two) == "InvalidLookupAttributesException"
    now = datetime.now(UTC)
    assert code(StartTime=now, EndTime=now - timedelta(hours=1)) == "InvalidTimeRangeException"
    assert code(NextToken="not a token") == "InvalidNextTokenException"
    assert valid(trail.lookup_events(EventCategory="insight"))["Events"] == []


def test_a_plain_boto3_client_sees_the_same_history(sandbox, sm, domain_id):
    assert cloudtrail.events_of("123456789012", "us-east-1")[0]["eventName"] == "CreateDomain"
    plain = boto3.client("cloudtrail", region_name="us-east-1")
    assert [e["EventName"] for e in plain.lookup_events()["Events"]] == ["CreateDomain"]


def test_a_call_is_recorded_with_its_callers_identity_and_source_identity(sandbox, sm, trail, domain_id):
    alice = Caller(role="AmazonSageMaker-ExecutionRole-team", source_identity="alice")
    with cloudtrail.calls_by(alice.user_identity("123456789012")):
        space_with_app(sm, domain_id)
    sm.delete_app(DomainId=domain_id, SpaceName="alice-lab", AppType="JupyterLab", AppName="default")
    [created] = by_name(trail, "CreateApp")
    identity = json.loads(created["CloudTrailEvent"])["userIdentity"]
    assert identity["type"] == "AssumedRole"
    assert identity["arn"] == "arn:aws:sts::123456789012:assumed-role/AmazonSageMaker-ExecutionRole-team/SageMaker"
    assert identity["sessionContext"]["sourceIdentity"] == "alice"
    assert identity["accessKeyId"] == created["AccessKeyId"]
    assert created["Username"] == "SageMaker"  # a role session's name, as LookupEvents gives it
    [deleted] = by_name(trail, "DeleteApp")  # outside the block: the sandbox's own IAM user again
    assert json.loads(deleted["CloudTrailEvent"])["userIdentity"]["userName"] == "sandbox"
    by_session = trail.lookup_events(LookupAttributes=[{"AttributeKey": "Username", "AttributeValue": "SageMaker"}])
    assert {e["EventName"] for e in valid(by_session)["Events"]} == {"CreateSpace", "CreateApp"}


def test_the_bus_delivers_the_very_records_lookup_events_serves(sandbox, sm, trail, domain_id):
    cloudtrail.ensure_trail(sandbox)  # EventBridge has the calls only while a trail logs them
    bus = CloudTrailBus("123456789012", "us-east-1")  # from now on
    alice = Caller(role="AmazonSageMaker-ExecutionRole-team", source_identity="alice")
    with cloudtrail.calls_by(alice.user_identity("123456789012")):
        space_with_app(sm, domain_id)
    sm.list_spaces()  # a read: neither kept nor delivered
    delivered = bus.new_events()
    assert [e["detail"]["eventName"] for e in delivered] == ["CreateSpace", "CreateApp"]
    served = {e["EventId"]: json.loads(e["CloudTrailEvent"]) for e in trail.lookup_events()["Events"]}
    for event in delivered:
        assert event["detail"] == served[event["id"]]
        assert (event["detail-type"], event["account"], event["region"]) == (
            "AWS API Call via CloudTrail",
            "123456789012",
            "us-east-1",
        )
    assert bus.new_events() == []  # each record is delivered once
    stack = SandboxStack(sandbox).deploy()
    [delivery] = stack.deliver(delivered[1])  # the template's rules take it as AWS's own
    assert delivery.error is None and delivery.result["resources"][0]["owner"] == "alice"
    # What the guardian's function did with it (its ownership tags) is recorded too, as made by its role.
    [tagged] = [e for e in bus.new_events() if e["detail"]["eventName"] == "AddTags"]
    assert tagged["detail"]["userIdentity"]["arn"] == (
        "arn:aws:sts::123456789012:assumed-role/studio-cost-guardian-IngestFunctionRole/studio-cost-guardian-IngestFunction"
    )
