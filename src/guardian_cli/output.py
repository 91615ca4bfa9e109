"""Printing records as a table, JSON or CSV (the field names are a scripting interface), findings with
their total, and what an audit could not read. Plain values in, text out: no command-line arguments."""

import csv
import io
import json
import sys
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from guardian.findings import Finding, Status
from guardian.reconcile import SweepReport
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


def table(rows: Sequence[dict[str, Any]], columns: Sequence[str]) -> str:
    cells = [[_cell(row.get(c)) for c in columns] for row in rows]
    widths = [max([len(c)] + [len(r[i]) for r in cells]) for i, c in enumerate(columns)]
    lines = ["  ".join(c.upper().ljust(w) for c, w in zip(columns, widths, strict=True)).rstrip()]
    lines += ["  ".join(v.ljust(w) for v, w in zip(r, widths, strict=True)).rstrip() for r in cells]
    return "\n".join(lines)


def _cell(value: Any) -> str:
    if value is None:
        return "-"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, dict):
        return ",".join(f"{k}={v}" for k, v in value.items())
    return str(value)


def money(row: dict[str, Any]) -> dict[str, Any]:
    """Dollar figures for reading: $0.23, and '?' where no price is known (never $0)."""
    shown = dict(row)
    for key in ("hourly_cost_usd", "waste_usd", "monthly_cost_usd"):
        if key in shown:
            shown[key] = "?" if shown[key] is None else f"${shown[key]:,.2f}"
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
FINDING_DETAIL_COLUMNS = (*FINDING_COLUMNS, "domain_id", "sharing", "detected_at", "resource_arn", "severity")


def print_findings(found: Sequence[Finding], fmt: str, now: datetime, show_exempt: bool) -> None:
    """Findings, costliest first. Exempt ones are waste someone chose to keep: left out unless
    ``show_exempt`` (--include-exempt, or listed with --status exempt), and counted in the summary line."""
    exempt = [f for f in found if f.status is Status.EXEMPT]
    shown = sorted(
        (f for f in found if show_exempt or f.status is not Status.EXEMPT), key=lambda f: -(f.waste_usd(now) or 0)
    )
    rows = [f.public(now) for f in shown]
    if fmt == "table":
        print(table([money(r) for r in rows], FINDING_COLUMNS))
        print(
            waste_summary(shown, now)
            + (f" {len(exempt)} exempt not shown (--include-exempt)." if exempt and not show_exempt else "")
        )
    else:
        print(render(rows, fmt, FINDING_DETAIL_COLUMNS))


def warn_of_collection_errors(report: SweepReport) -> None:
    """What a read-only audit could not list or describe: on stderr, so the output stays parseable."""
    for kind, kind_report in report.kinds.items():
        for error in kind_report.errors:
            print(f"warning: {kind}: {error}", file=sys.stderr)
