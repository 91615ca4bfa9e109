"""Every response the sandbox sends, held to botocore's service model: what a test records while the guardian
and its users talk to the sandbox (an ``after-call`` hook on every client made), and what in each response
the model does not describe.

Two checks, since botocore's parsers keep only the members a shape names (so a parsed response cannot show an
unknown key): the body as it came over the wire (JSON and CBOR protocols), walked along the output shape (an
unknown key, a null, a wrong type, a required member missing, a value outside the shape's enum), and the
parsed response under botocore's own ParamValidator (required members, types, lengths and ranges). Error
responses are not checked: their shape is the error's, and the tests of each error code hold them."""

import contextlib
import copy
import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import botocore.session
from botocore.model import OperationModel, Shape
from botocore.parsers import RpcV2CBORParser
from botocore.validate import ParamValidator

from guardian.runtime import forget_cached

_BODY_LOCATIONS = (None, "")  # members carried in headers, the status code or the URI are not in the body


@dataclass(frozen=True)
class Response:
    service: str
    operation: str
    status: int
    content_type: str
    body: bytes
    parsed: dict[str, Any]
    model: OperationModel = field(repr=False, compare=False)

    @property
    def name(self) -> str:
        return f"{self.service}.{self.operation}"


class ResponseLog:
    def __init__(self) -> None:
        self.responses: list[Response] = []

    def record(self, http_response: Any, parsed: dict[str, Any], model: OperationModel, **_: Any) -> None:
        if model.service_model.service_name == "iam":
            return  # the sandbox's own setup (the guardian calls no IAM); botocore decodes its policies to dicts
        self.responses.append(
            Response(
                service=model.service_model.service_name,
                operation=model.name,
                status=int(http_response.status_code),
                content_type=str(http_response.headers.get("Content-Type", "")),
                body=bytes(http_response.content or b""),
                # As it came: a caller may add to it after (botocore's assume-role fetcher adds an AccountId).
                parsed=copy.deepcopy(parsed),
                model=model,
            )
        )

    @property
    def answered(self) -> list[Response]:
        return [r for r in self.responses if r.status < 300]

    def operations(self) -> set[str]:
        return {r.name for r in self.answered}

    def problems(self) -> dict[str, list[str]]:
        """Each operation whose response broke its shape, with what broke (the first response of each)."""
        found: dict[str, list[str]] = {}
        for response in self.answered:
            if response.name not in found:
                broken = problems(response)
                if broken:
                    found[response.name] = broken
        return found


@contextlib.contextmanager
def recording() -> Iterator[ResponseLog]:
    """Record the responses of every botocore client made in the block (the guardian's functions make theirs
    afresh: the cached ones are forgotten)."""
    log = ResponseLog()
    original = botocore.session.Session.create_client

    def create_client(self: botocore.session.Session, *args: Any, **kwargs: Any) -> Any:
        client = original(self, *args, **kwargs)
        client.meta.events.register("after-call", log.record)
        return client

    botocore.session.Session.create_client = create_client
    forget_cached()
    try:
        yield log
    finally:
        botocore.session.Session.create_client = original
        forget_cached()


def problems(response: Response) -> list[str]:
    shape = response.model.output_shape
    if shape is None:
        return []
    found = _parsed_problems(response.parsed, shape)
    wire = _wire_body(response)
    if wire is not None:
        found += _walk(wire, _body_shape(shape, response), "", response.model.service_model.protocol)
    return found


def _parsed_problems(parsed: dict[str, Any], shape: Shape) -> list[str]:
    body = {k: v for k, v in parsed.items() if k != "ResponseMetadata"}
    report = ParamValidator().validate(body, shape)
    found = report.generate_report().splitlines() if report.has_errors() else []
    # A number under the model's minimum is what AWS itself answers at times (DynamoDB's NumberOfDecreasesToday
    # is 0 on a new table, its shape says at least 1): not held against the sandbox.
    return [line for line in found if not (line.startswith("Invalid value for parameter") and "valid min" in line)]


def _wire_body(response: Response) -> Any:
    """The body as sent, by what it is (moto answers some CBOR-protocol calls in JSON, and without a content
    type); None for XML (query and rest-xml protocols: the parsed check alone) and for a payload that is no
    structure (a blob, a stream)."""
    body = response.body.strip()
    if not body or (_payload_member(response.model.output_shape) is not None and not _payload_is_structure(response)):
        return None
    if body[:1] in (b"{", b"["):
        return json.loads(body)
    if response.model.service_model.protocol == "smithy-rpc-v2-cbor":
        parser = RpcV2CBORParser()
        return parser.parse_data_item(parser.get_peekable_stream_from_bytes(body))
    return None


def _payload_member(shape: Shape | None) -> str | None:
    return shape.serialization.get("payload") if shape is not None else None


def _payload_is_structure(response: Response) -> bool:
    shape = response.model.output_shape
    member = _payload_member(shape)
    return member is not None and shape.members[member].type_name == "structure"


def _body_shape(shape: Shape, response: Response) -> Shape:
    member = _payload_member(shape)
    return shape.members[member] if member is not None else shape


def _walk(value: Any, shape: Shape, path: str, protocol: str) -> list[str]:
    where = path or "response"
    if value is None:
        return [f"{where}: null (AWS leaves out a member it has no value for)"]
    kind = shape.type_name
    if shape.metadata.get("document"):
        return []
    if kind == "structure":
        if not isinstance(value, dict):
            return [f"{where}: {type(value).__name__}, not a structure"]
        members = {
            member.serialization.get("name", name): (name, member)
            for name, member in shape.members.items()
            if member.serialization.get("location") in _BODY_LOCATIONS
        }
        found = [f"{where}: unknown member {key!r}" for key in value if key not in members]
        if not shape.metadata.get("union"):
            found += [
                f"{where}: required member {name!r} missing"
                for name in shape.required_members
                if shape.members[name].serialization.get("location") in _BODY_LOCATIONS
                and shape.members[name].serialization.get("name", name) not in value
            ]
        for key, item in value.items():
            if key in members:
                found += _walk(item, members[key][1], f"{path}.{key}" if path else key, protocol)
        return found
    if kind == "list":
        if not isinstance(value, list):
            return [f"{where}: {type(value).__name__}, not a list"]
        return [p for index, item in enumerate(value) for p in _walk(item, shape.member, f"{where}[{index}]", protocol)]
    if kind == "map":
        if not isinstance(value, dict):
            return [f"{where}: {type(value).__name__}, not a map"]
        return [p for key, item in value.items() for p in _walk(item, shape.value, f"{where}[{key!r}]", protocol)]
    return _scalar(value, shape, where, protocol)


def _scalar(value: Any, shape: Shape, where: str, protocol: str) -> list[str]:
    kind = shape.type_name
    number = isinstance(value, int | float) and not isinstance(value, bool)
    fits = {
        "string": isinstance(value, str),
        "boolean": isinstance(value, bool),
        "integer": isinstance(value, int) and not isinstance(value, bool),
        "long": isinstance(value, int) and not isinstance(value, bool),
        "double": number,
        "float": number,
        # JSON carries epoch seconds (or an ISO string where the shape says so); CBOR a tagged epoch.
        "timestamp": number or isinstance(value, str | datetime),
        "blob": isinstance(value, str) if protocol != "smithy-rpc-v2-cbor" else isinstance(value, bytes),
    }.get(kind, True)
    if not fits:
        return [f"{where}: {value!r} is not a {kind}"]
    enum = getattr(shape, "enum", None)
    if kind == "string" and enum and value not in enum:
        return [f"{where}: {value!r} is not one of the shape's values ({shape.name})"]
    return []
