"""Events in, observations out: parse an EventBridge event and say what it tells about which resources.

:func:`translate` either returns a :class:`Translation` (possibly with nothing to record, and why) or
raises :class:`InvalidEvent` naming the reason, before anything is written.
"""

import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from aws_lambda_powertools.utilities.parser import ValidationError, parse
from pydantic import BaseModel

from guardian.arns import Location
from guardian.events import models as m
from guardian.events import service
from guardian.events.cloudtrail import TRANSLATORS, Call, creator_of
from guardian.resource import Observation

CLOUDTRAIL_DETAIL_TYPE = "AWS API Call via CloudTrail"
# CloudTrail events of each service come from this EventBridge source (EMR's differs from its events').
CLOUDTRAIL_SOURCES = {
    "aws.sagemaker": "sagemaker.amazonaws.com",
    "aws.elasticmapreduce": "elasticmapreduce.amazonaws.com",
}


def _nothing(_event: Any) -> list[Observation]:
    return []


SERVICE_EVENTS: dict[tuple[str, str], tuple[type[BaseModel], Callable[[Any], list[Observation]]]] = {
    ("aws.sagemaker", "SageMaker Endpoint State Change"): (m.EndpointStateChangeEvent, service.endpoint),
    ("aws.sagemaker", "SageMaker Endpoint Deployment State Change"): (
        m.EndpointStateChangeEvent,
        service.endpoint,
    ),
    ("aws.emr", "EMR Cluster State Change"): (m.EmrClusterStateChangeEvent, service.emr_cluster),
    ("aws.emr", "EMR Instance Group State Change"): (
        m.EmrInstanceGroupStateChangeEvent,
        service.emr_instance_group,
    ),
    # Recognised, but nothing in them changes what a resource costs or who owns it.
    ("aws.emr", "EMR Step Status Change"): (m.EmrStepStatusChangeEvent, _nothing),
    ("aws.emr", "EMR Auto Scaling Policy State Change"): (m.EmrAutoScalingPolicyStateChangeEvent, _nothing),
}


class InvalidEvent(Exception):
    """An event the guardian cannot use. ``reason`` is a short code for logs and metrics."""

    def __init__(self, reason: str, message: str) -> None:
        super().__init__(message)
        self.reason = reason
        self.message = message


@dataclass
class Translation:
    event_id: str
    name: str  # "cloudtrail:CreateEndpoint", or the detail-type of a service event
    observations: list[Observation] = field(default_factory=list)
    ignored: str | None = None  # why a valid event records nothing


def translate(raw: Any) -> Translation:
    if not isinstance(raw, dict):
        raise InvalidEvent("malformed", f"an event is a JSON object, not {type(raw).__name__}")
    source, detail_type = raw.get("source"), raw.get("detail-type")
    if detail_type == CLOUDTRAIL_DETAIL_TYPE and source in CLOUDTRAIL_SOURCES:
        return _api_call(raw)
    if (source, detail_type) in SERVICE_EVENTS:
        model, translator = SERVICE_EVENTS[(source, detail_type)]
        event = _parse(raw, model)
        return Translation(event.id, detail_type, _guarded(translator, event))
    raise InvalidEvent("unsupported", f"no translator for source={source!r} detail-type={detail_type!r}")


def _api_call(raw: dict[str, Any]) -> Translation:
    event: m.CloudTrailEvent = _parse(raw, m.CloudTrailEvent)
    detail = event.detail
    name = detail.eventName
    translation = Translation(event.id, f"cloudtrail:{name}")
    if detail.eventSource != CLOUDTRAIL_SOURCES[event.source]:
        raise InvalidEvent("malformed", f"eventSource {detail.eventSource!r} does not match {event.source}")
    if name not in TRANSLATORS:
        raise InvalidEvent("unsupported", f"no translator for API call {name}")
    if detail.errorCode:
        translation.ignored = f"the call failed ({detail.errorCode}): nothing changed"
        return translation
    request_model, translator = TRANSLATORS[name]
    try:
        params = request_model.model_validate(detail.requestParameters or {})
    except ValidationError as error:
        raise InvalidEvent("malformed", f"{name} requestParameters: {_first_error(error)}") from error
    call = Call(
        event_id=event.id,
        name=name,
        at=detail.eventTime,
        location=Location(region=detail.awsRegion, account=detail.recipientAccountId or event.account),
        creator=creator_of(detail.userIdentity, name),
        response=detail.responseElements or {},
    )
    translation.observations = _guarded(translator, call, params)
    return translation


def _parse(raw: dict[str, Any], model: type[BaseModel]) -> Any:
    try:
        return parse(event=raw, model=model)
    except ValidationError as error:
        raise InvalidEvent("malformed", f"{raw.get('detail-type')}: {_first_error(error)}") from error


def _guarded(translator: Callable[..., list[Observation]], *args: Any) -> list[Observation]:
    try:
        return translator(*args)
    except (ValueError, ValidationError) as error:
        raise InvalidEvent("malformed", str(error).splitlines()[0]) from error


def _first_error(error: ValidationError) -> str:
    first = error.errors()[0]
    where = ".".join(str(part) for part in first["loc"]) or "event"
    return f"{where}: {first['msg']}"


def from_cloudtrail_record(record: dict[str, Any]) -> dict[str, Any]:
    """Wrap a CloudTrail log record (from a trail's S3 files or event history) as the EventBridge
    event it would have been, so history can be replayed through the same path."""
    service_name = str(record.get("eventSource", "")).split(".", 1)[0]
    identity = record.get("userIdentity") or {}
    event_id = record.get("eventID") or str(uuid.uuid5(uuid.NAMESPACE_URL, str(record.get("requestID"))))
    return {
        "version": "0",
        "id": event_id,
        "detail-type": CLOUDTRAIL_DETAIL_TYPE,
        "source": f"aws.{service_name}",
        "account": record.get("recipientAccountId") or identity.get("accountId", ""),
        "time": record.get("eventTime"),
        "region": record.get("awsRegion"),
        "resources": [],
        "detail": record,
    }
