"""The weekly report as a web page: the summary, a bar chart per owner and a chart per day stacked by
owner, and every table of the document. The charts are inline SVG and there are no scripts, so the page
renders in email clients and browsers alike. Everything the guardian did not write is escaped."""

import html
from collections.abc import Mapping, Sequence

from pydantic import BaseModel

from guardian.messages import dollars
from guardian.report_document import DayRow, OwnerRow, WeeklyReport
from guardian.report_format import headline, summary_lines
from guardian.rules.base import iso

PALETTE = ("#4e79a7", "#f28e2b", "#e15759", "#76b7b2", "#59a14f", "#edc948", "#b07aa1", "#ff9da7", "#9c755f")
_STYLE = (
    "body{font-family:-apple-system,Segoe UI,Helvetica,Arial,sans-serif;margin:2em;color:#222;max-width:60em}"
    "table{border-collapse:collapse;margin:.5em 0 1.5em}td,th{border:1px solid #ddd;padding:.3em .6em;"
    "text-align:left;font-size:.9em}th{background:#f4f4f4}td.n{text-align:right}.meta{color:#777;font-size:.8em}"
)


def to_html(report: WeeklyReport, links: dict[str, str] | None = None) -> str:
    e = html.escape
    colours = {row.owner: PALETTE[n % len(PALETTE)] for n, row in enumerate(report.by_owner)}
    sections = [
        f"<h1>{e(headline(report))}</h1>",
        "<ul>" + "".join(f"<li>{e(line)}</li>" for line in summary_lines(report)[1:5]) + "</ul>",
        "<h2>Waste per owner</h2>",
        owner_chart(report.by_owner, colours),
        "<h2>Waste per day</h2>",
        daily_chart(report.daily, colours),
        _table("By owner", report.by_owner, ("owner", "waste_usd", "share_pct", "findings", "previous_waste_usd")),
        _table("By space", report.by_space, ("space", "waste_usd", "findings")),
        _table("By resource kind", report.by_kind, ("kind", "waste_usd", "findings")),
        _table("By rule", report.by_rule, ("rule", "waste_usd", "findings")),
        _table(
            "Top resources",
            report.top_resources,
            ("resource_name", "resource_kind", "owner", "space", "rules", "status", "waste_usd"),
        ),
        _table(
            "Every finding",
            report.findings,
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
    actual = report.actual_cost
    if actual:
        rows = [{"owner": owner, "actual_usd": cost} for owner, cost in actual.by_owner.items()]
        sections.insert(6, _table(f"Actual cost (Cost Explorer, tag {actual.tag})", rows, ("owner", "actual_usd")))
    if links:
        sections.append(f'<p><a href="{e(links["csv"])}">Every finding as CSV</a></p>')
    return (
        '<!doctype html>\n<html lang="en"><head><meta charset="utf-8">'
        f"<title>{e(headline(report))}</title><style>{_STYLE}</style></head><body>"
        + "\n".join(sections)
        + f'<p class="meta">Studio Cost Guardian, generated {e(iso(report.generated_at) or "")}. Estimates from '
        "list prices; each hour of a resource counted once.</p></body></html>\n"
    )


def _table(title: str, rows: Sequence[BaseModel | Mapping[str, object]], columns: tuple[str, ...]) -> str:
    e = html.escape
    head = "".join(f"<th>{e(c.replace('_', ' '))}</th>" for c in columns)
    body = []
    for row in rows:
        values = row.model_dump() if isinstance(row, BaseModel) else row
        body.append("<tr>" + "".join(_cell(column, values.get(column)) for column in columns) + "</tr>")
    return f"<h2>{e(title)}</h2><table><tr>{head}</tr>{''.join(body) or '<tr><td>nothing</td></tr>'}</table>"


def _cell(column: str, value: object) -> str:
    """Dollars for the *_usd columns, a list as its items; numbers right-aligned."""
    if isinstance(value, list):
        value = ", ".join(map(str, value))
    numeric = isinstance(value, int | float) and not isinstance(value, bool)
    if column.endswith("_usd") and (value is None or isinstance(value, int | float)):
        text = dollars(value)
    else:
        text = "" if value is None else str(value)
    return f'<td class="n">{html.escape(text)}</td>' if numeric else f"<td>{html.escape(text)}</td>"


def owner_chart(rows: list[OwnerRow], colours: dict[str, str]) -> str:
    """Horizontal bars, one per owner."""
    e, width, bar, label = html.escape, 640, 22, 150
    top = max((r.waste_usd for r in rows), default=0) or 1
    height = bar * len(rows) + 10
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" role="img" '
        'aria-label="waste per owner">'
    ]
    for n, row in enumerate(rows):
        y, length = 5 + n * bar, (width - label - 90) * row.waste_usd / top
        owner, amount = e(row.owner), dollars(row.waste_usd)
        parts.append(f'<text x="{label - 6}" y="{y + 15}" text-anchor="end" font-size="12">{owner}</text>')
        parts.append(
            f'<rect x="{label}" y="{y + 3}" width="{length:.1f}" height="{bar - 6}" '
            f'fill="{colours[row.owner]}"><title>{owner}: {amount}</title></rect>'
        )
        parts.append(f'<text x="{label + length + 6:.1f}" y="{y + 15}" font-size="12">{amount}</text>')
    return "".join(parts) + "</svg>"


def daily_chart(days: list[DayRow], colours: dict[str, str]) -> str:
    """A bar per day, stacked by owner, with a legend."""
    e, width, height, base, left = html.escape, 640, 240, 200, 50
    top = max((d.waste_usd for d in days), default=0) or 1
    step = (width - left - 10) / max(len(days), 1)
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height + 20 * len(colours)}" '
        'role="img" aria-label="waste per day, by owner">',
        f'<line x1="{left}" y1="{base}" x2="{width - 10}" y2="{base}" stroke="#999"/>',
        f'<text x="{left - 6}" y="18" text-anchor="end" font-size="11">{dollars(top)}</text>',
    ]
    for n, day in enumerate(days):
        x, y, date = left + n * step + 4, float(base), day.date.isoformat()
        for owner, amount in day.by_owner.items():
            h = (base - 20) * amount / top
            y -= h
            parts.append(
                f'<rect x="{x:.1f}" y="{y:.1f}" width="{step - 8:.1f}" height="{h:.1f}" '
                f'fill="{colours.get(owner, "#999")}"><title>{e(date)} {e(owner)}: '
                f"{dollars(amount)}</title></rect>"
            )
        parts.append(
            f'<text x="{x + (step - 8) / 2:.1f}" y="{base + 14}" text-anchor="middle" font-size="10">'
            f"{e(date[5:])}</text>"
        )
    for n, (owner, colour) in enumerate(colours.items()):
        y = height + n * 20
        parts.append(f'<rect x="{left}" y="{y - 10}" width="12" height="12" fill="{colour}"/>')
        parts.append(f'<text x="{left + 18}" y="{y}" font-size="12">{e(owner)}</text>')
    return "".join(parts) + "</svg>"
