"""CloudTrail API calls (SageMaker and EMR) to observations: one translator per call name."""

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any, TypeVar

from pydantic import BaseModel

from guardian.arns import NAME, Location, canonical, kind_of, parse
from guardian.aws_fields import default_idle_minutes, dig, emr_group_key, profile_role, space_facts, tag_map
from guardian.events import models as m
from guardian.kinds import BUCKET_AVAILABLE, GONE, Kind
from guardian.resource import Creator, Observation


@dataclass(frozen=True)
class Call:
    """One successful API call, as the translators need it."""

    event_id: str
    name: str
    at: datetime
    location: Location
    creator: Creator
    response: dict[str, Any]

    def observe(self, arn: str, kind: Kind, fields: dict[str, Any], **extra: Any) -> Observation:
        return Observation(
            arn=arn,
            kind=kind,
            observed_at=self.at,
            source_id=self.event_id,
            origin=f"cloudtrail:{self.name}",
            fields=fields,
            **extra,
        )

    def created(self, arn: str, kind: Kind, fields: dict[str, Any], tags: Any = None, **extra: Any) -> Observation:
        """A Create* call: the caller is the creator, and the response names the resource."""
        base = {"created_at": self.at, "creator": self.creator, "api_arn": arn}
        return self.observe(arn, kind, base | fields, tags=tag_map(tags, given_only=True) if tags else None, **extra)

    def gone(self, arn: str, kind: Kind, state: str, **fields: Any) -> Observation:
        return self.observe(arn, kind, {"state": state, "deleted_at": self.at, **fields})

    def response_arn(self, key: str, fallback: str) -> str:
        """The ARN as the service returned it (kept for API calls); the inventory key is canonical.
        A response that names no such ARN falls back to the one built from the request; one that names
        something else than a resource of the same kind is a malformed event."""
        given = dig(self.response, key)
        if given is None:
            return fallback
        if not (isinstance(given, str) and kind_of(given) is not None and kind_of(given) is kind_of(fallback)):
            raise ValueError(f"responseElements.{key} {str(given)[:200]!r} is not the ARN of a {kind_of(fallback)}")
        return given


Request = TypeVar("Request", bound=BaseModel)
Translator = Callable[[Call, Any], list[Observation]]  # takes the call and its parsed request parameters
TRANSLATORS: dict[str, tuple[type[BaseModel], Translator]] = {}


def translates(
    *names: str, request: type[Request]
) -> Callable[[Callable[[Call, Request], list[Observation]]], Callable[[Call, Request], list[Observation]]]:
    def register(
        translator: Callable[[Call, Request], list[Observation]],
    ) -> Callable[[Call, Request], list[Observation]]:
        for name in names:
            TRANSLATORS[name] = (request, translator)
        return translator

    return register


# --- Studio: user profiles, spaces, apps ---------------------------------------------------------


@translates("CreateUserProfile", "DeleteUserProfile", request=m.UserProfileRequest)
def _user_profile(call: Call, params: m.UserProfileRequest) -> list[Observation]:
    arn = call.location.user_profile(params.domainId, params.userProfileName)
    base = {"name": params.userProfileName, "domain_id": params.domainId}
    if call.name == "DeleteUserProfile":
        return [call.gone(arn, Kind.USER_PROFILE, "Deleting", **base)]
    role = profile_role(params.userSettings)
    fields = base | {"state": "Pending"} | ({"execution_role": role} if role else {})
    return [call.created(call.response_arn("userProfileArn", arn), Kind.USER_PROFILE, fields, params.tags)]


@translates("CreateSpace", "UpdateSpace", "DeleteSpace", request=m.SpaceRequest)
def _space(call: Call, params: m.SpaceRequest) -> list[Observation]:
    arn = call.location.space(params.domainId, params.spaceName)
    base = {"name": params.spaceName, "domain_id": params.domainId}
    if call.name == "DeleteSpace":
        return [call.gone(arn, Kind.SPACE, "Deleting", **base)]
    fields = base | space_facts(params.spaceSettings)
    if call.name == "UpdateSpace":
        return [call.observe(arn, Kind.SPACE, fields | {"state": "Updating", "last_modified_at": call.at})]
    owner = params.ownershipSettings.ownerUserProfileName if params.ownershipSettings else None
    sharing = params.spaceSharingSettings.sharingType if params.spaceSharingSettings else None
    fields |= {"state": "Pending"}
    fields |= {"studio_owner": owner} if owner else {}
    fields |= {"sharing": sharing} if sharing else {}
    return [call.created(call.response_arn("spaceArn", arn), Kind.SPACE, fields, params.tags)]


@translates("CreateApp", "DeleteApp", request=m.AppRequest)
def _app(call: Call, params: m.AppRequest) -> list[Observation]:
    holder = params.spaceName or params.userProfileName or ""
    arn = call.location.app(params.domainId, holder, params.appType, params.appName)
    base: dict[str, str | None] = {"name": params.appName, "domain_id": params.domainId, "app_type": params.appType}
    base |= {"studio_space": params.spaceName} if params.spaceName else {"studio_owner": params.userProfileName}
    if call.name == "DeleteApp":
        return [call.gone(arn, Kind.APP, "Deleting", **base)]
    instance_type = params.resourceSpec.instanceType if params.resourceSpec else None
    fields = base | {"state": "Pending"} | ({"instance_type": instance_type} if instance_type else {})
    return [call.created(call.response_arn("appArn", arn), Kind.APP, fields, params.tags)]


# --- Billable resources made from notebooks ------------------------------------------------------


@translates("CreateEndpoint", "UpdateEndpoint", "DeleteEndpoint", request=m.EndpointRequest)
def _endpoint(call: Call, params: m.EndpointRequest) -> list[Observation]:
    arn = call.location.endpoint(params.endpointName)
    base = {"name": params.endpointName}
    if call.name == "DeleteEndpoint":
        return [call.gone(arn, Kind.ENDPOINT, "Deleting", **base)]
    fields = base | {"endpoint_config_name": params.endpointConfigName}
    if call.name == "UpdateEndpoint":
        return [call.observe(arn, Kind.ENDPOINT, fields | {"state": "Updating", "last_modified_at": call.at})]
    fields |= {"state": "Creating"}
    return [call.created(call.response_arn("endpointArn", arn), Kind.ENDPOINT, fields, params.tags)]


def _hyperpod_arn(call: Call, given: str) -> tuple[str, str]:
    """A HyperPod cluster's ARN and name from what a call names it by. HyperPod ARNs carry a cluster id, not
    the name: a call that names the cluster is resolved against the inventory by name before it is applied
    (guardian.recording)."""
    arn = canonical(given) if given.startswith("arn:") else call.location.sagemaker(f"cluster/{given}")
    return arn, given.rsplit("/", 1)[-1]


@translates("CreateCluster", "DeleteCluster", request=m.HyperPodRequest)
def _hyperpod(call: Call, params: m.HyperPodRequest) -> list[Observation]:
    arn, name = _hyperpod_arn(call, params.clusterName)
    if call.name == "DeleteCluster":
        return [call.gone(arn, Kind.HYPERPOD_CLUSTER, "Deleting", name=name)]
    groups = {
        g.instanceGroupName: {"instance_type": g.instanceType, "instance_count": g.instanceCount or 0}
        for g in params.instanceGroups
    }
    fields = {"name": name, "state": "Creating"}
    return [
        call.created(call.response_arn("clusterArn", arn), Kind.HYPERPOD_CLUSTER, fields, params.tags, groups=groups)
    ]


_MLFLOW_STATES = {
    "CreateMlflowTrackingServer": "Creating",
    "StartMlflowTrackingServer": "Starting",
    "StopMlflowTrackingServer": "Stopping",
}


@translates(*_MLFLOW_STATES, "DeleteMlflowTrackingServer", request=m.MlflowRequest)
def _mlflow(call: Call, params: m.MlflowRequest) -> list[Observation]:
    arn = call.location.mlflow_tracking_server(params.trackingServerName)
    base = {"name": params.trackingServerName}
    if call.name == "DeleteMlflowTrackingServer":
        return [call.gone(arn, Kind.MLFLOW_TRACKING_SERVER, "Deleting", **base)]
    fields = base | {"state": _MLFLOW_STATES[call.name]}
    if call.name != "CreateMlflowTrackingServer":
        return [call.observe(arn, Kind.MLFLOW_TRACKING_SERVER, fields)]
    size = params.trackingServerSize or "Small"  # the API's default size
    fields |= {"tracking_server_size": size, "instance_type": f"mlflow.{size}"}
    return [call.created(call.response_arn("trackingServerArn", arn), Kind.MLFLOW_TRACKING_SERVER, fields, params.tags)]


_NOTEBOOK_STATES = {
    "CreateNotebookInstance": "Pending",
    "StartNotebookInstance": "Pending",
    "StopNotebookInstance": "Stopping",
}


@translates(*_NOTEBOOK_STATES, "DeleteNotebookInstance", request=m.NotebookInstanceRequest)
def _notebook(call: Call, params: m.NotebookInstanceRequest) -> list[Observation]:
    arn = call.location.notebook_instance(params.notebookInstanceName)
    base = {"name": params.notebookInstanceName}
    if call.name == "DeleteNotebookInstance":
        return [call.gone(arn, Kind.NOTEBOOK_INSTANCE, "Deleting", **base)]
    fields = base | {"state": _NOTEBOOK_STATES[call.name]}
    if call.name != "CreateNotebookInstance":
        return [call.observe(arn, Kind.NOTEBOOK_INSTANCE, fields)]
    fields |= {"instance_type": params.instanceType} if params.instanceType else {}
    return [call.created(call.response_arn("notebookInstanceArn", arn), Kind.NOTEBOOK_INSTANCE, fields, params.tags)]


# --- EMR -----------------------------------------------------------------------------------------


@translates("RunJobFlow", request=m.RunJobFlowRequest)
def _run_job_flow(call: Call, params: m.RunJobFlowRequest) -> list[Observation]:
    cluster_id = dig(call.response, "jobFlowId")
    if not cluster_id:
        raise ValueError("RunJobFlow response has no jobFlowId")
    if not (isinstance(cluster_id, str) and NAME.fullmatch(cluster_id)):
        raise ValueError(f"responseElements.jobFlowId {str(cluster_id)[:200]!r} is not a cluster id")
    arn = call.response_arn("clusterArn", call.location.emr_cluster(cluster_id))
    fields: dict[str, Any] = {"name": params.name, "state": "STARTING"}
    policy = params.autoTerminationPolicy
    if policy and policy.idleTimeout:
        fields["auto_termination_idle_seconds"] = policy.idleTimeout
    return [call.created(arn, Kind.EMR_CLUSTER, fields, params.tags, groups=_emr_groups(params.instances))]


def _emr_groups(instances: m.EmrInstances) -> dict[str, dict[str, Any]]:
    groups: list[tuple[str, str, int, str | None]] = [
        (g.instanceRole, g.instanceType, g.instanceCount, g.market) for g in instances.instanceGroups
    ]
    if not groups:  # the uniform-instance form: one master, the rest core
        count = instances.instanceCount or 1
        if instances.masterInstanceType:
            groups.append(("MASTER", instances.masterInstanceType, 1, None))
        if instances.slaveInstanceType and count > 1:
            groups.append(("CORE", instances.slaveInstanceType, count - 1, None))
    result: dict[str, dict[str, Any]] = {}
    for role, instance_type, count, market in groups:
        key = emr_group_key(role, instance_type, market)
        held = result.get(key, {}).get("instance_count", 0)
        result[key] = {
            "role": role,
            "instance_type": instance_type,
            "instance_count": held + count,
            "market": market or "ON_DEMAND",
        }
    return result


@translates("TerminateJobFlows", request=m.TerminateJobFlowsRequest)
def _terminate_job_flows(call: Call, params: m.TerminateJobFlowsRequest) -> list[Observation]:
    return [
        call.observe(call.location.emr_cluster(cluster_id), Kind.EMR_CLUSTER, {"state": "TERMINATING"})
        for cluster_id in params.jobFlowIds
    ]


# --- Changes that move a bill after creation ------------------------------------------------------
# Each records what its request says; where the cost is not in the call (groups named by id, nodes by id, a
# policy removed), the observation asks the event path to describe the resource (describe_after).


@translates("UpdateCluster", request=m.HyperPodUpdateRequest)
def _hyperpod_update(call: Call, params: m.HyperPodUpdateRequest) -> list[Observation]:
    arn, name = _hyperpod_arn(call, params.clusterName)
    # The counts asked for: what it bills once the resize is done (the describe says where it stands now).
    groups = {
        g.instanceGroupName: {"instance_type": g.instanceType, "instance_count": g.instanceCount}
        for g in params.instanceGroups
    }
    fields = {"name": name, "state": "Updating"}
    return [call.observe(arn, Kind.HYPERPOD_CLUSTER, fields, groups=groups or None, describe_after=True)]


@translates("BatchDeleteClusterNodes", "BatchAddClusterNodes", request=m.HyperPodNodesRequest)
def _hyperpod_nodes(call: Call, params: m.HyperPodNodesRequest) -> list[Observation]:
    arn, name = _hyperpod_arn(call, params.clusterName)
    return [call.observe(arn, Kind.HYPERPOD_CLUSTER, {"name": name}, describe_after=True)]


@translates("UpdateNotebookInstance", request=m.NotebookInstanceRequest)
def _notebook_update(call: Call, params: m.NotebookInstanceRequest) -> list[Observation]:
    # No state: a notebook instance is updated while stopped, and "Updating" would read as billing.
    fields: dict[str, Any] = {"name": params.notebookInstanceName, "last_modified_at": call.at}
    fields |= {"instance_type": params.instanceType} if params.instanceType else {}
    return [call.observe(call.location.notebook_instance(params.notebookInstanceName), Kind.NOTEBOOK_INSTANCE, fields)]


@translates("UpdateMlflowTrackingServer", request=m.MlflowRequest)
def _mlflow_update(call: Call, params: m.MlflowRequest) -> list[Observation]:
    size = params.trackingServerSize
    fields: dict[str, Any] = {"name": params.trackingServerName, "last_modified_at": call.at}
    fields |= {"tracking_server_size": size, "instance_type": f"mlflow.{size}"} if size else {}
    arn = call.location.mlflow_tracking_server(params.trackingServerName)
    return [call.observe(arn, Kind.MLFLOW_TRACKING_SERVER, fields)]


@translates("UpdateEndpointWeightsAndCapacities", request=m.EndpointCapacityRequest)
def _endpoint_capacity(call: Call, params: m.EndpointCapacityRequest) -> list[Observation]:
    # The counts asked for are not yet the counts billed: the describe (and the InService event) says those.
    fields = {"name": params.endpointName, "state": "Updating", "last_modified_at": call.at}
    return [call.observe(call.location.endpoint(params.endpointName), Kind.ENDPOINT, fields, describe_after=True)]


@translates("UpdateDomain", request=m.DomainRequest)
def _domain_update(call: Call, params: m.DomainRequest) -> list[Observation]:
    fields: dict[str, Any] = {"domain_id": params.domainId, "last_modified_at": call.at}
    fields |= _given(execution_role=profile_role(params.defaultUserSettings))
    fields |= _given(default_space_role=profile_role(params.defaultSpaceSettings))
    fields |= _given(idle_timeout_minutes=_idle_minutes(params.defaultUserSettings))
    return [call.observe(call.location.domain(params.domainId), Kind.DOMAIN, fields)]


@translates("UpdateUserProfile", request=m.UserProfileRequest)
def _user_profile_update(call: Call, params: m.UserProfileRequest) -> list[Observation]:
    arn = call.location.user_profile(params.domainId, params.userProfileName)
    fields: dict[str, Any] = {"name": params.userProfileName, "domain_id": params.domainId, "last_modified_at": call.at}
    fields |= _given(execution_role=profile_role(params.userSettings))
    fields |= _given(idle_timeout_minutes=_idle_minutes(params.userSettings))
    return [call.observe(arn, Kind.USER_PROFILE, fields)]


def _idle_minutes(settings: dict[str, Any] | None) -> int | None:
    """The default idle shutdown of JupyterLab spaces that user settings give (None: not said, or off)."""
    minutes = default_idle_minutes(settings)
    if minutes is not None and not 1 <= minutes <= m.MAX_IDLE_MINUTES:
        raise ValueError(f"idle timeout {minutes} minutes is not within 1-{m.MAX_IDLE_MINUTES}")
    return minutes


def _given(**facts: Any) -> dict[str, Any]:
    """The facts a request states; one it leaves out says nothing (absent is not zero)."""
    return {name: value for name, value in facts.items() if value is not None}


_EMR_CHANGES = (
    "PutAutoTerminationPolicy",
    "RemoveAutoTerminationPolicy",
    "ModifyInstanceGroups",
    "AddInstanceGroups",
    "ModifyInstanceFleet",
    "AddInstanceFleet",
)


@translates(*_EMR_CHANGES, request=m.EmrClusterRequest)
def _emr_change(call: Call, params: m.EmrClusterRequest) -> list[Observation]:
    """A cluster's policy or capacity changed. Groups and fleets are named by id (the inventory keys them by
    what prices them), and a removed policy is a none no event may state: the describe says what it is now."""
    cluster_id = params.cluster
    if cluster_id is None:
        return []  # ModifyInstanceGroups naming only its groups' ids: the sweep finds the cluster
    fields: dict[str, Any] = {}
    policy = params.autoTerminationPolicy
    if call.name == "PutAutoTerminationPolicy" and policy and policy.idleTimeout:
        fields["auto_termination_idle_seconds"] = policy.idleTimeout
    arn = call.location.emr_cluster(cluster_id)
    return [call.observe(arn, Kind.EMR_CLUSTER, fields, describe_after=not fields)]


# --- Partner AI Apps and inference components ----------------------------------------------------


@translates("CreatePartnerApp", "UpdatePartnerApp", "DeletePartnerApp", request=m.PartnerAppRequest)
def _partner_app(call: Call, params: m.PartnerAppRequest) -> list[Observation]:
    """A Partner AI App bills by its tier (kept as its instance type) from creation to deletion. Its ARN carries
    an id, not the name: a Create names it only in its response, the other calls by the ARN itself."""
    if call.name == "CreatePartnerApp":
        arn = dig(call.response, "arn")
        if not (isinstance(arn, str) and kind_of(arn) is Kind.PARTNER_APP):
            raise ValueError(f"CreatePartnerApp responseElements.arn {str(arn)[:200]!r} is not a Partner AI App ARN")
        fields = {"state": "Creating"} | _given(name=params.name, app_type=params.type, instance_type=params.tier)
        return [call.created(arn, Kind.PARTNER_APP, fields, params.tags)]
    if params.arn is None:
        raise ValueError(f"{call.name} names no Partner AI App ARN (requestParameters.arn)")
    if call.name == "DeletePartnerApp":
        return [call.gone(params.arn, Kind.PARTNER_APP, "Deleting")]
    fields = {"state": "Updating", "last_modified_at": call.at} | _given(instance_type=params.tier)
    return [call.observe(params.arn, Kind.PARTNER_APP, fields)]


_INFERENCE_COMPONENT_CALLS = (
    "CreateInferenceComponent",
    "UpdateInferenceComponent",
    "UpdateInferenceComponentRuntimeConfig",
    "DeleteInferenceComponent",
)


@translates(*_INFERENCE_COMPONENT_CALLS, request=m.InferenceComponentRequest)
def _inference_component(call: Call, params: m.InferenceComponentRequest) -> list[Observation]:
    """A model on an endpoint. It bills nothing of its own (the endpoint's instances do); the idle-endpoint
    rule reads its invocations, so the inventory keeps which endpoint it is on."""
    name = params.inferenceComponentName
    arn = call.location.sagemaker(f"inference-component/{name}")
    if call.name == "DeleteInferenceComponent":
        return [call.gone(arn, Kind.INFERENCE_COMPONENT, "Deleting", name=name)]
    if call.name != "CreateInferenceComponent":
        fields = {"name": name, "state": "Updating", "last_modified_at": call.at}
        return [call.observe(arn, Kind.INFERENCE_COMPONENT, fields)]
    fields = {"name": name, "state": "Creating"} | _given(endpoint_name=params.endpointName)
    arn = call.response_arn("inferenceComponentArn", arn)
    return [call.created(arn, Kind.INFERENCE_COMPONENT, fields, params.tags)]


# --- S3 buckets made from Studio -------------------------------------------------------------------

# The session name Studio (and every SageMaker-run notebook) gives its execution role's sessions.
STUDIO_SESSION = "SageMaker"


def from_studio(creator: Creator) -> bool:
    """Whether a call was made by a Studio execution role: an assumed-role session of a role, named as Studio
    names its sessions (with or without a source identity). Anyone else's bucket is not the guardian's."""
    principal = creator.principal_arn or ""
    return creator.role_arn is not None and ":assumed-role/" in principal and principal.endswith(f"/{STUDIO_SESSION}")


@translates("CreateBucket", "DeleteBucket", request=m.BucketRequest)
def _bucket(call: Call, params: m.BucketRequest) -> list[Observation]:
    arn = call.location.s3_bucket(params.bucketName)
    # No api_arn: S3's own ARN names no region or account, and findings are keyed by the record's ARN.
    base = {"name": params.bucketName}
    if call.name == "DeleteBucket":
        # Whoever deletes it: a bucket the guardian tracks is gone (one it does not track is a tombstone, kept
        # as every gone record is, that no sweep lists again).
        return [call.gone(arn, Kind.S3_BUCKET, GONE, **base)]
    if not from_studio(call.creator):
        return []  # only buckets made from Studio are tracked: not every bucket in the account
    fields = base | {"state": BUCKET_AVAILABLE, "created_at": call.at, "creator": call.creator}
    return [call.observe(arn, Kind.S3_BUCKET, fields)]


def creator_of(identity: m.UserIdentity, event_name: str) -> Creator:
    """Who made the call. The identity's ARNs are evidence of the owner: ones that are no ARN (a
    placeholder, a cut-off value) make the event malformed rather than a record with false evidence."""
    for where, arn in (("arn", identity.arn), ("sessionContext.sessionIssuer.arn", identity.role_arn)):
        if arn is not None and parse(arn) is None:
            raise ValueError(f"userIdentity.{where} {arn[:200]!r} is not an ARN")
    return Creator(
        source_identity=identity.source_identity,
        role_arn=identity.role_arn,
        principal_arn=identity.arn,
        event_name=event_name,
    )
