"""The report function's work: for the ISO week just ended (in the stack's time zone), the report
(report.py), written to the reports bucket as HTML (with its charts), CSV and JSON, a summary with
presigned links to the team by email and Slack (once, however often the schedule fires), and the
week's totals kept in the table under REPORT#<week>."""

import json
from dataclasses import asdict, dataclass, field
from datetime import datetime, timedelta
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from guardian import report_format, report_html
from guardian.actual_cost import PERMISSIONS as COST_EXPLORER_PERMISSIONS
from guardian.actual_cost import actual_cost
from guardian.channels import Audience, DeliveryFailed
from guardian.delivery import PERMISSIONS as DELIVERY_PERMISSIONS
from guardian.delivery import send_once
from guardian.observability import MetricUnit, logger, metrics
from guardian.period import Period
from guardian.report import private_space_owners, report_for
from guardian.report_document import WeeklyReport
from guardian.runtime import Guardian
from guardian.table import report_key

PERMISSIONS = (
    *DELIVERY_PERMISSIONS,
    "s3:PutObject",  # the bucket is encrypted with the stack's key too (DELIVERY_PERMISSIONS has kms)
    "s3:GetObject",  # what the presigned links are authorised as
    *COST_EXPLORER_PERMISSIONS,
)
# A presigned link lives at most 7 days; signed by the function's role session, it ends with that session.
LINK_LIFETIME = timedelta(days=7)
CONTENT_TYPES = {"html": "text/html; charset=utf-8", "csv": "text/csv; charset=utf-8", "json": "application/json"}


class ReportRequest(BaseModel):
    """The schedule's input ({"report": "weekly"}), or {"week": "2026-W47"} to redo a week."""

    model_config = ConfigDict(extra="ignore")

    week: str | None = Field(default=None, pattern=r"^\d{4}-W\d{2}$")


@dataclass
class WeeklyResult:
    period: str
    total_waste_usd: float
    sent: list[str] = field(default_factory=list)
    objects: dict[str, str] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def weekly(guardian: Guardian, now: datetime, week: str | None = None) -> WeeklyResult:
    settings = guardian.settings
    zone = settings.report_timezone
    period = Period.iso_week(week, zone) if week else Period.week_before(now, zone)
    tag = f"{settings.tag_prefix}:owner"
    actual = actual_cost(guardian.clients("ce"), period, tag) if settings.cost_explorer else None
    names = settings.allow_private_names
    private = () if names or actual is None else private_space_owners(guardian.inventory)
    report = report_for(guardian.findings, period, now, names=names, actual=actual, private_owners=private)
    result = WeeklyResult(period.label, report.total_waste_usd)
    links: dict[str, str] = {}
    if settings.reports_bucket:
        result.objects, links = publish(guardian, report, now)
    message = report_format.message(report, links)
    outcome = send_once(guardian, Audience(None), [(f"report#{period.label}", message)], lambda _: message, now)
    result.sent = [f"{channel}: {subject}" for channel, subject, _ in outcome.sent]
    keep_totals(guardian, report, result.objects)
    metrics.add_metric(name="WeeklyWasteUSD", unit=MetricUnit.NoUnit, value=report.total_waste_usd)  # dollars
    logger.info("weekly report", extra={"period": period.label, "total": report.total_waste_usd, **result.objects})
    if outcome.error is not None:
        raise DeliveryFailed(f"the report for {period.label} was not delivered: {outcome.error}")
    return result


def publish(guardian: Guardian, report: WeeklyReport, now: datetime) -> tuple[dict[str, str], dict[str, str]]:
    """The report's files in the bucket, and presigned links to them."""
    s3, bucket = guardian.clients("s3"), guardian.settings.reports_bucket
    label = report.period.label
    bodies = {
        "html": report_html.to_html(report),
        "csv": report_format.to_csv(report),
        "json": json.dumps(report.model_dump(mode="json"), indent=2),  # json's escaping, as the CLI prints it
    }
    objects: dict[str, str] = {}
    links: dict[str, str] = {}
    for kind, body in bodies.items():
        key = f"reports/{label}/studio-waste-{label}.{kind}"
        s3.put_object(Bucket=bucket, Key=key, Body=body.encode(), ContentType=CONTENT_TYPES[kind])
        objects[kind] = f"s3://{bucket}/{key}"
        links[kind] = s3.generate_presigned_url(
            "get_object", Params={"Bucket": bucket, "Key": key}, ExpiresIn=int(LINK_LIFETIME.total_seconds())
        )
    links["expires"] = f"{now + LINK_LIFETIME:%Y-%m-%d %H:%M} UTC at the latest"
    return objects, links


def keep_totals(guardian: Guardian, report: WeeklyReport, objects: dict[str, str]) -> None:
    """The week's totals under REPORT#<week>: what a dashboard or next year's review reads back."""
    totals = report.model_dump(mode="json", exclude={"findings"}) | {"objects": objects}
    guardian.clients("dynamodb").put_item(
        TableName=guardian.settings.table_name,
        Item={
            **report_key(report.period.label),
            "type": {"S": "report"},
            "doc": {"S": json.dumps(totals)},
        },
    )
