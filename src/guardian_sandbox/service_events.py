"""The services' own state-change events, as SageMaker and EMR send them to the account's default event bus
whenever a resource's status changes (no trail needed, unlike CloudTrail's): "SageMaker Endpoint State
Change", "SageMaker Notebook Instance State Change", "SageMaker HyperPod Cluster State Change" and "EMR
Cluster State Change".

transitions.py announces each state a passage shows (an in-between one, the end), at the moment the sandbox's
clock reached it; this module makes the event in the shape of AWS's samples (shared/reference/aws-events/eb_*)
and keeps it, per account and region, until the bus takes it (:func:`taken`, simulation/bus.py). Kept on moto's
EventBridge backend, so moto's reset clears them.

Where AWS's events are thinner than a describe, the sandbox's are too: an endpoint's event carries no
ProductionVariants (real ones may not: the guardian must describe, never read an absent list as zero
instances); an EMR cluster's names the cluster and its state, nothing of its instances.
"""

import json
import re
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from moto.emr.models import Cluster as EmrCluster
from moto.events.models import events_backends
from moto.sagemaker.models import Cluster as HyperPodCluster
from moto.sagemaker.models import FakeEndpoint, FakeSagemakerNotebookInstance

ENDPOINT = "SageMaker Endpoint State Change"
NOTEBOOK_INSTANCE = "SageMaker Notebook Instance State Change"
HYPERPOD_CLUSTER = "SageMaker HyperPod Cluster State Change"
EMR_CLUSTER = "EMR Cluster State Change"
KEPT = 10_000  # events nobody takes (no bus watched: the bench, a served sandbox) are not kept forever


@dataclass
class Outbox:
    """What the services sent, not yet taken by the bus, in the order sent."""

    events: list[tuple[datetime, int, dict[str, Any]]] = field(default_factory=list)
    next_seq: int = 0


def outbox(account: str, region: str) -> Outbox:
    backend = events_backends[account][region]
    if "_sandbox_service_events" not in backend.__dict__:
        backend.__dict__["_sandbox_service_events"] = Outbox()
    kept: Outbox = backend.__dict__["_sandbox_service_events"]
    return kept


def taken(account: str, region: str) -> list[tuple[datetime, int, dict[str, Any]]]:
    """Every event sent since last taken: (when, its order, the event), oldest first."""
    kept = outbox(account, region)
    sent, kept.events = kept.events, []
    return sorted(sent, key=lambda item: (item[0], item[1]))


def announce(resource: Any, state: str, at: datetime, user_request: bool = True) -> None:
    """``resource`` (moto's) shows ``state`` since ``at``: its service's event, sent. ``user_request``: an EMR
    cluster's end came of a call (TerminateJobFlows), not of its steps completing."""
    made = _event(resource, state, at, user_request)
    if made is None:
        return
    account, region, event = made
    kept = outbox(account, region)
    kept.next_seq += 1
    kept.events.append((at, kept.next_seq, event))
    del kept.events[:-KEPT]


def _event(resource: Any, state: str, at: datetime, user_request: bool) -> tuple[str, str, dict[str, Any]] | None:
    if isinstance(resource, FakeEndpoint):
        account, region = _arn_place(resource.arn)
        return (
            account,
            region,
            _envelope(ENDPOINT, "aws.sagemaker", account, region, at, [resource.arn], _endpoint(resource, state)),
        )
    if isinstance(resource, FakeSagemakerNotebookInstance):
        account, region = _arn_place(resource.arn)
        detail = _notebook(resource, state)
        return (
            account,
            region,
            _envelope(NOTEBOOK_INSTANCE, "aws.sagemaker", account, region, at, [resource.arn], detail),
        )
    if isinstance(resource, HyperPodCluster):
        account, region = resource.account_id, resource.region_name
        detail = _hyperpod(resource, state)
        return (
            account,
            region,
            _envelope(HYPERPOD_CLUSTER, "aws.sagemaker", account, region, at, [resource.arn], detail),
        )
    if isinstance(resource, EmrCluster):
        account, region = resource.emr_backend.account_id, resource.emr_backend.region_name
        detail = _emr(resource, state, at, user_request)
        return account, region, _envelope(EMR_CLUSTER, "aws.emr", account, region, at, [], detail)
    return None


def _envelope(
    detail_type: str, source: str, account: str, region: str, at: datetime, resources: list[str], detail: Any
) -> dict[str, Any]:
    return {
        "version": "0",
        "id": str(uuid.uuid4()),
        "detail-type": detail_type,
        "source": source,
        "account": account,
        "time": at.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "region": region,
        "resources": resources,
        "detail": detail,
    }


def _arn_place(arn: str) -> tuple[str, str]:
    parts = arn.split(":")
    return parts[4], parts[3]


def _millis(moment: datetime | None) -> float | None:
    """An event's times: epoch milliseconds (moto keeps naive UTC)."""
    if moment is None:
        return None
    aware = moment if moment.tzinfo else moment.replace(tzinfo=UTC)
    return round(aware.timestamp() * 1000, 0)


def _tags(tags: list[dict[str, str]] | None) -> dict[str, str]:
    return {t["Key"]: t["Value"] for t in tags or []}


def _upper_snake(status: str) -> str:
    """An endpoint event's spelling of the API's status: InService -> IN_SERVICE."""
    return re.sub(r"(?<=[a-z])(?=[A-Z])", "_", status).upper()


def _endpoint(endpoint: FakeEndpoint, state: str) -> dict[str, Any]:
    return {
        "EndpointName": endpoint.endpoint_name,
        "EndpointArn": endpoint.arn,
        "EndpointConfigName": endpoint.endpoint_config_name,
        "EndpointStatus": _upper_snake(state),
        "CreationTime": _millis(endpoint.creation_time),
        "LastModifiedTime": _millis(endpoint.last_modified_time),
        "Tags": _tags(endpoint.tags),
    }


def _notebook(notebook: FakeSagemakerNotebookInstance, state: str) -> dict[str, Any]:
    detail = {
        "NotebookInstanceArn": notebook.arn,
        "NotebookInstanceName": notebook.notebook_instance_name,
        "NotebookInstanceStatus": state,
        "InstanceType": notebook.instance_type,
        "RoleArn": notebook.role_arn,
        "NotebookInstanceLifecycleConfigName": notebook.lifecycle_config_name,
        "CreationTime": _millis(notebook.creation_time),
        "LastModifiedTime": _millis(notebook.last_modified_time),
        "Tags": _tags(notebook.tags),
    }
    return {key: value for key, value in detail.items() if value is not None}


def _hyperpod(cluster: HyperPodCluster, state: str) -> dict[str, Any]:
    described = cluster.describe()
    detail = {
        "ClusterArn": cluster.arn,
        "ClusterName": cluster.cluster_name,
        "ClusterStatus": state,
        "CreationTime": _millis(cluster.creation_time),
        "FailureMessage": cluster.failure_message or "",
        "InstanceGroups": json.loads(json.dumps(described.get("InstanceGroups") or [], default=str)),
        "VpcConfig": described.get("VpcConfig"),
        "Orchestrator": described.get("Orchestrator"),
        "NodeRecovery": described.get("NodeRecovery"),
    }
    return {key: value for key, value in detail.items() if value is not None}


def _emr(cluster: EmrCluster, state: str, at: datetime, user_request: bool) -> dict[str, Any]:
    name, cluster_id = cluster.name, cluster.id
    when = at.astimezone(UTC).strftime("%Y-%m-%d %H:%M UTC")
    reason: dict[str, str] = {"code": ""}
    if state == "STARTING":
        message = f"Amazon EMR cluster {cluster_id} ({name}) was requested at {when} and is being created."
    elif state == "TERMINATED":
        reason = (
            {"code": "USER_REQUEST", "message": "Terminated by user request"}
            if user_request
            else {"code": "ALL_STEPS_COMPLETED", "message": "Steps completed"}
        )
        message = (
            f"Amazon EMR Cluster {cluster_id} ({name}) has terminated at {when} with a reason of {reason['code']}."
        )
    else:
        message = f"Amazon EMR cluster {cluster_id} ({name}) is {state.lower()} at {when}."
    return {
        "severity": "CRITICAL" if state == "TERMINATED_WITH_ERRORS" else "INFO",
        "stateChangeReason": json.dumps(reason, separators=(",", ":")),
        "name": name,
        "clusterId": cluster_id,
        "state": state,
        "message": message,
    }
