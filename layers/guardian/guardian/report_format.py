"""The weekly report as people read it: a plain-text summary (email, the CLI's table), Slack Block Kit and
a CSV of every finding, all from the document report.build makes (report_document.WeeklyReport). The
HTML page with its charts is report_html.py's."""

import csv
import io
from datetime import UTC, datetime
from typing import Any

from guardian.messages import Message, dollars, header, section
from guardian.report_document import KindRow, OwnerRow, RuleRow, SpaceRow, TopResource, WeeklyReport

# The CSV's header: a spreadsheet's columns, kept as they are (FindingRow's fields, in its order).
CSV_COLUMNS = (
    "id",
    "rule",
    "resource_kind",
    "resource_name",
    "resource_arn",
    "owner",
    "space",
    "domain_id",
    "status",
    "condition_since",
    "resolved_at",
    "resolution",
    "hourly_cost_usd",
    "period_waste_usd",
    "waste_usd",
    "monthly_cost_usd",
    "summary",
)


def amount(row: OwnerRow | SpaceRow | KindRow | RuleRow | TopResource) -> str:
    """A row's waste, saying so where part of it has no known price (never shown as $0)."""
    known = dollars(row.waste_usd)
    unknown = row.unpriced if isinstance(row, TopResource) else row.unpriced_findings > 0
    if unknown:
        return "unknown" if not row.waste_usd else known + " + unknown"
    return known


def _when(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%a %d %b %Y %H:%M")


def _change(report: WeeklyReport) -> str:
    change, previous = report.change, report.previous
    if not previous.total_waste_usd:
        return f"nothing in {previous.label}"
    direction = "up" if change.usd > 0 else "down" if change.usd < 0 else "level"
    return f"{direction} {dollars(abs(change.usd))} ({change.pct:+.1f}%) on {previous.label}"


def headline(report: WeeklyReport) -> str:
    return f"Studio waste {report.period.label}: {dollars(report.total_waste_usd)}, {_change(report)}"


def summary_lines(report: WeeklyReport) -> list[str]:
    period, still, fixed, unattributed = report.period, report.open, report.resolved, report.unattributed
    lines = [
        headline(report),
        f"From {_when(period.start)} to {_when(period.end)} UTC (days in {period.timezone})",
        f"Still burning: {still.findings} open findings on {still.resources} resources, "
        f"{dollars(still.hourly_usd)}/hour",
        f"Fixed: {fixed.findings} findings resolved ({dollars(fixed.waste_usd)} of waste before they were); "
        f"{dollars(report.savings_usd)} saved by the period's end",
        f"Unattributed: {dollars(unattributed.waste_usd)}"
        + (f" ({unattributed.share_pct}%)" if unattributed.share_pct is not None else ""),
    ]
    if report.unpriced_findings:
        lines.append(f"Findings with no known price: {report.unpriced_findings} (not counted, never as $0)")
    if not report.names_shown:
        lines.append("Resources in private spaces are counted, not named.")
    lines.append("")
    lines.append("By owner: " + ", ".join(f"{r.owner} {amount(r)}" for r in report.by_owner))
    lines.append("By rule: " + ", ".join(f"{r.rule} {amount(r)}" for r in report.by_rule))
    lines.append("By kind: " + ", ".join(f"{r.kind} {amount(r)}" for r in report.by_kind))
    lines.append("Top resources:")
    for n, top in enumerate(report.top_resources, 1):
        lines.append(
            f"  {n:>2}. {top.resource_name} ({top.resource_kind}, {top.owner}, {top.space}) "
            f"{amount(top)} {'+'.join(top.rules)} [{top.status}]"
        )
    actual = report.actual_cost
    if actual:
        lines.append(
            f"Actual cost (Cost Explorer, tag {actual.tag}): "
            + ", ".join(f"{owner} {dollars(cost)}" for owner, cost in actual.by_owner.items())
        )
    return lines


def message(report: WeeklyReport, links: dict[str, str] | None = None) -> Message:
    """The summary the team gets by email and Slack, with links to the full report."""
    lines = summary_lines(report)
    links = links or {}
    if links:
        lines += ["", "Full report: " + links["html"], "Every finding (CSV): " + links["csv"]]
        lines.append(f"(links valid until {links['expires']})")
    return Message(subject=headline(report), text="\n".join(lines), blocks=blocks(report, links))


def blocks(report: WeeklyReport, links: dict[str, str]) -> list[dict[str, Any]]:
    still = report.open
    fields = [
        f"*Waste*\n{dollars(report.total_waste_usd)}",
        f"*Versus {report.previous.label}*\n{_change(report).split(' on ')[0]}",
        f"*Still burning*\n{dollars(still.hourly_usd)}/hour, {still.findings} findings",
        f"*Saved by fixes*\n{dollars(report.savings_usd)}",
    ]
    owners = "\n".join(f"• {r.owner}: {amount(r)}" for r in report.by_owner[:8]) or "nothing"
    top = "\n".join(
        f"{n}. *{r.resource_name}* ({r.resource_kind}, {r.owner}) {amount(r)}"
        for n, r in enumerate(report.top_resources[:5], 1)
    )
    result: list[dict[str, Any]] = [
        header(headline(report)),
        {"type": "section", "fields": [{"type": "mrkdwn", "text": text} for text in fields]},
        section("*By owner*\n" + owners),
    ]
    if top:
        result.append(section("*Top resources*\n" + top))
    if links:
        result.append(
            {
                "type": "actions",
                "elements": [
                    {
                        "type": "button",
                        "text": {"type": "plain_text", "text": "Full report"},
                        "url": links["html"],
                        "action_id": "report-html",
                    },
                    {
                        "type": "button",
                        "text": {"type": "plain_text", "text": "CSV"},
                        "url": links["csv"],
                        "action_id": "report-csv",
                    },
                ],
            }
        )
    return result


def to_csv(report: WeeklyReport) -> str:
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=CSV_COLUMNS, extrasaction="ignore", lineterminator="\n")
    writer.writeheader()
    for row in report.findings:
        writer.writerow({k: "" if v is None else v for k, v in row.model_dump().items()})
    return out.getvalue()
