"""moto's answers where they break botocore's output shapes, answered as the services answer (found by
tests/integration/test_sandbox_responses.py, which holds every response the guardian gets to its shape):

- an endpoint or endpoint configuration without data capture has no ``DataCaptureConfig`` (moto sends an
  empty one, missing the members the shape requires);
- an EMR cluster without Kerberos has no ``KerberosAttributes`` (the same);
- an EMR instance group's state change reason carries a code from the shape's own list, and only when there
  is one: a group that runs has none, a group whose cluster ended says CLUSTER_TERMINATED (moto says
  USER_REQUEST, a cluster's code, for every group);
- EventBridge Scheduler's GetSchedule and ListSchedules carry only the members their shapes name, and none
  that has no value (moto sends a schedule's every attribute in a summary, and nulls);
- Organizations' account and OU lists leave out ``NextToken`` on their last page (moto sends a null).
"""

import json
from collections.abc import Callable
from typing import Any

import botocore.session
from botocore.model import Shape
from moto.core.responses import ActionResult
from moto.emr.models import Cluster as EmrCluster
from moto.emr.models import InstanceGroup
from moto.organizations.responses import OrganizationsResponse
from moto.sagemaker.responses import SageMakerResponse
from moto.scheduler.responses import EventBridgeSchedulerResponse

_ENDED_GROUP = {"TERMINATED", "ENDED", "TERMINATING", "ARRESTED"}


def _without_empty(member: str, original: Callable[..., ActionResult]) -> Callable[..., ActionResult]:
    def describe(self: SageMakerResponse) -> ActionResult:
        answer = original(self)
        if isinstance(answer.result, dict) and not answer.result.get(member):
            answer.result.pop(member, None)
        return answer

    return describe


def _no_empty_kerberos(original: Callable[..., None]) -> Callable[..., None]:
    def __init__(self: EmrCluster, *args: Any, **kwargs: Any) -> None:
        original(self, *args, **kwargs)
        self.kerberos_attributes = self.kerberos_attributes or None

    return __init__


def _group_status(self: InstanceGroup) -> dict[str, Any]:
    reason: dict[str, str] = {}
    if self.state in _ENDED_GROUP:
        reason = {"Code": "CLUSTER_TERMINATED", "Message": "The cluster was terminated."}
    elif getattr(self, "state_change_reason", None):
        reason = {"Message": str(getattr(self, "state_change_reason", ""))}
    timeline = {"CreationDateTime": self.creation_date_time, "ReadyDateTime": self.ready_date_time}
    if self.end_date_time is not None:
        timeline["EndDateTime"] = self.end_date_time
    return {"State": self.state, "StateChangeReason": reason, "Timeline": timeline}


def shaped(value: Any, shape: Shape) -> Any:
    """``value`` with only what ``shape`` names, and nothing that has no value."""
    if shape.type_name == "structure" and isinstance(value, dict):
        return {
            key: shaped(item, shape.members[key])
            for key, item in value.items()
            if key in shape.members and item is not None
        }
    if shape.type_name == "list" and isinstance(value, list):
        return [shaped(item, shape.member) for item in value if item is not None]
    if shape.type_name == "map" and isinstance(value, dict):
        return {key: shaped(item, shape.value) for key, item in value.items() if item is not None}
    return value


# Marks an answer already shaped (installing twice must not wrap it twice).
MODELLED = "_sandbox_modelled"


def shaped_json(original: Callable[..., str], shape: Shape) -> Callable[..., str]:
    """A moto JSON answer, with only what ``shape`` names and nothing that has no value."""

    def answer(self: Any) -> str:
        return json.dumps(shaped(json.loads(original(self)), shape))

    setattr(answer, MODELLED, True)
    return answer


_installed = False


def install() -> None:
    """Correct the answers above (idempotent)."""
    global _installed
    if _installed:
        return
    for operation in ("describe_endpoint", "describe_endpoint_config"):
        original = getattr(SageMakerResponse, operation)
        setattr(SageMakerResponse, operation, _without_empty("DataCaptureConfig", original))
    EmrCluster.__init__ = _no_empty_kerberos(EmrCluster.__init__)  # type: ignore[method-assign]
    InstanceGroup.status = property(_group_status)  # type: ignore[method-assign,assignment]
    scheduler = botocore.session.get_session().get_service_model("scheduler")
    for operation in ("GetSchedule", "ListSchedules"):
        name = "get_schedule" if operation == "GetSchedule" else "list_schedules"
        shape = scheduler.operation_model(operation).output_shape
        setattr(EventBridgeSchedulerResponse, name, shaped_json(getattr(EventBridgeSchedulerResponse, name), shape))
    organizations = botocore.session.get_session().get_service_model("organizations")
    for operation, method in (
        ("ListAccounts", "list_accounts"),
        ("ListAccountsForParent", "list_accounts_for_parent"),
        ("ListOrganizationalUnitsForParent", "list_organizational_units_for_parent"),
    ):
        shape = organizations.operation_model(operation).output_shape
        setattr(OrganizationsResponse, method, shaped_json(getattr(OrganizationsResponse, method), shape))
    _installed = True
