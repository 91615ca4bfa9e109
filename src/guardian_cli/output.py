"""Printing records as a table, JSON or CSV: the field names are a scripting interface."""

import csv
import io
import json
from collections.abc import Sequence
from typing import Any


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
