"""idle-endpoint: an instance-backed endpoint with zero Invocations, summed over all its variants, for the
lookback. Serverless endpoints and endpoints at zero instances cost nothing idle and are never flagged;
missing data counts as zero only for an endpoint that existed for the whole window. Invocations exist only
per variant: with no variant known the rule cannot judge (it never guesses AllTraffic: an endpoint whose
variant has another name would read as idle).

An endpoint hosting inference components is judged by each component's own Invocations (AWS/SageMaker,
dimension InferenceComponentName), not by its variants': it is idle when every component is (each old enough
for its silence to be evidence), and the finding names them. When only some are idle, each idle component is
a finding of its own (the endpoint still works for the others), priced as an unapportioned share."""

from datetime import datetime, timedelta

from pydantic import Field

from guardian.arns import location_of
from guardian.kinds import Kind, is_gone
from guardian.metric_data import MetricQuery
from guardian.resource import Resource
from guardian.rules.base import Detection, Rule, RuleConfig, RuleContext, Unjudged, iso

_COMPONENT = "|component|"  # a query key's infix: <endpoint arn>|component|<component name>
HOUR_SECONDS = 3600  # the window is whole hours (lookback_hours)


class IdleEndpointConfig(RuleConfig):
    lookback_hours: int = Field(default=24, ge=1, le=24 * 14)


def endpoint_of(component: Resource) -> str | None:
    """The inventory key of the endpoint an inference component is on (None: not known)."""
    if not component.endpoint_name:
        return None
    return location_of(component.arn).endpoint(component.endpoint_name)


def component_arn(endpoint: Resource, name: str) -> str:
    return location_of(endpoint.arn).sagemaker(f"inference-component/{name}")


class IdleEndpoint(Rule[IdleEndpointConfig]):
    name = "idle-endpoint"
    adjective = "Idle"
    Config = IdleEndpointConfig
    kinds = frozenset({Kind.ENDPOINT, Kind.INFERENCE_COMPONENT})
    permissions = ("cloudwatch:GetMetricData",)
    remediable = True
    groups_by_space = True
    _indexed: object = None  # the metrics map _by_endpoint was built from
    _by_endpoint: dict[str, dict[str, float]] = {}  # replaced whole, never mutated in place

    def window(self, now: datetime) -> tuple[datetime, datetime]:
        end = now.replace(second=0, microsecond=0)
        return end - timedelta(hours=self.config.lookback_hours), end

    def _candidate(self, endpoint: Resource) -> bool:
        return endpoint.state == "InService" and not endpoint.serverless and endpoint.instance_count != 0

    def _query(self, key: str, dimensions: tuple[tuple[str, str], ...], now: datetime) -> MetricQuery:
        start, end = self.window(now)
        # Hourly sums over the window, not one: the latest busy hour spares the next sweeps asking while it
        # stays inside the window (guardian.invocations); the sum is the same.
        return MetricQuery(key, "AWS/SageMaker", "Invocations", dimensions, "Sum", HOUR_SECONDS, start, end)

    def queries(self, resources: list[Resource], now: datetime) -> list[MetricQuery]:
        components: dict[str, list[str]] = {}
        for r in resources:
            parent = endpoint_of(r) if r.kind is Kind.INFERENCE_COMPONENT and not is_gone(r.state) else None
            if parent is not None:
                components.setdefault(parent, []).append(r.name)
        queries = []
        for r in resources:
            if r.kind is not Kind.ENDPOINT or not self._candidate(r):
                continue
            hosted = sorted(set(components.get(r.arn, [])))
            if hosted:  # judged by its components' invocations, not its variants'
                queries += [
                    self._query(f"{r.arn}{_COMPONENT}{c}", (("InferenceComponentName", c),), now) for c in hosted
                ]
            else:
                queries += [
                    self._query(f"{r.arn}|{v}", (("EndpointName", r.name), ("VariantName", v)), now)
                    for v in sorted(r.groups)
                ]
        return queries

    def _per_component(self, endpoint: Resource, context: RuleContext) -> dict[str, float]:
        """Invocations per component of ``endpoint``, from an index of the sweep's metrics built once per
        metrics map (scanning every key for every endpoint would be quadratic in endpoints)."""
        if self._indexed is not context.metrics:
            index: dict[str, dict[str, float]] = {}
            for key, points in context.metrics.items():
                arn, infix, name = key.partition(_COMPONENT)
                if infix:
                    index.setdefault(arn, {})[name] = sum(value for _, value in points)
            self._indexed, self._by_endpoint = context.metrics, index
        return dict(sorted(self._by_endpoint.get(endpoint.arn, {}).items()))

    def _idle_components(self, endpoint: Resource, context: RuleContext) -> tuple[dict[str, float], list[str]]:
        """Invocations per component of ``endpoint``, and the components idle for the whole window (a component
        younger than the window, or not known to the inventory, is not called idle: silence is not yet evidence)."""
        start, _ = self.window(context.now)
        per_component = self._per_component(endpoint, context)
        idle = []
        for name, calls in per_component.items():
            record = context.lookup(component_arn(endpoint, name))
            existed_since = (record.created_at or record.first_seen_at) if record else None
            if calls == 0 and existed_since is not None and existed_since <= start:
                idle.append(name)
        return per_component, idle

    def evaluate(self, resource: Resource, context: RuleContext) -> Detection | None:
        if resource.kind is Kind.INFERENCE_COMPONENT:
            return self._evaluate_component(resource, context)
        if not self._candidate(resource):
            return None
        start, end = self.window(context.now)
        existed_since = resource.created_at or resource.first_seen_at
        if existed_since is None or existed_since > start:
            return None  # too young to call idle: no data is not yet evidence
        window = {"window_start": iso(start), "window_end": iso(end), "lookback_hours": self.config.lookback_hours}
        per_component, idle = self._idle_components(resource, context)
        if per_component:
            if len(idle) < len(per_component):
                return None  # a component works (or is too young to judge): the endpoint is not idle
            summary = (
                f"no invocations in {self.config.lookback_hours} h on any of its {len(idle)} inference "
                f"component(s) ({', '.join(idle)}) on {resource.instance_count} instance(s)"
            )
            evidence = {
                "invocations_per_component": per_component,
                "idle_components": idle,
                **window,
                "instance_count": resource.instance_count,
            }
            return Detection(self.name, resource, start, summary, evidence)
        if not resource.groups:
            raise Unjudged("no production variant known: Invocations are kept per variant")
        per_variant = {
            variant: sum(value for _, value in context.metrics.get(f"{resource.arn}|{variant}", []))
            for variant in sorted(resource.groups)
        }
        if sum(per_variant.values()) > 0:
            return None
        evidence = {"invocations_per_variant": per_variant, **window, "instance_count": resource.instance_count}
        return Detection(
            self.name,
            resource,
            start,
            f"no invocations in {self.config.lookback_hours} h on {resource.instance_count} instance(s)",
            evidence,
        )

    def _evaluate_component(self, component: Resource, context: RuleContext) -> Detection | None:
        """An idle component on an endpoint whose other components work. When all are idle, the endpoint's
        finding names them all and the components have none of their own (the waste is counted once)."""
        parent = endpoint_of(component)
        endpoint = context.lookup(parent) if parent else None
        if endpoint is None or is_gone(component.state) or not self._candidate(endpoint):
            return None
        per_component, idle = self._idle_components(endpoint, context)
        if component.name not in idle or len(idle) == len(per_component):
            return None
        start, end = self.window(context.now)
        busy = sorted(set(per_component) - set(idle))
        summary = (
            f"no invocations in {self.config.lookback_hours} h on endpoint {endpoint.name}, "
            f"whose other component(s) {', '.join(busy)} are in use or too new to judge: it holds a share of its "
            "instances"
        )
        evidence = {
            "endpoint": endpoint.name,
            "invocations_per_component": per_component,
            "idle_components": idle,
            "window_start": iso(start),
            "window_end": iso(end),
            "lookback_hours": self.config.lookback_hours,
        }
        return Detection(self.name, component, start, summary, evidence)
