"""The report function's work: for the ISO week just ended (in the stack's time zone), the report
(report.py), written to the reports bucket as HTML (with its charts), CSV and JSON, a summary with
presigned links to the team by email and Slack (once, however often the schedule fires), and the
week's totals kept in the table under REPORT#<week>."""

import json
from dataclasses import asdict, dataclass, field
from datetime import datetime, timedelta
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from guardian import report_format, report_html
from guardian.actual_cost import PERMISSIONS as COST_EXPLORER_PERMISSIONS
from guardian.actual_cost import actual_cost
from guardian.channels import Audience, DeliveryFailed
from guardian.delivery import PERMISSIONS as DELIVERY_PERMISSIONS
from guardian.delivery import Delivery, send_once
from guardian.findings import Finding
from guardian.observability import MetricUnit, logger, metrics
from guardian.period import Period
from guardian.report import build, findings_overlapping, private_space_owners
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
    """The schedule's input ({"report": "weekly"}), or {"week": "2026-W47"} to redo a week; {"accounts":
    ["111111111111"]} limits it to those accounts (sent to the default team, files beside the week's)."""

    model_config = ConfigDict(extra="ignore")

    week: str | None = Field(default=None, pattern=r"^\d{4}-W\d{2}$")
    accounts: list[Annotated[str, StringConstraints(pattern=r"^\d{12}$")]] | None = Field(default=None, min_length=1)


@dataclass
class WeeklyResult:
    period: str
    total_waste_usd: float
    sent: list[str] = field(default_factory=list)
    objects: dict[str, str] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def weekly(
    guardian: Guardian, now: datetime, week: str | None = None, accounts: list[str] | None = None
) -> WeeklyResult:
    """The week's report to the default team (``accounts``: those accounts' only), and, on the schedule's
    run, each team AccountRoutes names its own accounts' report (guardian.routing)."""
    settings = guardian.settings
    zone = settings.report_timezone
    period = Period.iso_week(week, zone) if week else Period.week_before(now, zone)
    tag = f"{settings.tag_prefix}:owner"
    actual = actual_cost(guardian.clients("ce"), period, tag) if settings.cost_explorer and not accounts else None
    names = settings.allow_private_names
    private = () if names or actual is None else private_space_owners(guardian.inventory)
    findings = findings_overlapping(guardian.findings, period.previous().start, period.end)
    report = build(findings, period, now, names=names, actual=actual, private_owners=private, accounts=accounts)
    result = WeeklyResult(period.label, report.total_waste_usd)
    scope = f"accounts-{'-'.join(sorted(accounts))}" if accounts else ""
    errors = [_deliver(guardian, Audience(None), report, now, scope, result)]
    if accounts is None and settings.account_routes:
        for team, team_accounts in _routed_accounts(guardian, findings, now).items():
            team_report = build(findings, period, now, names=names, accounts=team_accounts)
            errors.append(_deliver(guardian, team, team_report, now, f"team-{team.team}", result))
    if not accounts:
        keep_totals(guardian, report, result.objects)
    metrics.add_metric(name="WeeklyWasteUSD", unit=MetricUnit.NoUnit, value=report.total_waste_usd)  # dollars
    logger.info("weekly report", extra={"period": period.label, "total": report.total_waste_usd, **result.objects})
    failed = [str(error) for error in errors if error is not None]
    if failed:
        raise DeliveryFailed(f"the report for {period.label} was not delivered: {'; '.join(failed)}")
    return result


def _deliver(
    guardian: Guardian, audience: Audience, report: WeeklyReport, now: datetime, scope: str, result: WeeklyResult
) -> Exception | None:
    """One report's files (under ``scope``: "" for the whole stack's) and its summary to one audience, once."""
    links: dict[str, str] = {}
    if guardian.settings.reports_bucket:
        objects, links = publish(guardian, report, now, scope)
        result.objects |= {f"{scope}/{kind}" if scope else kind: uri for kind, uri in objects.items()}
    message = report_format.message(report, links)
    key = f"report#{report.period.label}" + (f"#{scope}" if scope.startswith("accounts-") else "")
    outcome = send_once(guardian, audience, [(key, message)], lambda _: message, now)
    result.sent += [f"{channel}: {subject}" for channel, subject, _ in outcome.sent]
    return outcome.error


def _routed_accounts(guardian: Guardian, findings: list[Finding], now: datetime) -> dict[Audience, list[str]]:
    """The accounts each routed team hears of, among those with findings (the default team's left out)."""
    channels = Delivery.of(guardian).channels
    teams: dict[Audience, list[str]] = {}
    for account in sorted({f.account for f in findings}):
        team = channels.team_of(account, now)
        if team.team:
            teams.setdefault(team, []).append(account)
    return teams


def publish(
    guardian: Guardian, report: WeeklyReport, now: datetime, scope: str = ""
) -> tuple[dict[str, str], dict[str, str]]:
    """The report's files in the bucket (a team's or some accounts' report under its ``scope``), and presigned
    links to them."""
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
        key = f"reports/{label}/{scope + '/' if scope else ''}studio-waste-{label}.{kind}"
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
