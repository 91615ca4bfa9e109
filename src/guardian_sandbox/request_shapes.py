"""Requests held to the service model, as the services hold them: a SageMaker or EMR request that botocore's
input shape does not allow (a required member missing, a wrong type, a value out of range or too long or
short, a value outside its enum) is answered with ValidationException before moto sees it, so moto never
half-handles a request the real service would refuse (a KeyError there is an HTTP 500, and sometimes a resource
half made). boto3 checks the same shapes before it sends; this is for whatever else speaks to a served sandbox."""

import json
from collections.abc import Callable
from typing import Any

import botocore.session
from botocore.model import ServiceModel, Shape
from botocore.validate import ParamValidator
from moto.core.exceptions import JsonRESTError
from moto.core.responses import BaseResponse
from moto.emr.responses import ElasticMapReduceResponse
from moto.sagemaker.responses import SageMakerResponse

_session = botocore.session.get_session()
_SERVICES: dict[type[BaseResponse], ServiceModel] = {
    SageMakerResponse: _session.get_service_model("sagemaker"),
    ElasticMapReduceResponse: _session.get_service_model("emr"),
}
_validator = ParamValidator()


def problems(model: ServiceModel, operation: str, body: Any) -> list[str]:
    """What in a request's JSON body the operation's input shape does not allow (none for an unknown one)."""
    if operation not in model.operation_names:
        return []  # moto answers what it does not know
    shape = model.operation_model(operation).input_shape
    try:
        request = json.loads(body or "{}")
    except (TypeError, ValueError):
        return ["the request body is not JSON"]
    if shape is None:
        return []
    report = _validator.validate(request, shape)
    found = report.generate_report().splitlines() if report.has_errors() else []
    return found + _beyond(request, shape, shape.name)


def _beyond(value: Any, shape: Shape, path: str) -> list[str]:
    """What botocore's validator leaves to the service: maximums and enums (its own checks catch the rest)."""
    kind = shape.type_name
    if kind == "structure" and isinstance(value, dict):
        return [
            problem
            for key, item in value.items()
            if key in shape.members
            for problem in _beyond(item, shape.members[key], f"{path}.{key}")
        ]
    if kind == "list" and isinstance(value, list):
        found = [p for index, item in enumerate(value) for p in _beyond(item, shape.member, f"{path}[{index}]")]
        return found + _over(len(value), shape, path, "length")
    if kind == "map" and isinstance(value, dict):
        return [p for key, item in value.items() for p in _beyond(item, shape.value, f"{path}[{key!r}]")]
    if kind == "string" and isinstance(value, str):
        enum = getattr(shape, "enum", None)
        if enum and value not in enum:
            return [f"Value '{value}' at '{path}' failed to satisfy constraint: Member must satisfy enum value set"]
        return _over(len(value), shape, path, "length")
    if kind in ("integer", "long", "double", "float") and isinstance(value, int | float):
        return _over(value, shape, path, "value")
    return []


def _over(measure: float, shape: Shape, path: str, what: str) -> list[str]:
    most = shape.metadata.get("max")
    if most is not None and measure > most:
        return [f"Value at '{path}' failed to satisfy constraint: Member must have {what} less than or equal to {most}"]
    return []


def _checked_first(original: Callable[..., None], model: ServiceModel) -> Callable[..., None]:
    """moto's first step with every request (authorising it), then the request against its shape."""

    def authorise(self: BaseResponse, resource: Any) -> None:
        original(self, resource)
        found = problems(model, self._get_action(), self.body)
        if found:
            count = f"{len(found)} validation error{'s' if len(found) > 1 else ''} detected"
            raise JsonRESTError("ValidationException", f"{count}: {'; '.join(found)}")

    authorise._sandbox_request_shapes = True  # type: ignore[attr-defined]
    return authorise


def install() -> None:
    """Check every request of the services above (idempotent)."""
    for response_class, model in _SERVICES.items():
        current = response_class._authenticate_and_authorize_normal_action
        if not getattr(current, "_sandbox_request_shapes", False):
            response_class._authenticate_and_authorize_normal_action = _checked_first(  # type: ignore[method-assign]
                current, model
            )
