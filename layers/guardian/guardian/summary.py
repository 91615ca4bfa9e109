"""The one-line total under a list of findings (`guardian demo`, `guardian findings`, `guardian scan`):
waste so far and the monthly cost if left running, each resource's hours and price counted once though
two findings may cover it (an EMR cluster both orphaned and idle); unknown prices said, never counted as
$0; exempt findings counted apart."""

from collections.abc import Sequence
from datetime import datetime
from decimal import Decimal

from guardian.allocation import allocate
from guardian.cost import HOURS_PER_MONTH
from guardian.findings import Finding, Status
from guardian.period import Period
from guardian.report_document import cents


def waste_summary(findings: Sequence[Finding], now: datetime) -> str:
    """Totals with each resource's hours counted once (an EMR cluster can be both orphaned and idle)."""
    counted = [f for f in findings if f.status is not Status.EXEMPT]
    since = min((f.condition_since for f in counted), default=now)
    waste = cents(sum((share.total for share in allocate(counted, Period("so far", since, now))), Decimal(0)))
    hourly = {f.resource_arn: f.hourly_cost_usd or 0 for f in counted}  # each resource once
    monthly = sum(hourly.values()) * float(HOURS_PER_MONTH)
    unknown = sum(f.hourly_cost_usd is None for f in counted)
    exempt = len(findings) - len(counted)
    return (
        f"\n{len(counted)} findings: ${waste:,.2f} wasted so far, ${monthly:,.2f}/month if left running"
        + (f"; {unknown} with no known price (not counted as $0)" if unknown else "")
        + (f"; {exempt} exempt" if exempt else "")
        + "."
    )
