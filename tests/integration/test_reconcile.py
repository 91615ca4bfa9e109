"""The sweep: lists what exists, records it with owners, marks what vanished, skips what fails, and
costs list pages (not calls per resource) when nothing changed."""

import contextlib
from datetime import UTC, datetime

import boto3
import pytest
from botocore.exceptions import ClientError

from guardian import aws
from guardian.collectors import COLLECTORS
from guardian.dynamo_inventory import DynamoInventory
from guardian.kinds import Kind
from guardian.reconcile import REDESCRIBE_SWEEPS
from guardian_sandbox.calls import recording
from guardian_sandbox.worlds import run_cluster
from tests.conftest import sample

ROLE = "arn:aws:iam::123456789012:role/service-role/"


def build_account(count_endpoints: int = 3) -> dict[str, str]:
    sm = boto3.client("sagemaker", region_name="us-east-1")
    domain = sm.create_domain(
        DomainName="lab",
        AuthMode="IAM",
        SubnetIds=["s"],
        VpcId="v",
        DefaultUserSettings={"ExecutionRole": ROLE + "Default"},
    )["DomainArn"].rsplit("/", 1)[-1]
    profile_arn = sm.create_user_profile(
        DomainId=domain, UserProfileName="alice", UserSettings={"ExecutionRole": ROLE + "alice"}
    )["UserProfileArn"]
    space_arn = sm.create_space(
        DomainId=domain,
        SpaceName="alice-lab",
        OwnershipSettings={"OwnerUserProfileName": "alice"},
        SpaceSharingSettings={"SharingType": "Private"},
        SpaceSettings={
            "AppType": "JupyterLab",
            "JupyterLabAppSettings": {"DefaultResourceSpec": {"InstanceType": "ml.g5.xlarge"}},
        },
    )["SpaceArn"]
    sm.create_app(DomainId=domain, SpaceName="alice-lab", AppType="JupyterLab", AppName="default")
    sm.create_model(ModelName="m", ExecutionRoleArn=ROLE + "Default", PrimaryContainer={"Image": "i"})
    sm.create_endpoint_config(
        EndpointConfigName="c",
        ProductionVariants=[
            {"VariantName": "AllTraffic", "ModelName": "m", "InstanceType": "ml.m5.xlarge", "InitialInstanceCount": 2}
        ],
    )
    auto_tags = [
        {"Key": "sagemaker:user-profile-arn", "Value": profile_arn},
        {"Key": "sagemaker:space-arn", "Value": space_arn},
    ]
    for index in range(count_endpoints):
        sm.create_endpoint(EndpointName=f"ep-{index}", EndpointConfigName="c", Tags=auto_tags)
    emr = boto3.client("emr", region_name="us-east-1")
    run_cluster(emr, "etl")
    return {"domain": domain, "space": space_arn}


def sweep(stack, at: datetime | None = None):
    return stack.invoke("SweepFunction", sample("scheduled.json", "sweep"))


def records(stack) -> dict[str, object]:
    inventory = DynamoInventory(stack.clients("dynamodb"), stack.table_name)
    return {r.name: r for kind in Kind for r in inventory.by_kind(kind)}


def test_a_sweep_records_everything_with_owners_and_tags(stack):
    build_account()
    report = sweep(stack)
    assert report["kinds"]["endpoint"]["recorded"] == 3
    found = records(stack)
    assert (found["ep-0"].owner, found["ep-0"].space, found["ep-0"].attribution.source.value) == (
        "alice",
        "alice-lab",
        "auto-tag",
    )
    assert (found["ep-0"].instance_type, found["ep-0"].instance_count) == ("ml.m5.xlarge", 2)
    assert (found["alice-lab"].running, found["alice-lab"].sharing) == (True, "Private")
    assert (found["etl"].state, found["etl"].instance_count, found["etl"].instance_type) == (
        "WAITING",
        3,
        "m5.2xlarge+m5.xlarge",
    )
    assert found["etl"].auto_termination_idle_seconds is None
    tags = boto3.client("sagemaker", region_name="us-east-1").list_tags(ResourceArn=found["ep-0"].api_arn)["Tags"]
    assert {"Key": "studio-cost-guardian:owner", "Value": "alice"} in tags


def test_a_resource_that_vanished_is_marked_gone(stack, monkeypatch):
    build_account()
    sweep(stack)
    boto3.client("sagemaker", region_name="us-east-1").delete_endpoint(EndpointName="ep-1")
    monkeypatch.setattr("guardian.reconcile.VANISH_GRACE", datetime.now(UTC) - datetime.now(UTC))
    report = sweep(stack)
    assert report["kinds"]["endpoint"]["gone"] == 1
    gone = records(stack)["ep-1"]
    assert gone.state == "Deleted" and gone.deleted_at is not None
    assert records(stack)["ep-0"].state == "InService"


@contextlib.contextmanager
def failing(operation: str, when: dict):
    """The AWS API refuses one call (throttled, say) while the block runs."""
    original = aws.AwsClients.__call__

    def refuse(params, **_):
        if all(params.get(k) == v for k, v in when.items()):
            raise ClientError({"Error": {"Code": "ThrottlingException", "Message": "Rate exceeded"}}, operation)

    hooked = []

    def client(self, service, region=None):
        made = original(self, service, region)
        if made not in hooked:
            made.meta.events.register(f"provide-client-params.*.{operation}", refuse)
            hooked.append(made)
        return made

    aws.AwsClients.__call__ = client
    try:
        yield
    finally:
        aws.AwsClients.__call__ = original
        for made in hooked:
            made.meta.events.unregister(f"provide-client-params.*.{operation}", refuse)


def test_a_failure_on_one_resource_is_logged_and_skipped(stack):
    build_account()
    with failing("DescribeEndpoint", {"EndpointName": "ep-1"}):
        report = sweep(stack)
    assert report["kinds"]["endpoint"]["recorded"] == 2
    assert "ThrottlingException" in report["kinds"]["endpoint"]["errors"][0]
    assert report["kinds"]["space"]["recorded"] == 1  # the rest of the sweep went on
    report = sweep(stack)  # the next sweep picks it up
    assert records(stack)["ep-1"].owner == "alice"


def test_a_kind_that_cannot_be_listed_is_skipped_and_nothing_of_it_marked_gone(stack, monkeypatch):
    build_account()
    sweep(stack)
    monkeypatch.setattr("guardian.reconcile.VANISH_GRACE", datetime.now(UTC) - datetime.now(UTC))
    with failing("ListEndpoints", {}):
        report = sweep(stack)
    assert report["kinds"]["endpoint"]["errors"]
    assert all(r.state == "InService" for name, r in records(stack).items() if name.startswith("ep-"))


def test_a_steady_state_sweep_costs_list_pages_not_calls_per_resource(stack):
    build_account(count_endpoints=12)
    with recording() as first:
        sweep(stack)
    with recording() as second:
        report = sweep(stack)
    first_aws = {k: v for k, v in first.counts.items() if not k.startswith(("dynamodb", "sts"))}
    second_aws = {k: v for k, v in second.counts.items() if not k.startswith(("dynamodb", "sts"))}
    assert first_aws["sagemaker:DescribeEndpoint"] == 12
    assert first_aws["sagemaker:DescribeEndpointConfig"] == 1  # the twelve share it: described once a sweep
    list_calls = {f"{c.service}:{''.join(w.title() for w in c.operation.split('_'))}" for c in COLLECTORS}
    lists = {k: v for k, v in first_aws.items() if k in list_calls or k.endswith("GetResources")}
    # Nothing changed: the second sweep makes the list and tagging calls, one page each here, one
    # GetMetricData call per metric window (endpoint invocations, EMR idleness) for the rules, and the rolling
    # re-describe of what no list shows: the oldest-described 1/REDESCRIBE_SWEEPS of the endpoints (1 of 12) and
    # of the EMR clusters (the one there is), each with the calls of its describe; and writes only their new
    # describe time.
    rolling = {
        "sagemaker:DescribeEndpoint": 1,
        "emr:DescribeCluster": 1,
        "emr:GetAutoTerminationPolicy": 1,
        "emr:ListInstanceGroups": 1,
    }
    assert REDESCRIBE_SWEEPS == 48
    assert second_aws == lists | {"cloudwatch:GetMetricData": 2} | rolling
    assert all(count == 1 for key, count in second_aws.items() if key in lists)
    assert {kind: k["redescribed"] for kind, k in report["kinds"].items() if k["redescribed"]} == {
        "endpoint": 1,
        "emr-cluster": 1,
    }
    assert second.counts["dynamodb:PutItem"] == 2 and second.counts["dynamodb:TransactWriteItems"] == 0


def test_an_owner_decidable_only_later_is_attributed_by_the_next_sweep(stack):
    sm = boto3.client("sagemaker", region_name="us-east-1")
    stack.deliver(sample("cloudtrail_CreateMlflowTrackingServer.json"))  # alice's role, alice unknown yet
    build_account(count_endpoints=0)
    report = sweep(stack)
    assert records(stack)["team-tracking"].owner == "alice"
    assert report["reattributed"] >= 0
    assert sm.list_user_profiles()["UserProfiles"]


@pytest.mark.parametrize(
    "kind", [Kind.DOMAIN, Kind.USER_PROFILE, Kind.SPACE, Kind.APP, Kind.ENDPOINT, Kind.EMR_CLUSTER]
)
def test_every_kind_of_the_account_is_in_the_inventory(stack, kind):
    build_account()
    sweep(stack)
    assert any(r.kind is kind for r in records(stack).values())
