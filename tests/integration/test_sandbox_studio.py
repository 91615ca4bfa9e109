"""The sandbox's Studio APIs, driven with a plain boto3 client as any user would: shapes from botocore's
model, the service's state transitions, and its error codes."""

import boto3
import pytest
from botocore.exceptions import ClientError

from guardian_sandbox import studio

ROLE = "arn:aws:iam::123456789012:role/service-role/AmazonSageMaker-ExecutionRole-Default"


@pytest.fixture
def sm(sandbox):
    return boto3.client("sagemaker", region_name="us-east-1")


@pytest.fixture
def domain_id(sm):
    arn = sm.create_domain(
        DomainName="lab",
        AuthMode="IAM",
        DefaultUserSettings={"ExecutionRole": ROLE},
        SubnetIds=["subnet-1"],
        VpcId="vpc-1",
    )["DomainArn"]
    return arn.rsplit("/", 1)[-1]


def private_space(sm, domain_id, name="alice-lab", owner="alice"):
    return sm.create_space(
        DomainId=domain_id,
        SpaceName=name,
        OwnershipSettings={"OwnerUserProfileName": owner},
        SpaceSharingSettings={"SharingType": "Private"},
        SpaceSettings={
            "AppType": "JupyterLab",
            "JupyterLabAppSettings": {"DefaultResourceSpec": {"InstanceType": "ml.g5.xlarge"}},
        },
        Tags=[{"Key": "team", "Value": "fraud"}],
    )


def error_code(call, *args, **kwargs) -> str:
    with pytest.raises(ClientError) as raised:
        call(*args, **kwargs)
    return raised.value.response["Error"]["Code"]


def test_profile_space_and_app_round_trip_with_lowercase_arns(sm, domain_id):
    sm.create_user_profile(DomainId=domain_id, UserProfileName="Alice", UserSettings={"ExecutionRole": ROLE})
    space_arn = private_space(sm, domain_id, owner="Alice")["SpaceArn"]
    app_arn = sm.create_app(DomainId=domain_id, SpaceName="alice-lab", AppType="JupyterLab", AppName="default")[
        "AppArn"
    ]
    assert app_arn == f"arn:aws:sagemaker:us-east-1:123456789012:app/{domain_id}/alice-lab/jupyterlab/default"
    space = sm.describe_space(DomainId=domain_id, SpaceName="alice-lab")
    assert space["SpaceArn"] == space_arn
    assert space["OwnershipSettings"] == {"OwnerUserProfileName": "Alice"}
    assert space["SpaceSettings"]["JupyterLabAppSettings"]["DefaultResourceSpec"]["InstanceType"] == "ml.g5.xlarge"
    [app] = sm.list_apps(SpaceNameEquals="alice-lab")["Apps"]
    assert app["ResourceSpec"]["InstanceType"] == "ml.g5.xlarge"  # from the space's default
    assert (
        sm.describe_user_profile(DomainId=domain_id, UserProfileName="Alice")["UserSettings"]["ExecutionRole"] == ROLE
    )


def test_states_move_like_the_service(sm, domain_id, monkeypatch):
    monkeypatch.setattr(studio.settings, "transition_seconds", 3600)
    sm.create_user_profile(DomainId=domain_id, UserProfileName="alice")
    assert sm.describe_user_profile(DomainId=domain_id, UserProfileName="alice")["Status"] == "Pending"
    monkeypatch.setattr(studio.settings, "transition_seconds", 0)
    assert sm.describe_user_profile(DomainId=domain_id, UserProfileName="alice")["Status"] == "InService"
    private_space(sm, domain_id)
    sm.create_app(DomainId=domain_id, SpaceName="alice-lab", AppType="JupyterLab", AppName="default")
    monkeypatch.setattr(studio.settings, "transition_seconds", 3600)
    sm.delete_app(DomainId=domain_id, SpaceName="alice-lab", AppType="JupyterLab", AppName="default")
    assert sm.list_apps()["Apps"][0]["Status"] == "Deleting"
    monkeypatch.setattr(studio.settings, "transition_seconds", 0)
    assert sm.list_apps()["Apps"][0]["Status"] == "Deleted"  # a deleted app stays listable for a while
    monkeypatch.setattr(studio.settings, "deleted_app_retention_seconds", 0)
    assert sm.list_apps()["Apps"] == []


def test_the_real_error_codes(sm, domain_id):
    assert error_code(sm.describe_space, DomainId=domain_id, SpaceName="nope") == "ResourceNotFound"
    assert error_code(sm.create_user_profile, DomainId="d-missing", UserProfileName="x") == "ResourceNotFound"
    sm.create_user_profile(DomainId=domain_id, UserProfileName="alice")
    assert error_code(sm.create_user_profile, DomainId=domain_id, UserProfileName="alice") == "ResourceInUse"
    private_space(sm, domain_id)
    sm.create_app(DomainId=domain_id, SpaceName="alice-lab", AppType="JupyterLab", AppName="default")
    assert error_code(sm.delete_space, DomainId=domain_id, SpaceName="alice-lab") == "ResourceInUse"
    assert error_code(sm.delete_user_profile, DomainId=domain_id, UserProfileName="alice") == "ResourceInUse"
    assert (
        error_code(sm.create_app, DomainId=domain_id, SpaceName="alice-lab", AppType="CodeEditor", AppName="x")
        == "ValidationException"
    )
    assert (
        error_code(sm.create_space, DomainId=domain_id, SpaceName="p", SpaceSharingSettings={"SharingType": "Private"})
        == "ValidationException"
    )


def test_tags_on_create_add_tags_overwrites_and_the_tagging_api_sees_them(sm, domain_id):
    sm.create_user_profile(DomainId=domain_id, UserProfileName="alice")
    space_arn = private_space(sm, domain_id)["SpaceArn"]
    sm.add_tags(ResourceArn=space_arn, Tags=[{"Key": "team", "Value": "risk"}, {"Key": "cost-center", "Value": "42"}])
    assert sorted((t["Key"], t["Value"]) for t in sm.list_tags(ResourceArn=space_arn)["Tags"]) == [
        ("cost-center", "42"),
        ("team", "risk"),
    ]
    tagging = boto3.client("resourcegroupstaggingapi", region_name="us-east-1")
    [mapping] = tagging.get_resources(ResourceTypeFilters=["sagemaker:space"])["ResourceTagMappingList"]
    assert mapping["ResourceARN"] == space_arn


def test_lists_paginate(sm, domain_id):
    for index in range(7):
        sm.create_user_profile(DomainId=domain_id, UserProfileName=f"user-{index}")
    pages = list(sm.get_paginator("list_user_profiles").paginate(PaginationConfig={"PageSize": 3}))
    assert [len(p["UserProfiles"]) for p in pages] == [3, 3, 1]
    assert len({p["UserProfileName"] for page in pages for p in page["UserProfiles"]}) == 7


def test_mlflow_tracking_server_lifecycle(sm):
    arn = sm.create_mlflow_tracking_server(
        TrackingServerName="team", ArtifactStoreUri="s3://bucket/a", RoleArn=ROLE, TrackingServerSize="Medium"
    )["TrackingServerArn"]
    assert sm.describe_mlflow_tracking_server(TrackingServerName="team")["TrackingServerStatus"] == "Created"
    sm.stop_mlflow_tracking_server(TrackingServerName="team")
    [summary] = sm.list_mlflow_tracking_servers()["TrackingServerSummaries"]
    assert (summary["TrackingServerArn"], summary["TrackingServerStatus"]) == (arn, "Stopped")
    # A start or stop in the wrong state conflicts, as the service model documents (not a validation error).
    assert error_code(sm.stop_mlflow_tracking_server, TrackingServerName="team") == "ConflictException"
    sm.start_mlflow_tracking_server(TrackingServerName="team")
    assert error_code(sm.start_mlflow_tracking_server, TrackingServerName="team") == "ConflictException"


def test_emr_auto_termination_policy(sandbox):
    emr = boto3.client("emr", region_name="us-east-1")
    cluster = emr.run_job_flow(
        Name="etl",
        ReleaseLabel="emr-7.2.0",
        JobFlowRole="r",
        ServiceRole="s",
        Instances={"MasterInstanceType": "m5.xlarge", "InstanceCount": 1, "KeepJobFlowAliveWhenNoSteps": True},
        AutoTerminationPolicy={"IdleTimeout": 1800},
    )["JobFlowId"]
    assert emr.get_auto_termination_policy(ClusterId=cluster)["AutoTerminationPolicy"] == {"IdleTimeout": 1800}
    emr.remove_auto_termination_policy(ClusterId=cluster)
    assert "AutoTerminationPolicy" not in emr.get_auto_termination_policy(ClusterId=cluster)


def test_a_response_the_service_model_does_not_describe_is_refused():
    with pytest.raises(AssertionError, match="breaks the service model"):
        studio._checked({"SpaceArn": "arn", "Unexpected": 1}, "CreateSpace")
