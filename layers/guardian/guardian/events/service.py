"""Service events (SageMaker endpoints, HyperPod clusters, notebook instances and MLflow tracking servers; EMR
clusters, instance groups and fleets) to observations."""

from typing import Any

from aws_lambda_powertools.utilities.parser.models import EventBridgeModel

from guardian.arns import Location
from guardian.aws_fields import emr_group_key
from guardian.events import models as m
from guardian.kinds import GONE, Kind, is_gone
from guardian.resource import Observation


def _observed(event: EventBridgeModel, arn: str, kind: Kind, **said: Any) -> Observation:
    """What one service event says of one resource, stamped with the event's time, id and detail-type."""
    return Observation(arn=arn, kind=kind, observed_at=event.time, source_id=event.id, origin=event.detail_type, **said)


def _known(**values: Any) -> dict[str, Any]:
    """The fields an event states; the ones it leaves out (None or empty) are not said, so they stay as known."""
    return {name: value for name, value in values.items() if value not in (None, "")}


def endpoint(event: m.EndpointStateChangeEvent) -> list[Observation]:
    detail = event.detail
    fields = _known(
        name=detail.EndpointName,
        api_arn=detail.EndpointArn,
        state=detail.EndpointStatus,
        endpoint_config_name=detail.EndpointConfigName,
        created_at=detail.CreationTime,
        last_modified_at=detail.LastModifiedTime,
        state_reason=detail.FailureReason,
    )
    counts = _variant_counts(detail.ProductionVariants or [], steady=detail.EndpointStatus == "InService")
    if counts and all(count is not None for _, count in counts):
        fields["instance_count"] = sum(count for _, count in counts if count is not None)
    # Only named variants can be matched with the endpoint config's; unnamed counts go in the total.
    groups = {name: {"instance_count": count} for name, count in counts if name and count is not None}
    return [
        _observed(
            event,
            detail.EndpointArn,
            Kind.ENDPOINT,
            fields=fields,
            tags=detail.Tags or None,
            groups=groups or None,
            # In service with no count said (AWS sends such events): the describe says what it bills.
            describe_after=detail.EndpointStatus == "InService" and "instance_count" not in fields,
        )
    ]


def _variant_counts(variants: list[m.VariantState], steady: bool) -> list[tuple[str | None, int | None]]:
    """Each variant's name and instance count; None where the event does not say. The desired count stands
    for the current one only in service (mid-update they differ: the bill is the current one)."""
    counts: list[tuple[str | None, int | None]] = []
    for variant in variants:
        count = variant.CurrentInstanceCount
        if count is None and steady:
            count = variant.DesiredInstanceCount
        counts.append((variant.VariantName, None if count is None else int(count)))
    return counts


def emr_cluster(event: m.EmrClusterStateChangeEvent) -> list[Observation]:
    detail = event.detail
    reason = ": ".join(part for part in (detail.stateChangeReason.code, detail.stateChangeReason.message) if part)
    fields = _known(state=detail.state, name=detail.name, state_reason=reason)
    if is_gone(detail.state) and detail.state != "TERMINATING":
        fields["deleted_at"] = event.time
    location = Location(region=event.region, account=event.account)
    return [_observed(event, location.emr_cluster(detail.clusterId), Kind.EMR_CLUSTER, fields=fields)]


def emr_instance_group(event: m.EmrInstanceGroupStateChangeEvent) -> list[Observation]:
    detail = event.detail
    if not (detail.instanceGroupType and detail.instanceType and detail.market):
        return []  # cannot be matched to a priced group; the sweep will see it
    location = Location(region=event.region, account=event.account)
    running = detail.runningInstanceCount
    if detail.state in ("TERMINATED", "ENDED", "SHUTTING_DOWN"):
        running = 0
    elif running is None and detail.state == "RUNNING":
        running = detail.requestedInstanceCount  # a group at rest runs what was asked of it
    if running is None:
        return []  # no count said: absent is not zero, and the group's key alone is nothing new
    group = {
        "role": detail.instanceGroupType,
        "instance_type": detail.instanceType,
        "instance_count": running,
        "market": detail.market,
    }
    key = emr_group_key(detail.instanceGroupType, detail.instanceType, detail.market)
    return [_observed(event, location.emr_cluster(detail.clusterId), Kind.EMR_CLUSTER, groups={key: group})]


def hyperpod_cluster(event: m.HyperPodClusterStateChangeEvent) -> list[Observation]:
    detail = event.detail
    fields = _known(
        api_arn=detail.ClusterArn,
        state=detail.ClusterStatus,
        name=detail.ClusterName,
        created_at=detail.CreationTime,
        state_reason=detail.FailureMessage,
    )
    if detail.ClusterStatus == "Deleting":
        fields["deleted_at"] = event.time
    # A group's current count is what bills; a group the event lists without one is not known to be empty.
    groups = {
        g.InstanceGroupName: {"instance_type": g.InstanceType, "instance_count": g.CurrentCount}
        for g in detail.InstanceGroups or []
    }
    return [
        _observed(
            event,
            detail.ClusterArn,
            Kind.HYPERPOD_CLUSTER,
            fields=fields,
            groups=groups or None,
            # No groups said: the cluster changed (a resize ends in service), and how is for the describe.
            describe_after=detail.InstanceGroups is None,
        )
    ]


def notebook_instance(event: m.NotebookInstanceStateChangeEvent) -> list[Observation]:
    detail = event.detail
    fields = _known(
        name=detail.NotebookInstanceName,
        api_arn=detail.NotebookInstanceArn,
        state=detail.NotebookInstanceStatus,
        instance_type=detail.InstanceType,
        created_at=detail.CreationTime,
        last_modified_at=detail.LastModifiedTime,
    )
    if detail.NotebookInstanceStatus == "Deleting":
        fields["deleted_at"] = event.time
    return [
        _observed(event, detail.NotebookInstanceArn, Kind.NOTEBOOK_INSTANCE, fields=fields, tags=detail.Tags or None)
    ]


# The state each tracking-server event announces (its detail-type says it; the API's spelling).
TRACKING_SERVER_STATES = {
    "SageMaker Tracking Server Creating": "Creating",
    "SageMaker Tracking Server Created": "Created",
    "SageMaker Tracking Server Create Failed": "CreateFailed",
    "SageMaker Tracking Server Updating": "Updating",
    "SageMaker Tracking Server Updated": "Updated",
    "SageMaker Tracking Server Update Failed": "UpdateFailed",
    "SageMaker Tracking Server Deleting": "Deleting",
    "SageMaker Tracking Server Deleted": GONE,
    "SageMaker Tracking Server Delete Failed": "DeleteFailed",
    "SageMaker Tracking Server Starting": "Starting",
    "SageMaker Tracking Server Started": "Started",
    "SageMaker Tracking Server Start Failed": "StartFailed",
    "SageMaker Tracking Server Stopping": "Stopping",
    "SageMaker Tracking Server Stopped": "Stopped",
    "SageMaker Tracking Server Stop Failed": "StopFailed",
    "SageMaker Tracking Server Maintenance In Progress": "MaintenanceInProgress",
    "SageMaker Tracking Server Maintenance Complete": "MaintenanceComplete",
    "SageMaker Tracking Server Maintenance Failed": "MaintenanceFailed",
}
# After these the size may be new, and the event need not say it.
_SIZE_MAY_CHANGE = {"Created", "Updated"}


def tracking_server(event: m.TrackingServerEvent) -> list[Observation]:
    arn = event.arn
    if arn is None:
        raise ValueError("the event names no MLflow tracking server (detail.TrackingServerArn or resources)")
    state = TRACKING_SERVER_STATES[event.detail_type]
    size = event.detail.TrackingServerSize
    fields = _known(
        state=state,
        api_arn=event.detail.TrackingServerArn,
        name=event.detail.TrackingServerName,
        tracking_server_size=size,
        instance_type=f"mlflow.{size}" if size else None,
    )
    if is_gone(state):
        fields["deleted_at"] = event.time
    return [
        _observed(
            event,
            arn,
            Kind.MLFLOW_TRACKING_SERVER,
            fields=fields,
            describe_after=state in _SIZE_MAY_CHANGE and not size,
        )
    ]


def emr_instance_fleet(event: m.EmrInstanceFleetStateChangeEvent) -> list[Observation]:
    """A fleet resized, provisioned or ended. A fleet mixes instance types and markets, which the event does
    not break down: the cluster is described (its fleets' provisioned capacity)."""
    location = Location(region=event.region, account=event.account)
    return [_observed(event, location.emr_cluster(event.detail.clusterId), Kind.EMR_CLUSTER, describe_after=True)]
