"""idle-emr-cluster: WAITING with IsIdle = 1 for N consecutive minutes (IsIdle is sampled every 5 minutes
and tracks YARN only, so several consecutive 1s are needed). Its waste counts from the first idle sample of
the run; a cluster busy again resolves it. A busy cluster with no auto-termination policy is not waste:
emr-no-auto-termination says so, as a risk."""

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
        if resource.state != "WAITING":
            return None
        points = context.metrics.get(resource.arn, [])
        run = _trailing_idle(points)
        minutes = len(run) * POINT_MINUTES
        if minutes < self.config.idle_minutes:
            return None
        # Since when it is idle is the finding's condition_since; the points are the measurement that showed
        # it (findings.MOMENTARY: a later sweep's points alone do not rewrite the finding).
        evidence: dict[str, Any] = {
            "reason": "idle",
            "auto_termination_policy": policy(resource),
            "state": resource.state,
            "is_idle_points": [[iso(t), v] for t, v in points[-12:]],
        }
        summary = f"idle for {self.config.idle_minutes} minutes or more: no YARN work"
        return Detection(self.name, resource, run[0][0], summary, evidence)


def _trailing_idle(points: list[tuple[datetime, float]]) -> list[tuple[datetime, float]]:
    run: list[tuple[datetime, float]] = []
    for point in reversed(points):
        if point[1] < 1:
            break
        run.insert(0, point)
    return run


def policy(resource: Resource) -> str:
    """The cluster's auto-termination policy, in words."""
    seconds = resource.auto_termination_idle_seconds
    return f"terminate after {seconds // 60} idle minutes" if seconds else "none"
