"""The world as it is, read immediately before remediation decides: the resource described by its name and
told apart by its creation time (a namesake re-created under the old name is another resource), its tags,
its space and that space's apps, an endpoint's calls since the reminder (rejudge.py then says which rules
still fire on it). What a reminder names, and what must still hold when the guardian acts, is
:meth:`Live.named`.

Each kind's reads are declared in :data:`READS` (the remediate function is granted them; every action of
the kind declares them as its own)."""

import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from typing import Any

from botocore.exceptions import ClientError

from guardian import metric_data
from guardian.arns import canonical, resource_path
from guardian.aws import AwsClients
from guardian.aws_fields import dig, space_facts, tag_map
from guardian.kinds import GONE, Kind, is_gone
from guardian.metric_data import MetricQuery
from guardian.resource import Resource
from guardian.rules.base import iso

SPACE_READS = ("sagemaker:DescribeSpace", "sagemaker:ListApps")
TAG_READS = ("sagemaker:ListTags",)
METRIC_READS = metric_data.PERMISSIONS  # the rules re-evaluated; an endpoint's calls since the reminder
READS: Mapping[Kind, tuple[str, ...]] = {
    Kind.ENDPOINT: (
        "sagemaker:DescribeEndpoint",
        "sagemaker:ListInferenceComponents",
        *TAG_READS,
        *SPACE_READS,
        *METRIC_READS,
    ),
    Kind.EMR_CLUSTER: (
        "elasticmapreduce:DescribeCluster",
        "elasticmapreduce:ListInstanceGroups",
        *SPACE_READS,
        *METRIC_READS,
    ),
    Kind.APP: ("sagemaker:DescribeApp", *TAG_READS, *SPACE_READS, "sagemaker:DescribeDomain"),
    Kind.MLFLOW_TRACKING_SERVER: ("sagemaker:DescribeMlflowTrackingServer", *TAG_READS, *SPACE_READS),
    Kind.NOTEBOOK_INSTANCE: ("sagemaker:DescribeNotebookInstance", *TAG_READS, *SPACE_READS),
}
# What the services answer for a name that does not exist (any longer).
_NOT_FOUND = {"ValidationException", "ResourceNotFound", "ResourceNotFoundException", "InvalidRequestException"}
# Where each app type keeps its settings in a space's (and the domain's) settings, where idle shutdown lives.
APP_SETTINGS_KEY = {"JupyterLab": "JupyterLabAppSettings", "CodeEditor": "CodeEditorAppSettings"}
RUNNING_APP_STATES = ("InService", "Pending")


@dataclass(frozen=True)
class LiveSpace:
    name: str
    domain_id: str
    exists: bool
    sharing: str | None = None
    running: bool = False  # one of its apps is InService or Pending
    last_start: datetime | None = None  # the newest app's creation: a restart moves it
    settings: dict[str, Any] = field(default_factory=dict)  # SpaceSettings as described

    @property
    def idle_timeout_minutes(self) -> int | None:
        timeout: int | None = space_facts(self.settings).get("idle_timeout_minutes")
        return timeout


@dataclass(frozen=True)
class Live:
    """A resource as AWS describes it now. ``exists`` False: it is gone (or was never there)."""

    arn: str
    kind: Kind
    exists: bool
    state: str | None = None
    created_at: datetime | None = None
    last_modified_at: datetime | None = None
    shape: dict[str, Any] = field(default_factory=dict)  # instance type, count, config: what it bills by
    tags: dict[str, str] = field(default_factory=dict)
    described: dict[str, Any] = field(default_factory=dict)  # the Describe* answer, for the restore plan
    space: LiveSpace | None = None
    idle_shutdown_range: tuple[int, int] | None = None  # apps: the domain lets a space set idle shutdown
    calls_since_reminder: float | None = None  # endpoints: invocations since the reminder (None: not asked)
    firing: frozenset[str] = frozenset()  # the rules that still fire on the live state

    def named(self) -> dict[str, Any]:
        """The state a reminder names: what must still hold, field for field, when the guardian acts."""
        named: dict[str, Any] = {
            "created_at": utc_iso(self.created_at),
            "state": self.state,
            "last_modified_at": utc_iso(self.last_modified_at),
        } | {key: self.shape[key] for key in sorted(self.shape)}
        if self.space is not None:
            named |= {"space_running": self.space.running, "space_last_start": utc_iso(self.space.last_start)}
        return named


def utc_iso(value: datetime | None) -> str | None:
    """A moment as the named state spells it, whatever zone the SDK parsed it in."""
    return iso(value.astimezone(UTC)) if value else None


def read(clients: AwsClients, record: Resource, now: datetime, reminded_at: datetime | None = None) -> Live:
    """The resource, its tags and its space as they are (an endpoint's calls since ``reminded_at`` too).
    Raises the services' errors other than "not found": a throttled read decides nothing."""
    described = _DESCRIBE[record.kind](clients, record)
    if not described.exists:
        return described
    space = _space(clients, record)
    domain_range = _idle_shutdown_range(clients, record) if record.kind is Kind.APP else None
    calls = None
    if record.kind is Kind.ENDPOINT and reminded_at is not None:
        calls = _calls_since(clients, record, described, reminded_at, now)
    return replace(described, space=space, idle_shutdown_range=domain_range, calls_since_reminder=calls)


# --- each kind's describe ----------------------------------------------------------------------------


def _gone(record: Resource) -> Live:
    return Live(record.arn, record.kind, exists=False, state=GONE)


def _missing(error: ClientError) -> bool:
    return error.response.get("Error", {}).get("Code") in _NOT_FOUND


def _sagemaker_tags(clients: AwsClients, arn: str) -> dict[str, str]:
    pages = clients("sagemaker").get_paginator("list_tags").paginate(ResourceArn=arn)
    return {k: v for page in pages for k, v in tag_map(page.get("Tags", [])).items()}


def _endpoint(clients: AwsClients, record: Resource) -> Live:
    try:
        e = clients("sagemaker").describe_endpoint(EndpointName=record.name)
    except ClientError as error:
        if _missing(error):
            return _gone(record)
        raise
    variants = e.get("ProductionVariants", [])
    shape: dict[str, Any] = {
        "endpoint_config_name": e["EndpointConfigName"],
        "instance_count": sum(int(v.get("CurrentInstanceCount", 0)) for v in variants),
    }
    components = _inference_components(clients, e["EndpointName"])
    if components:  # named only where there are some: a reminder's named state of any other endpoint is as it was
        shape["inference_components"] = components
    return Live(
        canonical(e["EndpointArn"]),
        record.kind,
        exists=True,
        state=e["EndpointStatus"],
        created_at=e.get("CreationTime"),
        last_modified_at=e.get("LastModifiedTime"),
        shape=shape,
        tags=_sagemaker_tags(clients, e["EndpointArn"]),
        described=e,
    )


def _inference_components(clients: AwsClients, endpoint_name: str) -> list[str]:
    """The inference components the endpoint hosts now (its restore plan could not bring them back)."""
    pages = clients("sagemaker").get_paginator("list_inference_components").paginate(EndpointNameEquals=endpoint_name)
    return sorted(c["InferenceComponentName"] for page in pages for c in page["InferenceComponents"])


def _emr_cluster(clients: AwsClients, record: Resource) -> Live:
    emr = clients("emr")
    cluster_id = resource_path(record.arn)[-1]
    try:
        c = emr.describe_cluster(ClusterId=cluster_id)["Cluster"]
    except ClientError as error:
        if _missing(error):
            return _gone(record)
        raise
    state = dig(c, "Status", "State")
    if is_gone(state):
        return Live(record.arn, record.kind, exists=False, state=state)
    groups = [
        g
        for page in emr.get_paginator("list_instance_groups").paginate(ClusterId=cluster_id)
        for g in page["InstanceGroups"]
    ]
    shape = {
        "instance_groups": sorted(
            f"{g['InstanceGroupType']}:{g['InstanceType']}:{g.get('RunningInstanceCount', 0)}" for g in groups
        )
    }
    return Live(
        record.arn,
        record.kind,
        exists=True,
        state=state,
        created_at=dig(c, "Status", "Timeline", "CreationDateTime"),
        shape=shape,
        tags=tag_map(c.get("Tags", [])),
        described=c | {"InstanceGroups": groups},
    )


def app_holder(record: Resource) -> dict[str, str]:
    """What an app's calls name it by besides its type and name: its space, or (legacy, Canvas) its profile."""
    return {"SpaceName": record.studio_space} if record.studio_space else {"UserProfileName": record.studio_owner or ""}


def _app(clients: AwsClients, record: Resource) -> Live:
    try:
        a = clients("sagemaker").describe_app(
            DomainId=record.domain_id, AppType=record.app_type, AppName=record.name, **app_holder(record)
        )
    except ClientError as error:
        if _missing(error):
            return _gone(record)
        raise
    if is_gone(a["Status"]):
        return Live(record.arn, record.kind, exists=False, state=a["Status"])
    return Live(
        record.arn,
        record.kind,
        exists=True,
        state=a["Status"],
        created_at=a.get("CreationTime"),
        shape={"instance_type": dig(a, "ResourceSpec", "InstanceType")},
        tags=_sagemaker_tags(clients, a["AppArn"]),
        described=a,
    )


def _mlflow_tracking_server(clients: AwsClients, record: Resource) -> Live:
    try:
        t = clients("sagemaker").describe_mlflow_tracking_server(TrackingServerName=record.name)
    except ClientError as error:
        if _missing(error):
            return _gone(record)
        raise
    return Live(
        canonical(t["TrackingServerArn"]),
        record.kind,
        exists=True,
        state=t.get("TrackingServerStatus"),
        created_at=t.get("CreationTime"),
        last_modified_at=t.get("LastModifiedTime"),
        shape={"tracking_server_size": t.get("TrackingServerSize")},
        tags=_sagemaker_tags(clients, t["TrackingServerArn"]),
        described=t,
    )


def _notebook_instance(clients: AwsClients, record: Resource) -> Live:
    try:
        n = clients("sagemaker").describe_notebook_instance(NotebookInstanceName=record.name)
    except ClientError as error:
        if _missing(error):
            return _gone(record)
        raise
    return Live(
        canonical(n["NotebookInstanceArn"]),
        record.kind,
        exists=True,
        state=n.get("NotebookInstanceStatus"),
        created_at=n.get("CreationTime"),
        last_modified_at=n.get("LastModifiedTime"),
        shape={"instance_type": n.get("InstanceType")},
        tags=_sagemaker_tags(clients, n["NotebookInstanceArn"]),
        described=n,
    )


_DESCRIBE: Mapping[Kind, Callable[[AwsClients, Resource], Live]] = {
    Kind.ENDPOINT: _endpoint,
    Kind.EMR_CLUSTER: _emr_cluster,
    Kind.APP: _app,
    Kind.MLFLOW_TRACKING_SERVER: _mlflow_tracking_server,
    Kind.NOTEBOOK_INSTANCE: _notebook_instance,
}


# --- its space, its domain, its calls ----------------------------------------------------------------


def _space(clients: AwsClients, record: Resource) -> LiveSpace | None:
    """The space the resource belongs to (an app's own, or the one that made it), as it is now."""
    if record.kind is Kind.APP:
        if not record.studio_space or not record.domain_id:
            return None
        domain_id, name = record.domain_id, record.studio_space
    elif record.space_arn:
        path = resource_path(record.space_arn)
        if len(path) != 2:
            return None
        domain_id, name = path
    else:
        return None
    sagemaker = clients("sagemaker")
    try:
        described = sagemaker.describe_space(DomainId=domain_id, SpaceName=name)
    except ClientError as error:
        if _missing(error):
            return LiveSpace(name, domain_id, exists=False)
        raise
    pages = sagemaker.get_paginator("list_apps").paginate(DomainIdEquals=domain_id, SpaceNameEquals=name)
    apps = [app for page in pages for app in page["Apps"]]
    return LiveSpace(
        name,
        domain_id,
        exists=not is_gone(described.get("Status")),
        sharing=dig(described, "SpaceSharingSettings", "SharingType"),
        running=any(app.get("Status") in RUNNING_APP_STATES for app in apps),
        last_start=max((app["CreationTime"] for app in apps if app.get("CreationTime")), default=None),
        settings=described.get("SpaceSettings") or {},
    )


def _idle_shutdown_range(clients: AwsClients, record: Resource) -> tuple[int, int] | None:
    """(min, max) minutes a space may set idle shutdown to, when its domain turned idle shutdown on for the
    app's type (a space's own setting is honoured only then)."""
    key = APP_SETTINGS_KEY.get(record.app_type or "")
    if key is None or not record.domain_id:
        return None
    domain = clients("sagemaker").describe_domain(DomainId=record.domain_id)
    idle = dig(domain, "DefaultUserSettings", key, "AppLifecycleManagement", "IdleSettings") or {}
    if idle.get("LifecycleManagement") != "ENABLED":
        return None
    return int(idle.get("MinIdleTimeoutInMinutes") or 60), int(idle.get("MaxIdleTimeoutInMinutes") or 525600)


def _calls_since(clients: AwsClients, record: Resource, live: Live, since: datetime, now: datetime) -> float:
    """Invocations of an endpoint, over every variant, since the reminder: a called endpoint is in use."""
    if now <= since:
        return 0.0
    period = max(60, math.ceil((now - since).total_seconds() / 60) * 60)
    variants = [v["VariantName"] for v in live.described.get("ProductionVariants", []) if v.get("VariantName")]
    if not variants:  # no variant to ask CloudWatch about: it cannot be proven unused, so it counts as used
        return math.inf
    queries = [
        MetricQuery(
            variant,
            "AWS/SageMaker",
            "Invocations",
            (("EndpointName", record.name), ("VariantName", variant)),
            "Sum",
            period,
            since,
            since + timedelta(seconds=period),
        )
        for variant in variants
    ]
    fetched = metric_data.fetch(clients("cloudwatch"), queries)
    return sum(value for points in fetched.values() for _, value in points)
