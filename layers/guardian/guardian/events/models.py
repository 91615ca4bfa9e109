"""Pydantic models of the events the guardian consumes, built on Powertools' EventBridge model.

They accept AWS's samples exactly as printed (tests/fixtures/aws-reference holds them): endpoint statuses in
UPPER_SNAKE, epoch-millisecond times (numbers, or strings in the envelope), EMR's JSON-in-a-string
``stateChangeReason`` with an empty code, and EMR instance counts as strings.

Every value the guardian keeps is bounded here, so a bad one is a rejected event rather than a crash
further on or a garbage record: names are names AWS would accept, ARNs are ARNs, counts are counts,
text is printable and of a sane length (prose is cut to fit), and times lie between 2006 and a few
minutes from now (:func:`guardian.clock.implausible`). A time out of bounds fails with the error type
:data:`OUT_OF_RANGE`, which the event path reports as its own reason.
"""

import json
import re
from datetime import UTC, datetime
from typing import Annotated, Any, Literal

from aws_lambda_powertools.utilities.parser.models import EventBridgeModel
from pydantic import AfterValidator, BaseModel, BeforeValidator, ConfigDict, Field, field_validator, model_validator
from pydantic_core import PydanticCustomError

from guardian import arns, clock
from guardian.aws_fields import dig, space_facts
from guardian.kinds import Kind

_ENDPOINT_STATUSES = (
    "OutOfService",
    "Creating",
    "Updating",
    "SystemUpdating",
    "RollingBack",
    "InService",
    "Deleting",
    "Failed",
    "UpdateRollbackFailed",
)
_ENDPOINT_STATUS_BY_EVENT_SPELLING = {
    "".join(ch for ch in status if ch.isalpha()).upper(): status for status in _ENDPOINT_STATUSES
}

EmrClusterState = Literal[
    "STARTING", "BOOTSTRAPPING", "RUNNING", "WAITING", "TERMINATING", "TERMINATED", "TERMINATED_WITH_ERRORS"
]
EmrRole = Literal["MASTER", "CORE", "TASK"]
EmrMarket = Literal["ON_DEMAND", "SPOT"]

# --- bounded values ------------------------------------------------------------------------------

OUT_OF_RANGE = "out_of_range"  # the pydantic error type of a value of the right shape that cannot be true

MAX_COUNT = 100_000  # instances in a group, variant or cluster
MAX_LIST = 100  # instance groups, variants, job flows in one event (AWS allows far fewer)
MAX_TAGS = 100  # AWS allows 50 user tags per resource, plus its own
MAX_PROSE = 1024  # free text (a failure reason) is cut to this length, not rejected for it

_UNPRINTABLE = re.compile("[\x00-\x1f\x7f\ud800-\udfff]")  # control characters, lone surrogates
_UNPRINTABLE_PROSE = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f\ud800-\udfff]")  # prose may break lines
_INSTANCE_TYPE = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,63}", re.ASCII)


def _printable(value: str) -> str:
    if _UNPRINTABLE.search(value):
        raise ValueError("has a control character or a lone surrogate")
    return value


def _label(value: str) -> str:
    if not value.strip():
        raise ValueError("is blank")
    return _printable(value)


def _name(value: str) -> str:
    if not arns.NAME.fullmatch(value):
        raise ValueError("is not a name AWS accepts (letters, digits, '-', '.', '_'; at most 256 characters)")
    return value


def _instance_type(value: str) -> str:
    if not _INSTANCE_TYPE.fullmatch(value):
        raise ValueError("is not an instance type")
    return value


def _arn(value: str) -> str:
    if arns.parse(value) is None:
        raise ValueError("is not an ARN")
    return value


def _arn_like(value: str) -> str:
    if not value.startswith("arn:"):
        raise ValueError("is not an ARN")
    return _printable(value)


def _region(value: str) -> str:
    if not re.fullmatch(r"[a-z]{2}(?:-[a-z]+)+-\d{1,2}", value, re.ASCII):
        raise ValueError("is not an AWS region")
    return value


def _account(value: str) -> str:
    if not re.fullmatch(r"\d{12}", value, re.ASCII):
        raise ValueError("is not a 12-digit AWS account id")
    return value


def _cut(value: Any) -> Any:
    return value[:MAX_PROSE] if isinstance(value, str) else value


def _prose(value: str) -> str:
    if _UNPRINTABLE_PROSE.search(value):
        raise ValueError("has a control character or a lone surrogate")
    return value


def _not_bool(value: Any) -> Any:
    if isinstance(value, bool):
        raise ValueError("is a boolean, not a number")
    return value


def _plausible(moment: datetime) -> datetime:
    why = clock.implausible(moment)
    if why:
        raise PydanticCustomError(OUT_OF_RANGE, "{moment} {why}", {"moment": moment.isoformat()[:40], "why": why})
    return moment.astimezone(UTC) if moment.tzinfo else moment.replace(tzinfo=UTC)


Text = Annotated[str, Field(max_length=256), AfterValidator(_printable)]  # codes, states, identities
Label = Annotated[str, Field(max_length=256), AfterValidator(_label)]  # free-form names
Prose = Annotated[str, BeforeValidator(_cut), AfterValidator(_prose)]
Name = Annotated[str, AfterValidator(_name)]  # a SageMaker name or id, an EMR cluster id: a part of an ARN
InstanceType = Annotated[str, AfterValidator(_instance_type)]
Arn = Annotated[str, AfterValidator(_arn)]
# An identity's ARN, as read: the translators accept only a syntactically valid one (creator_of).
IdentityArn = Annotated[str, Field(max_length=arns.MAX_LENGTH), AfterValidator(_arn_like)]
Region = Annotated[str, AfterValidator(_region)]
Account = Annotated[str, AfterValidator(_account)]
EventId = Annotated[str, Field(min_length=1, max_length=256), AfterValidator(_printable)]
EventTime = Annotated[datetime, AfterValidator(_plausible)]
Count = Annotated[int, BeforeValidator(_not_bool), Field(ge=0, le=MAX_COUNT)]
FractionalCount = Annotated[float, BeforeValidator(_not_bool), Field(ge=0, le=MAX_COUNT, allow_inf_nan=False)]
TagKey = Annotated[str, Field(min_length=1, max_length=128), AfterValidator(_printable)]
TagValue = Annotated[str, Field(max_length=256), AfterValidator(_printable)]


def _tags(tags: Any) -> Any:
    """Tags as AWS sends them: a map, or a list of ``{"Key","Value"}`` (``{"key","value"}`` in CloudTrail)."""
    if tags is None:
        return None
    if isinstance(tags, dict):
        pairs = list(tags.items())
    elif isinstance(tags, list) and all(isinstance(tag, dict) for tag in tags):
        pairs = [(dig(tag, "Key"), dig(tag, "Value")) for tag in tags]
        pairs = [(key, "" if value is None else value) for key, value in pairs]
    else:
        raise ValueError("tags are a map or a list of Key/Value pairs")
    if len(pairs) > MAX_TAGS:
        raise ValueError(f"more than {MAX_TAGS} tags")
    for key, value in pairs:
        if not (isinstance(key, str) and 1 <= len(key) <= 128 and not _UNPRINTABLE.search(key)):
            raise ValueError("a tag key is not 1-128 printable characters")
        if not (isinstance(value, str) and len(value) <= 256 and not _UNPRINTABLE.search(value)):
            raise ValueError(f"tag {key!r} has a value that is not up to 256 printable characters")
    return tags


class _Lenient(BaseModel):
    """AWS adds fields over time: unknown ones are ignored, known ones are validated."""

    # defer_build: a model's validator is built when it first validates, not at import: an invocation uses the
    # models of its own event only (a cold start builds the others for nothing).
    model_config = ConfigDict(extra="ignore", populate_by_name=True, defer_build=True)


class _Envelope(EventBridgeModel):
    """The EventBridge envelope, bounded: the id names observations, region and account build ARNs."""

    model_config = ConfigDict(defer_build=True)  # as _Lenient's

    id: EventId
    account: Account
    region: Region
    time: EventTime


# --- CloudTrail: "AWS API Call via CloudTrail" ------------------------------------------------------


class SessionIssuer(_Lenient):
    type: Text | None = None
    arn: IdentityArn | None = None
    userName: str | None = None


class SessionContext(_Lenient):
    sessionIssuer: SessionIssuer | None = None
    sourceIdentity: Annotated[Text, Field(min_length=1, max_length=64)] | None = None


class UserIdentity(_Lenient):
    type: str | None = None
    principalId: str | None = None
    arn: IdentityArn | None = None
    accountId: str | None = None
    sessionContext: SessionContext | None = None
    invokedBy: str | None = None

    @property
    def role_arn(self) -> str | None:
        """The IAM role behind an assumed-role session (a Studio execution role, say)."""
        issuer = self.sessionContext.sessionIssuer if self.sessionContext else None
        return issuer.arn if issuer and issuer.type == "Role" else None

    @property
    def source_identity(self) -> str | None:
        return self.sessionContext.sourceIdentity if self.sessionContext else None


class CloudTrailDetail(_Lenient):
    eventVersion: str | None = None
    userIdentity: UserIdentity
    eventTime: EventTime
    eventSource: Text
    eventName: Annotated[Text, Field(max_length=128)]
    awsRegion: Region
    requestParameters: dict[str, Any] | None = None
    responseElements: dict[str, Any] | None = None
    errorCode: Text | None = None
    errorMessage: str | None = None
    eventID: str | None = None
    recipientAccountId: Account | None = None


class CloudTrailEvent(_Envelope):
    detail: CloudTrailDetail


# --- SageMaker service events --------------------------------------------------------------------


class VariantState(_Lenient):
    VariantName: Name | None = None
    CurrentInstanceCount: FractionalCount | None = None
    DesiredInstanceCount: FractionalCount | None = None
    CurrentWeight: float | None = None
    DesiredWeight: float | None = None


class EndpointDetail(_Lenient):
    EndpointName: Name
    EndpointArn: Arn
    EndpointConfigName: Name | None = None
    # None when the event carries none: AWS sends state changes without them, which is no count at all.
    ProductionVariants: list[VariantState] | None = Field(default=None, max_length=MAX_LIST)
    EndpointStatus: str
    CreationTime: EventTime | None = None
    LastModifiedTime: EventTime | None = None
    Tags: Annotated[dict[str, str], BeforeValidator(_tags)] = Field(default_factory=dict)
    FailureReason: Prose | None = None

    @field_validator("EndpointStatus")
    @classmethod
    def _api_spelling(cls, status: str) -> str:
        """Events say IN_SERVICE where the API says InService: store the API's spelling."""
        if status in _ENDPOINT_STATUSES:
            return status
        api = _ENDPOINT_STATUS_BY_EVENT_SPELLING.get(status[:64].replace("_", "").upper())
        if api is None:
            raise ValueError(f"unknown EndpointStatus {status[:64]!r}")
        return api


class EndpointStateChangeEvent(_Envelope):
    detail: EndpointDetail


# --- EMR service events --------------------------------------------------------------------------


class StateChangeReason(_Lenient):
    code: Annotated[Text, Field(max_length=64)] = ""
    message: Prose | None = None


class EmrClusterStateDetail(_Lenient):
    clusterId: Name
    name: Label | None = None
    state: EmrClusterState
    stateChangeReason: StateChangeReason = Field(default_factory=StateChangeReason)
    message: Prose | None = None
    severity: str | None = None

    @field_validator("stateChangeReason", mode="before")
    @classmethod
    def _json_in_a_string(cls, value: Any) -> Any:
        if isinstance(value, str):
            if len(value) > 4 * MAX_PROSE:
                raise ValueError("stateChangeReason is too long to be a reason")
            try:
                return json.loads(value) if value.strip() else {}
            except (json.JSONDecodeError, RecursionError) as error:
                message = error.msg if isinstance(error, json.JSONDecodeError) else "nested too deep"
                raise ValueError(f"stateChangeReason is not JSON: {message}") from error
        return value


class EmrClusterStateChangeEvent(_Envelope):
    detail: EmrClusterStateDetail


class EmrInstanceGroupDetail(_Lenient):
    clusterId: Name
    instanceGroupId: Name
    instanceGroupType: EmrRole | None = None
    instanceType: InstanceType | None = None
    market: EmrMarket | None = None
    requestedInstanceCount: Count | None = None
    runningInstanceCount: Count | None = None
    state: Text


class EmrInstanceGroupStateChangeEvent(_Envelope):
    detail: EmrInstanceGroupDetail


class EmrStepDetail(_Lenient):
    clusterId: str
    stepId: str
    state: str


class EmrStepStatusChangeEvent(_Envelope):
    detail: EmrStepDetail


class EmrAutoScalingDetail(_Lenient):
    clusterId: str
    resourceId: str
    state: str


class EmrAutoScalingPolicyStateChangeEvent(_Envelope):
    detail: EmrAutoScalingDetail


# --- CloudTrail request parameters, per API call (camelCase, as CloudTrail records them) ------------


class Tagged(_Lenient):
    tags: Annotated[list[dict[str, Any]] | dict[str, Any] | None, BeforeValidator(_tags)] = None


class ResourceSpec(_Lenient):
    instanceType: InstanceType | None = None


class AppRequest(Tagged):
    domainId: Name
    userProfileName: Name | None = None
    spaceName: Name | None = None
    appType: Name
    appName: Name
    resourceSpec: ResourceSpec | None = None

    @model_validator(mode="after")
    def _has_a_holder(self) -> "AppRequest":
        if not (self.spaceName or self.userProfileName):
            raise ValueError("an app belongs to a space (spaceName) or a user profile (userProfileName)")
        return self


class OwnershipSettings(_Lenient):
    ownerUserProfileName: Name | None = None


class SpaceSharingSettings(_Lenient):
    sharingType: Literal["Private", "Shared"] | None = None


MAX_IDLE_MINUTES = 525_600  # SageMaker's longest idle shutdown: a year
_MAX_STORAGE_GB = 16_384  # SageMaker's largest space volume


def _space_settings(settings: dict[str, Any] | None) -> dict[str, Any] | None:
    """What the guardian reads of SpaceSettings (:func:`guardian.aws_fields.space_facts`), checked."""
    if settings is None:
        return None
    app_type = dig(settings, "AppType")
    if app_type is not None and not (isinstance(app_type, str) and arns.NAME.fullmatch(app_type)):
        raise ValueError("spaceSettings.appType is not an app type")
    try:
        facts = space_facts(settings)
    except (TypeError, ValueError, OverflowError) as error:
        raise ValueError(f"spaceSettings: {str(error)[:100]}") from error
    instance_type = facts.get("instance_type")
    if instance_type is not None and not (isinstance(instance_type, str) and _INSTANCE_TYPE.fullmatch(instance_type)):
        raise ValueError("spaceSettings: the default instance type is not an instance type")
    bounds = {"idle_timeout_minutes": MAX_IDLE_MINUTES, "storage_gb": _MAX_STORAGE_GB}
    for fact, most in bounds.items():
        if fact in facts and not 1 <= facts[fact] <= most:
            message = "spaceSettings: {fact} {value} is not within 1-{most}"
            raise PydanticCustomError(OUT_OF_RANGE, message, {"fact": fact, "value": facts[fact], "most": most})
    return settings


def _user_settings(settings: dict[str, Any] | None) -> dict[str, Any] | None:
    role = dig(settings, "ExecutionRole")
    if role is not None and not (isinstance(role, str) and (parsed := arns.parse(role)) and parsed.service == "iam"):
        raise ValueError("userSettings.executionRole is not an IAM role ARN")
    return settings


class SpaceRequest(Tagged):
    domainId: Name
    spaceName: Name
    spaceSettings: Annotated[dict[str, Any] | None, AfterValidator(_space_settings)] = None
    ownershipSettings: OwnershipSettings | None = None
    spaceSharingSettings: SpaceSharingSettings | None = None


class UserProfileRequest(Tagged):
    domainId: Name
    userProfileName: Name
    userSettings: Annotated[dict[str, Any] | None, AfterValidator(_user_settings)] = None


class EndpointRequest(Tagged):
    endpointName: Name
    endpointConfigName: Name | None = None


def _cluster(value: str) -> str:
    """HyperPod calls name a cluster by its name or by its ARN."""
    if value.startswith("arn:"):
        if arns.kind_of(value) is not Kind.HYPERPOD_CLUSTER:
            raise ValueError("is not a HyperPod cluster ARN")
        return value
    return _name(value)


class HyperPodInstanceGroup(_Lenient):
    instanceGroupName: Name
    instanceType: InstanceType | None = None
    instanceCount: Count | None = None


class HyperPodRequest(Tagged):
    clusterName: Annotated[str, AfterValidator(_cluster)]
    instanceGroups: list[HyperPodInstanceGroup] = Field(default_factory=list, max_length=MAX_LIST)


class MlflowRequest(Tagged):
    trackingServerName: Name
    trackingServerSize: Name | None = None


class NotebookInstanceRequest(Tagged):
    notebookInstanceName: Name
    instanceType: InstanceType | None = None


class EmrInstanceGroupConfig(_Lenient):
    name: Label | None = None
    instanceRole: EmrRole
    instanceType: InstanceType
    instanceCount: Count
    market: EmrMarket | None = None


class EmrInstances(_Lenient):
    masterInstanceType: InstanceType | None = None
    slaveInstanceType: InstanceType | None = None
    instanceCount: Count | None = None
    instanceGroups: list[EmrInstanceGroupConfig] = Field(default_factory=list, max_length=MAX_LIST)


class AutoTerminationPolicy(_Lenient):
    idleTimeout: Annotated[int, BeforeValidator(_not_bool), Field(ge=0, le=31_536_000)] | None = None


class RunJobFlowRequest(Tagged):
    name: Label
    instances: EmrInstances = Field(default_factory=EmrInstances)
    autoTerminationPolicy: AutoTerminationPolicy | None = None


class TerminateJobFlowsRequest(_Lenient):
    jobFlowIds: list[Name] = Field(min_length=1, max_length=MAX_LIST)


def _bucket_name(value: str) -> str:
    if not arns.BUCKET_NAME.fullmatch(value):
        raise ValueError("is not an S3 bucket name (3-63 lower-case letters, digits, '.', '-')")
    return value


class BucketRequest(_Lenient):
    """CreateBucket, DeleteBucket (S3 via CloudTrail): the bucket; it lives in the event's awsRegion."""

    bucketName: Annotated[str, AfterValidator(_bucket_name)]


# --- What changes a bill after creation (issue 11: every billing change seen within a minute) ------------


class HyperPodNodesRequest(_Lenient):
    """BatchDeleteClusterNodes, BatchAddClusterNodes: which nodes leave or join is by node id or group, not a count."""

    clusterName: Annotated[str, AfterValidator(_cluster)]


class HyperPodUpdateRequest(HyperPodRequest):
    instanceGroupsToDelete: list[Name] = Field(default_factory=list, max_length=MAX_LIST)


class WeightAndCapacity(_Lenient):
    variantName: Name
    desiredInstanceCount: Count | None = None


class EndpointCapacityRequest(_Lenient):
    endpointName: Name
    desiredWeightsAndCapacities: list[WeightAndCapacity] = Field(default_factory=list, max_length=MAX_LIST)


class DomainRequest(_Lenient):
    domainId: Name
    defaultUserSettings: Annotated[dict[str, Any] | None, AfterValidator(_user_settings)] = None
    defaultSpaceSettings: Annotated[dict[str, Any] | None, AfterValidator(_user_settings)] = None


class EmrClusterRequest(_Lenient):
    """An EMR call about one cluster (PutAutoTerminationPolicy, ModifyInstanceFleet, ...): the cluster is
    ``clusterId`` (``jobFlowId`` in AddInstanceGroups); ModifyInstanceGroups may name only its groups."""

    clusterId: Name | None = None
    jobFlowId: Name | None = None
    autoTerminationPolicy: AutoTerminationPolicy | None = None

    @property
    def cluster(self) -> str | None:
        return self.clusterId or self.jobFlowId


# A field named InstanceType would shadow the type of the same name inside a class body.
_InstanceType = InstanceType


class HyperPodGroupState(_Lenient):
    InstanceGroupName: Label  # a key of the record's groups (AWS's own sample names one with spaces)
    InstanceType: _InstanceType | None = None
    CurrentCount: Count | None = None


class HyperPodClusterDetail(_Lenient):
    ClusterArn: Arn
    ClusterName: Name | None = None
    ClusterStatus: Annotated[Text, Field(max_length=64)]
    CreationTime: EventTime | None = None
    InstanceGroups: list[HyperPodGroupState] | None = Field(default=None, max_length=MAX_LIST)
    FailureMessage: Prose | None = None

    @field_validator("ClusterArn")
    @classmethod
    def _a_cluster(cls, arn: str) -> str:
        if arns.kind_of(arn) is not Kind.HYPERPOD_CLUSTER:
            raise ValueError("is not a HyperPod cluster ARN")
        return arn


class HyperPodClusterStateChangeEvent(_Envelope):
    detail: HyperPodClusterDetail


_NOTEBOOK_STATUSES = ("Pending", "InService", "Stopping", "Stopped", "Failed", "Deleting", "Updating")
_NOTEBOOK_STATUS_BY_EVENT_SPELLING = {status.upper(): status for status in _NOTEBOOK_STATUSES}


class NotebookInstanceDetail(_Lenient):
    NotebookInstanceArn: Arn
    NotebookInstanceName: Name
    NotebookInstanceStatus: str
    InstanceType: _InstanceType | None = None
    CreationTime: EventTime | None = None
    LastModifiedTime: EventTime | None = None
    Tags: Annotated[dict[str, str], BeforeValidator(_tags)] = Field(default_factory=dict)

    @field_validator("NotebookInstanceStatus")
    @classmethod
    def _api_spelling(cls, status: str) -> str:
        """The API's spelling (InService), whichever an event uses (IN_SERVICE)."""
        api = _NOTEBOOK_STATUS_BY_EVENT_SPELLING.get(status[:64].replace("_", "").upper())
        if api is None:
            raise ValueError(f"unknown NotebookInstanceStatus {status[:64]!r}")
        return api


class NotebookInstanceStateChangeEvent(_Envelope):
    detail: NotebookInstanceDetail


class TrackingServerDetail(_Lenient):
    """What a tracking server's event may carry; its detail-type says the state, ``resources`` its ARN."""

    TrackingServerArn: Arn | None = None
    TrackingServerName: Name | None = None
    TrackingServerSize: Name | None = None


class TrackingServerEvent(_Envelope):
    detail: TrackingServerDetail = Field(default_factory=TrackingServerDetail)

    @property
    def arn(self) -> str | None:
        """The server's ARN: the detail's, else the one the envelope's resources name."""
        named = [self.detail.TrackingServerArn, *self.resources]
        return next((a for a in named if a and arns.kind_of(a) is Kind.MLFLOW_TRACKING_SERVER), None)


class EmrInstanceFleetDetail(_Lenient):
    clusterId: Name
    instanceFleetId: Name | None = None
    state: Text | None = None


class EmrInstanceFleetStateChangeEvent(_Envelope):
    detail: EmrInstanceFleetDetail


# --- Partner AI Apps and inference components (issue 11) -----------------------------------------------


def _partner_app(value: str) -> str:
    """Partner AI App calls after CreatePartnerApp name the app by its ARN (which carries an id, not its name)."""
    if arns.kind_of(value) is not Kind.PARTNER_APP:
        raise ValueError("is not a Partner AI App ARN")
    return value


class PartnerAppRequest(Tagged):
    """CreatePartnerApp (name, type, tier), UpdatePartnerApp and DeletePartnerApp (the app's ARN; a new tier)."""

    name: Name | None = None
    type: Name | None = None
    tier: Label | None = None  # "the instance type and size of the cluster attached": what it costs
    executionRoleArn: Arn | None = None
    arn: Annotated[str, AfterValidator(_partner_app)] | None = None

    @model_validator(mode="after")
    def _names_an_app(self) -> "PartnerAppRequest":
        if not (self.name or self.arn):
            raise ValueError("a Partner AI App call names the app (name) or its ARN (arn)")
        return self


class CopyCount(_Lenient):
    copyCount: Count | None = None


class InferenceComponentRequest(Tagged):
    """Create/Update/UpdateRuntimeConfig/DeleteInferenceComponent: the component, and (create) its endpoint."""

    inferenceComponentName: Name
    endpointName: Name | None = None
    variantName: Name | None = None
    runtimeConfig: CopyCount | None = None
    desiredRuntimeConfig: CopyCount | None = None
