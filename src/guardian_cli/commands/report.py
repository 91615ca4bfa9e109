"""`guardian report`: who is wasting what, for an ISO week or the last 7 days, from a stack's findings;
as the team's summary, JSON (the report function's document), CSV or the HTML page."""

import json
import sys
from datetime import UTC, datetime
from pathlib import Path

from guardian import report_format, report_html
from guardian.actual_cost import actual_cost
from guardian.period import Period
from guardian.report import private_space_owners, report_for
from guardian.report_document import WeeklyReport
from guardian_cli.account import TableRef, account, findings_store, inventory
from guardian_cli.errors import InputError


def run(
    ref: TableRef,
    fmt: str,
    week: str | None = None,
    out: Path | None = None,
    timezone: str = "UTC",
    hide_private: bool = False,
    cost_explorer: bool = False,
    tag_prefix: str = "studio-cost-guardian",
    accounts: list[str] | None = None,
) -> int:
    """``week`` an ISO week (default: the 7 days up to now); ``cost_explorer`` adds the actual cost per
    owner tag (one $0.01 call; not for a report of some ``accounts`` only: it is the payer's, by owner tag)."""
    if accounts and cost_explorer:
        raise InputError("--cost-explorer groups the whole bill by owner tag: it cannot be limited to --account")
    now = datetime.now(UTC)
    try:
        period = Period.iso_week(week, timezone) if week else Period.last_days(now, 7, timezone)
    except ValueError as error:
        raise InputError(str(error)) from error
    with account(ref.endpoint, embedded_default=False) as clients:
        actual = actual_cost(clients("ce"), period, f"{tag_prefix}:owner") if cost_explorer else None
        store = findings_store(ref, clients)
        # As the weekly report does: Cost Explorer's line for an owner of a private space is not named.
        private = private_space_owners(inventory(ref, clients)) if hide_private and actual is not None else ()
        report = report_for(
            store,
            period,
            now,
            names=not hide_private,
            actual=actual,
            private_owners=private,
            accounts=list(dict.fromkeys(accounts)) if accounts else None,
        )
    text = render(report, fmt)
    if out:
        out.write_text(text)
        print(f"wrote {out} ({report_format.headline(report)})")
    else:
        sys.stdout.write(text)
    return 0


def render(report: WeeklyReport, fmt: str) -> str:
    if fmt == "json":
        return json.dumps(report.model_dump(mode="json"), indent=2) + "\n"
    if fmt == "csv":
        return report_format.to_csv(report)
    if fmt == "html":
        return report_html.to_html(report)
    return "\n".join(report_format.summary_lines(report)) + "\n"
