"""The events and calls that move a bill after a resource is made: each is read for what it says (absent is not
zero), and where it says a resource changed but not how, it asks for the resource's describe. And the sweep's
rolling re-describe reaches every resource within its stated number of sweeps."""

import copy
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from guardian.arns import Location
from guardian.collectors import COLLECTORS
from guardian.events import HANDLED_API_CALLS, HANDLED_SERVICE_EVENTS, InvalidEvent, translate
from guardian.events.service import TRACKING_SERVER_STATES
from guardian.kinds import GONE, Kind
from guardian.reconcile import REDESCRIBE_SWEEPS, due_again
from guardian.resource import Resource
from guardian_sandbox.eventfactory import Caller, EventFactory
from tests.conftest import EVENTS, load, reference

LOCATION = Location("us-east-1", "123456789012")
AT = datetime(2026, 11, 20, 15, tzinfo=UTC)
ALICE = Caller(role="AmazonSageMaker-ExecutionRole-alice", source_identity="alice")
ALICE_ROLE = "arn:aws:iam::123456789012:role/service-role/AmazonSageMaker-ExecutionRole-alice"


def call(name: str, request: dict[str, Any], response: dict[str, Any] | None = None) -> dict[str, Any]:
    event = EventFactory(LOCATION).api_call(name, AT, ALICE, request, response)
    if name in EMR_CALLS:  # EMR's calls come from their own source
        event |= {"source": "aws.elasticmapreduce"}
        event["detail"]["eventSource"] = "elasticmapreduce.amazonaws.com"
    return event


EMR_CALLS = {
    "PutAutoTerminationPolicy",
    "RemoveAutoTerminationPolicy",
    "ModifyInstanceGroups",
    "AddInstanceGroups",
    "ModifyInstanceFleet",
    "AddInstanceFleet",
}
# Each call that changes a bill after creation: its request, and what it records (fields it must set, and
# whether the event path must describe the resource to know the rest).
CHANGES: dict[str, tuple[dict[str, Any], dict[str, Any], bool]] = {
    "UpdateCluster": (
        {"clusterName": "llm-train", "instanceGroups": [{"instanceGroupName": "workers", "instanceCount": 16}]},
        {"state": "Updating"},
        True,
    ),
    "BatchDeleteClusterNodes": ({"clusterName": "llm-train", "nodeIds": ["i-0123456789abcdef0"]}, {}, True),
    "BatchAddClusterNodes": (
        {"clusterName": "llm-train", "nodesToAdd": [{"instanceGroupName": "workers", "incrementTargetCountBy": 2}]},
        {},
        True,
    ),
    "UpdateNotebookInstance": (
        {"notebookInstanceName": "classic-nb", "instanceType": "ml.m5.xlarge"},
        {"instance_type": "ml.m5.xlarge"},
        False,
    ),
    "UpdateMlflowTrackingServer": (
        {"trackingServerName": "team-tracking", "trackingServerSize": "Large"},
        {"tracking_server_size": "Large", "instance_type": "mlflow.Large"},
        False,
    ),
    "UpdateEndpointWeightsAndCapacities": (
        {
            "endpointName": "churn",
            "desiredWeightsAndCapacities": [{"variantName": "AllTraffic", "desiredInstanceCount": 4}],
        },
        {"state": "Updating"},
        True,
    ),
    "UpdateDomain": (
        {
            "domainId": "d-studio",
            "defaultUserSettings": {
                "jupyterLabAppSettings": {
                    "appLifecycleManagement": {
                        "idleSettings": {"lifecycleManagement": "ENABLED", "idleTimeoutInMinutes": 60}
                    }
                }
            },
        },
        {"idle_timeout_minutes": 60},
        False,
    ),
    "UpdateUserProfile": (
        {"domainId": "d-studio", "userProfileName": "alice", "userSettings": {"executionRole": ALICE_ROLE}},
        {"execution_role": ALICE_ROLE},
        False,
    ),
    "PutAutoTerminationPolicy": (
        {"clusterId": "j-2AXXXXXXGAPLF", "autoTerminationPolicy": {"idleTimeout": 3600}},
        {"auto_termination_idle_seconds": 3600},
        False,
    ),
    "RemoveAutoTerminationPolicy": ({"clusterId": "j-2AXXXXXXGAPLF"}, {}, True),
    "ModifyInstanceGroups": (
        {"clusterId": "j-2AXXXXXXGAPLF", "instanceGroups": [{"instanceGroupId": "ig-1", "instanceCount": 9}]},
        {},
        True,
    ),
    "AddInstanceGroups": (
        {"jobFlowId": "j-2AXXXXXXGAPLF", "instanceGroups": [{"instanceRole": "TASK", "instanceType": "m5.xlarge"}]},
        {},
        True,
    ),
    "ModifyInstanceFleet": (
        {"clusterId": "j-2AXXXXXXGAPLF", "instanceFleet": {"instanceFleetId": "if-1", "targetSpotCapacity": 8}},
        {},
        True,
    ),
    "AddInstanceFleet": (
        {"clusterId": "j-2AXXXXXXGAPLF", "instanceFleet": {"instanceFleetType": "TASK"}},
        {},
        True,
    ),
}


def test_every_call_that_moves_a_bill_is_handled():
    assert set(CHANGES) <= HANDLED_API_CALLS


@pytest.mark.parametrize("name", sorted(CHANGES))
def test_each_call_records_what_it_says_and_asks_for_a_describe_where_it_does_not(name):
    request, expected, describe = CHANGES[name]
    [observation] = translate(call(name, request)).observations
    assert observation.fields.items() >= expected.items()
    assert observation.describe_after is describe
    assert observation.observed_at == AT


def test_a_resize_records_the_counts_asked_for_and_says_nothing_of_a_group_it_does_not_name():
    [observation] = translate(load(EVENTS / "ingest" / "cloudtrail_UpdateCluster_hyperpod.json")).observations
    assert observation.groups == {"workers": {"instance_type": "ml.g5.8xlarge", "instance_count": 16}}
    assert not observation.complete_maps  # the cluster's other groups stay as known


def test_a_policy_without_its_idle_timeout_is_described_rather_than_guessed():
    [observation] = translate(
        call("PutAutoTerminationPolicy", {"clusterId": "j-1", "autoTerminationPolicy": {}})
    ).observations
    assert "auto_termination_idle_seconds" not in observation.fields and observation.describe_after


def test_an_instance_group_change_that_names_no_cluster_records_nothing():
    translation = translate(call("ModifyInstanceGroups", {"instanceGroups": [{"instanceGroupId": "ig-1"}]}))
    assert translation.observations == []


@pytest.mark.parametrize("minutes", [0, 525_601])
def test_an_idle_timeout_out_of_bounds_is_rejected_not_recorded(minutes):
    settings = {
        "jupyterLabAppSettings": {"appLifecycleManagement": {"idleSettings": {"idleTimeoutInMinutes": minutes}}}
    }
    with pytest.raises(InvalidEvent):
        translate(call("UpdateDomain", {"domainId": "d-studio", "defaultUserSettings": settings}))


# --- service events -------------------------------------------------------------------------------------------


HYPERPOD = "eb_sagemaker_hyperpod_cluster_state_change_InService_awsdocs.json"


def test_a_hyperpod_state_change_counts_what_runs_now():
    [observation] = translate(reference(HYPERPOD)).observations
    assert observation.kind is Kind.HYPERPOD_CLUSTER and observation.fields["state"] == "InService"
    assert observation.groups == {"example instance group name": {"instance_type": "ml.t3.medium", "instance_count": 1}}
    assert not observation.describe_after


def test_a_hyperpod_state_change_without_its_groups_asks_for_the_describe():
    event = reference(HYPERPOD)
    del event["detail"]["InstanceGroups"]
    [observation] = translate(event).observations
    assert observation.groups is None and observation.describe_after


def test_a_hyperpod_group_without_its_count_is_no_count():
    event = reference(HYPERPOD)
    del event["detail"]["InstanceGroups"][0]["CurrentCount"]
    [observation] = translate(event).observations
    assert observation.groups == {
        "example instance group name": {"instance_type": "ml.t3.medium", "instance_count": None}
    }


def notebook_event(status: str, **detail: Any) -> dict[str, Any]:
    """Shaped as EventBridge's schema for aws.sagemaker@SageMakerNotebookInstanceStateChange names its fields."""
    return {
        "version": "0",
        "id": f"nb-{status}",
        "detail-type": "SageMaker Notebook Instance State Change",
        "source": "aws.sagemaker",
        "account": "123456789012",
        "time": "2026-11-20T15:00:00Z",
        "region": "us-east-1",
        "resources": ["arn:aws:sagemaker:us-east-1:123456789012:notebook-instance/classic-nb"],
        "detail": {
            "NotebookInstanceArn": "arn:aws:sagemaker:us-east-1:123456789012:notebook-instance/classic-nb",
            "NotebookInstanceName": "classic-nb",
            "NotebookInstanceStatus": status,
            "CreationTime": 1763630000000,
            "LastModifiedTime": 1763650800000,
        }
        | detail,
    }


@pytest.mark.parametrize("spelled", ["Stopped", "STOPPED", "InService", "IN_SERVICE"])
def test_a_notebook_instance_state_change_in_either_spelling(spelled):
    [observation] = translate(notebook_event(spelled, InstanceType="ml.t3.medium")).observations
    assert observation.fields["state"] in ("Stopped", "InService")
    assert observation.fields["instance_type"] == "ml.t3.medium"


def test_a_notebook_instance_state_change_without_its_type_says_nothing_of_it():
    [observation] = translate(notebook_event("InService")).observations
    assert "instance_type" not in observation.fields


def tracking_server_event(detail_type: str, detail: dict[str, Any], resources: list[str]) -> dict[str, Any]:
    return {
        "version": "0",
        "id": "ts-1",
        "detail-type": detail_type,
        "source": "aws.sagemaker",
        "account": "123456789012",
        "time": "2026-11-20T15:00:00Z",
        "region": "us-east-1",
        "resources": resources,
        "detail": detail,
    }


SERVER = "arn:aws:sagemaker:us-east-1:123456789012:mlflow-tracking-server/team-tracking"


@pytest.mark.parametrize("detail_type", sorted(TRACKING_SERVER_STATES))
def test_each_tracking_server_event_sets_the_state_its_type_names(detail_type):
    [observation] = translate(tracking_server_event(detail_type, {}, [SERVER])).observations
    assert (observation.arn, observation.fields["state"]) == (SERVER, TRACKING_SERVER_STATES[detail_type])
    if observation.fields["state"] == GONE:
        assert observation.fields["deleted_at"] == observation.observed_at


def test_a_tracking_server_updated_without_its_size_asks_for_the_describe():
    [updated] = translate(tracking_server_event("SageMaker Tracking Server Updated", {}, [SERVER])).observations
    assert updated.describe_after
    sized = {"TrackingServerArn": SERVER, "TrackingServerSize": "Medium"}
    [said] = translate(tracking_server_event("SageMaker Tracking Server Updated", sized, [])).observations
    assert (said.fields["instance_type"], said.describe_after) == ("mlflow.Medium", False)


def test_a_tracking_server_event_that_names_no_server_is_malformed():
    with pytest.raises(InvalidEvent) as rejected:
        translate(tracking_server_event("SageMaker Tracking Server Stopped", {}, []))
    assert rejected.value.reason == "malformed"


def test_an_instance_fleet_state_change_asks_for_its_cluster_described():
    event = copy.deepcopy(reference("eb_emr_instance_group_state_change_RUNNING_awsdocs.json"))
    event["detail-type"] = "EMR Instance Fleet State Change"
    event["detail"] = {"clusterId": "j-2AXXXXXXGAPLF", "instanceFleetId": "if-1", "state": "RESIZING"}
    [observation] = translate(event).observations
    assert observation.arn.endswith("cluster/j-2AXXXXXXGAPLF") and observation.describe_after
    assert observation.fields == {}


def test_the_service_events_the_issue_names_are_handled():
    assert {
        ("aws.sagemaker", "SageMaker HyperPod Cluster State Change"),
        ("aws.sagemaker", "SageMaker Notebook Instance State Change"),
        ("aws.sagemaker", "SageMaker Tracking Server Stopped"),
        ("aws.emr", "EMR Instance Fleet State Change"),
    } <= HANDLED_SERVICE_EVENTS


# --- the rolling re-describe -------------------------------------------------------------------------------


ROLLING = next(c for c in COLLECTORS if c.kind is Kind.HYPERPOD_CLUSTER)
LISTED_IN_FULL = next(c for c in COLLECTORS if c.kind is Kind.NOTEBOOK_INSTANCE)


def records(count: int, ages: list[int]) -> dict[str, Resource]:
    start = datetime(2026, 11, 1, tzinfo=UTC)
    return {
        f"arn:aws:sagemaker:us-east-1:123456789012:cluster/c{i:03d}": Resource(
            arn=f"arn:aws:sagemaker:us-east-1:123456789012:cluster/c{i:03d}",
            kind=Kind.HYPERPOD_CLUSTER,
            described_at=start + timedelta(minutes=ages[i % len(ages)]),
        )
        for i in range(count)
    }


@given(
    count=st.integers(min_value=1, max_value=60),
    ages=st.lists(st.integers(min_value=0, max_value=10_000), min_size=1, max_size=60),
)
def test_every_resource_is_described_again_within_the_stated_sweeps(count, ages):
    """Whatever the order they were last described in, each is described again within REDESCRIBE_SWEEPS
    sweeps, and no sweep describes more than its share."""
    known = records(count, ages)
    waited = dict.fromkeys(known, 0)
    now = datetime(2026, 12, 1, tzinfo=UTC)
    for sweep in range(REDESCRIBE_SWEEPS):
        due = due_again(ROLLING, list(known), known)
        assert len(due) == -(-count // REDESCRIBE_SWEEPS)
        for arn in due:
            known[arn] = known[arn].model_copy(update={"described_at": now + timedelta(hours=sweep)})
            waited.pop(arn, None)
    assert waited == {}, f"not described again within {REDESCRIBE_SWEEPS} sweeps"


def test_a_kind_whose_list_shows_every_change_is_never_described_again_for_nothing():
    known = records(12, [0])
    assert due_again(LISTED_IN_FULL, list(known), known) == set()
