"""Service events (SageMaker endpoint, EMR cluster and instance group state changes) to observations."""

from typing import Any

from guardian.arns import Location
from guardian.aws_fields import emr_group_key
from guardian.events import models as m
from guardian.kinds import Kind, is_gone
from guardian.resource import Observation


def endpoint(event: m.EndpointStateChangeEvent) -> list[Observation]:
    detail = event.detail
    current = [v.CurrentInstanceCount for v in detail.ProductionVariants]
    if all(count is None for count in current):
        current = [v.DesiredInstanceCount for v in detail.ProductionVariants]
    fields: dict[str, Any] = {
        "name": detail.EndpointName,
        "api_arn": detail.EndpointArn,
        "state": detail.EndpointStatus,
        "instance_count": int(sum(count or 0 for count in current)),
    }
    if detail.EndpointConfigName:
        fields["endpoint_config_name"] = detail.EndpointConfigName
    if detail.CreationTime:
        fields["created_at"] = detail.CreationTime
    if detail.LastModifiedTime:
        fields["last_modified_at"] = detail.LastModifiedTime
    if detail.FailureReason:
        fields["state_reason"] = detail.FailureReason
    # Only named variants can be matched with the endpoint config's; unnamed counts go in the total.
    groups = {
        v.VariantName: {"instance_count": int(v.CurrentInstanceCount or v.DesiredInstanceCount or 0)}
        for v in detail.ProductionVariants
        if v.VariantName
    }
    return [
        Observation(
            arn=detail.EndpointArn,
            kind=Kind.ENDPOINT,
            observed_at=event.time,
            source_id=event.id,
            origin=event.detail_type,
            fields=fields,
            tags=detail.Tags or None,
            groups=groups or None,
        )
    ]


def emr_cluster(event: m.EmrClusterStateChangeEvent) -> list[Observation]:
    detail = event.detail
    location = Location(region=event.region, account=event.account)
    fields: dict[str, Any] = {"state": detail.state}
    if detail.name:
        fields["name"] = detail.name
    reason = detail.stateChangeReason
    if reason.code or reason.message:
        fields["state_reason"] = ": ".join(part for part in (reason.code, reason.message) if part)
    if is_gone(detail.state) and detail.state != "TERMINATING":
        fields["deleted_at"] = event.time
    return [
        Observation(
            arn=location.emr_cluster(detail.clusterId),
            kind=Kind.EMR_CLUSTER,
            observed_at=event.time,
            source_id=event.id,
            origin=event.detail_type,
            fields=fields,
        )
    ]


def emr_instance_group(event: m.EmrInstanceGroupStateChangeEvent) -> list[Observation]:
    detail = event.detail
    if not (detail.instanceGroupType and detail.instanceType):
        return []  # cannot be matched to a priced group; the sweep will see it
    location = Location(region=event.region, account=event.account)
    running = detail.runningInstanceCount
    if running is None:
        running = detail.requestedInstanceCount or 0
    if detail.state in ("TERMINATED", "ENDED", "SHUTTING_DOWN"):
        running = 0
    group = {
        "role": detail.instanceGroupType,
        "instance_type": detail.instanceType,
        "instance_count": running,
        "market": detail.market or "ON_DEMAND",
    }
    return [
        Observation(
            arn=location.emr_cluster(detail.clusterId),
            kind=Kind.EMR_CLUSTER,
            observed_at=event.time,
            source_id=event.id,
            origin=event.detail_type,
            groups={emr_group_key(detail.instanceGroupType, detail.instanceType, detail.market): group},
        )
    ]
