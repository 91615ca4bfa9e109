"""Pydantic models of the events the guardian consumes, built on Powertools' EventBridge model.

They accept AWS's samples exactly as printed (see ../shared/reference/aws-events): endpoint statuses in
UPPER_SNAKE, epoch-millisecond times (numbers, or strings in the envelope), EMR's JSON-in-a-string
``stateChangeReason`` with an empty code, and EMR instance counts as strings.
"""

import json
from datetime import datetime
from typing import Any, Literal

from aws_lambda_powertools.utilities.parser.models import EventBridgeModel
from pydantic import BaseModel, ConfigDict, Field, field_validator

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


class _Lenient(BaseModel):
    """AWS adds fields over time: unknown ones are ignored, known ones are validated."""

    model_config = ConfigDict(extra="ignore", populate_by_name=True)


# --- CloudTrail: "AWS API Call via CloudTrail" ------------------------------------------------------


class SessionIssuer(_Lenient):
    type: str | None = None
    arn: str | None = None
    userName: str | None = None


class SessionContext(_Lenient):
    sessionIssuer: SessionIssuer | None = None
    sourceIdentity: str | None = None


class UserIdentity(_Lenient):
    type: str | None = None
    principalId: str | None = None
    arn: str | None = None
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
    eventTime: datetime
    eventSource: str
    eventName: str
    awsRegion: str
    requestParameters: dict[str, Any] | None = None
    responseElements: dict[str, Any] | None = None
    errorCode: str | None = None
    errorMessage: str | None = None
    eventID: str | None = None
    recipientAccountId: str | None = None


class CloudTrailEvent(EventBridgeModel):
    detail: CloudTrailDetail


# --- SageMaker service events --------------------------------------------------------------------


class VariantState(_Lenient):
    VariantName: str | None = None
    CurrentInstanceCount: float | None = None
    DesiredInstanceCount: float | None = None
    CurrentWeight: float | None = None
    DesiredWeight: float | None = None


class EndpointDetail(_Lenient):
    EndpointName: str
    EndpointArn: str
    EndpointConfigName: str | None = None
    ProductionVariants: list[VariantState] = Field(default_factory=list)
    EndpointStatus: str
    CreationTime: datetime | None = None
    LastModifiedTime: datetime | None = None
    Tags: dict[str, str] = Field(default_factory=dict)
    FailureReason: str | None = None

    @field_validator("EndpointStatus")
    @classmethod
    def _api_spelling(cls, status: str) -> str:
        """Events say IN_SERVICE where the API says InService: store the API's spelling."""
        if status in _ENDPOINT_STATUSES:
            return status
        api = _ENDPOINT_STATUS_BY_EVENT_SPELLING.get(status.replace("_", "").upper())
        if api is None:
            raise ValueError(f"unknown EndpointStatus {status!r}")
        return api


class EndpointStateChangeEvent(EventBridgeModel):
    detail: EndpointDetail


# --- EMR service events --------------------------------------------------------------------------


class StateChangeReason(_Lenient):
    code: str = ""
    message: str | None = None


class EmrClusterStateDetail(_Lenient):
    clusterId: str
    name: str | None = None
    state: EmrClusterState
    stateChangeReason: StateChangeReason = Field(default_factory=StateChangeReason)
    message: str | None = None
    severity: str | None = None

    @field_validator("stateChangeReason", mode="before")
    @classmethod
    def _json_in_a_string(cls, value: Any) -> Any:
        if isinstance(value, str):
            try:
                return json.loads(value) if value.strip() else {}
            except json.JSONDecodeError as error:
                raise ValueError(f"stateChangeReason is not JSON: {error.msg}") from error
        return value


class EmrClusterStateChangeEvent(EventBridgeModel):
    detail: EmrClusterStateDetail


class EmrInstanceGroupDetail(_Lenient):
    clusterId: str
    instanceGroupId: str
    instanceGroupType: Literal["MASTER", "CORE", "TASK"] | None = None
    instanceType: str | None = None
    market: str | None = None
    requestedInstanceCount: int | None = None
    runningInstanceCount: int | None = None
    state: str


class EmrInstanceGroupStateChangeEvent(EventBridgeModel):
    detail: EmrInstanceGroupDetail


class EmrStepDetail(_Lenient):
    clusterId: str
    stepId: str
    state: str


class EmrStepStatusChangeEvent(EventBridgeModel):
    detail: EmrStepDetail


class EmrAutoScalingDetail(_Lenient):
    clusterId: str
    resourceId: str
    state: str


class EmrAutoScalingPolicyStateChangeEvent(EventBridgeModel):
    detail: EmrAutoScalingDetail


# --- CloudTrail request parameters, per API call (camelCase, as CloudTrail records them) ------------


class Tagged(_Lenient):
    tags: list[dict[str, Any]] | dict[str, Any] | None = None


class ResourceSpec(_Lenient):
    instanceType: str | None = None


class AppRequest(Tagged):
    domainId: str
    userProfileName: str | None = None
    spaceName: str | None = None
    appType: str
    appName: str
    resourceSpec: ResourceSpec | None = None


class OwnershipSettings(_Lenient):
    ownerUserProfileName: str | None = None


class SpaceSharingSettings(_Lenient):
    sharingType: Literal["Private", "Shared"] | None = None


class SpaceRequest(Tagged):
    domainId: str
    spaceName: str
    spaceSettings: dict[str, Any] | None = None
    ownershipSettings: OwnershipSettings | None = None
    spaceSharingSettings: SpaceSharingSettings | None = None


class UserProfileRequest(Tagged):
    domainId: str
    userProfileName: str
    userSettings: dict[str, Any] | None = None


class EndpointRequest(Tagged):
    endpointName: str
    endpointConfigName: str | None = None


class HyperPodInstanceGroup(_Lenient):
    instanceGroupName: str
    instanceType: str | None = None
    instanceCount: int | None = None


class HyperPodRequest(Tagged):
    clusterName: str
    instanceGroups: list[HyperPodInstanceGroup] = Field(default_factory=list)


class MlflowRequest(Tagged):
    trackingServerName: str
    trackingServerSize: str | None = None


class NotebookInstanceRequest(Tagged):
    notebookInstanceName: str
    instanceType: str | None = None


class EmrInstanceGroupConfig(_Lenient):
    name: str | None = None
    instanceRole: str
    instanceType: str
    instanceCount: int
    market: str | None = None


class EmrInstances(_Lenient):
    masterInstanceType: str | None = None
    slaveInstanceType: str | None = None
    instanceCount: int | None = None
    instanceGroups: list[EmrInstanceGroupConfig] = Field(default_factory=list)


class AutoTerminationPolicy(_Lenient):
    idleTimeout: int | None = None


class RunJobFlowRequest(Tagged):
    name: str
    instances: EmrInstances = Field(default_factory=EmrInstances)
    autoTerminationPolicy: AutoTerminationPolicy | None = None


class TerminateJobFlowsRequest(_Lenient):
    jobFlowIds: list[str] = Field(min_length=1)
