"""The sandbox's moto-provided services behave as AWS's do where the guardian depends on it, driven with plain
boto3 as a user would: HyperPod clusters carry ids, not names, in their ARNs; a request the service model does
not allow is refused whole; endpoints, notebook instances, HyperPod and EMR clusters pass through their
in-between states for the configured transition time; EMR clusters may run on instance fleets; a deleted app
stays listed for about a day."""

import re
from datetime import UTC, datetime, timedelta

import boto3
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError

from guardian_sandbox import clock, studio

ROLE = "arn:aws:iam::123456789012:role/service-role/AmazonSageMaker-ExecutionRole-Default"
GROUP = {
    "InstanceGroupName": "workers",
    "InstanceType": "ml.g5.8xlarge",
    "InstanceCount": 2,
    "LifeCycleConfig": {"SourceS3Uri": "s3://sagemaker-lifecycle/scripts/", "OnCreate": "on_create.sh"},
    "ExecutionRole": ROLE,
}
HYPERPOD_ARN = re.compile(r"arn:aws:sagemaker:us-east-1:123456789012:cluster/[a-z0-9]{12}")
TRANSITION = timedelta(minutes=10)


@pytest.fixture
def sm(sandbox):
    return sandbox("sagemaker")


@pytest.fixture
def unchecked_sm(sandbox):
    """A client that sends what it is given, as a client other than boto3 may: the sandbox must refuse it."""
    return boto3.client("sagemaker", region_name="us-east-1", config=Config(parameter_validation=False))


@pytest.fixture
def after(monkeypatch):
    """Each in-between state lasts TRANSITION. ``after(n)``: a moment n transitions (and a little) from now,
    so a change made at ``after(n - 1)`` has had its time and one made at ``after(n)`` has not."""
    monkeypatch.setattr(studio.settings, "transition_seconds", TRANSITION.total_seconds())
    start = datetime.now(UTC)
    return lambda n: start + n * (TRANSITION + timedelta(seconds=30))


def error_code(call, *args, **kwargs) -> str:
    with pytest.raises(ClientError) as raised:
        call(*args, **kwargs)
    return raised.value.response["Error"]["Code"]


def endpoint(sm, name: str = "fraud") -> None:
    sm.create_model(ModelName=f"{name}-m", ExecutionRoleArn=ROLE, PrimaryContainer={"Image": "i"})
    variant = {"VariantName": "AllTraffic", "ModelName": f"{name}-m", "InstanceType": "ml.m5.xlarge"}
    sm.create_endpoint_config(
        EndpointConfigName=f"{name}-c", ProductionVariants=[variant | {"InitialInstanceCount": 1}]
    )
    sm.create_endpoint(EndpointName=name, EndpointConfigName=f"{name}-c")


def notebook(sm, name: str = "classic-nb") -> None:
    sm.create_notebook_instance(NotebookInstanceName=name, InstanceType="ml.t3.medium", RoleArn=ROLE)


def emr_cluster(emr) -> str:
    return emr.run_job_flow(
        Name="etl",
        ReleaseLabel="emr-7.2.0",
        JobFlowRole="r",
        ServiceRole="s",
        Instances={"MasterInstanceType": "m5.xlarge", "InstanceCount": 1, "KeepJobFlowAliveWhenNoSteps": True},
    )["JobFlowId"]


# --- HyperPod ------------------------------------------------------------------------------------------


def test_a_hyperpod_arn_carries_the_clusters_id_and_either_names_it(sm):
    arn = sm.create_cluster(ClusterName="llm-train", InstanceGroups=[GROUP])["ClusterArn"]
    assert HYPERPOD_ARN.fullmatch(arn) and "llm-train" not in arn
    [summary] = sm.list_clusters()["ClusterSummaries"]
    assert (summary["ClusterArn"], summary["ClusterName"]) == (arn, "llm-train")
    assert sm.describe_cluster(ClusterName="llm-train")["ClusterArn"] == arn
    assert sm.describe_cluster(ClusterName=arn)["ClusterName"] == "llm-train"
    assert len(sm.list_cluster_nodes(ClusterName=arn)["ClusterNodeSummaries"]) == 2
    sm.add_tags(ResourceArn=arn, Tags=[{"Key": "team", "Value": "llm"}])
    assert sm.list_tags(ResourceArn=arn)["Tags"] == [{"Key": "team", "Value": "llm"}]
    other = sm.create_cluster(ClusterName="llm-eval", InstanceGroups=[GROUP])["ClusterArn"]
    assert other != arn  # each cluster its own id


def test_create_cluster_without_threads_per_core_makes_the_cluster_with_the_services_default(sm):
    arn = sm.create_cluster(ClusterName="llm-train", InstanceGroups=[GROUP])["ClusterArn"]
    [group] = sm.describe_cluster(ClusterName=arn)["InstanceGroups"]
    assert (group["CurrentCount"], group["ThreadsPerCore"]) == (2, 2)


def test_a_create_cluster_the_model_refuses_is_a_validation_error_and_leaves_nothing(sm, unchecked_sm):
    no_role = {k: v for k, v in GROUP.items() if k != "ExecutionRole"}
    assert error_code(unchecked_sm.create_cluster, ClusterName="llm-train", InstanceGroups=[no_role]) == (
        "ValidationException"
    )
    too_many_threads = GROUP | {"ThreadsPerCore": 3}
    assert error_code(unchecked_sm.create_cluster, ClusterName="llm-train", InstanceGroups=[too_many_threads]) == (
        "ValidationException"
    )
    unknown_type = GROUP | {"InstanceType": "ml.nonesuch.xlarge"}
    assert error_code(sm.create_cluster, ClusterName="llm-train", InstanceGroups=[unknown_type]) == (
        "ValidationException"
    )
    twice = [GROUP, GROUP | {"InstanceType": "ml.t3.medium"}]
    assert error_code(sm.create_cluster, ClusterName="llm-train", InstanceGroups=twice) == "ValidationException"
    assert sm.list_clusters()["ClusterSummaries"] == []
    assert error_code(sm.describe_cluster, ClusterName="llm-train") == "ResourceNotFound"
    sm.create_cluster(ClusterName="llm-train", InstanceGroups=[GROUP])  # the name was never taken
    assert error_code(sm.create_cluster, ClusterName="llm-train", InstanceGroups=[GROUP]) == "ResourceInUse"


def test_a_hyperpod_cluster_is_creating_then_in_service_and_deleting_then_gone(sm, sandbox, after):
    arn = sm.create_cluster(ClusterName="llm-train", InstanceGroups=[GROUP])["ClusterArn"]
    assert sm.describe_cluster(ClusterName=arn)["ClusterStatus"] == "Creating"
    assert error_code(sm.update_cluster, ClusterName=arn, InstanceGroups=[GROUP]) == "ConflictException"
    with clock.at(sandbox, after(1)):
        assert sm.describe_cluster(ClusterName=arn)["ClusterStatus"] == "InService"
        sm.update_cluster(ClusterName=arn, InstanceGroups=[GROUP | {"InstanceCount": 4}])
        assert sm.describe_cluster(ClusterName=arn)["ClusterStatus"] == "Updating"
    with clock.at(sandbox, after(2)):
        described = sm.describe_cluster(ClusterName=arn)
        assert (described["ClusterStatus"], described["InstanceGroups"][0]["CurrentCount"]) == ("InService", 4)
        sm.delete_cluster(ClusterName=arn)
        assert sm.list_clusters()["ClusterSummaries"][0]["ClusterStatus"] == "Deleting"
        assert error_code(sm.delete_cluster, ClusterName=arn) == "ConflictException"
    with clock.at(sandbox, after(3)):
        assert sm.list_clusters()["ClusterSummaries"] == []
        assert error_code(sm.describe_cluster, ClusterName=arn) == "ResourceNotFound"


# --- in-between states ---------------------------------------------------------------------------------


def test_an_endpoint_is_creating_updating_and_deleting_for_the_transition_time(sm, sandbox, after):
    endpoint(sm)
    assert sm.describe_endpoint(EndpointName="fraud")["EndpointStatus"] == "Creating"
    assert sm.list_endpoints()["Endpoints"][0]["EndpointStatus"] == "Creating"
    capacity = [{"VariantName": "AllTraffic", "DesiredInstanceCount": 2}]
    update = sm.update_endpoint_weights_and_capacities
    assert error_code(update, EndpointName="fraud", DesiredWeightsAndCapacities=capacity) == "ValidationException"
    with clock.at(sandbox, after(1)):
        in_service = sm.describe_endpoint(EndpointName="fraud")
        assert in_service["EndpointStatus"] == "InService"
        update(EndpointName="fraud", DesiredWeightsAndCapacities=capacity)
        assert sm.describe_endpoint(EndpointName="fraud")["EndpointStatus"] == "Updating"
    with clock.at(sandbox, after(2)):
        updated = sm.describe_endpoint(EndpointName="fraud")
        assert updated["EndpointStatus"] == "InService"
        assert updated["LastModifiedTime"] > in_service["LastModifiedTime"]  # when the update was done
        sm.delete_endpoint(EndpointName="fraud")
        assert sm.describe_endpoint(EndpointName="fraud")["EndpointStatus"] == "Deleting"
    with clock.at(sandbox, after(3)):
        assert sm.list_endpoints()["Endpoints"] == []
        assert error_code(sm.describe_endpoint, EndpointName="fraud") == "ValidationException"


def test_a_notebook_instance_is_pending_stopping_and_deleting_for_the_transition_time(sm, sandbox, after):
    notebook(sm)
    assert sm.describe_notebook_instance(NotebookInstanceName="classic-nb")["NotebookInstanceStatus"] == "Pending"
    assert error_code(sm.stop_notebook_instance, NotebookInstanceName="classic-nb") == "ValidationException"

    def status() -> str:
        return sm.list_notebook_instances()["NotebookInstances"][0]["NotebookInstanceStatus"]

    with clock.at(sandbox, after(1)):
        assert status() == "InService"
        sm.stop_notebook_instance(NotebookInstanceName="classic-nb")
        assert status() == "Stopping"
        assert error_code(sm.delete_notebook_instance, NotebookInstanceName="classic-nb") == "ValidationException"
    with clock.at(sandbox, after(2)):
        assert status() == "Stopped"
        sm.start_notebook_instance(NotebookInstanceName="classic-nb")
        assert status() == "Pending"  # the service starts a notebook instance through Pending
    with clock.at(sandbox, after(3)):
        assert status() == "InService"
        sm.stop_notebook_instance(NotebookInstanceName="classic-nb")
    with clock.at(sandbox, after(4)):
        sm.update_notebook_instance(NotebookInstanceName="classic-nb", InstanceType="ml.t3.large")
        assert status() == "Updating"
    with clock.at(sandbox, after(5)):
        assert status() == "Stopped"
        sm.delete_notebook_instance(NotebookInstanceName="classic-nb")
        assert status() == "Deleting"
    with clock.at(sandbox, after(6)):
        assert sm.list_notebook_instances()["NotebookInstances"] == []


def test_an_emr_cluster_starts_bootstraps_waits_then_terminates_for_the_transition_time(sandbox, after):
    emr = sandbox("emr")
    cluster_id = emr_cluster(emr)

    def described() -> dict:
        return emr.describe_cluster(ClusterId=cluster_id)["Cluster"]["Status"]

    assert described()["State"] == "STARTING" and "ReadyDateTime" not in described()["Timeline"]
    listed = emr.list_clusters(ClusterStates=["STARTING", "BOOTSTRAPPING", "RUNNING", "WAITING"])["Clusters"]
    assert [c["Status"]["State"] for c in listed] == ["STARTING"]
    with clock.at(sandbox, after(1)):
        assert described()["State"] == "BOOTSTRAPPING"
    with clock.at(sandbox, after(2)):
        assert described()["State"] == "WAITING"
        ready = described()["Timeline"]["ReadyDateTime"]
        assert abs(ready - (after(0) + 2 * TRANSITION)) < timedelta(seconds=5)  # when it got there, not when asked
        emr.terminate_job_flows(JobFlowIds=[cluster_id])
        assert described()["State"] == "TERMINATING"
        assert {g["Status"]["State"] for g in emr.list_instance_groups(ClusterId=cluster_id)["InstanceGroups"]} == {
            "RUNNING"
        }
    with clock.at(sandbox, after(3)):
        assert described()["State"] == "TERMINATED" and "EndDateTime" in described()["Timeline"]
        groups = emr.list_instance_groups(ClusterId=cluster_id)["InstanceGroups"]
        assert {(g["Status"]["State"], g["Status"]["StateChangeReason"]["Code"]) for g in groups} == {
            ("TERMINATED", "CLUSTER_TERMINATED")
        }


def test_an_instance_fleet_cluster_lists_adds_and_resizes_its_fleets(sandbox):
    emr = sandbox("emr")
    fleet = {"InstanceTypeConfigs": [{"InstanceType": "m5.2xlarge", "WeightedCapacity": 2}]}
    cluster_id = emr.run_job_flow(
        Name="fleet-etl",
        ReleaseLabel="emr-7.2.0",
        JobFlowRole="r",
        ServiceRole="s",
        Instances={
            "KeepJobFlowAliveWhenNoSteps": True,
            "InstanceFleets": [
                {"InstanceFleetType": "MASTER", "TargetOnDemandCapacity": 1} | fleet,
                {"InstanceFleetType": "CORE", "TargetSpotCapacity": 4} | fleet,
            ],
        },
    )["JobFlowId"]
    assert emr.describe_cluster(ClusterId=cluster_id)["Cluster"]["InstanceCollectionType"] == "INSTANCE_FLEET"

    def capacities() -> list[tuple[str, int, int]]:
        return [
            (f["InstanceFleetType"], f["ProvisionedOnDemandCapacity"], f["ProvisionedSpotCapacity"])
            for f in emr.list_instance_fleets(ClusterId=cluster_id)["InstanceFleets"]
        ]

    assert capacities() == [("MASTER", 1, 0), ("CORE", 0, 4)]
    emr.add_instance_fleet(
        ClusterId=cluster_id, InstanceFleet={"InstanceFleetType": "TASK", "TargetSpotCapacity": 2} | fleet
    )
    core = emr.list_instance_fleets(ClusterId=cluster_id)["InstanceFleets"][1]["Id"]
    emr.modify_instance_fleet(ClusterId=cluster_id, InstanceFleet={"InstanceFleetId": core, "TargetSpotCapacity": 8})
    assert capacities() == [("MASTER", 1, 0), ("CORE", 0, 8), ("TASK", 0, 2)]
    second_task = {"InstanceFleetType": "TASK", "TargetSpotCapacity": 1} | fleet
    assert error_code(emr.add_instance_fleet, ClusterId=cluster_id, InstanceFleet=second_task) == "ValidationException"
    emr.terminate_job_flows(JobFlowIds=[cluster_id])
    assert capacities() == [("MASTER", 0, 0), ("CORE", 0, 0), ("TASK", 0, 0)]  # nothing provisioned once ended
    groups = emr_cluster(emr)
    assert emr.describe_cluster(ClusterId=groups)["Cluster"]["InstanceCollectionType"] == "INSTANCE_GROUP"
    assert emr.list_instance_fleets(ClusterId=groups)["InstanceFleets"] == []


def test_with_no_transition_time_every_change_is_done_at_once(sm, sandbox):
    """What the other tests and the demo rely on (tests/conftest.py sets the transition time to zero)."""
    endpoint(sm)
    notebook(sm)
    arn = sm.create_cluster(ClusterName="llm-train", InstanceGroups=[GROUP])["ClusterArn"]
    cluster_id = emr_cluster(sandbox("emr"))
    assert sm.describe_endpoint(EndpointName="fraud")["EndpointStatus"] == "InService"
    assert sm.describe_notebook_instance(NotebookInstanceName="classic-nb")["NotebookInstanceStatus"] == "InService"
    assert sm.describe_cluster(ClusterName=arn)["ClusterStatus"] == "InService"
    assert sandbox("emr").describe_cluster(ClusterId=cluster_id)["Cluster"]["Status"]["State"] == "WAITING"
    sm.delete_endpoint(EndpointName="fraud")
    assert sm.list_endpoints()["Endpoints"] == []


# --- Studio apps ---------------------------------------------------------------------------------------


def test_a_deleted_app_stays_listed_as_deleted_for_about_a_day(sm, sandbox):
    domain = sm.create_domain(
        DomainName="lab", AuthMode="IAM", DefaultUserSettings={"ExecutionRole": ROLE}, SubnetIds=["s"], VpcId="v"
    )["DomainArn"].rsplit("/", 1)[-1]
    sm.create_space(DomainId=domain, SpaceName="lab", SpaceSettings={"AppType": "JupyterLab"})
    sm.create_app(DomainId=domain, SpaceName="lab", AppType="JupyterLab", AppName="default")
    deleted = datetime.now(UTC)
    sm.delete_app(DomainId=domain, SpaceName="lab", AppType="JupyterLab", AppName="default")
    with clock.at(sandbox, deleted + timedelta(hours=23)):
        assert [a["Status"] for a in sm.list_apps()["Apps"]] == ["Deleted"]
    with clock.at(sandbox, deleted + timedelta(hours=25)):
        assert sm.list_apps()["Apps"] == []
