"""CloudTrail's event history in the sandbox: the calls made to it, kept as CloudTrail keeps management
events, and served by LookupEvents (which moto's CloudTrail lacks).

Every call that changes something in SageMaker or EMR (Create*, Delete*, Update*, Start*, Stop*, AddTags,
RunJobFlow, TerminateJobFlows...; reads are not kept) is recorded as the record CloudTrail would write:
``eventTime`` from the sandbox's clock (clock.py: a scenario's past is stamped in the past), to the second
as CloudTrail stamps; ``userIdentity`` of the caller: the sandbox signs every call with one access key, so who
calls is said with :func:`calls_by` (a Studio user's session of an execution role, with its source identity; a
guardian function's role), and is otherwise the sandbox's IAM user;
``requestParameters`` and ``responseElements`` spelled as CloudTrail spells them (the API's member names
with a lower-case first letter, as the service model's shapes say; map keys as given); ``errorCode`` and
``errorMessage`` for a call refused; and the resources the call names. Events are kept per account and
region, for 90 days of the sandbox's clock, on moto's CloudTrail backend (moto's reset clears them).

LookupEvents answers as the service does: newest first, at most one lookup attribute, a time range
(90 days back by default), pages of up to 50 with a token that survives new events arriving between
pages, the real error codes. Every answer is checked against botocore's output shape before it is sent.

The same records reach EventBridge as on AWS, only while a trail is logging: a call made while a trail
that covers its region (its own, or multi-region) is logging is marked for the bus when it is recorded
(:func:`trail_logging`; :func:`ensure_trail` makes one, as SandboxStack.deploy does by default), and the
history keeps every call whatever the trails say, as LookupEvents does on AWS. :func:`api_call_event` is a
record as "AWS API Call via CloudTrail" delivers it, and :meth:`History.since` what was recorded for the bus
after a point (simulation/bus.py delivers both).
"""

import base64
import binascii
import contextlib
import json
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import botocore.session
from botocore.exceptions import ClientError
from moto.cloudtrail.models import CloudTrailBackend, cloudtrail_backends
from moto.cloudtrail.responses import CloudTrailResponse
from moto.core.exceptions import ServiceException
from moto.core.responses import ActionResult, BaseResponse
from moto.emr.responses import ElasticMapReduceResponse
from moto.sagemaker.responses import SageMakerResponse

from guardian_sandbox.moto_answers import MODELLED, shaped_json

RETENTION = timedelta(days=90)
PAGE_SIZE = 50
READ_PREFIXES = ("Describe", "List", "Get", "Search", "Query", "BatchDescribe", "BatchGet")
LOOKUP_KEYS = (
    "EventId",
    "EventName",
    "ReadOnly",
    "Username",
    "ResourceType",
    "ResourceName",
    "EventSource",
    "AccessKeyId",
)

# The services whose calls are recorded: their response class, CloudTrail's eventSource, botocore's name.
_SERVICES: dict[type[BaseResponse], tuple[str, str]] = {
    SageMakerResponse: ("sagemaker.amazonaws.com", "sagemaker"),
    ElasticMapReduceResponse: ("elasticmapreduce.amazonaws.com", "emr"),
}
# Request (and response) members that name a resource, and the resource type CloudTrail gives it.
_RESOURCE_MEMBERS = {
    "DomainId": "AWS::SageMaker::Domain",
    "UserProfileName": "AWS::SageMaker::UserProfile",
    "SpaceName": "AWS::SageMaker::Space",
    "AppName": "AWS::SageMaker::App",
    "EndpointName": "AWS::SageMaker::Endpoint",
    "EndpointConfigName": "AWS::SageMaker::EndpointConfig",
    "ModelName": "AWS::SageMaker::Model",
    "NotebookInstanceName": "AWS::SageMaker::NotebookInstance",
    "TrackingServerName": "AWS::SageMaker::MlflowTrackingServer",
    "ClusterName": "AWS::SageMaker::Cluster",
    "ClusterId": "AWS::EMR::Cluster",
    "JobFlowId": "AWS::EMR::Cluster",
    "JobFlowIds": "AWS::EMR::Cluster",
}
_session = botocore.session.get_session()
_models = {name: _session.get_service_model(name) for name in ("sagemaker", "emr", "cloudtrail")}


def _now() -> datetime:
    from guardian_sandbox import studio  # the sandbox's clock; studio installs this module

    return studio._now()


@dataclass
class _Event:
    seq: int
    at: datetime
    name: str
    source: str
    read_only: bool
    access_key: str
    username: str
    resources: list[dict[str, str]]
    record: dict[str, Any]  # the CloudTrail record, as CloudTrailEvent carries it (a JSON string)
    to_bus: bool = False  # made while a trail was logging: EventBridge has it too
    event_id: str = field(init=False)

    def __post_init__(self) -> None:
        self.event_id = self.record["eventID"]

    @property
    def order(self) -> tuple[datetime, int]:
        return (self.at, self.seq)

    def matches(self, key: str, value: str) -> bool:
        if key == "EventId":
            return self.event_id == value
        if key == "EventName":
            return self.name == value
        if key == "ReadOnly":
            return str(self.read_only).lower() == value.lower()
        if key == "Username":
            return self.username == value
        if key == "EventSource":
            return self.source == value
        if key == "AccessKeyId":
            return self.access_key == value
        field_name = "ResourceType" if key == "ResourceType" else "ResourceName"
        return any(r.get(field_name) == value for r in self.resources)

    def as_lookup(self) -> dict[str, Any]:
        return {
            "EventId": self.event_id,
            "EventName": self.name,
            "ReadOnly": str(self.read_only).lower(),
            "AccessKeyId": self.access_key,
            "EventTime": self.at,
            "EventSource": self.source,
            "Username": self.username,
            "Resources": self.resources,
            "CloudTrailEvent": json.dumps(self.record),
        }


@dataclass
class History:
    events: list[_Event] = field(default_factory=list)
    next_seq: int = 0

    def add(self, **event: Any) -> _Event:
        self.next_seq += 1
        recorded = _Event(seq=self.next_seq, **event)
        self.events.append(recorded)
        return recorded

    def since(self, seq: int) -> list[dict[str, Any]]:
        """The records kept after the ``seq``-th (``next_seq`` marks now) that a logging trail sent the bus,
        in the order they were made."""
        return [e.record for e in sorted(self.events, key=lambda e: e.order) if e.seq > seq and e.to_bus]


def history(backend: CloudTrailBackend) -> History:
    if "_sandbox_history" not in backend.__dict__:
        backend.__dict__["_sandbox_history"] = History()
    return backend.__dict__["_sandbox_history"]


def events_of(account: str, region: str) -> list[dict[str, Any]]:
    """Every record kept for this account and region, oldest first (for tests and the demo)."""
    kept = sorted(history(cloudtrail_backends[account][region]).events, key=lambda e: e.order)
    return [e.record for e in kept]


# --- trails ---------------------------------------------------------------------------------------

TRAIL_NAME = "management-events"


def trail_logging(account: str, region: str) -> bool:
    """Whether a trail of ``account`` that covers ``region`` (made there, or multi-region) is logging: what
    EventBridge needs to receive "AWS API Call via CloudTrail" events."""
    return any(
        trail.status.is_logging and (trail.is_multi_region or trail.region_name == region)
        for backend in cloudtrail_backends[account].values()
        for trail in backend.trails.values()
    )


def ensure_trail(clients: Any, name: str = TRAIL_NAME) -> str:
    """A multi-region trail of management events, logging, as an account's usual setup has (CloudTrail's
    console makes one): its bucket, the trail, StartLogging. Kept if already there. Returns its ARN."""
    cloudtrail, s3 = clients("cloudtrail"), clients("s3")
    account = clients("sts").get_caller_identity()["Account"]
    bucket = f"aws-cloudtrail-logs-{account}-{name}"
    where = (
        {} if clients.region == "us-east-1" else {"CreateBucketConfiguration": {"LocationConstraint": clients.region}}
    )
    try:
        s3.create_bucket(Bucket=bucket, **where)
    except ClientError as error:
        if error.response["Error"]["Code"] != "BucketAlreadyOwnedByYou":
            raise
    try:
        arn = str(cloudtrail.get_trail(Name=name)["Trail"]["TrailARN"])
    except ClientError as error:
        if error.response["Error"]["Code"] != "TrailNotFoundException":
            raise
        arn = str(cloudtrail.create_trail(Name=name, S3BucketName=bucket, IsMultiRegionTrail=True)["TrailARN"])
    cloudtrail.start_logging(Name=name)
    return arn


# moto's answers about trails carry members the service model does not have, and nulls where AWS leaves
# a member out: answered as the model has them.
_TRAIL_ANSWERS = {
    "create_trail": "CreateTrail",
    "get_trail": "GetTrail",
    "describe_trails": "DescribeTrails",
    "update_trail": "UpdateTrail",
}


# --- recording -----------------------------------------------------------------------------------


def _camel(name: str) -> str:
    return name[:1].lower() + name[1:]


def _cloudtrail_spelling(value: Any, shape: Any) -> Any:
    """A request or response as CloudTrail records it: structure members camelCased, as the shape says."""
    if shape is None:
        return value
    if shape.type_name == "structure" and isinstance(value, dict):
        return {
            _camel(key): _cloudtrail_spelling(item, shape.members.get(key))
            for key, item in value.items()
            if key in shape.members
        }
    if shape.type_name == "list" and isinstance(value, list):
        return [_cloudtrail_spelling(item, shape.member) for item in value]
    if shape.type_name == "map" and isinstance(value, dict):
        return {key: _cloudtrail_spelling(item, shape.value) for key, item in value.items()}
    return value


def _resources(request: dict[str, Any], response: dict[str, Any]) -> list[dict[str, str]]:
    named: dict[tuple[str, str], None] = {}
    for given in (request, response):
        for key, value in given.items():
            names = value if isinstance(value, list) else [value]
            for name in names:
                if not isinstance(name, str):
                    continue
                if key in _RESOURCE_MEMBERS:
                    named[(_RESOURCE_MEMBERS[key], name)] = None
                elif key.endswith("Arn") and name.startswith("arn:"):
                    service, resource = name.split(":")[2], name.split(":", 5)[-1].split("/", 1)[0]
                    kind = "".join(part.capitalize() for part in resource.split("-"))
                    named[(f"AWS::{'SageMaker' if service == 'sagemaker' else 'EMR'}::{kind}", name)] = None
    return [{"ResourceType": kind, "ResourceName": name} for kind, name in named]


_callers: list[dict[str, Any]] = []  # who calls now, innermost last (see calls_by)


@contextlib.contextmanager
def calls_by(identity: dict[str, Any]) -> Iterator[None]:
    """The calls made in the block are recorded as made by ``identity`` (a CloudTrail ``userIdentity``). Held
    for the process, not the thread: a sandbox served from this process records its requests so too."""
    _callers.append(identity)
    try:
        yield
    finally:
        _callers.pop()


def _identity(account: str) -> dict[str, Any]:
    if _callers:
        return dict(_callers[-1])
    return {
        "type": "IAMUser",
        "principalId": "AIDASANDBOXUSER00000",
        "arn": f"arn:aws:iam::{account}:user/sandbox",
        "accountId": account,
        "userName": "sandbox",
    }


def _username(identity: dict[str, Any]) -> str:
    """LookupEvents' user name: an IAM user's name, a role session's name (the ARN's last part)."""
    return str(identity.get("userName") or str(identity.get("arn", "")).rsplit("/", 1)[-1])


def api_call_event(record: dict[str, Any]) -> dict[str, Any]:
    """A record as EventBridge delivers it, "AWS API Call via CloudTrail" (the account's trail configured)."""
    return {
        "version": "0",
        "id": record["eventID"],
        "detail-type": "AWS API Call via CloudTrail",
        "source": "aws." + record["eventSource"].split(".", 1)[0],
        "account": record["recipientAccountId"],
        "time": record["eventTime"],
        "region": record["awsRegion"],
        "resources": [],
        "detail": record,
    }


def _iso(at: datetime) -> str:
    return at.strftime("%Y-%m-%dT%H:%M:%SZ")


def _json(text: Any) -> dict[str, Any]:
    if isinstance(text, bytes):
        text = text.decode("utf-8", "replace")
    try:
        parsed = json.loads(text or "{}")
    except (TypeError, ValueError):
        return {}
    return parsed if isinstance(parsed, dict) else {}


def record_call(response: BaseResponse, status: int, body: Any) -> None:
    """Keep the call ``response`` just answered as CloudTrail's record of it (reads are not kept)."""
    source, service = _SERVICES[next(c for c in _SERVICES if isinstance(response, c))]
    name = response._get_action()
    if not name or name.startswith(READ_PREFIXES):
        return
    model = _models[service]
    try:
        operation = model.operation_model(name)
    except Exception:  # not an operation of the service model: nothing CloudTrail would name
        return
    at = _now().astimezone(UTC).replace(microsecond=0)
    request = _json(response.body)
    answer = _json(body) if status < 300 else {}
    account, region = response.current_account, response.region
    access_key = getattr(response, "access_key", None) or "AKIAEXAMPLE"
    backend = cloudtrail_backends[account][region]
    kept = history(backend)
    kept.events = [e for e in kept.events if at - e.at <= RETENTION]
    identity = _identity(account) | {"accessKeyId": access_key}
    record: dict[str, Any] = {
        "eventVersion": "1.09",
        "userIdentity": identity,
        "eventTime": _iso(at),
        "eventSource": source,
        "eventName": name,
        "awsRegion": region,
        "sourceIPAddress": "127.0.0.1",
        "userAgent": response.headers.get("User-Agent", "sandbox"),
        "requestParameters": _cloudtrail_spelling(request, operation.input_shape) or None,
        "responseElements": _cloudtrail_spelling(answer, operation.output_shape) or None,
        "requestID": str(uuid.uuid4()),
        "eventID": str(uuid.uuid4()),
        "readOnly": False,
        "eventType": "AwsApiCall",
        "managementEvent": True,
        "recipientAccountId": account,
        "eventCategory": "Management",
    }
    if status >= 300:
        error = _json(body)
        code = str(error.get("__type") or error.get("code") or "ServiceException").rsplit("#", 1)[-1]
        record["errorCode"] = code
        record["errorMessage"] = str(error.get("message") or error.get("Message") or "")
    kept.add(
        at=at,
        name=name,
        source=source,
        read_only=False,
        access_key=access_key,
        username=_username(identity),
        resources=_resources(request, answer),
        record=record,
        to_bus=trail_logging(account, region),
    )


def _recorded(original: Any) -> Any:
    def call_action(self: BaseResponse) -> Any:
        status, headers, body = original(self)
        try:
            record_call(self, int(status), body)
        except Exception as error:  # the call happened; a record the sandbox cannot make must not undo it
            raise AssertionError(f"sandbox CloudTrail could not record {self._get_action()}: {error}") from error
        return status, headers, body

    call_action._sandbox_cloudtrail = True  # type: ignore[attr-defined]
    return call_action


# --- LookupEvents --------------------------------------------------------------------------------


class InvalidLookupAttributesException(ServiceException):
    code = "InvalidLookupAttributesException"


class InvalidTimeRangeException(ServiceException):
    code = "InvalidTimeRangeException"


class InvalidMaxResultsException(ServiceException):
    code = "InvalidMaxResultsException"


class InvalidNextTokenException(ServiceException):
    code = "InvalidNextTokenException"


class InvalidEventCategoryException(ServiceException):
    code = "InvalidEventCategoryException"


def _moment(value: Any) -> datetime | None:
    if value is None:
        return None
    if isinstance(value, int | float):
        return datetime.fromtimestamp(value, UTC)
    at = datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    return at if at.tzinfo else at.replace(tzinfo=UTC)


def _token(event: _Event) -> str:
    return base64.urlsafe_b64encode(json.dumps([event.at.isoformat(), event.seq]).encode()).decode()


def _after_token(token: str) -> tuple[datetime, int]:
    try:
        at, seq = json.loads(base64.urlsafe_b64decode(token.encode()))
        return datetime.fromisoformat(at), int(seq)
    except (binascii.Error, ValueError, TypeError) as error:
        raise InvalidNextTokenException("Invalid NextToken") from error


def _checked(result: dict[str, Any]) -> ActionResult:
    from guardian_sandbox.studio import _checked as checked

    return checked(result, "LookupEvents", _models["cloudtrail"])


class _LookupEvents(CloudTrailResponse):
    """Grafted onto moto's CloudTrailResponse (see :func:`install`)."""

    def lookup_events(self) -> ActionResult:
        from guardian_sandbox.studio import _p

        attributes = _p(self, "LookupAttributes") or []
        if len(attributes) > 1:
            raise InvalidLookupAttributesException("You can only specify one lookup attribute.")
        for attribute in attributes:
            if attribute.get("AttributeKey") not in LOOKUP_KEYS:
                raise InvalidLookupAttributesException(f"Invalid attribute key: {attribute.get('AttributeKey')}")
        category = _p(self, "EventCategory")
        if category not in (None, "insight"):
            raise InvalidEventCategoryException(f"Invalid event category: {category}")
        size = _p(self, "MaxResults")
        if size is not None and not 1 <= int(size) <= PAGE_SIZE:
            raise InvalidMaxResultsException("MaxResults must be between 1 and 50.")
        now = _now()
        end = _moment(_p(self, "EndTime")) or now
        start = _moment(_p(self, "StartTime")) or now - RETENTION
        if start > end:
            raise InvalidTimeRangeException("Start time must be before end time.")
        if category == "insight":  # the sandbox has no Insights events
            return _checked({"Events": []})
        token = _p(self, "NextToken")
        after = _after_token(token) if token else None
        kept = history(self.cloudtrail_backend).events
        found = sorted(
            (
                e
                for e in kept
                if start <= e.at <= end
                and now - e.at <= RETENTION
                and all(e.matches(a["AttributeKey"], a["AttributeValue"]) for a in attributes)
                and (after is None or e.order < after)
            ),
            key=lambda e: e.order,
            reverse=True,
        )
        page = found[: int(size or PAGE_SIZE)]
        result: dict[str, Any] = {"Events": [e.as_lookup() for e in page]}
        if len(found) > len(page):
            result["NextToken"] = _token(page[-1])
        return _checked(result)


def install() -> None:
    """Record the calls of the services in _SERVICES (and S3's bucket calls), serve LookupEvents (idempotent)."""
    for response_class in _SERVICES:
        if not getattr(response_class.call_action, "_sandbox_cloudtrail", False):
            response_class.call_action = _recorded(response_class.call_action)  # type: ignore[method-assign]
    CloudTrailResponse.lookup_events = _LookupEvents.lookup_events  # type: ignore[attr-defined]
    for method, operation in _TRAIL_ANSWERS.items():
        if not getattr(getattr(CloudTrailResponse, method), MODELLED, False):
            shape = _models["cloudtrail"].operation_model(operation).output_shape
            setattr(CloudTrailResponse, method, shaped_json(getattr(CloudTrailResponse, method), shape))
    from guardian_sandbox import s3_buckets  # S3's bucket calls (a REST-XML service): recorded there

    s3_buckets.install()
