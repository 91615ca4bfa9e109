"""idle-emr-cluster: WAITING with IsIdle = 1 for N consecutive minutes (IsIdle is sampled every 5 minutes
and tracks YARN only, so several consecutive 1s are needed), or RUNNING/WAITING with no auto-termination
policy. The finding says which."""

from datetime import datetime, timedelta
from typing import Any

from pydantic import Field

from guardian.arns import resource_path
from guardian.kinds import Kind
from guardian.metric_data import MetricQuery
from guardian.resource import Resource
from guardian.rules.base import Detection, Rule, RuleConfig, RuleContext, iso

POINT_MINUTES = 5


class IdleEmrClusterConfig(RuleConfig):
    idle_minutes: int = Field(default=30, ge=POINT_MINUTES * 2)
    require_auto_termination: bool = True


class IdleEmrCluster(Rule[IdleEmrClusterConfig]):
    name = "idle-emr-cluster"
    adjective = "Idle"
    Config = IdleEmrClusterConfig
    kinds = frozenset({Kind.EMR_CLUSTER})
    permissions = ("cloudwatch:GetMetricData",)
    remediable = True
    groups_by_space = True

    def window(self, now: datetime) -> tuple[datetime, datetime]:
        end = now.replace(second=0, microsecond=0)
        return end - timedelta(minutes=max(self.config.idle_minutes * 2, 60)), end

    def queries(self, resources: list[Resource], now: datetime) -> list[MetricQuery]:
        start, end = self.window(now)
        return [
            MetricQuery(
                r.arn,
                "AWS/ElasticMapReduce",
                "IsIdle",
                (("JobFlowId", resource_path(r.arn)[-1]),),
                "Minimum",
                POINT_MINUTES * 60,
                start,
                end,
            )
            for r in resources
            if r.kind is Kind.EMR_CLUSTER and r.state == "WAITING"
        ]

    def evaluate(self, resource: Resource, context: RuleContext) -> Detection | None:
        if resource.state not in ("RUNNING", "WAITING"):
            return None
        points = context.metrics.get(resource.arn, [])
        run = _trailing_idle(points)
        no_policy = self._policy_known(resource) and resource.auto_termination_idle_seconds is None
        evidence: dict[str, Any] = {"auto_termination_policy": _policy(resource), "state": resource.state}
        if resource.state == "WAITING" and len(run) * POINT_MINUTES >= self.config.idle_minutes:
            evidence |= {
                "reason": "idle",
                "idle_minutes": len(run) * POINT_MINUTES,
                "is_idle_points": [[iso(t), v] for t, v in points[-12:]],
            }
            return Detection(
                self.name,
                resource,
                run[0][0],
                f"idle (IsIdle=1) for {len(run) * POINT_MINUTES} consecutive minutes",
                evidence,
            )
        if no_policy and self.config.require_auto_termination:
            evidence |= {"reason": "no-auto-termination"}
            since = resource.created_at or resource.first_seen_at or context.now
            return Detection(self.name, resource, since, "runs with no auto-termination policy", evidence)
        return None

    @staticmethod
    def _policy_known(resource: Resource) -> bool:
        # Known from the sweep (GetAutoTerminationPolicy) or the launch request the guardian saw.
        return resource.described_at is not None or bool(
            resource.creator and resource.creator.event_name == "RunJobFlow"
        )


def _trailing_idle(points: list[tuple[datetime, float]]) -> list[tuple[datetime, float]]:
    run: list[tuple[datetime, float]] = []
    for point in reversed(points):
        if point[1] < 1:
            break
        run.insert(0, point)
    return run


def _policy(resource: Resource) -> str:
    seconds = resource.auto_termination_idle_seconds
    return f"terminate after {seconds // 60} idle minutes" if seconds else "none"
