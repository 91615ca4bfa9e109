"""SageMaker inference components, which moto lacks: CreateInferenceComponent, UpdateInferenceComponent,
UpdateInferenceComponentRuntimeConfig, DeleteInferenceComponent, DescribeInferenceComponent and
ListInferenceComponents (with its filters), and their tags.

A component is a model on an endpoint that is InService, on one of its variants (the first, unless the request
names one). It is Creating, Updating and Deleting for a while (transitions.py), then InService, or gone; its copy
count reaches what was asked when the passage ends. The service model documents no not-found or conflict error
for these calls: an unknown component or endpoint, a name taken, or a change while one is under way answers
ValidationException, as SageMaker answers its other hosting calls. Requests are held to botocore's input shapes
before they get here (request_shapes.py), every answer to its output shape. State lives on moto's SageMaker
backend, so moto's reset clears it."""

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from moto.core.responses import ActionResult, EmptyResult
from moto.sagemaker.exceptions import ValidationError
from moto.sagemaker.models import SageMakerModelBackend
from moto.sagemaker.responses import SageMakerResponse

from guardian_sandbox import studio, transitions
from guardian_sandbox.studio import _checked, _p, _page


def _reached(component: "InferenceComponent", at: datetime) -> None:
    component.last_modified = at
    component.current_copies = component.desired_copies


CREATE = transitions.Change("status", ("Creating",), "InService", _reached)
UPDATE = transitions.Change("status", ("Updating",), "InService", _reached)
DELETE = transitions.Change("status", ("Deleting",), transitions.GONE)


@dataclass(eq=False)  # kept by identity: transitions.py holds it weakly while a passage is under way
class InferenceComponent:
    arn: str
    name: str
    endpoint_name: str
    endpoint_arn: str
    variant_name: str
    specification: dict[str, Any]
    desired_copies: int
    tags: list[dict[str, str]]
    current_copies: int = 0
    status: str = "Creating"
    created: datetime = field(default_factory=studio._now)
    last_modified: datetime = field(default_factory=studio._now)

    def summary(self) -> dict[str, Any]:
        return {
            "CreationTime": self.created,
            "InferenceComponentArn": self.arn,
            "InferenceComponentName": self.name,
            "EndpointArn": self.endpoint_arn,
            "EndpointName": self.endpoint_name,
            "VariantName": self.variant_name,
            "InferenceComponentStatus": self.status,
            "LastModifiedTime": self.last_modified,
        }

    def describe(self) -> dict[str, Any]:
        described = self.summary() | {
            "RuntimeConfig": {"DesiredCopyCount": self.desired_copies, "CurrentCopyCount": self.current_copies},
        }
        specification = {k: v for k, v in self.specification.items() if k != "Container"}
        container = self.specification.get("Container")
        if container:  # described with the image as deployed
            image = container.get("Image")
            specification["Container"] = {k: v for k, v in container.items() if k != "Image"} | (
                {"DeployedImage": {"SpecifiedImage": image, "ResolvedImage": image}} if image else {}
            )
        return described | ({"Specification": specification} if specification else {})


def components(backend: SageMakerModelBackend) -> dict[str, InferenceComponent]:
    """Components by name, settled to the sandbox's clock (moto's reset clears them with its backend)."""
    held: dict[str, InferenceComponent] = backend.__dict__.setdefault("_sandbox_inference_components", {})
    transitions._settle(held, studio._now())
    return held


def _component(backend: SageMakerModelBackend, name: str | None) -> InferenceComponent:
    found = components(backend).get(name or "")
    if found is None:
        raise ValidationError(f"Could not find inference component '{name}'.")
    return found


def _in_service(component: InferenceComponent, change: str) -> None:
    if component.status != "InService":
        raise ValidationError(f"Cannot {change} inference component '{component.name}' while it is {component.status}")


class _InferenceComponents(SageMakerResponse):
    """Grafted onto moto's SageMakerResponse (see :func:`install`)."""

    _p = _p

    def create_inference_component(self) -> ActionResult:
        backend = self.sagemaker_backend
        name, endpoint_name = self._p("InferenceComponentName"), self._p("EndpointName")
        held = components(backend)
        if name in held:
            raise ValidationError(f"Cannot create already existing inference component '{name}'.")
        endpoint = backend.endpoints.get(endpoint_name)
        if endpoint is None:
            raise ValidationError(f"Could not find endpoint '{endpoint_name}'.")
        if endpoint.endpoint_status != "InService":
            raise ValidationError(f"Endpoint '{endpoint_name}' is {endpoint.endpoint_status}, not InService.")
        variants = [v["VariantName"] for v in endpoint.production_variants]
        variant = self._p("VariantName") or (variants[0] if variants else "AllTraffic")
        if variant not in variants:
            raise ValidationError(f"Variant '{variant}' is not a variant of endpoint '{endpoint_name}'.")
        component = InferenceComponent(
            arn=f"arn:aws:sagemaker:{self.region}:{self.current_account}:inference-component/{name.lower()}",
            name=name,
            endpoint_name=endpoint_name,
            endpoint_arn=endpoint.arn,
            variant_name=variant,
            specification=self._p("Specification") or {},
            desired_copies=(self._p("RuntimeConfig") or {}).get("CopyCount", 1),
            tags=self._p("Tags") or [],
        )
        held[name] = component
        transitions.begin(component, CREATE)
        return _checked({"InferenceComponentArn": component.arn}, "CreateInferenceComponent")

    def describe_inference_component(self) -> ActionResult:
        component = _component(self.sagemaker_backend, self._p("InferenceComponentName"))
        return _checked(component.describe(), "DescribeInferenceComponent")

    def list_inference_components(self) -> ActionResult:
        filters: dict[str, Callable[[InferenceComponent], Any]] = {
            "EndpointNameEquals": lambda c: c.endpoint_name,
            "VariantNameEquals": lambda c: c.variant_name,
            "StatusEquals": lambda c: c.status,
        }
        listed = [
            c
            for c in components(self.sagemaker_backend).values()
            if all(self._p(key) in (None, attribute(c)) for key, attribute in filters.items())
            and (self._p("NameContains") or "") in c.name
        ]
        order = {"Name": lambda c: c.name, "Status": lambda c: c.status}.get(self._p("SortBy"), lambda c: c.created)
        listed.sort(key=order, reverse=self._p("SortOrder") != "Ascending")
        page, token = _page(listed, self._p("NextToken"), self._p("MaxResults"))
        return _checked(
            {"InferenceComponents": [c.summary() for c in page]} | ({"NextToken": token} if token else {}),
            "ListInferenceComponents",
        )

    def update_inference_component(self) -> ActionResult:
        component = _component(self.sagemaker_backend, self._p("InferenceComponentName"))
        _in_service(component, "update")
        component.specification |= self._p("Specification") or {}
        component.desired_copies = (self._p("RuntimeConfig") or {}).get("CopyCount", component.desired_copies)
        transitions.begin(component, UPDATE)
        return _checked({"InferenceComponentArn": component.arn}, "UpdateInferenceComponent")

    def update_inference_component_runtime_config(self) -> ActionResult:
        component = _component(self.sagemaker_backend, self._p("InferenceComponentName"))
        _in_service(component, "update the runtime config of")
        component.desired_copies = self._p("DesiredRuntimeConfig")["CopyCount"]
        transitions.begin(component, UPDATE)
        return _checked({"InferenceComponentArn": component.arn}, "UpdateInferenceComponentRuntimeConfig")

    def delete_inference_component(self) -> EmptyResult:
        component = _component(self.sagemaker_backend, self._p("InferenceComponentName"))
        if component.status != "Deleting":
            transitions.begin(component, DELETE)
        return EmptyResult()


def _resource_from_arn(original: Callable[..., Any]) -> Callable[..., Any]:
    """Tags (AddTags, ListTags) of an inference component, found by its ARN in any case."""

    def lookup(self: SageMakerModelBackend, arn: str) -> Any:
        if arn.split(":", 5)[-1].split("/", 1)[0] == "inference-component":
            found = next((c for c in components(self).values() if c.arn.lower() == arn.lower()), None)
            if found is None:
                raise ValidationError(f"Could not find inference component {arn}")
            return found
        return original(self, arn)

    return lookup


def _tagged_resources(original: Callable[..., Iterator[Any]]) -> Callable[..., Iterator[Any]]:
    from moto.core.resource_tagging import TaggedResource

    def iter_tagged(self: SageMakerModelBackend) -> Iterator[Any]:
        yield from original(self)
        for component in components(self).values():
            tags = {t["Key"]: t["Value"] for t in component.tags}
            yield TaggedResource(arn=component.arn, tags=tags, resource_type="sagemaker:inference-component")

    return iter_tagged


_OPERATIONS = (
    "create_inference_component",
    "describe_inference_component",
    "list_inference_components",
    "update_inference_component",
    "update_inference_component_runtime_config",
    "delete_inference_component",
)
_installed = False


def install() -> None:
    """Graft the above onto moto (idempotent)."""
    global _installed
    if _installed:
        return
    for name in _OPERATIONS:
        setattr(SageMakerResponse, name, getattr(_InferenceComponents, name))
    backend = SageMakerModelBackend
    backend._get_resource_from_arn = _resource_from_arn(backend._get_resource_from_arn)  # type: ignore[method-assign]
    backend.iter_tagged_resources = _tagged_resources(backend.iter_tagged_resources)  # type: ignore[method-assign]
    _installed = True
