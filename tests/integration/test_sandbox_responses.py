"""Every answer the sandbox gives is one botocore's service model describes, for every service the guardian
calls, not only the Studio part: what a day of the guardian's work gets (the demo: its account seeded, its
events, sweep, alerts and digest, with Slack), the weekly report, a sweep while resources are mid-transition
(Creating, Pending, STARTING, Deleting...), and the rest of the calls the guardian makes (its remediation's
reads and acts), each as the guardian calls it. Each response is checked on the wire (an unknown key, a null,
a wrong type, a missing required member, a value outside its enum) and as botocore parsed it
(response_shapes.py); and every call the guardian's IAM policy names was answered at least once."""

from collections.abc import Iterator
from datetime import datetime, timedelta
from typing import Any

import pytest

from guardian.arns import Location
from guardian.aws import AwsClients
from guardian.events import from_cloudtrail_record
from guardian.permissions import FUNCTION_PERMISSIONS
from guardian_sandbox import clock, cloudtrail, demo, embedded, organization, studio
from guardian_sandbox.calls import IAM_PREFIX
from guardian_sandbox.eventfactory import Caller
from guardian_sandbox.scenario import DEFAULT_ROLE, role_arn
from guardian_sandbox.slack_receiver import SlackReceiver
from guardian_sandbox.stack import REPORTS_BUCKET, SANDBOX_ACCOUNT, SandboxStack
from tests.conftest import EVENTS, load, sample
from tests.integration.response_shapes import Response, ResponseLog, problems, recording

# IAM actions that are no call of their own, or whose service the sandbox does not have.
NOT_CALLS = {
    "iam:PassRole",  # handed to Scheduler with CreateSchedule
    "kms:Decrypt",  # S3 and SNS use the key on the guardian's behalf
    "kms:GenerateDataKey",
    "pricing:GetProducts",  # no Price List API in moto: the sandbox prices from the bundled table
}
IN_TRANSIT = timedelta(hours=1)
# IAM actions named otherwise than the call they authorise.
CALLED_AS = {"s3:ListAllMyBuckets": "s3:ListBuckets"}


def guardian_calls() -> set[str]:
    """Every call the guardian's functions may make, as service.Operation (their IAM actions, exactly)."""
    boto_name = {prefix: service for service, prefix in IAM_PREFIX.items()}
    actions = {CALLED_AS.get(a, a) for a in set().union(*FUNCTION_PERMISSIONS.values()) - NOT_CALLS}
    return {f"{boto_name.get(prefix, prefix)}.{name}" for prefix, _, name in (a.partition(":") for a in actions)}


@pytest.fixture(scope="module")
def log() -> Iterator[ResponseLog]:
    with recording() as responses, embedded() as clients:
        slack = SlackReceiver()
        try:
            result = demo.run(clients, lambda _line: None, slack_webhook=slack.team_url())
            stack = SandboxStack(clients, parameters={"COST_EXPLORER": "true"}).deploy()
            stack.invoke("ReportFunction", load(EVENTS / "report" / "weekly.json"))
            sweep_in_transit(stack, result.now)
            remediations_reads_and_acts(clients, result.now)
            routings_reads(clients)
            fan_out_over_an_organization(clients)
        finally:
            slack.close()
            studio.settings.transition_seconds = 0
        yield responses


def sweep_in_transit(stack: SandboxStack, now: datetime) -> None:
    """New resources still coming up and old ones going away, each in its in-between state, when a sweep runs."""
    clients = stack.clients
    sm, emr = clients("sagemaker"), clients("emr")
    role = role_arn(Location(region=clients.region, account=SANDBOX_ACCOUNT), DEFAULT_ROLE)
    studio.settings.transition_seconds = IN_TRANSIT.total_seconds()
    with clock.at(clients, now):
        sm.create_endpoint(EndpointName="coming-up", EndpointConfigName=_any_config(sm))
        sm.create_notebook_instance(NotebookInstanceName="starting-nb", InstanceType="ml.t3.medium", RoleArn=role)
        sm.create_cluster(
            ClusterName="coming-up",
            InstanceGroups=[
                {
                    "InstanceGroupName": "workers",
                    "InstanceType": "ml.t3.medium",
                    "InstanceCount": 1,
                    "LifeCycleConfig": {"SourceS3Uri": "s3://sagemaker-lifecycle/", "OnCreate": "on_create.sh"},
                    "ExecutionRole": role,
                }
            ],
        )
        emr.run_job_flow(
            Name="coming-up",
            ReleaseLabel="emr-7.2.0",
            JobFlowRole="r",
            ServiceRole="s",
            Instances={"MasterInstanceType": "m5.xlarge", "InstanceCount": 1, "KeepJobFlowAliveWhenNoSteps": True},
        )
        emr.run_job_flow(
            Name="fleet-etl",
            ReleaseLabel="emr-7.2.0",
            JobFlowRole="r",
            ServiceRole="s",
            Instances={
                "KeepJobFlowAliveWhenNoSteps": True,
                "InstanceFleets": [
                    {
                        "InstanceFleetType": "MASTER",
                        "TargetOnDemandCapacity": 1,
                        "InstanceTypeConfigs": [{"InstanceType": "m5.xlarge"}],
                    },
                    {
                        "InstanceFleetType": "CORE",
                        "TargetSpotCapacity": 4,
                        "InstanceTypeConfigs": [{"InstanceType": "m5.2xlarge", "WeightedCapacity": 2}],
                    },
                ],
            },
        )
        sm.stop_notebook_instance(NotebookInstanceName="classic-nb")
        sm.delete_endpoint(EndpointName="fraud-xgb")
        [presto] = [c["Id"] for c in emr.list_clusters()["Clusters"] if c["Name"] == "adhoc-presto"]
        emr.terminate_job_flows(JobFlowIds=[presto])
        sm.stop_mlflow_tracking_server(TrackingServerName="team-tracking")
        sm.create_partner_app(Name="evals", Type="comet", ExecutionRoleArn=role, Tier="small", AuthType="IAM")
        endpoints = sm.list_endpoints()["Endpoints"]
        serving = next(e["EndpointName"] for e in endpoints if e["EndpointStatus"] == "InService")
        sm.create_inference_component(
            InferenceComponentName="chat",
            EndpointName=serving,
            Specification={"ComputeResourceRequirements": {"MinMemoryRequiredInMb": 1024}},
            RuntimeConfig={"CopyCount": 1},
        )
        # A bucket made from Studio, with a tag of its maker's: the event tags it (GetBucketTagging, then
        # PutBucketTagging with both), the sweep lists it and reads its size (tests/integration/test_s3_buckets.py).
        studio_user = Caller(role="AmazonSageMaker-ExecutionRole-alice", source_identity="alice")
        with cloudtrail.calls_by(studio_user.user_identity(SANDBOX_ACCOUNT)):
            stack.clients("s3").create_bucket(Bucket="alice-experiments")
            tagging = {"TagSet": [{"Key": "project", "Value": "churn"}]}
            stack.clients("s3").put_bucket_tagging(Bucket="alice-experiments", Tagging=tagging)
        [made] = [
            r
            for r in cloudtrail.events_of(SANDBOX_ACCOUNT, "us-east-1")
            if r["eventName"] == "CreateBucket" and r["requestParameters"]["bucketName"] == "alice-experiments"
        ]
        [delivery] = stack.deliver(from_cloudtrail_record(made))
        assert delivery.error is None and delivery.result["resources"][0]["tagged"], delivery
        stack.invoke("SweepFunction", sample("scheduled.json", "sweep"))
    studio.settings.transition_seconds = 0


def remediations_reads_and_acts(clients: AwsClients, now: datetime) -> None:
    """What the remediation function reads before it acts, and its acts, as it calls them (guardian.remediation):
    the sandbox's answers to them are held to the model like the rest."""
    sm, emr = clients("sagemaker"), clients("emr")
    [domain] = sm.list_domains()["Domains"]
    domain_id = domain["DomainId"]
    with clock.at(clients, now + IN_TRANSIT):
        [app] = [a for a in sm.list_apps()["Apps"] if a.get("SpaceName") == "bob-code"]
        sm.describe_app(DomainId=domain_id, SpaceName="bob-code", AppType=app["AppType"], AppName=app["AppName"])
        for page in sm.get_paginator("list_tags").paginate(ResourceArn=_arn_of_space(sm, domain_id, "bob-code")):
            assert "Tags" in page
        sm.describe_notebook_instance(NotebookInstanceName="classic-nb")
        sm.update_space(
            DomainId=domain_id,
            SpaceName="bob-code",
            SpaceSettings={
                "CodeEditorAppSettings": {"AppLifecycleManagement": {"IdleSettings": {"IdleTimeoutInMinutes": 60}}}
            },
        )
        sm.delete_app(DomainId=domain_id, SpaceName="bob-code", AppType=app["AppType"], AppName=app["AppName"])
        sm.start_notebook_instance(NotebookInstanceName="classic-nb")
    with clock.at(clients, now + 2 * IN_TRANSIT):
        sm.stop_notebook_instance(NotebookInstanceName="classic-nb")
        [spark] = [c["Id"] for c in emr.list_clusters()["Clusters"] if c["Name"] == "spark-etl"]
        emr.terminate_job_flows(JobFlowIds=[spark])
        clients("cloudtrail").lookup_events(
            LookupAttributes=[{"AttributeKey": "EventName", "AttributeValue": "DeleteApp"}],
            StartTime=now - timedelta(days=2),
            EndTime=now + 2 * IN_TRANSIT,
        )
        clients("s3").get_object(Bucket=REPORTS_BUCKET, Key=_any_report(clients))
        clients("dynamodb").delete_item(
            TableName="studio-cost-guardian", Key={"PK": {"S": "nothing"}, "SK": {"S": "nothing"}}
        )


def routings_reads(clients: AwsClients) -> None:
    """What a hub asks of Organizations when an AccountRoutes route names an OU (guardian.routing): an account's
    parent, then that OU's, as the router walks up."""
    organizations = clients("organizations")
    try:
        organizations.describe_organization()
    except organizations.exceptions.AWSOrganizationsNotInUseException:
        organizations.create_organization(FeatureSet="ALL")
    root = organizations.list_roots()["Roots"][0]["Id"]
    unit = organizations.create_organizational_unit(ParentId=root, Name="routed")["OrganizationalUnit"]["Id"]
    for child in (SANDBOX_ACCOUNT, unit):
        for page in organizations.get_paginator("list_parents").paginate(ChildId=child):
            assert page["Parents"]


def fan_out_over_an_organization(clients: AwsClients) -> None:
    """A hub's hourly sweep over the accounts under an OU: the organization listed, the member role assumed."""
    members = organization.build(clients, accounts=2, regions=[clients.region])
    organizations = clients("organizations")
    root = organizations.list_roots()["Roots"][0]["Id"]
    unit = organizations.create_organizational_unit(ParentId=root, Name="swept")["OrganizationalUnit"]["Id"]
    (member,) = members.members
    organizations.move_account(AccountId=member, SourceParentId=root, DestinationParentId=unit)
    stack = SandboxStack(clients, parameters=members.hub_parameters() | {"MEMBER_OUS": unit}).deploy()
    assert stack.run_sweep_fanout().status == "SUCCEEDED"


def _any_config(sm: Any) -> str:
    return sm.list_endpoint_configs()["EndpointConfigs"][0]["EndpointConfigName"]


def _arn_of_space(sm: Any, domain_id: str, name: str) -> str:
    return sm.describe_space(DomainId=domain_id, SpaceName=name)["SpaceArn"]


def _any_report(clients: AwsClients) -> str:
    return clients("s3").list_objects_v2(Bucket=REPORTS_BUCKET)["Contents"][0]["Key"]


def test_every_answer_the_sandbox_gave_fits_its_output_shape(log: ResponseLog):
    assert log.problems() == {}


def test_every_call_the_guardian_makes_was_answered_and_checked(log: ResponseLog):
    assert guardian_calls() - log.operations() == set()


def test_the_sweep_saw_resources_in_their_in_between_states(log: ResponseLog):
    seen = {
        (r.operation, status)
        for r in log.answered
        for status in _statuses(r.parsed)
        if r.operation in ("ListEndpoints", "ListNotebookInstances", "ListClusters", "ListMlflowTrackingServers")
    }
    for expected in [
        ("ListEndpoints", "Creating"),
        ("ListEndpoints", "Deleting"),
        ("ListNotebookInstances", "Pending"),
        ("ListNotebookInstances", "Stopping"),
        ("ListClusters", "Creating"),  # HyperPod
        ("ListClusters", "STARTING"),  # EMR
        ("ListClusters", "TERMINATING"),
        ("ListMlflowTrackingServers", "Stopping"),
    ]:
        assert expected in seen


def _statuses(value: Any) -> Iterator[str]:
    if isinstance(value, dict):
        for key, item in value.items():
            if isinstance(item, str) and (key.endswith("Status") or key == "State"):
                yield item
            else:
                yield from _statuses(item)
    elif isinstance(value, list):
        for item in value:
            yield from _statuses(item)


# --- the check itself catches what it is for -------------------------------------------------------------


def one_response(log: ResponseLog, operation: str) -> Response:
    return next(r for r in log.answered if r.operation == operation)


def test_the_check_finds_an_unknown_key_a_null_a_wrong_type_a_missing_member_and_a_foreign_enum(log: ResponseLog):
    real = one_response(log, "DescribeEndpoint")
    assert problems(real) == []

    def altered(**changes: Any) -> list[str]:
        body = real.body.decode().rstrip("}") + "".join(f', "{k}": {v}' for k, v in changes.items()) + "}"
        return problems(
            Response(real.service, real.operation, 200, real.content_type, body.encode(), real.parsed, real.model)
        )

    assert any("unknown member 'Surprise'" in p for p in altered(Surprise='"x"'))
    assert any("null" in p for p in altered(FailureReason="null"))
    assert any("is not a string" in p for p in altered(FailureReason="3"))
    assert any("is not one of the shape's values" in p for p in altered(EndpointStatus='"Sleeping"'))
    missing = problems(
        Response(
            real.service,
            real.operation,
            200,
            real.content_type,
            b'{"EndpointName": "x"}',
            {"EndpointName": "x"},
            real.model,
        )
    )
    assert any("required member 'EndpointArn' missing" in p for p in missing)
