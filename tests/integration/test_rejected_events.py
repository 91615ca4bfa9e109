"""Bad input gets a clear, structured rejection: a log line naming the reason, a metric, nothing
written, and a failure (so Lambda's retries end with the event parked in the dead-letter queue)."""

import json

import pytest

from guardian.events import InvalidEvent
from tests.conftest import reference, sample


def _emf_metrics(output: str) -> dict[str, float]:
    metrics = {}
    for line in output.splitlines():
        if line.startswith("{") and "_aws" in line:
            blob = json.loads(line)
            for definition in blob["_aws"]["CloudWatchMetrics"][0]["Metrics"]:
                metrics[definition["Name"]] = blob[definition["Name"]]
    return metrics


def _log_lines(output: str) -> list[dict]:
    return [json.loads(line) for line in output.splitlines() if line.startswith("{") and '"level"' in line]


def _table_items(stack) -> list:
    return stack.clients("dynamodb").scan(TableName=stack.table_name)["Items"]


BROKEN_EMR = reference("eb_emr_cluster_state_change_WAITING_awsdocs.json") | {}
BROKEN_EMR["detail"] = BROKEN_EMR["detail"] | {"stateChangeReason": '{"code":'}
UNKNOWN_CALL = sample("cloudtrail_CreateEndpoint.json")
UNKNOWN_CALL["detail"] = UNKNOWN_CALL["detail"] | {"eventName": "CreateModel"}
NO_ENDPOINT_NAME = sample("cloudtrail_CreateEndpoint.json")
NO_ENDPOINT_NAME["detail"] = NO_ENDPOINT_NAME["detail"] | {"requestParameters": {"endpointConfigName": "c"}}
BAD_STATUS = reference("eb_sagemaker_endpoint_state_change_IN_SERVICE_awsdocs.json")
BAD_STATUS["detail"] = BAD_STATUS["detail"] | {"EndpointStatus": "HIBERNATING"}


@pytest.mark.parametrize(
    ("event", "reason", "says"),
    [
        (BROKEN_EMR, "malformed", "stateChangeReason is not JSON"),
        (UNKNOWN_CALL, "unsupported", "no translator for API call CreateModel"),
        (NO_ENDPOINT_NAME, "malformed", "endpointName: Field required"),
        (BAD_STATUS, "malformed", "unknown EndpointStatus 'HIBERNATING'"),
        (
            reference("eb_cloudtrail_envelope_s3_CreateBucket_awsdocs.json") | {"source": "aws.ec2"},
            "unsupported",
            "source='aws.ec2'",
        ),
        ({"hello": "world"}, "unsupported", "no translator"),
    ],
    ids=["emr-reason-cut-short", "unknown-call", "missing-field", "unknown-status", "other-service", "not-an-event"],
)
def test_a_bad_event_is_rejected_with_reason_metric_and_no_write(stack, captured, event, reason, says):
    with pytest.raises(InvalidEvent):
        stack.invoke("IngestFunction", event)
    output = captured.readouterr().out
    [rejection] = [line for line in _log_lines(output) if line["message"] == "event rejected"]
    assert rejection["level"] == "ERROR"
    assert rejection["reason"] == reason
    assert says in rejection["detail"]
    assert _emf_metrics(output)["RejectedEvents"] == [1.0]
    assert _table_items(stack) == []


def test_a_rejected_event_is_parked_with_its_reason_for_replay(stack):
    [delivery] = stack.deliver(BROKEN_EMR)
    assert isinstance(delivery.error, InvalidEvent)
    [parked] = stack.parked()
    assert parked["requestPayload"] == BROKEN_EMR
    assert "stateChangeReason is not JSON" in parked["responsePayload"]["errorMessage"]
