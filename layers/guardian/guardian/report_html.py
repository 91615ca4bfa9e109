"""The weekly report as a web page a FinOps lead forwards from a phone: the summary (a week in progress says
so, and what still burns says what it costs a month), a bar chart per owner and a chart per day stacked by
owner, then every table of the document under human headers. The charts are inline SVG that scale to the
width of the screen (a viewBox, no fixed size), with axis ticks; they name the TOP_OWNERS costliest owners
and put everyone else in one grey "others", in a colour-blind-safe palette that never repeats (Paul Tol's
"muted" scheme). A wide table scrolls sideways on its own. There are no scripts, so the page renders in
email clients and browsers alike. Everything the guardian did not write is escaped; a dollar figure with no
known price reads "unknown", never $0.00."""

import html
import math
from collections.abc import Mapping, Sequence
from datetime import date

from pydantic import BaseModel

from guardian.money import dollars, partly_known
from guardian.report_document import DayRow, OwnerRow, WeeklyReport
from guardian.report_format import by_account_shown, headline, summary_lines, top_owners
from guardian.rules.base import iso

# Paul Tol's "muted" qualitative scheme: distinct to people with any common colour vision deficiency, and
# readable on white. One colour per owner shown (TOP_OWNERS of them); everyone else is OTHERS_GREY.
PALETTE = ("#332288", "#88CCEE", "#44AA99", "#117733", "#999933", "#DDCC77", "#CC6677", "#882255")
OTHERS_GREY = "#BBBBBB"
WIDTH = 400  # the charts' coordinate width: on a 390 px phone the 13-unit text reads at about 11.5 px
_STYLE = (
    "body{font-family:-apple-system,Segoe UI,Helvetica,Arial,sans-serif;margin:1em auto;padding:0 1em;color:#222;"
    "max-width:60em;line-height:1.4}h1{font-size:1.3em}h2{font-size:1.1em;margin-top:1.5em}"
    "svg{display:block;width:100%;height:auto;max-width:40em}"
    ".scroll{overflow-x:auto;-webkit-overflow-scrolling:touch}"
    "table{border-collapse:collapse;margin:.5em 0 1.5em}td,th{border:1px solid #ddd;padding:.3em .6em;"
    "text-align:left;font-size:.9em;vertical-align:top}th{background:#f4f4f4}td.n{text-align:right;"
    "white-space:nowrap}.meta{color:#777;font-size:.8em}"
    "ul.legend{list-style:none;padding:0;margin:.3em 0 1em;display:flex;flex-wrap:wrap;gap:.2em 1em}"
    "ul.legend li{font-size:.85em;white-space:nowrap}ul.legend span{display:inline-block;width:.9em;"
    "height:.9em;margin-right:.35em;vertical-align:-.1em;border-radius:2px}"
)

# A table's columns: the document's field, and the header a person reads.
HEADERS = {
    "owner": "Owner",
    "waste_usd": "Waste",
    "share_pct": "Share",
    "findings": "Findings",
    "previous_waste_usd": "Period before",
    "space": "Space",
    "kind": "Resource kind",
    "rule": "Rule",
    "resource_name": "Resource",
    "resource_kind": "Kind",
    "rules": "Rules",
    "status": "Status",
    "hourly_cost_usd": "Cost per hour",
    "period_waste_usd": "Waste in period",
    "summary": "Why",
    "actual_usd": "Actual cost",
    "account": "Account",
    "regions": "Regions",
    "region": "Region",
    "monthly_usd": "Per month if left running",
    "top_owner": "Top owner",
}


def to_html(report: WeeklyReport, links: dict[str, str] | None = None) -> str:
    e = html.escape
    shown, others = top_owners(report)
    colours = {row.owner: PALETTE[n] for n, row in enumerate(shown)}
    if others:
        colours[others.owner] = OTHERS_GREY
    summary = [line for line in summary_lines(report)[1:] if line and not line.startswith(("By ", "Top", "  "))]
    sections = [
        f"<h1>{e(headline(report))}</h1>",
        "<ul>" + "".join(f"<li>{e(line)}</li>" for line in summary if not line.startswith("Actual cost")) + "</ul>",
        "<h2>Waste per owner</h2>",
        owner_chart([*shown, *([others] if others else [])], colours),
        "<h2>Waste per day</h2>",
        legend(colours),
        daily_chart(_folded(report.daily, set(colours), others), colours),
        _table("By owner", report.by_owner, ("owner", "waste_usd", "share_pct", "findings", "previous_waste_usd")),
        _table("By space", report.by_space, ("space", "waste_usd", "findings")),
        _table("By resource kind", report.by_kind, ("kind", "waste_usd", "findings")),
        _table("By rule", report.by_rule, ("rule", "waste_usd", "findings")),
        _table(
            "Top resources",
            report.top_resources,
            ("resource_name", "resource_kind", "owner", "space", "rules", "status", "waste_usd"),
        ),
        _table("Every finding", report.findings, _FINDING_COLUMNS),
    ]
    actual = report.actual_cost
    if actual:
        rows = [{"owner": owner, "actual_usd": cost} for owner, cost in actual.by_owner.items()]
        sections.insert(7, _table(f"Actual cost (Cost Explorer, tag {actual.tag})", rows, ("owner", "actual_usd")))
    if by_account_shown(report):  # after the owners' table; every finding says where it is
        columns = ("account", "regions", "waste_usd", "share_pct", "monthly_usd", "findings", "top_owner")
        sections.insert(7, _table("By account", report.by_account, columns))
        where = (*_FINDING_COLUMNS[:3], "account", "region", *_FINDING_COLUMNS[3:])
        sections[-1] = _table("Every finding", report.findings, where)
    if links:
        sections.append(f'<p><a href="{e(links["csv"])}">Every finding as CSV</a></p>')
    return (
        '<!doctype html>\n<html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>{e(headline(report))}</title><style>{_STYLE}</style></head><body>"
        + "\n".join(sections)
        + f'<p class="meta">Studio Cost Guardian, generated {e(iso(report.generated_at) or "")}. Estimates from '
        "list prices; each hour of a resource counted once.</p></body></html>\n"
    )


_FINDING_COLUMNS = (
    "rule",
    "resource_kind",
    "resource_name",
    "owner",
    "space",
    "status",
    "hourly_cost_usd",
    "period_waste_usd",
    "summary",
)


def _folded(days: list[DayRow], named: set[str], others: OwnerRow | None) -> list[DayRow]:
    """Each day's waste by owner, the owners not named in the charts folded into "others"."""
    if others is None:
        return days
    folded = []
    for day in days:
        by_owner = {owner: amount for owner, amount in day.by_owner.items() if owner in named}
        rest = sum(amount for owner, amount in day.by_owner.items() if owner not in named)
        if rest:
            by_owner[others.owner] = round(rest, 2)
        folded.append(day.model_copy(update={"by_owner": by_owner}))
    return folded


def _table(title: str, rows: Sequence[BaseModel | Mapping[str, object]], columns: tuple[str, ...]) -> str:
    e = html.escape
    head = "".join(f"<th>{e(HEADERS.get(c, c.replace('_', ' ').capitalize()))}</th>" for c in columns)
    body = []
    for row in rows:
        values = row.model_dump() if isinstance(row, BaseModel) else row
        body.append("<tr>" + "".join(_cell(column, values) for column in columns) + "</tr>")
    nothing = f'<tr><td colspan="{len(columns)}">nothing</td></tr>'
    return f'<h2>{e(title)}</h2><div class="scroll"><table><tr>{head}</tr>{"".join(body) or nothing}</table></div>'


# Which field of a row says that part of a dollar column has no known price (so it is never shown as $0.00).
_UNPRICED_BY = {
    "waste_usd": ("unpriced_findings", "unpriced"),
    "period_waste_usd": ("unpriced_hours",),
    "previous_waste_usd": ("previous_unpriced_findings",),
}


def _cell(column: str, row: Mapping[str, object]) -> str:
    """Dollars for the *_usd columns (unknown where there is no price), a share as a percentage, a list as its
    items; numbers right-aligned."""
    value = row.get(column)
    if isinstance(value, list):
        value = ", ".join(map(str, value))
    numeric = isinstance(value, int | float) and not isinstance(value, bool)
    if column.endswith("_usd") and (value is None or isinstance(value, int | float)):
        text = partly_known(value, any(row.get(flag) for flag in _UNPRICED_BY.get(column, ())))
        numeric = True
    elif column.endswith("_pct"):
        unpriced_only = row.get("unpriced_findings") and not row.get("waste_usd")  # its share is not 0: unknown
        text = "unknown" if unpriced_only else "" if value is None else f"{value}%"
        numeric = True
    else:
        text = "" if value is None else str(value)
    return f'<td class="n">{html.escape(text)}</td>' if numeric else f"<td>{html.escape(text)}</td>"


def ticks(top: float, count: int = 4) -> list[float]:
    """Round axis values from 0 to at least ``top``: 0, 25, 50, 75, 100."""
    if top <= 0:
        return [0.0, 1.0]
    raw = top / count
    magnitude = 10 ** math.floor(math.log10(raw))
    step = next(m * magnitude for m in (1, 2, 2.5, 5, 10) if m * magnitude >= raw)
    return [step * n for n in range(math.ceil(top / step - 1e-9) + 1)]


def _tick_label(value: float) -> str:
    return f"${value:,.0f}" if value >= 10 or value == int(value) else f"${value:,.2f}"


def _svg(height: float, label: str) -> str:
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {WIDTH} {height:.0f}" width="100%" '
        f'preserveAspectRatio="xMinYMin meet" role="img" aria-label="{html.escape(label)}" '
        'font-family="-apple-system,Segoe UI,Helvetica,Arial,sans-serif">'
    )


def owner_chart(rows: list[OwnerRow], colours: dict[str, str]) -> str:
    """Horizontal bars, one per owner shown (and "others"), on a dollar axis with ticks."""
    e, bar, label, right = html.escape, 26, 112, 72
    scale = ticks(max((r.waste_usd for r in rows), default=0))
    top, plot = scale[-1], WIDTH - label - right
    axis = 8 + bar * len(rows)
    parts = [_svg(axis + 22, "waste per owner")]
    for value in scale:
        x = label + plot * value / top
        parts.append(f'<line x1="{x:.1f}" y1="4" x2="{x:.1f}" y2="{axis}" stroke="#e4e4e4"/>')
        parts.append(
            f'<text x="{x:.1f}" y="{axis + 16}" text-anchor="middle" font-size="13" fill="#555">'
            f"{_tick_label(value)}</text>"
        )
    for n, row in enumerate(rows):
        y, length = 6 + n * bar, plot * row.waste_usd / top
        owner, amount = e(_short(row.owner, 15)), partly_known(row.waste_usd, row.unpriced_findings > 0)
        parts.append(f'<text x="{label - 6}" y="{y + 17}" text-anchor="end" font-size="13">{owner}</text>')
        parts.append(
            f'<rect x="{label}" y="{y + 4}" width="{length:.1f}" height="{bar - 8}" '
            f'fill="{colours.get(row.owner, OTHERS_GREY)}"><title>{e(row.owner)}: {e(amount)}</title></rect>'
        )
        parts.append(f'<text x="{label + length + 5:.1f}" y="{y + 17}" font-size="13">{e(amount)}</text>')
    parts.append(f'<line x1="{label}" y1="4" x2="{label}" y2="{axis}" stroke="#888"/>')
    return "".join(parts) + "</svg>"


def daily_chart(days: list[DayRow], colours: dict[str, str]) -> str:
    """A bar per day of the period (up to today, for a week in progress), stacked by owner, on a dollar axis
    with ticks."""
    e, height, base, left, right = html.escape, 220, 190, 52, 8
    scale = ticks(max((d.waste_usd for d in days), default=0))
    top, plot = scale[-1], base - 12
    step = (WIDTH - left - right) / 7 if len(days) <= 7 else (WIDTH - left - right) / len(days)
    parts = [_svg(height, "waste per day, by owner")]
    for value in scale:
        y = base - plot * value / top
        parts.append(f'<line x1="{left}" y1="{y:.1f}" x2="{WIDTH - right}" y2="{y:.1f}" stroke="#e4e4e4"/>')
        parts.append(
            f'<text x="{left - 5}" y="{y + 4:.1f}" text-anchor="end" font-size="13" fill="#555">'
            f"{_tick_label(value)}</text>"
        )
    for n, day in enumerate(days):
        x, y = left + n * step + 4, float(base)
        for owner, amount in day.by_owner.items():
            h = plot * amount / top
            y -= h
            parts.append(
                f'<rect x="{x:.1f}" y="{y:.1f}" width="{step - 8:.1f}" height="{h:.1f}" '
                f'fill="{colours.get(owner, OTHERS_GREY)}"><title>{e(day.date.isoformat())} {e(owner)}: '
                f"{dollars(amount)}</title></rect>"
            )
        parts.append(
            f'<text x="{x + (step - 8) / 2:.1f}" y="{base + 17}" text-anchor="middle" font-size="13">'
            f"{e(_day(day.date))}</text>"
        )
    parts.append(f'<line x1="{left}" y1="{base}" x2="{WIDTH - right}" y2="{base}" stroke="#888"/>')
    return "".join(parts) + "</svg>"


def legend(colours: dict[str, str]) -> str:
    """The owners' colours, as HTML that wraps on a narrow screen (at most TOP_OWNERS and "others")."""
    e = html.escape
    items = "".join(f'<li><span style="background:{c}"></span>{e(owner)}</li>' for owner, c in colours.items())
    return f'<ul class="legend">{items}</ul>' if items else ""


def _day(day: date) -> str:
    return f"{day:%a} {day.day}"


def _short(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"
