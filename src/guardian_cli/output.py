"""Printing records as a table, JSON or CSV (the field names are a scripting interface), findings with
their total, and what an audit could not read. Plain values in, text out: no command-line arguments."""

import csv
import io
import json
import shutil
import sys
from collections.abc import Sequence
from datetime import datetime
from typing import Any, TextIO

from guardian.findings import AuditEntry, Finding, Status
from guardian.money import dollars
from guardian.reconcile import SweepReport
from guardian.resource import Resource
from guardian.summary import waste_summary


def render(rows: Sequence[dict[str, Any]], fmt: str, columns: Sequence[str]) -> str:
    if fmt == "json":
        return json.dumps(list(rows), indent=2, default=str)
    if fmt == "csv":
        buffer = io.StringIO()
        writer = csv.DictWriter(buffer, fieldnames=list(columns), extrasaction="ignore", lineterminator="\n")
        writer.writeheader()
        for row in rows:
            writer.writerow({c: "" if row.get(c) is None else _cell(row.get(c)) for c in columns})
        return buffer.getvalue().rstrip("\n")
    return table(rows, columns)


def table(rows: Sequence[dict[str, Any]], columns: Sequence[str], width: int | None = None) -> str:
    """Aligned columns. ``width``: the most a line may take (default: the terminal's, when stdout is one;
    piped output is never cut): the widest columns are narrowed, their cells cut with "…"."""
    cells = [[_cell(row.get(c)) for c in columns] for row in rows]
    widths = [max([len(c)] + [len(r[i]) for r in cells]) for i, c in enumerate(columns)]
    if width is None and sys.stdout.isatty():
        width = shutil.get_terminal_size().columns
    if width is not None:
        widths = _fitted(widths, width)
    lines = ["  ".join(_cut(c.upper(), w).ljust(w) for c, w in zip(columns, widths, strict=True)).rstrip()]
    lines += ["  ".join(_cut(v, w).ljust(w) for v, w in zip(r, widths, strict=True)).rstrip() for r in cells]
    return "\n".join(lines)


NARROWEST = 8  # a column is never narrowed below this: an id prefix, a short name, a price


def _fitted(widths: list[int], width: int) -> list[int]:
    fitted = list(widths)
    while sum(fitted) + 2 * (len(fitted) - 1) > width:
        widest = max(range(len(fitted)), key=lambda i: fitted[i])
        if fitted[widest] <= NARROWEST:
            break  # as narrow as it gets: the terminal wraps the rest
        fitted[widest] -= 1
    return fitted


def _cut(text: str, width: int) -> str:
    return text if len(text) <= width else text[: width - 1] + "…"


def _cell(value: Any) -> str:
    if value is None:
        return "-"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, dict):
        return ",".join(f"{k}={v}" for k, v in value.items())
    return str(value)


def money(row: dict[str, Any]) -> dict[str, Any]:
    """Dollar figures for reading (guardian.money): $0.23, and unknown where no price is known (never $0)."""
    shown = dict(row)
    for key in ("hourly_cost_usd", "waste_usd", "monthly_cost_usd"):
        if key in shown:
            shown[key] = dollars(shown[key])
    return shown


# --- findings ------------------------------------------------------------------------------------------

FINDING_COLUMNS = (
    "id",
    "rule",
    "resource_kind",
    "resource_name",
    "owner",
    "space",
    "status",
    "hourly_cost_usd",
    "waste_usd",
    "monthly_cost_usd",
    "summary",
)
# What JSON and CSV add to the table's columns: enough to act on a finding from a script.
FINDING_DETAIL_COLUMNS = (
    *FINDING_COLUMNS,
    "domain_id",
    "sharing",
    "detected_at",
    "resource_arn",
    "severity",
    "account",
    "region",
)
# What a stack's findings add (not a read-only scan's, which tells nobody): whether their owner was reached.
DELIVERY_COLUMNS = ("delivery_state",)
DELIVERY_DETAIL_COLUMNS = ("delivery_state", "reached_at")


def print_findings(
    found: Sequence[Finding],
    fmt: str,
    now: datetime,
    show_exempt: bool,
    show_delivery: bool = False,
    show_location: bool = False,
) -> None:
    """Findings, costliest first. Exempt ones are waste someone chose to keep: left out unless
    ``show_exempt`` (--include-exempt, or listed with --status exempt), and counted in the summary line.
    ``show_delivery``: a column saying whether the owner was reached (delivered, awaiting-confirmation,
    unreachable), for a stack's findings. ``show_location``: the table's account and region columns, for a
    scan of several (JSON and CSV always have them)."""
    exempt = [f for f in found if f.status is Status.EXEMPT]
    shown = sorted(
        (f for f in found if show_exempt or f.status is not Status.EXEMPT), key=lambda f: -(f.waste_usd(now) or 0)
    )
    rows = [f.public(now) for f in shown]
    if fmt == "table":
        columns = _with_delivery(FINDING_COLUMNS, DELIVERY_COLUMNS, show_delivery)
        print(table([money(r) for r in rows], ("account", "region", *columns) if show_location else columns))
        print(
            waste_summary(shown, now)
            + (f" {len(exempt)} exempt not shown (--include-exempt)." if exempt and not show_exempt else "")
        )
    else:
        print(render(rows, fmt, _with_delivery(FINDING_DETAIL_COLUMNS, DELIVERY_DETAIL_COLUMNS, show_delivery)))


def _with_delivery(columns: Sequence[str], delivery: Sequence[str], shown: bool) -> tuple[str, ...]:
    """The columns, with the delivery's after the status."""
    if not shown:
        return tuple(columns)
    at = list(columns).index("status") + 1
    return (*columns[:at], *delivery, *columns[at:])


def warn_of_collection_errors(report: SweepReport) -> None:
    """What a read-only audit could not list or describe: on stderr, so the output stays parseable."""
    for kind, kind_report in report.kinds.items():
        for error in kind_report.errors:
            print(f"warning: {kind}: {error}", file=sys.stderr)


# --- one finding, whole --------------------------------------------------------------------------------


def render_finding(
    finding: Finding, trail: Sequence[AuditEntry], resource: Resource | None, now: datetime, fmt: str
) -> str:
    """`guardian findings show`: JSON (the finding as `findings --format json` has it, with its cost history,
    its attribution and its audit trail), or text for reading. The attribution is the finding's own (what
    decided its owner when it was judged), else the inventory record's."""
    attribution = _attribution(finding, resource)
    document = finding.public(now) | {
        "cost_history": [{"from": s.start.isoformat(), "hourly_usd": s.hourly} for s in finding.segments],
        "attribution": attribution,
        "audit": [entry.model_dump(mode="json") for entry in trail],
    }
    if fmt == "json":
        return json.dumps(document, indent=2, default=str)
    lines = [
        f"{finding.id}  {finding.rule} on {finding.resource_kind} {finding.resource_name}",
        f"  {finding.summary}",
        f"  status {finding.status.value}"
        + (f", delivery {finding.delivery_state}" if finding.delivery_state else "")
        + f"; owner {finding.owner or 'unknown'}"
        + (f" (space {finding.space}, {finding.sharing or 'sharing unknown'})" if finding.space else ""),
        f"  cost {dollars_per_hour(finding.hourly_cost_usd)}, wasted {dollars(finding.waste_usd(now))} since "
        f"{finding.condition_since:%Y-%m-%d %H:%M} UTC",
        f"  resource {finding.resource_arn}",
        "evidence:",
        *(f"  {key}: {value}" for key, value in (finding.evidence | {"cost_basis": finding.cost_basis}).items()),
        "attribution:",
        *(
            [
                f"  decided by {attribution['source']}"
                + (f" (confidence {attribution['confidence']})" if attribution.get("confidence") else ""),
                *(f"  {note}" for note in [*attribution["evidence"], *attribution.get("conflicts", [])]),
            ]
            if attribution
            else ["  (no inventory record: the resource is gone)"]
        ),
        "cost history:",
        *(f"  from {s.start:%Y-%m-%d %H:%M} UTC: {dollars_per_hour(s.hourly)}" for s in finding.segments),
        "audit trail:",
        *(_audit_line(entry) for entry in trail),
    ]
    return "\n".join(lines)


def _attribution(finding: Finding, resource: Resource | None) -> dict[str, Any] | None:
    if finding.attribution is not None:
        return finding.attribution.model_dump()
    if resource is None:
        return None
    held = resource.attribution
    return {"source": held.source.value, "owner": held.owner, "evidence": list(held.notes)}


def _audit_line(entry: AuditEntry) -> str:
    moved = f" {entry.from_status or ''} -> {entry.to_status}".replace("  ", " ") if entry.to_status else ""
    by = "" if entry.actor == "guardian" else f" by {entry.actor}"
    return f"  {entry.at:%Y-%m-%d %H:%M:%S} {entry.action}{moved}{by}" + (f": {entry.reason}" if entry.reason else "")


def dollars_per_hour(hourly: float | None) -> str:
    return f"{dollars(hourly)}/h"


class ProgressLine:
    """One line of progress on stderr, rewritten in place while a long step runs; only on a terminal (a pipe,
    a file or a CI log gets nothing), and wiped when done."""

    def __init__(self, stream: TextIO | None = None) -> None:
        self.stream = stream or sys.stderr
        self.shown = False

    def update(self, text: str) -> None:
        if not self.stream.isatty():
            return
        self.stream.write(f"\r{text}\x1b[K")
        self.stream.flush()
        self.shown = True

    def clear(self) -> None:
        if self.shown:
            self.stream.write("\r\x1b[K")
            self.stream.flush()
            self.shown = False
