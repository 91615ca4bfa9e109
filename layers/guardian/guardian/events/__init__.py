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

from guardian.arns import Location, canonical, well_formed
from guardian.events import models as m
from guardian.events import service
from guardian.events.cloudtrail import TRANSLATORS, Call, creator_of
from guardian.resource import Observation

CLOUDTRAIL_DETAIL_TYPE = "AWS API Call via CloudTrail"
# CloudTrail events of each service come from this EventBridge source (EMR's differs from its events').
CLOUDTRAIL_SOURCES = {
    "aws.sagemaker": "sagemaker.amazonaws.com",
    "aws.elasticmapreduce": "elasticmapreduce.amazonaws.com",
    "aws.s3": "s3.amazonaws.com",  # buckets made from Studio
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
    ("aws.emr", "EMR Instance Fleet State Change"): (
        m.EmrInstanceFleetStateChangeEvent,
        service.emr_instance_fleet,
    ),
    ("aws.sagemaker", "SageMaker HyperPod Cluster State Change"): (
        m.HyperPodClusterStateChangeEvent,
        service.hyperpod_cluster,
    ),
    ("aws.sagemaker", "SageMaker Notebook Instance State Change"): (
        m.NotebookInstanceStateChangeEvent,
        service.notebook_instance,
    ),
    **{
        ("aws.sagemaker", detail_type): (m.TrackingServerEvent, service.tracking_server)
        for detail_type in service.TRACKING_SERVER_STATES
    },
    # Recognised, but nothing in them changes what a resource costs or who owns it.
    ("aws.emr", "EMR Step Status Change"): (m.EmrStepStatusChangeEvent, _nothing),
    ("aws.emr", "EMR Auto Scaling Policy State Change"): (m.EmrAutoScalingPolicyStateChangeEvent, _nothing),
}

# What the translators make observations of: template.yaml's EventBridge rules route exactly these to the
# ingest function (tests/template/test_rules.py holds them equal). The API calls by eventName (from any
# of CLOUDTRAIL_SOURCES), the service events by (source, detail-type).
HANDLED_API_CALLS: frozenset[str] = frozenset(TRANSLATORS)
HANDLED_SERVICE_EVENTS: frozenset[tuple[str, str]] = frozenset(
    key for key, (_, translator) in SERVICE_EVENTS.items() if translator is not _nothing
)


# Why an event is rejected (InvalidEvent.reason, a log field and the dimension of nothing else):
MALFORMED = "malformed"  # not the shape AWS sends: a field missing, of the wrong type, or not a valid value
UNSUPPORTED = "unsupported"  # well-formed, but nothing the guardian translates
OUT_OF_RANGE = "out-of-range"  # well-formed, but a value that cannot be true: a time before 2006 or in the future
# Well-formed and possible, but older than the guardian keeps the record it would change (applied, it could
# bring back a resource long gone); judged when it is applied, so AWS's old sample events still parse.
STALE = "stale"
# From an account the guardian does not watch (a hub's organization or member list leaves it out).
FOREIGN_ACCOUNT = "foreign-account"
REASONS = (MALFORMED, UNSUPPORTED, OUT_OF_RANGE, STALE, FOREIGN_ACCOUNT)

_MAX_MESSAGE = 500
# Pydantic error types of a value of the right shape but out of bounds (the models' own, and Field's).
_OUT_OF_RANGE_ERRORS = {
    m.OUT_OF_RANGE,
    "greater_than",
    "greater_than_equal",
    "less_than",
    "less_than_equal",
    "finite_number",
}


class InvalidEvent(Exception):
    """An event the guardian cannot use. ``reason`` is a short code for logs and metrics (:data:`REASONS`);
    ``message`` says what is wrong, cut to a log line and printable whatever the event held."""

    def __init__(self, reason: str, message: str) -> None:
        message = message if len(message) <= _MAX_MESSAGE else message[: _MAX_MESSAGE - 1] + "…"
        message = message.encode("utf-8", "backslashreplace").decode("utf-8")  # lone surrogates, escaped
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
        raise InvalidEvent(MALFORMED, f"an event is a JSON object, not {type(raw).__name__}")
    source, detail_type = raw.get("source"), raw.get("detail-type")
    if isinstance(source, str) and isinstance(detail_type, str):
        if detail_type == CLOUDTRAIL_DETAIL_TYPE and source in CLOUDTRAIL_SOURCES:
            return _checked(_api_call(raw))
        if (source, detail_type) in SERVICE_EVENTS:
            model, translator = SERVICE_EVENTS[(source, detail_type)]
            event = _parse(raw, model)
            return _checked(Translation(event.id, detail_type, _guarded(translator, event)))
    raise InvalidEvent(UNSUPPORTED, f"no translator for source={source!r} detail-type={detail_type!r}")


def _api_call(raw: dict[str, Any]) -> Translation:
    event: m.CloudTrailEvent = _parse(raw, m.CloudTrailEvent)
    detail = event.detail
    name = detail.eventName
    translation = Translation(event.id, f"cloudtrail:{name}")
    if detail.eventSource != CLOUDTRAIL_SOURCES[event.source]:
        raise InvalidEvent(MALFORMED, f"eventSource {detail.eventSource!r} does not match {event.source}")
    if name not in TRANSLATORS:
        raise InvalidEvent(UNSUPPORTED, f"no translator for API call {name}")
    if detail.errorCode:
        translation.ignored = f"the call failed ({detail.errorCode}): nothing changed"
        return translation
    request_model, translator = TRANSLATORS[name]
    try:
        params = request_model.model_validate(detail.requestParameters or {})
    except ValidationError as error:
        raise InvalidEvent(_reason(error), f"{name} requestParameters: {_first_error(error)}") from error
    try:
        creator = creator_of(detail.userIdentity, name)
    except ValueError as error:
        raise InvalidEvent(MALFORMED, f"{name}: {error}") from error
    call = Call(
        event_id=event.id,
        name=name,
        at=detail.eventTime,
        location=Location(region=detail.awsRegion, account=detail.recipientAccountId or event.account),
        creator=creator,
        response=detail.responseElements or {},
    )
    translation.observations = _guarded(translator, call, params)
    return translation


def _parse(raw: dict[str, Any], model: type[BaseModel]) -> Any:
    try:
        return parse(event=raw, model=model)
    except ValidationError as error:
        raise InvalidEvent(_reason(error), f"{raw.get('detail-type')}: {_first_error(error)}") from error


def _guarded(translator: Callable[..., list[Observation]], *args: Any) -> list[Observation]:
    try:
        return translator(*args)
    except ValidationError as error:
        raise InvalidEvent(_reason(error), _first_error(error)) from error
    except ValueError as error:
        raise InvalidEvent(MALFORMED, str(error).splitlines()[0] if str(error) else type(error).__name__) from error


def _checked(translation: Translation) -> Translation:
    """The last word on what a translation records: every ARN names a resource of its kind, well-formed
    (names from requests and ARNs from responses alike), so no record is ever keyed on garbage."""
    for observation in translation.observations:
        for where, arn in (("ARN", observation.arn), ("api_arn", observation.fields.get("api_arn"))):
            if arn is not None and not (isinstance(arn, str) and well_formed(canonical(arn), observation.kind)):
                raise InvalidEvent(
                    MALFORMED,
                    f"{translation.name}: {where} {str(arn)[:200]!r} is not a well-formed {observation.kind} ARN",
                )
    return translation


def _reason(error: ValidationError) -> str:
    return OUT_OF_RANGE if error.errors()[0]["type"] in _OUT_OF_RANGE_ERRORS else MALFORMED


def _first_error(error: ValidationError) -> str:
    first = error.errors(include_url=False, include_input=False)[0]
    where = ".".join(str(part) for part in first["loc"]) or "event"
    return f"{where}: {first['msg']}"


def from_cloudtrail_record(record: dict[str, Any]) -> dict[str, Any]:
    """Wrap a CloudTrail log record (from a trail's S3 files or event history) as the EventBridge
    event it would have been, so history can be replayed through the same path."""
    if not isinstance(record, dict):
        raise InvalidEvent(MALFORMED, f"a CloudTrail record is a JSON object, not {type(record).__name__}")
    service_name = str(record.get("eventSource", "")).split(".", 1)[0]
    identity = record.get("userIdentity")
    identity = identity if isinstance(identity, dict) else {}
    request_id = str(record.get("requestID")).encode("utf-8", "backslashreplace").decode("utf-8")
    event_id = record.get("eventID") or str(uuid.uuid5(uuid.NAMESPACE_URL, request_id))
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
