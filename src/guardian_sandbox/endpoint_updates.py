"""UpdateEndpoint, which moto lacks: an endpoint moved to another endpoint configuration (another instance
type or count: what it bills), as SageMaker does it.

The request is held to botocore's input shape first (request_shapes.py); an endpoint not InService is refused
("Cannot update in-progress endpoint"), and an unknown configuration too, with SageMaker's messages. The
endpoint is then Updating for the transition time (transitions.py) and keeps showing its old configuration;
when it is InService again, it shows the new one: its name, and variants made from the new configuration's
(with RetainAllVariantProperties, each variant the two share keeps its weight and instance count, but for
the properties ExcludeRetainedVariantProperties names). The sandbox's CloudTrail records the call like any
other, and the end of the update is announced as the endpoint's state-change event.
"""

from datetime import datetime

from moto.core.responses import ActionResult
from moto.sagemaker.exceptions import ValidationError
from moto.sagemaker.models import FakeEndpoint, FakeEndpointConfig
from moto.sagemaker.responses import SageMakerResponse

from guardian_sandbox import transitions
from guardian_sandbox.studio import _checked, _p

_PENDING = "_sandbox_pending_update"  # the configuration an update under way moves to, and what it retains
_RETAINED = {  # a variant's properties RetainAllVariantProperties keeps, by the name Exclude... gives them
    "DesiredWeight": ("DesiredWeight", "CurrentWeight"),
    "DesiredInstanceCount": ("DesiredInstanceCount", "CurrentInstanceCount"),
}


def _reconfigured(endpoint: FakeEndpoint, at: datetime) -> None:
    """What the end of an update sets: the new configuration, its variants, and when it was reached."""
    pending = endpoint.__dict__.pop(_PENDING, None)
    if pending is not None:
        config, retain, excluded = pending
        held = {v["VariantName"]: v for v in endpoint.production_variants}
        variants = endpoint._process_production_variants(config.production_variants)
        for variant in variants:
            before = held.get(variant["VariantName"])
            if retain and before is not None:
                for name, keys in _RETAINED.items():
                    if name not in excluded:
                        variant |= {key: before[key] for key in keys if key in before}
        endpoint.endpoint_config_name = config.endpoint_config_name
        endpoint.production_variants = variants
    endpoint.last_modified_time = at.replace(tzinfo=None)  # moto keeps naive UTC


ENDPOINT_RECONFIGURE = transitions.Change("endpoint_status", ("Updating",), "InService", _reconfigured)


class _EndpointUpdates(SageMakerResponse):
    """Grafted onto moto's SageMakerResponse (see :func:`install`)."""

    _p = _p

    def update_endpoint(self) -> ActionResult:
        backend = self.sagemaker_backend
        name, config_name = self._p("EndpointName"), self._p("EndpointConfigName")
        endpoint = backend.endpoints.get(name)
        if endpoint is None:
            raise ValidationError(
                f"Could not find endpoint '{FakeEndpoint.arn_formatter(name, self.current_account, self.region)}'."
            )
        if endpoint.endpoint_status != "InService":
            raise ValidationError(f'Cannot update in-progress endpoint "{endpoint.arn}".')
        config = backend.endpoint_configs.get(config_name)
        if config is None:
            arn = FakeEndpointConfig.arn_formatter(config_name, self.current_account, self.region)
            raise ValidationError(f"Could not find endpoint configuration '{arn}'.")
        excluded = {p["VariantPropertyType"] for p in self._p("ExcludeRetainedVariantProperties") or []}
        endpoint.__dict__[_PENDING] = (config, bool(self._p("RetainAllVariantProperties")), excluded)
        transitions.begin(endpoint, ENDPOINT_RECONFIGURE)
        return _checked({"EndpointArn": endpoint.arn}, "UpdateEndpoint")


def install() -> None:
    """Graft UpdateEndpoint onto moto's SageMaker (idempotent)."""
    SageMakerResponse.update_endpoint = _EndpointUpdates.update_endpoint  # type: ignore[attr-defined]
