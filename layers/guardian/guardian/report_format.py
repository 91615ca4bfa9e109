"""The weekly report as people read it: a plain-text summary (email, the CLI's table), Slack Block Kit and
a CSV of every finding, all from the document report.build makes (report_document.WeeklyReport). The
HTML page with its charts is report_html.py's. Amounts go through money.py: a total leaves out what has no
price and says how many resources that is; a row with no known price reads "unknown", never $0.00."""

import csv
import io
from datetime import UTC, datetime
from typing import Any

from guardian.messages import Message, header, section
from guardian.money import dollars, partly_known, total
from guardian.report_document import AccountRow, KindRow, OwnerRow, RuleRow, SpaceRow, TopResource, WeeklyReport

TOP_OWNERS = 8  # owners a summary or a chart names; the rest are one "others"
OTHERS = "others"

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
    "unpriced_hours",
    "account",
    "region",
)


def amount(row: OwnerRow | SpaceRow | KindRow | RuleRow | AccountRow | TopResource) -> str:
    """A row's waste, saying so where part of it has no known price (never shown as $0)."""
    unknown = row.unpriced if isinstance(row, TopResource) else row.unpriced_findings > 0
    return partly_known(row.waste_usd, unknown)


def _when(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%a %d %b %Y %H:%M")


def _change(report: WeeklyReport) -> str:
    change, previous = report.change, report.previous
    if not previous.total_waste_usd:
        before = total(0, previous.unpriced_resources) if previous.unpriced_resources else "nothing"
        return f"{before} in {previous.label}"
    direction = "up" if change.usd > 0 else "down" if change.usd < 0 else "level"
    return f"{direction} {dollars(abs(change.usd))} ({change.pct:+.1f}%) on {previous.label}"


def headline(report: WeeklyReport) -> str:
    waste = total(report.total_waste_usd, report.unpriced_resources)
    return f"Studio waste {report.period.label}{_scope(report)}{_progress(report)}: {waste}, {_change(report)}"


def _scope(report: WeeklyReport) -> str:
    """ " in account 111111111111", for a report limited to some accounts."""
    scope = report.accounts_scope
    if scope is None:
        return ""
    return f" in account{'s' if len(scope) != 1 else ''} {', '.join(scope) or '(none)'}"


def by_account_shown(report: WeeklyReport) -> bool:
    """The by-account view is for a report that covers several accounts (the JSON always has it)."""
    return len(report.by_account) > 1


def account_line(row: AccountRow) -> str:
    """ "111111111111 (us-east-1, eu-west-1): $12.40 so far, $310.25/month if left running, 3 findings, most alice"."""
    owner = f", most {row.top_owner}" if row.top_owner else ""
    return (
        f"{row.account} ({', '.join(row.regions)}): {amount(row)} so far, {dollars(row.monthly_usd)}/month if left "
        f"running, {row.findings} finding{'s' if row.findings != 1 else ''}{owner}"
    )


def _progress(report: WeeklyReport) -> str:
    """(week in progress, up to Wed 25 Nov 2026 14:00 UTC)", for a period that has not ended yet."""
    return f" (week in progress, up to {_when(report.period.end)} UTC)" if report.period.in_progress else ""


def burning(report: WeeklyReport) -> str:
    """What is still burning: an hour, and a month at that rate ("$1.25/hour, $912.50/month at this rate")."""
    still = report.open
    unpriced = total(0, still.unpriced_resources)  # "1 resource of unknown cost"
    if still.unpriced_resources and not still.hourly_usd:
        return unpriced  # nothing known: no dollar figure stands for it
    rates = f"{dollars(still.hourly_usd)}/hour, {dollars(still.monthly_usd)}/month at this rate"
    return rates + (f" + {unpriced}" if still.unpriced_resources else "")


def top_owners(report: WeeklyReport) -> tuple[list[OwnerRow], OwnerRow | None]:
    """The TOP_OWNERS costliest owners, and everyone else as one row, "others" (None: nobody else)."""
    shown, rest = report.by_owner[:TOP_OWNERS], report.by_owner[TOP_OWNERS:]
    if not rest:
        return shown, None
    others = OwnerRow(
        owner=f"{OTHERS} ({len(rest)})",
        waste_usd=round(sum(r.waste_usd for r in rest), 2),
        findings=sum(r.findings for r in rest),
        unpriced_findings=sum(r.unpriced_findings for r in rest),
        share_pct=None if report.by_owner[0].share_pct is None else round(sum(r.share_pct or 0 for r in rest), 1),
        previous_waste_usd=round(sum(r.previous_waste_usd for r in rest), 2),
        previous_unpriced_findings=sum(r.previous_unpriced_findings for r in rest),
    )
    return shown, others


def summary_lines(report: WeeklyReport) -> list[str]:
    period, still, fixed, unattributed = report.period, report.open, report.resolved, report.unattributed
    span = f"From {_when(period.start)} to {_when(period.end)} UTC (days in {period.timezone})"
    if period.in_progress:
        span = (
            f"Week in progress, up to {_when(period.end)} UTC: from {_when(period.start)} (days in {period.timezone})"
        )
    lines = [
        headline(report),
        span,
        f"Still burning: {still.findings} open findings on {still.resources} resources, {burning(report)}",
        f"Fixed: {fixed.findings} findings resolved ({total(fixed.waste_usd, fixed.unpriced_resources)} of waste "
        f"before they were); {total(report.savings_usd, report.savings_unpriced_resources)} saved by the period's end",
        f"Unattributed: {total(unattributed.waste_usd, unattributed.unpriced_resources)}"
        + (f" ({unattributed.share_pct}%)" if unattributed.share_pct is not None else ""),
    ]
    if report.unpriced_findings:
        lines.append(f"Findings with no known price: {report.unpriced_findings} (not counted, never as $0)")
    if not report.names_shown:
        lines.append("Resources in private spaces are counted, not named.")
    lines.append("")
    shown, others = top_owners(report)
    lines.append("By owner: " + ", ".join(f"{r.owner} {amount(r)}" for r in [*shown, *([others] if others else [])]))
    if by_account_shown(report):
        lines.append("By account: " + "; ".join(account_line(r) for r in report.by_account))
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
        f"*Waste*\n{total(report.total_waste_usd, report.unpriced_resources)}",
        f"*Versus {report.previous.label}*\n{_change(report).split(' on ')[0]}",
        f"*Still burning*\n{burning(report)}, {still.findings} findings",
        f"*Saved by fixes*\n{total(report.savings_usd, report.savings_unpriced_resources)}",
    ]
    shown, others = top_owners(report)
    owners = "\n".join(f"• {r.owner}: {amount(r)}" for r in [*shown, *([others] if others else [])]) or "nothing"
    top = "\n".join(
        f"{n}. *{r.resource_name}* ({r.resource_kind}, {r.owner}) {amount(r)}"
        for n, r in enumerate(report.top_resources[:5], 1)
    )
    result: list[dict[str, Any]] = [
        header(headline(report)),
        {"type": "section", "fields": [{"type": "mrkdwn", "text": text} for text in fields]},
        section("*By owner*\n" + owners),
    ]
    if by_account_shown(report):
        result.append(section("*By account*\n" + "\n".join(f"• {account_line(r)}" for r in report.by_account[:10])))
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
