"""Logger and metrics, created once for the whole core (Powertools reads its settings from the
environment: POWERTOOLS_SERVICE_NAME, POWERTOOLS_METRICS_NAMESPACE, POWERTOOLS_LOG_LEVEL).

A custom metric costs $0.30 a month for each month it is published every hour, so what is published is what
someone alarms on or acts on: failures (only when they happen) and rare events. Counts of work done (what a
sweep listed, findings opened, messages sent) are in each invocation's log line, not in CloudWatch. Each
failure a function survives is also counted under the one name its alarm watches (an alarm is billed per
metric it reads: one rolled-up metric, not nine)."""

from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.metrics import MetricResolution, MetricUnit

SERVICE = "studio-cost-guardian"
NAMESPACE = "StudioCostGuardian"

# Counts of work done, every hour: in the log lines ("sweep done", "rules evaluated", "event recorded"), not metrics.
IN_LOGS_ONLY = frozenset(
    {
        "ResourcesListed",
        "FindingsOpened",
        "FindingsResolved",
        "ResourcesChanged",
        "MessagesSent",
        "TagsWritten",
        "EventDescribes",
        "CloudTrailLookups",
        "IgnoredEvents",
        # Not work done, but read by no alarm: every held-messages run (each 15 minutes) met it while an owner
        # has no address, $0.30 a month; the warning "owner has no email address" names them and the fix.
        "OwnersWithoutAddress",
    }
)
# Failures, each also counted under the metric its alarm watches (template.yaml: SweepDegradedAlarm, ...).
ROLLED_UP = {
    **dict.fromkeys(
        (
            "SweepErrors",
            "SweepRecordErrors",
            "RuleErrors",
            "FindingWriteErrors",
            "MetricFetchErrors",
            "EvaluationsNotScheduled",
            "CheckErrors",
            "TagWriteFailures",
            "EventJudgementErrors",
            # A pass past SWEEP_OVERDUE_HOURS (guardian.resume): counted every run while it lasts, so two of
            # three hours hold it; an alarm of its own would be $0.10 a month more.
            "SweepPassOverdue",
        ),
        "SweepDegraded",
    ),
    **dict.fromkeys(("DeliveriesNotRecorded", "DeliveryClaimsLost", "RemediationFailures"), "DeliveryDegraded"),
}


class GuardianMetrics(Metrics):
    def add_metric(
        self,
        name: str,
        unit: MetricUnit | str,
        value: float,
        resolution: MetricResolution | int = 60,
    ) -> None:
        if name in IN_LOGS_ONLY:
            return
        super().add_metric(name=name, unit=unit, value=value, resolution=resolution)
        if name in ROLLED_UP:
            super().add_metric(name=ROLLED_UP[name], unit=unit, value=value, resolution=resolution)


logger = Logger(service=SERVICE)
metrics = GuardianMetrics(namespace=NAMESPACE, service=SERVICE)

__all__ = ["MetricUnit", "logger", "metrics"]
