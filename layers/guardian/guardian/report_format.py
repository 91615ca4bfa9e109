"""The weekly report as people read it: a plain-text summary (email, the CLI's table), Slack Block Kit, a
CSV of every finding, and an HTML page whose charts are inline SVG (no scripts: it renders in email
clients and browsers alike). All from the document report.build makes."""

import csv
import html
import io
from datetime import datetime
from typing import Any

from guardian.messages import Message, dollars, header, section

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
PALETTE = ("#4e79a7", "#f28e2b", "#e15759", "#76b7b2", "#59a14f", "#edc948", "#b07aa1", "#ff9da7", "#9c755f")


def amount(row: dict[str, Any]) -> str:
    """A row's waste, saying so where part of it has no known price."""
    known = dollars(row["waste_usd"])
    if row.get("unpriced_findings") or row.get("unpriced"):
        return "unknown" if not row["waste_usd"] else known + " + unknown"
    return known


def _when(text: str) -> str:
    return datetime.fromisoformat(text.replace("Z", "+00:00")).strftime("%a %d %b %Y %H:%M")


def _change(report: dict[str, Any]) -> str:
    change, previous = report["change"], report["previous"]
    if not previous["total_waste_usd"]:
        return f"nothing in {previous['label']}"
    direction = "up" if change["usd"] > 0 else "down" if change["usd"] < 0 else "level"
    return f"{direction} {dollars(abs(change['usd']))} ({change['pct']:+.1f}%) on {previous['label']}"


def headline(report: dict[str, Any]) -> str:
    return f"Studio waste {report['period']['label']}: {dollars(report['total_waste_usd'])}, {_change(report)}"


def summary_lines(report: dict[str, Any]) -> list[str]:
    period, still, fixed = report["period"], report["open"], report["resolved"]
    lines = [
        headline(report),
        f"From {_when(period['start'])} to {_when(period['end'])} UTC (days in {period['timezone']})",
        f"Still burning: {still['findings']} open findings on {still['resources']} resources, "
        f"{dollars(still['hourly_usd'])}/hour",
        f"Fixed: {fixed['findings']} findings resolved ({dollars(fixed['waste_usd'])} of waste before they were); "
        f"{dollars(report['savings_usd'])} saved by the period's end",
        f"Unattributed: {dollars(report['unattributed']['waste_usd'])}"
        + (f" ({report['unattributed']['share_pct']}%)" if report["unattributed"]["share_pct"] is not None else ""),
    ]
    if report["unpriced_findings"]:
        lines.append(f"Findings with no known price: {report['unpriced_findings']} (not counted, never as $0)")
    if not report["names_shown"]:
        lines.append("Resources in private spaces are counted, not named.")
    lines.append("")
    lines.append("By owner: " + ", ".join(f"{r['owner']} {amount(r)}" for r in report["by_owner"]))
    lines.append("By rule: " + ", ".join(f"{r['rule']} {amount(r)}" for r in report["by_rule"]))
    lines.append("By kind: " + ", ".join(f"{r['kind']} {amount(r)}" for r in report["by_kind"]))
    lines.append("Top resources:")
    for n, row in enumerate(report["top_resources"], 1):
        lines.append(
            f"  {n:>2}. {row['resource_name']} ({row['resource_kind']}, {row['owner']}, {row['space']}) "
            f"{amount(row)} {'+'.join(row['rules'])} [{row['status']}]"
        )
    actual = report.get("actual_cost")
    if actual:
        lines.append(
            f"Actual cost (Cost Explorer, tag {actual['tag']}): "
            + ", ".join(f"{owner} {dollars(amount)}" for owner, amount in actual["by_owner"].items())
        )
    return lines


def message(report: dict[str, Any], links: dict[str, str] | None = None) -> Message:
    """The summary the team gets by email and Slack, with links to the full report."""
    lines = summary_lines(report)
    links = links or {}
    if links:
        lines += ["", "Full report: " + links["html"], "Every finding (CSV): " + links["csv"]]
        lines.append(f"(links valid until {links['expires']})")
    return Message(subject=headline(report), text="\n".join(lines), blocks=blocks(report, links))


def blocks(report: dict[str, Any], links: dict[str, str]) -> list[dict[str, Any]]:
    still = report["open"]
    fields = [
        f"*Waste*\n{dollars(report['total_waste_usd'])}",
        f"*Versus {report['previous']['label']}*\n{_change(report).split(' on ')[0]}",
        f"*Still burning*\n{dollars(still['hourly_usd'])}/hour, {still['findings']} findings",
        f"*Saved by fixes*\n{dollars(report['savings_usd'])}",
    ]
    owners = "\n".join(f"• {r['owner']}: {amount(r)}" for r in report["by_owner"][:8]) or "nothing"
    top = "\n".join(
        f"{n}. *{r['resource_name']}* ({r['resource_kind']}, {r['owner']}) {amount(r)}"
        for n, r in enumerate(report["top_resources"][:5], 1)
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


def to_csv(report: dict[str, Any]) -> str:
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=CSV_COLUMNS, extrasaction="ignore", lineterminator="\n")
    writer.writeheader()
    for row in report["findings"]:
        writer.writerow({k: "" if v is None else v for k, v in row.items()})
    return out.getvalue()


# --- HTML ----------------------------------------------------------------------------------------------


def to_html(report: dict[str, Any], links: dict[str, str] | None = None) -> str:
    e = html.escape
    owners = [r["owner"] for r in report["by_owner"]]
    colours = {owner: PALETTE[n % len(PALETTE)] for n, owner in enumerate(owners)}
    sections = [
        f"<h1>{e(headline(report))}</h1>",
        "<ul>" + "".join(f"<li>{e(line)}</li>" for line in summary_lines(report)[1:5]) + "</ul>",
        "<h2>Waste per owner</h2>",
        owner_chart(report["by_owner"], colours),
        "<h2>Waste per day</h2>",
        daily_chart(report["daily"], colours),
        _table("By owner", report["by_owner"], ("owner", "waste_usd", "share_pct", "findings", "previous_waste_usd")),
        _table("By space", report["by_space"], ("space", "waste_usd", "findings")),
        _table("By resource kind", report["by_kind"], ("kind", "waste_usd", "findings")),
        _table("By rule", report["by_rule"], ("rule", "waste_usd", "findings")),
        _table(
            "Top resources",
            report["top_resources"],
            ("resource_name", "resource_kind", "owner", "space", "rules", "status", "waste_usd"),
        ),
        _table(
            "Every finding",
            report["findings"],
            (
                "rule",
                "resource_kind",
                "resource_name",
                "owner",
                "space",
                "status",
                "hourly_cost_usd",
                "period_waste_usd",
                "summary",
            ),
        ),
    ]
    if report.get("actual_cost"):
        actual = report["actual_cost"]
        rows = [{"owner": owner, "actual_usd": amount} for owner, amount in actual["by_owner"].items()]
        sections.insert(6, _table(f"Actual cost (Cost Explorer, tag {actual['tag']})", rows, ("owner", "actual_usd")))
    if links:
        sections.append(f'<p><a href="{e(links["csv"])}">Every finding as CSV</a></p>')
    return (
        '<!doctype html>\n<html lang="en"><head><meta charset="utf-8">'
        f"<title>{e(headline(report))}</title><style>{_STYLE}</style></head><body>"
        + "\n".join(sections)
        + f'<p class="meta">Studio Cost Guardian, generated {e(report["generated_at"])}. Estimates from '
        "list prices; each hour of a resource counted once.</p></body></html>\n"
    )


_STYLE = (
    "body{font-family:-apple-system,Segoe UI,Helvetica,Arial,sans-serif;margin:2em;color:#222;max-width:60em}"
    "table{border-collapse:collapse;margin:.5em 0 1.5em}td,th{border:1px solid #ddd;padding:.3em .6em;"
    "text-align:left;font-size:.9em}th{background:#f4f4f4}td.n{text-align:right}.meta{color:#777;font-size:.8em}"
)


def _table(title: str, rows: list[dict[str, Any]], columns: tuple[str, ...]) -> str:
    e = html.escape
    head = "".join(f"<th>{e(c.replace('_', ' '))}</th>" for c in columns)
    body = []
    for row in rows:
        cells = []
        for column in columns:
            value = row.get(column)
            if isinstance(value, list):
                value = ", ".join(map(str, value))
            numeric = isinstance(value, int | float) and not isinstance(value, bool)
            text = dollars(value) if column.endswith("_usd") else "" if value is None else str(value)
            cells.append(f'<td class="n">{e(text)}</td>' if numeric else f"<td>{e(text)}</td>")
        body.append("<tr>" + "".join(cells) + "</tr>")
    return f"<h2>{e(title)}</h2><table><tr>{head}</tr>{''.join(body) or '<tr><td>nothing</td></tr>'}</table>"


def owner_chart(rows: list[dict[str, Any]], colours: dict[str, str]) -> str:
    """Horizontal bars, one per owner."""
    e, width, bar, label = html.escape, 640, 22, 150
    top = max((r["waste_usd"] for r in rows), default=0) or 1
    height = bar * len(rows) + 10
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" role="img" '
        'aria-label="waste per owner">'
    ]
    for n, row in enumerate(rows):
        y, length = 5 + n * bar, (width - label - 90) * row["waste_usd"] / top
        owner, amount = e(row["owner"]), dollars(row["waste_usd"])
        parts.append(f'<text x="{label - 6}" y="{y + 15}" text-anchor="end" font-size="12">{owner}</text>')
        parts.append(
            f'<rect x="{label}" y="{y + 3}" width="{length:.1f}" height="{bar - 6}" '
            f'fill="{colours[row["owner"]]}"><title>{owner}: {amount}</title></rect>'
        )
        parts.append(f'<text x="{label + length + 6:.1f}" y="{y + 15}" font-size="12">{amount}</text>')
    return "".join(parts) + "</svg>"


def daily_chart(days: list[dict[str, Any]], colours: dict[str, str]) -> str:
    """A bar per day, stacked by owner, with a legend."""
    e, width, height, base, left = html.escape, 640, 240, 200, 50
    top = max((d["waste_usd"] for d in days), default=0) or 1
    step = (width - left - 10) / max(len(days), 1)
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height + 20 * len(colours)}" '
        'role="img" aria-label="waste per day, by owner">',
        f'<line x1="{left}" y1="{base}" x2="{width - 10}" y2="{base}" stroke="#999"/>',
        f'<text x="{left - 6}" y="18" text-anchor="end" font-size="11">{dollars(top)}</text>',
    ]
    for n, day in enumerate(days):
        x, y = left + n * step + 4, float(base)
        for owner, amount in day["by_owner"].items():
            h = (base - 20) * amount / top
            y -= h
            parts.append(
                f'<rect x="{x:.1f}" y="{y:.1f}" width="{step - 8:.1f}" height="{h:.1f}" '
                f'fill="{colours.get(owner, "#999")}"><title>{e(day["date"])} {e(owner)}: '
                f"{dollars(amount)}</title></rect>"
            )
        parts.append(
            f'<text x="{x + (step - 8) / 2:.1f}" y="{base + 14}" text-anchor="middle" font-size="10">'
            f"{e(day['date'][5:])}</text>"
        )
    for n, (owner, colour) in enumerate(colours.items()):
        y = height + n * 20
        parts.append(f'<rect x="{left}" y="{y - 10}" width="12" height="12" fill="{colour}"/>')
        parts.append(f'<text x="{left + 18}" y="{y}" font-size="12">{e(owner)}</text>')
    return "".join(parts) + "</svg>"
