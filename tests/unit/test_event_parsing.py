"""Every event the guardian may receive parses exactly as AWS sends it (the shared reference samples,
and every sample in events/), and the awkward spellings come out as the inventory's."""

from datetime import UTC, datetime

import pytest

from guardian.events import (
    CLOUDTRAIL_DETAIL_TYPE,
    CLOUDTRAIL_SOURCES,
    SERVICE_EVENTS,
    InvalidEvent,
    from_cloudtrail_record,
    translate,
)
from guardian.events.models import UserIdentity
from guardian.kinds import Kind
from tests.conftest import EVENTS, REFERENCE, load, reference

EVENTBRIDGE_SAMPLES = sorted(REFERENCE.glob("eb_*.json"))
OWN_SAMPLES = sorted((EVENTS / "ingest").glob("*.json"))


@pytest.mark.parametrize("path", EVENTBRIDGE_SAMPLES + OWN_SAMPLES, ids=lambda p: p.name)
def test_every_sample_event_is_understood_or_named_unsupported(path):
    event = load(path)
    translated = (event["source"], event["detail-type"]) in SERVICE_EVENTS or (
        event["detail-type"] == CLOUDTRAIL_DETAIL_TYPE and event["source"] in CLOUDTRAIL_SOURCES
    )
    if not translated:  # S3's calls; HyperPod's events while no translator reads them
        with pytest.raises(InvalidEvent) as rejected:
            translate(event)
        assert rejected.value.reason == "unsupported"
        return
    translation = translate(event)
    assert translation.event_id == event["id"]
    for observation in translation.observations:
        assert observation.arn.startswith("arn:aws:")
        assert observation.observed_at.tzinfo is not None


@pytest.mark.parametrize(
    "name",
    ["cloudtrail_sagemaker_CreateEndpoint_IAMUser_awsdocs.json", "cloudtrail_emr_RunJobFlow_IAMUser_awsdocs.json"],
)
def test_cloudtrail_log_records_replay_as_the_events_they_would_have_been(name):
    document = reference(name)
    records = document.get("Records", [document])
    observations = [o for record in records for o in translate(from_cloudtrail_record(record)).observations]
    assert len(observations) == 1
    assert observations[0].fields["creator"].principal_arn.startswith("arn:aws:iam::123456789012:user/")


def test_endpoint_status_in_upper_snake_and_epoch_milliseconds_become_api_values():
    [observation] = translate(reference("eb_sagemaker_endpoint_state_change_IN_SERVICE_awsdocs.json")).observations
    assert observation.fields["state"] == "InService"
    assert observation.observed_at == datetime(2020, 3, 10, 9, 18, 9, 50000, tzinfo=UTC)  # "time": "1583831889050"
    assert observation.fields["created_at"] == datetime(2020, 6, 17, 16, 39, 52, 203000, tzinfo=UTC)
    assert observation.fields["instance_count"] == 1  # DesiredInstanceCount 1.0, no current count
    assert observation.arn == "arn:aws:sagemaker:us-west-2:123456789012:endpoint/myendpoint"


def test_emr_reason_is_json_inside_a_string_and_its_code_may_be_empty():
    [terminated] = translate(reference("eb_emr_cluster_state_change_TERMINATED_awsdocs.json")).observations
    assert terminated.fields["state"] == "TERMINATED"
    assert terminated.fields["state_reason"] == "USER_REQUEST: Terminated by user request"
    assert terminated.fields["deleted_at"] == datetime(2016, 12, 16, 21, 0, 23, tzinfo=UTC)
    [starting] = translate(reference("eb_emr_cluster_state_change_STARTING_awsdocs.json")).observations
    assert "state_reason" not in starting.fields  # {"code":""} says nothing


def test_emr_instance_group_counts_arrive_as_strings():
    [observation] = translate(reference("eb_emr_instance_group_state_change_RUNNING_awsdocs.json")).observations
    assert observation.groups == {
        "CORE/m3.xlarge/ON_DEMAND": {
            "role": "CORE",
            "instance_type": "m3.xlarge",
            "instance_count": 2,
            "market": "ON_DEMAND",
        }
    }


@pytest.mark.parametrize(
    "name",
    ["eb_emr_step_status_change_FAILED_awsdocs.json", "eb_emr_autoscaling_policy_state_change_PENDING_awsdocs.json"],
)
def test_emr_events_that_change_no_cost_or_owner_record_nothing(name):
    assert translate(reference(name)).observations == []


def test_studio_identity_yields_role_and_source_identity():
    with_identity = UserIdentity.model_validate(
        reference("cloudtrail_userIdentity_studio_execution_role_with_sourceIdentity_transcribed.json")["userIdentity"]
    )
    assert with_identity.source_identity == "user1-data-scientist"
    assert with_identity.role_arn.startswith("arn:aws:iam::")
    without = UserIdentity.model_validate(
        reference("cloudtrail_userIdentity_studio_execution_role_no_sourceIdentity_transcribed.json")["userIdentity"]
    )
    assert without.source_identity is None
    assert ":role/sagemaker-admin-workshop-iam-StudioRole" in without.role_arn


def test_a_space_app_and_its_space_come_out_of_create_app():
    [app] = translate(load(EVENTS / "ingest" / "cloudtrail_CreateApp.json")).observations
    assert app.kind is Kind.APP
    assert app.arn == "arn:aws:sagemaker:us-east-1:123456789012:app/d-studio/alice-lab/jupyterlab/default"
    assert app.fields["studio_space"] == "alice-lab"
    assert app.fields["creator"].source_identity == "alice"


def test_terminate_job_flows_names_every_cluster_it_stops():
    event = load(EVENTS / "ingest" / "cloudtrail_TerminateJobFlows.json")
    event["detail"]["requestParameters"]["jobFlowIds"] = ["j-1", "j-2"]
    observations = translate(event).observations
    assert [o.arn.rsplit("/", 1)[-1] for o in observations] == ["j-1", "j-2"]
    assert {o.fields["state"] for o in observations} == {"TERMINATING"}


def test_a_failed_api_call_records_nothing():
    event = load(EVENTS / "ingest" / "cloudtrail_CreateEndpoint.json")
    event["detail"] |= {"errorCode": "ResourceLimitExceeded", "responseElements": None}
    translation = translate(event)
    assert translation.observations == []
    assert "ResourceLimitExceeded" in translation.ignored
