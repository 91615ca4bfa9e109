"""What the sweep lists and describes, one collector per kind of resource.

A collector lists summaries (every list call paginated), says what identifies a summary and what
fingerprints it (status, last-modified time: when the fingerprint is unchanged since the last sweep,
nothing is described again), and turns a summary, described when needed, into an observation.
"""

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import Any, ClassVar

from guardian.arns import Location
from guardian.aws import AwsClients
from guardian.aws_fields import dig, emr_group_key, space_facts
from guardian.kinds import Kind
from guardian.recording import variant_groups
from guardian.resource import Resource

# One entry of a list call's page, as the API returns it.
Summary = dict[str, Any]
# Instance groups by name (endpoint variants, EMR groups or fleets, HyperPod groups).
Groups = dict[str, dict[str, Any]]
# What fields() observed: the record's fields, and its instance groups where the kind has them.
Described = tuple[dict[str, Any], Groups | None]


@dataclass(frozen=True)
class Listed:
    arn: str
    name: str
    fingerprint: str
    summary: Summary


class Collector:
    kind: ClassVar[Kind]
    service: ClassVar[str] = "sagemaker"
    operation: ClassVar[str]  # the paginated list call
    key: ClassVar[str]  # the list in each page
    list_args: ClassVar[dict[str, Any]] = {}
    permissions: ClassVar[tuple[str, ...]]  # the IAM actions list() and fields() need

    def list(self, clients: AwsClients) -> Iterator[Summary]:
        for page in clients(self.service).get_paginator(self.operation).paginate(**self.list_args):
            yield from page[self.key]

    def identify(self, summary: Summary, location: Location) -> Listed:
        raise NotImplementedError

    def fields(self, clients: AwsClients, listed: Listed, existing: Resource | None) -> Described:
        """The observed fields, and instance groups if this kind has them; may call Describe*."""
        raise NotImplementedError


def _stamp(*parts: Any) -> str:
    return "|".join("" if p is None else (p.isoformat() if isinstance(p, datetime) else str(p)) for p in parts)


class Domains(Collector):
    kind = Kind.DOMAIN
    permissions = ("sagemaker:ListDomains", "sagemaker:DescribeDomain")
    operation, key = "list_domains", "Domains"

    def identify(self, s: Summary, location: Location) -> Listed:
        return Listed(
            location.domain(s["DomainId"]), s["DomainName"], _stamp(s["Status"], s.get("LastModifiedTime")), s
        )

    def fields(self, clients: AwsClients, listed: Listed, existing: Resource | None) -> Described:
        d = clients("sagemaker").describe_domain(DomainId=listed.summary["DomainId"])
        return {
            "name": d["DomainName"],
            "api_arn": d["DomainArn"],
            "domain_id": d["DomainId"],
            "state": d["Status"],
            "execution_role": dig(d, "DefaultUserSettings", "ExecutionRole"),
            "default_space_role": dig(d, "DefaultSpaceSettings", "ExecutionRole"),
            "created_at": d.get("CreationTime"),
            "last_modified_at": d.get("LastModifiedTime"),
        }, None


class UserProfiles(Collector):
    kind = Kind.USER_PROFILE
    permissions = ("sagemaker:ListUserProfiles", "sagemaker:DescribeUserProfile")
    operation, key = "list_user_profiles", "UserProfiles"

    def identify(self, s: Summary, location: Location) -> Listed:
        arn = location.user_profile(s["DomainId"], s["UserProfileName"])
        return Listed(arn, s["UserProfileName"], _stamp(s["Status"], s.get("LastModifiedTime")), s)

    def fields(self, clients: AwsClients, listed: Listed, existing: Resource | None) -> Described:
        s = listed.summary
        p = clients("sagemaker").describe_user_profile(DomainId=s["DomainId"], UserProfileName=s["UserProfileName"])
        return {
            "name": p["UserProfileName"],
            "api_arn": p["UserProfileArn"],
            "domain_id": p["DomainId"],
            "state": p["Status"],
            "execution_role": dig(p, "UserSettings", "ExecutionRole"),
            "created_at": p.get("CreationTime"),
            "last_modified_at": p.get("LastModifiedTime"),
        }, None


class Spaces(Collector):
    kind = Kind.SPACE
    permissions = ("sagemaker:ListSpaces", "sagemaker:DescribeSpace")
    operation, key = "list_spaces", "Spaces"

    def identify(self, s: Summary, location: Location) -> Listed:
        arn = location.space(s["DomainId"], s["SpaceName"])
        return Listed(arn, s["SpaceName"], _stamp(s["Status"], s.get("LastModifiedTime")), s)

    def fields(self, clients: AwsClients, listed: Listed, existing: Resource | None) -> Described:
        s = listed.summary
        d = clients("sagemaker").describe_space(DomainId=s["DomainId"], SpaceName=s["SpaceName"])
        fields = {
            "name": d["SpaceName"],
            "api_arn": d["SpaceArn"],
            "domain_id": d["DomainId"],
            "state": d["Status"],
            "studio_owner": dig(d, "OwnershipSettings", "OwnerUserProfileName"),
            "sharing": dig(d, "SpaceSharingSettings", "SharingType"),
            "created_at": d.get("CreationTime"),
            "last_modified_at": d.get("LastModifiedTime"),
        }
        return fields | space_facts(d.get("SpaceSettings")), None


class Apps(Collector):
    kind = Kind.APP
    permissions = ("sagemaker:ListApps",)
    operation, key = "list_apps", "Apps"
    # ListApps carries status, type and instance type: fields() describes nothing.

    def identify(self, s: Summary, location: Location) -> Listed:
        holder = s.get("SpaceName") or s.get("UserProfileName") or ""
        arn = location.app(s["DomainId"], holder, s["AppType"], s["AppName"])
        return Listed(arn, s["AppName"], _stamp(s["Status"], s.get("CreationTime")), s)

    def fields(self, clients: AwsClients, listed: Listed, existing: Resource | None) -> Described:
        s = listed.summary
        fields = {
            "name": s["AppName"],
            "domain_id": s["DomainId"],
            "app_type": s["AppType"],
            "state": s["Status"],
            "created_at": s.get("CreationTime"),
            "instance_type": dig(s, "ResourceSpec", "InstanceType"),
        }
        if s.get("SpaceName"):
            fields["studio_space"] = s["SpaceName"]
        elif s.get("UserProfileName"):
            fields["studio_owner"] = s["UserProfileName"]
        return fields, None


class Endpoints(Collector):
    kind = Kind.ENDPOINT
    permissions = ("sagemaker:ListEndpoints", "sagemaker:DescribeEndpoint", "sagemaker:DescribeEndpointConfig")
    operation, key = "list_endpoints", "Endpoints"

    def identify(self, s: Summary, location: Location) -> Listed:
        return Listed(s["EndpointArn"], s["EndpointName"], _stamp(s["EndpointStatus"], s.get("LastModifiedTime")), s)

    def fields(self, clients: AwsClients, listed: Listed, existing: Resource | None) -> Described:
        sagemaker = clients("sagemaker")
        e = sagemaker.describe_endpoint(EndpointName=listed.summary["EndpointName"])
        variants = e.get("ProductionVariants", [])
        groups = variant_groups(variants, with_counts=True)
        fields = {
            "name": e["EndpointName"],
            "api_arn": e["EndpointArn"],
            "state": e["EndpointStatus"],
            "endpoint_config_name": e["EndpointConfigName"],
            "instance_count": sum(g.get("instance_count", 0) for g in groups.values()),
            "created_at": e.get("CreationTime"),
            "last_modified_at": e.get("LastModifiedTime"),
        }
        if existing is None or existing.config_described != e["EndpointConfigName"]:
            config = sagemaker.describe_endpoint_config(EndpointConfigName=e["EndpointConfigName"])
            for name, group in variant_groups(config["ProductionVariants"], with_counts=False).items():
                groups[name] = group | groups.get(name, {})
            fields["config_described"] = e["EndpointConfigName"]
        return fields, groups


class EmrClusters(Collector):
    kind = Kind.EMR_CLUSTER
    permissions = (
        "elasticmapreduce:ListClusters",
        "elasticmapreduce:DescribeCluster",
        "elasticmapreduce:GetAutoTerminationPolicy",
        "elasticmapreduce:ListInstanceGroups",
        "elasticmapreduce:ListInstanceFleets",
    )
    service = "emr"
    operation, key = "list_clusters", "Clusters"
    # Terminated clusters no longer bill: the sweep lists the live ones and marks the rest gone.
    list_args = {"ClusterStates": ["STARTING", "BOOTSTRAPPING", "RUNNING", "WAITING", "TERMINATING"]}

    def identify(self, s: Summary, location: Location) -> Listed:
        arn = s.get("ClusterArn") or location.emr_cluster(s["Id"])
        return Listed(arn, s["Name"], _stamp(s["Status"]["State"]), s)

    def fields(self, clients: AwsClients, listed: Listed, existing: Resource | None) -> Described:
        emr = clients("emr")
        cluster_id = listed.summary["Id"]
        c = emr.describe_cluster(ClusterId=cluster_id)["Cluster"]
        policy = emr.get_auto_termination_policy(ClusterId=cluster_id).get("AutoTerminationPolicy")
        fields = {
            "name": c["Name"],
            "api_arn": c.get("ClusterArn"),
            "state": c["Status"]["State"],
            "created_at": dig(c, "Status", "Timeline", "CreationDateTime"),
            "auto_termination_idle_seconds": (policy or {}).get("IdleTimeout"),
        }
        return fields, self._groups(emr, cluster_id, c.get("InstanceCollectionType"))

    @staticmethod
    def _groups(emr: Any, cluster_id: str, collection: str | None) -> Groups:
        groups: Groups = {}

        def add(role: str, instance_type: str, count: int, market: str | None) -> None:
            key = emr_group_key(role, instance_type, market)
            held = groups.get(key, {}).get("instance_count", 0)
            groups[key] = {
                "role": role,
                "instance_type": instance_type,
                "instance_count": held + count,
                "market": market or "ON_DEMAND",
            }

        if collection == "INSTANCE_FLEET":
            for page in emr.get_paginator("list_instance_fleets").paginate(ClusterId=cluster_id):
                for fleet in page["InstanceFleets"]:
                    specs = fleet.get("InstanceTypeSpecifications") or [{}]
                    instance_type = specs[0].get("InstanceType", "unknown")
                    add(fleet["InstanceFleetType"], instance_type, fleet.get("ProvisionedOnDemandCapacity", 0), None)
                    add(fleet["InstanceFleetType"], instance_type, fleet.get("ProvisionedSpotCapacity", 0), "SPOT")
        else:
            for page in emr.get_paginator("list_instance_groups").paginate(ClusterId=cluster_id):
                for group in page["InstanceGroups"]:
                    add(
                        group["InstanceGroupType"],
                        group["InstanceType"],
                        group.get("RunningInstanceCount", 0),
                        group.get("Market"),
                    )
        return groups


class HyperPodClusters(Collector):
    kind = Kind.HYPERPOD_CLUSTER
    permissions = ("sagemaker:ListClusters", "sagemaker:DescribeCluster")
    operation, key = "list_clusters", "ClusterSummaries"

    def identify(self, s: Summary, location: Location) -> Listed:
        return Listed(s["ClusterArn"], s["ClusterName"], _stamp(s["ClusterStatus"]), s)

    def fields(self, clients: AwsClients, listed: Listed, existing: Resource | None) -> Described:
        c = clients("sagemaker").describe_cluster(ClusterName=listed.summary["ClusterArn"])
        groups = {
            g["InstanceGroupName"]: {"instance_type": g["InstanceType"], "instance_count": g.get("CurrentCount", 0)}
            for g in c.get("InstanceGroups", [])
        }
        return {
            "name": c["ClusterName"],
            "api_arn": c["ClusterArn"],
            "state": c["ClusterStatus"],
            "created_at": c.get("CreationTime"),
        }, groups


class MlflowTrackingServers(Collector):
    kind = Kind.MLFLOW_TRACKING_SERVER
    permissions = ("sagemaker:ListMlflowTrackingServers", "sagemaker:DescribeMlflowTrackingServer")
    operation, key = "list_mlflow_tracking_servers", "TrackingServerSummaries"

    def identify(self, s: Summary, location: Location) -> Listed:
        stamp = _stamp(s.get("TrackingServerStatus"), s.get("LastModifiedTime"))
        return Listed(s["TrackingServerArn"], s["TrackingServerName"], stamp, s)

    def fields(self, clients: AwsClients, listed: Listed, existing: Resource | None) -> Described:
        t = clients("sagemaker").describe_mlflow_tracking_server(
            TrackingServerName=listed.summary["TrackingServerName"]
        )
        fields = {
            "name": t["TrackingServerName"],
            "api_arn": t["TrackingServerArn"],
            "state": t.get("TrackingServerStatus"),
            "tracking_server_size": t.get("TrackingServerSize"),
            "instance_type": f"mlflow.{t['TrackingServerSize']}" if t.get("TrackingServerSize") else None,
            "created_at": t.get("CreationTime"),
            "last_modified_at": t.get("LastModifiedTime"),
        }
        # Studio records who created a tracking server: the Studio API states the owner.
        if dig(t, "CreatedBy", "UserProfileName"):
            fields |= {"studio_owner": t["CreatedBy"]["UserProfileName"], "domain_id": dig(t, "CreatedBy", "DomainId")}
        return fields, None


class NotebookInstances(Collector):
    kind = Kind.NOTEBOOK_INSTANCE
    permissions = ("sagemaker:ListNotebookInstances",)
    operation, key = "list_notebook_instances", "NotebookInstances"
    # The summary carries status and instance type: fields() describes nothing.

    def identify(self, s: Summary, location: Location) -> Listed:
        stamp = _stamp(s["NotebookInstanceStatus"], s.get("LastModifiedTime"))
        return Listed(s["NotebookInstanceArn"], s["NotebookInstanceName"], stamp, s)

    def fields(self, clients: AwsClients, listed: Listed, existing: Resource | None) -> Described:
        s = listed.summary
        return {
            "name": s["NotebookInstanceName"],
            "api_arn": s["NotebookInstanceArn"],
            "state": s["NotebookInstanceStatus"],
            "instance_type": s.get("InstanceType"),
            "created_at": s.get("CreationTime"),
            "last_modified_at": s.get("LastModifiedTime"),
        }, None


# Owners first: attribution of everything else looks them up.
COLLECTORS: tuple[Collector, ...] = (
    Domains(),
    UserProfiles(),
    Spaces(),
    Apps(),
    Endpoints(),
    EmrClusters(),
    HyperPodClusters(),
    MlflowTrackingServers(),
    NotebookInstances(),
)
