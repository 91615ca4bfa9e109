"""What the sweep lists and describes, one collector per kind of resource.

A collector lists summaries (every list call paginated), says what identifies a summary and what
fingerprints it (status, last-modified time, and whatever the summary shows of what the resource costs:
an instance type, a volume size; when the fingerprint is unchanged since the last sweep, nothing is
described again, but for the rolling re-describe of what no list call shows), and turns a summary,
described when needed, into an observation. The event path describes one resource the same way
(:meth:`Collector.describe_one`) when an event says it changed but not how.

A describe is the one source that may say a field is empty (guardian.inventory), but a key it leaves out
is as often "not in this response" as "none". So fields() returns None only for what the call reports
as none when there is none, and the collector names those fields (``reports_empty``): an EMR cluster
without an auto-termination policy, a space whose idle shutdown was turned off. The sweep drops every
other None. Instance groups and variants are a complete view only when the response carries the list.
"""

from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from datetime import datetime
from typing import Any, ClassVar

from guardian.arns import Location, resource_path
from guardian.attribution import OwnershipTags
from guardian.aws import AwsClients
from guardian.aws_fields import default_idle_minutes, dig, emr_group_key, space_facts
from guardian.kinds import BUCKET_AVAILABLE, Kind, is_gone
from guardian.recording import variant_groups
from guardian.resource import Resource
from guardian.tagging import Tags

# One entry of a list call's page, as the API returns it.
Summary = dict[str, Any]
# One page of a list call, and the token of the next (None: the last).
Page = tuple[list[Summary], str | None]
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
    # Fields whose None in fields() means the resource has none (the describe says so): these replace.
    reports_empty: ClassVar[frozenset[str]] = frozenset()

    # The largest page the list call allows (its MaxResults maximum in the service model: every call is
    # billed and timed, so fewer calls), or None where the call takes no page size (EMR pages at 50).
    page_size: ClassVar[int | None] = 100
    token_key: ClassVar[str] = "NextToken"  # how a page names the next one, and a request asks for it

    def list(self, clients: AwsClients) -> Iterator[Summary]:
        token: str | None = None
        while True:
            summaries, token = self.list_page(clients, token)
            yield from summaries
            if not token:
                return

    def list_page(self, clients: AwsClients, token: str | None) -> Page:
        """One page of the list call, from ``token`` (None: the first): its summaries and the next page's
        token (None: the last). A sweep resumes from a page's token (guardian.resume)."""
        request = dict(self.list_args)
        if self.page_size is not None:
            request["MaxResults"] = self.page_size
        if token:
            request[self.token_key] = token
        page = getattr(clients(self.service), self.operation)(**request)
        return [*page.get(self.key, [])], page.get(self.token_key) or None

    def identify(self, summary: Summary, location: Location) -> Listed:
        raise NotImplementedError

    def fields(self, clients: AwsClients, listed: Listed, existing: Resource | None) -> Described:
        """The observed fields, and instance groups if this kind has them; may call Describe*."""
        raise NotImplementedError

    # The event path describes one resource of these kinds when an event says it changed but not how
    # (guardian.refresh), with the IAM actions fields() needs beyond the list call.
    describe_permissions: ClassVar[tuple[str, ...]] = ()

    def named(self, resource: Resource) -> Summary:
        """What fields() reads of a summary, from the record: how its describe names the resource."""
        raise NotImplementedError(f"no describe of one {self.kind.value}")

    def describe_one(self, clients: AwsClients, resource: Resource) -> Described:
        """One resource, described as the sweep describes it, named by its record (guardian.refresh)."""
        return self.fields(clients, Listed(resource.arn, resource.name, "", self.named(resource)), resource)

    # Whether every change of what the resource costs shows in its list summary: the facts themselves (an
    # instance type), or a last-modified time the change moves (a space's idle settings, a tracking server's
    # size). Where it may not (an endpoint's counts that autoscaling moves, an EMR cluster's groups, fleets
    # and auto-termination policy, a HyperPod cluster's counts), the sweep also describes the oldest-described
    # share of the unchanged ones each time (guardian.reconcile: the rolling re-describe).
    list_shows_every_change: ClassVar[bool] = False

    def tracks(
        self, arn: str, known: Mapping[str, Resource], tags: Mapping[str, Tags] | None, ownership: OwnershipTags
    ) -> bool:
        """Whether the sweep records a listed resource (keyed ``arn``): every one, but for kinds of which the
        guardian tracks only some; ``known``: the records held, ``tags``: the sweep's bulk tags, if read."""
        return True


def said(collector: Collector, described: dict[str, Any]) -> dict[str, Any]:
    """What a describe said: None is "none" only where the call reports none (``reports_empty``); elsewhere
    it is a key the response did not carry, which says nothing."""
    return {k: v for k, v in described.items() if v is not None or k in collector.reports_empty}


def _stamp(*parts: Any) -> str:
    return "|".join("" if p is None else (p.isoformat() if isinstance(p, datetime) else str(p)) for p in parts)


class Domains(Collector):
    kind = Kind.DOMAIN
    permissions = ("sagemaker:ListDomains", "sagemaker:DescribeDomain")
    reports_empty = frozenset({"default_space_role", "idle_timeout_minutes"})  # none: no such default
    operation, key = "list_domains", "Domains"
    list_shows_every_change = True  # its LastModifiedTime moves with its settings

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
            "idle_timeout_minutes": default_idle_minutes(d.get("DefaultUserSettings")),
            "created_at": d.get("CreationTime"),
            "last_modified_at": d.get("LastModifiedTime"),
        }, None


class UserProfiles(Collector):
    kind = Kind.USER_PROFILE
    permissions = ("sagemaker:ListUserProfiles", "sagemaker:DescribeUserProfile")
    reports_empty = frozenset({"idle_timeout_minutes"})  # none: the domain's default applies
    operation, key = "list_user_profiles", "UserProfiles"
    list_shows_every_change = True  # its LastModifiedTime moves with its settings

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
            "idle_timeout_minutes": default_idle_minutes(p.get("UserSettings")),
            "created_at": p.get("CreationTime"),
            "last_modified_at": p.get("LastModifiedTime"),
        }, None


class Spaces(Collector):
    kind = Kind.SPACE
    permissions = ("sagemaker:ListSpaces", "sagemaker:DescribeSpace")
    reports_empty = frozenset({"idle_timeout_minutes"})  # none: idle shutdown is off
    operation, key = "list_spaces", "Spaces"
    list_shows_every_change = True  # its LastModifiedTime moves with its settings

    def identify(self, s: Summary, location: Location) -> Listed:
        arn = location.space(s["DomainId"], s["SpaceName"])
        # What the summary shows of what the space costs and whose it is, beside its status and last change.
        shown = (
            dig(s, "SpaceSettingsSummary", "SpaceStorageSettings", "EbsStorageSettings", "EbsVolumeSizeInGb"),
            dig(s, "SpaceSharingSettingsSummary", "SharingType"),
            dig(s, "OwnershipSettingsSummary", "OwnerUserProfileName"),
        )
        return Listed(arn, s["SpaceName"], _stamp(s["Status"], s.get("LastModifiedTime"), *shown), s)

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
            "idle_timeout_minutes": None,
        }
        return fields | space_facts(d.get("SpaceSettings")), None


class Apps(Collector):
    kind = Kind.APP
    permissions = ("sagemaker:ListApps",)
    operation, key = "list_apps", "Apps"
    # ListApps carries status, type and instance type: fields() describes nothing.
    list_shows_every_change = True

    def identify(self, s: Summary, location: Location) -> Listed:
        holder = s.get("SpaceName") or s.get("UserProfileName") or ""
        arn = location.app(s["DomainId"], holder, s["AppType"], s["AppName"])
        stamp = _stamp(s["Status"], s.get("CreationTime"), dig(s, "ResourceSpec", "InstanceType"))
        return Listed(arn, s["AppName"], stamp, s)

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
    describe_permissions = ("sagemaker:DescribeEndpoint", "sagemaker:DescribeEndpointConfig")
    operation, key = "list_endpoints", "Endpoints"

    def named(self, resource: Resource) -> Summary:
        return {"EndpointName": resource.name}

    def identify(self, s: Summary, location: Location) -> Listed:
        return Listed(s["EndpointArn"], s["EndpointName"], _stamp(s["EndpointStatus"], s.get("LastModifiedTime")), s)

    def fields(self, clients: AwsClients, listed: Listed, existing: Resource | None) -> Described:
        sagemaker = clients("sagemaker")
        e = sagemaker.describe_endpoint(EndpointName=listed.summary["EndpointName"])
        # Variants the response leaves out are not known; an empty list is none (an authoritative 0).
        groups = variant_groups(e["ProductionVariants"], with_counts=True) if "ProductionVariants" in e else None
        fields = {
            "name": e["EndpointName"],
            "api_arn": e["EndpointArn"],
            "state": e["EndpointStatus"],
            "endpoint_config_name": e["EndpointConfigName"],
            "created_at": e.get("CreationTime"),
            "last_modified_at": e.get("LastModifiedTime"),
        }
        if groups is not None and all("instance_count" in g for g in groups.values()):
            fields["instance_count"] = sum(g["instance_count"] for g in groups.values())
        if existing is None or existing.config_described != e["EndpointConfigName"]:
            config = _endpoint_config(sagemaker, e["EndpointConfigName"])
            groups = groups if groups is not None else {}
            for name, group in variant_groups(config["ProductionVariants"], with_counts=False).items():
                groups[name] = group | groups.get(name, {})
            fields["config_described"] = e["EndpointConfigName"]
        return fields, groups


# The endpoint configurations a sweep has described, by name: a configuration cannot change (an endpoint
# moves to a new one), and thousands of endpoints share a handful, so a sweep describes each once
# (:func:`describing_configs_once`); the event path's describe of one endpoint describes its own.
_configs: ContextVar[dict[str, dict[str, Any]] | None] = ContextVar("endpoint_configs", default=None)


@contextmanager
def describing_configs_once() -> Iterator[None]:
    """For the length of the block (one sweep), each endpoint configuration is described once."""
    token = _configs.set({})
    try:
        yield
    finally:
        _configs.reset(token)


def _endpoint_config(sagemaker: Any, name: str) -> dict[str, Any]:
    held = _configs.get()
    if held is not None and name in held:
        return held[name]
    config: dict[str, Any] = sagemaker.describe_endpoint_config(EndpointConfigName=name)
    if held is not None:
        held[name] = config
    return config


class EmrClusters(Collector):
    kind = Kind.EMR_CLUSTER
    permissions = (
        "elasticmapreduce:ListClusters",
        "elasticmapreduce:DescribeCluster",
        "elasticmapreduce:GetAutoTerminationPolicy",
        "elasticmapreduce:ListInstanceGroups",
        "elasticmapreduce:ListInstanceFleets",
    )
    describe_permissions = (
        "elasticmapreduce:DescribeCluster",
        "elasticmapreduce:GetAutoTerminationPolicy",
        "elasticmapreduce:ListInstanceGroups",
        "elasticmapreduce:ListInstanceFleets",
    )
    service = "emr"
    operation, key = "list_clusters", "Clusters"
    page_size, token_key = None, "Marker"  # ListClusters takes no page size: 50 clusters a page
    reports_empty = frozenset({"auto_termination_idle_seconds"})  # none: no auto-termination policy
    # Terminated clusters no longer bill: the sweep lists the live ones and marks the rest gone.
    list_args = {"ClusterStates": ["STARTING", "BOOTSTRAPPING", "RUNNING", "WAITING", "TERMINATING"]}

    def named(self, resource: Resource) -> Summary:
        return {"Id": resource_path(resource.arn)[-1]}

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
    describe_permissions = ("sagemaker:DescribeCluster",)
    operation, key = "list_clusters", "ClusterSummaries"

    def named(self, resource: Resource) -> Summary:
        # DescribeCluster takes the ARN (which carries the cluster's id) or the name, not an ARN built from it.
        return {"ClusterArn": resource.api_arn or resource.name or resource.arn}

    def identify(self, s: Summary, location: Location) -> Listed:
        return Listed(s["ClusterArn"], s["ClusterName"], _stamp(s["ClusterStatus"]), s)

    def fields(self, clients: AwsClients, listed: Listed, existing: Resource | None) -> Described:
        c = clients("sagemaker").describe_cluster(ClusterName=listed.summary["ClusterArn"])
        groups = None
        if "InstanceGroups" in c:
            groups = {
                g["InstanceGroupName"]: {"instance_type": g["InstanceType"], "instance_count": g.get("CurrentCount", 0)}
                for g in c["InstanceGroups"]
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
    describe_permissions = ("sagemaker:DescribeMlflowTrackingServer",)
    operation, key = "list_mlflow_tracking_servers", "TrackingServerSummaries"
    list_shows_every_change = True  # its LastModifiedTime moves with its settings

    def named(self, resource: Resource) -> Summary:
        return {"TrackingServerName": resource.name}

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
    list_shows_every_change = True

    def identify(self, s: Summary, location: Location) -> Listed:
        stamp = _stamp(s["NotebookInstanceStatus"], s.get("LastModifiedTime"), s.get("InstanceType"))
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


class PartnerApps(Collector):
    kind = Kind.PARTNER_APP
    permissions = ("sagemaker:ListPartnerApps", "sagemaker:DescribePartnerApp")
    describe_permissions = ("sagemaker:DescribePartnerApp",)
    operation, key = "list_partner_apps", "Summaries"
    # The summary shows no tier and no last-modified time: a tier changed by UpdatePartnerApp shows only in the
    # describe, so the rolling re-describe covers what an event did not say.

    def named(self, resource: Resource) -> Summary:
        return {"Arn": resource.api_arn or resource.arn}  # as the API spells it: the id is not the name

    def identify(self, s: Summary, location: Location) -> Listed:
        return Listed(s["Arn"], s.get("Name") or "", _stamp(s.get("Status")), s)

    def fields(self, clients: AwsClients, listed: Listed, existing: Resource | None) -> Described:
        a = clients("sagemaker").describe_partner_app(Arn=listed.summary["Arn"])
        return {
            "name": a.get("Name"),
            "api_arn": a.get("Arn"),
            "state": a.get("Status"),
            "app_type": a.get("Type"),
            "instance_type": a.get("Tier"),  # the tier prices it (guardian.cost)
            "created_at": a.get("CreationTime"),
            "last_modified_at": a.get("LastModifiedTime"),
        }, None


class InferenceComponents(Collector):
    kind = Kind.INFERENCE_COMPONENT
    permissions = ("sagemaker:ListInferenceComponents",)
    operation, key = "list_inference_components", "InferenceComponents"
    # The summary carries status, endpoint and last-modified time: fields() describes nothing.
    list_shows_every_change = True

    def identify(self, s: Summary, location: Location) -> Listed:
        stamp = _stamp(s.get("InferenceComponentStatus"), s.get("LastModifiedTime"), s.get("EndpointName"))
        return Listed(s["InferenceComponentArn"], s["InferenceComponentName"], stamp, s)

    def fields(self, clients: AwsClients, listed: Listed, existing: Resource | None) -> Described:
        s = listed.summary
        return {
            "name": s["InferenceComponentName"],
            "api_arn": s["InferenceComponentArn"],
            "state": s.get("InferenceComponentStatus"),
            "endpoint_name": s.get("EndpointName"),
            "created_at": s.get("CreationTime"),
            "last_modified_at": s.get("LastModifiedTime"),
        }, None


class S3Buckets(Collector):
    """Buckets made from Studio (guardian.events.cloudtrail: CreateBucket by an execution role), kept up to
    date: one ListBuckets call (of this region's buckets) says which are gone; tags come in the sweep's bulk
    read, and the size from CloudWatch (guardian.bucket_size). Not every bucket in the account: only those
    the inventory tracks, or that carry the guardian's ownership tag (it tagged them, then lost the record)."""

    kind = Kind.S3_BUCKET
    service = "s3"
    operation, key = "list_buckets", "Buckets"
    permissions = ("s3:ListAllMyBuckets",)
    list_shows_every_change = True  # nothing to describe: what it costs is its size, read from CloudWatch

    page_size, token_key = None, "ContinuationToken"  # without MaxBuckets, one page holds 10,000 buckets

    def list_page(self, clients: AwsClients, token: str | None) -> Page:
        # Only this region's: another region's buckets are its own guardian's (their events reach that bus).
        request = {"BucketRegion": clients.region} | ({self.token_key: token} if token else {})
        page = clients(self.service).list_buckets(**request)
        return [*page.get(self.key, [])], page.get(self.token_key) or None

    def tracks(
        self, arn: str, known: Mapping[str, Resource], tags: Mapping[str, Tags] | None, ownership: OwnershipTags
    ) -> bool:
        if arn in known:
            return not is_gone(known[arn].state)  # a tombstone (a bucket deleted) is not brought back by a namesake
        return ownership.owner in (tags or {}).get(arn, {})

    def identify(self, s: Summary, location: Location) -> Listed:
        return Listed(location.s3_bucket(s["Name"]), s["Name"], _stamp(s["Name"], s.get("CreationDate")), s)

    def fields(self, clients: AwsClients, listed: Listed, existing: Resource | None) -> Described:
        s = listed.summary
        return {
            "name": s["Name"],
            "state": BUCKET_AVAILABLE,
            "created_at": s.get("CreationDate"),
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
    PartnerApps(),
    InferenceComponents(),
    S3Buckets(),
)
