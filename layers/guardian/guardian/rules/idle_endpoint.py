"""idle-endpoint: an instance-backed endpoint with zero Invocations, summed over all its variants, for the
lookback. Serverless endpoints and endpoints at zero instances cost nothing idle and are never flagged;
missing data counts as zero only for an endpoint that existed for the whole window. Invocations exist only
per variant: with no variant known the rule cannot judge (it never guesses AllTraffic: an endpoint whose
variant has another name would read as idle)."""

from datetime import datetime, timedelta

from pydantic import Field

from guardian.kinds import Kind
from guardian.metric_data import MetricQuery
from guardian.resource import Resource
from guardian.rules.base import Detection, Rule, RuleConfig, RuleContext, Unjudged, iso


class IdleEndpointConfig(RuleConfig):
    lookback_hours: int = Field(default=24, ge=1, le=24 * 14)


class IdleEndpoint(Rule[IdleEndpointConfig]):
    name = "idle-endpoint"
    adjective = "Idle"
    Config = IdleEndpointConfig
    kinds = frozenset({Kind.ENDPOINT})
    permissions = ("cloudwatch:GetMetricData",)
    remediable = True
    groups_by_space = True

    def window(self, now: datetime) -> tuple[datetime, datetime]:
        end = now.replace(second=0, microsecond=0)
        return end - timedelta(hours=self.config.lookback_hours), end

    def _candidate(self, endpoint: Resource) -> bool:
        return endpoint.state == "InService" and not endpoint.serverless and endpoint.instance_count != 0

    def queries(self, resources: list[Resource], now: datetime) -> list[MetricQuery]:
        start, end = self.window(now)
        return [
            MetricQuery(
                f"{r.arn}|{variant}",
                "AWS/SageMaker",
                "Invocations",
                (("EndpointName", r.name), ("VariantName", variant)),
                "Sum",
                int((end - start).total_seconds()),
                start,
                end,
            )
            for r in resources
            if r.kind is Kind.ENDPOINT and self._candidate(r)
            for variant in sorted(r.groups)
        ]

    def evaluate(self, resource: Resource, context: RuleContext) -> Detection | None:
        if not self._candidate(resource):
            return None
        start, end = self.window(context.now)
        existed_since = resource.created_at or resource.first_seen_at
        if existed_since is None or existed_since > start:
            return None  # too young to call idle: no data is not yet evidence
        if not resource.groups:
            raise Unjudged("no production variant known: Invocations are kept per variant")
        per_variant = {
            variant: sum(value for _, value in context.metrics.get(f"{resource.arn}|{variant}", []))
            for variant in sorted(resource.groups)
        }
        if sum(per_variant.values()) > 0:
            return None
        evidence = {
            "invocations_per_variant": per_variant,
            "window_start": iso(start),
            "window_end": iso(end),
            "lookback_hours": self.config.lookback_hours,
            "instance_count": resource.instance_count,
        }
        return Detection(
            self.name,
            resource,
            start,
            f"no invocations in {self.config.lookback_hours} h on {resource.instance_count} instance(s)",
            evidence,
        )
