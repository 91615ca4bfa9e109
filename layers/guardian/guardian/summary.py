"""The one-line total under a list of findings (`guardian demo`, `guardian findings`, `guardian scan`):
waste so far and the monthly cost if left running, each resource's hours and price counted once though
two findings may cover it (an EMR cluster both orphaned and idle); what has no known price is counted
beside the dollars ("$28.80 + 1 resource of unknown cost"), never as $0; exempt findings counted apart."""

from collections.abc import Sequence
from datetime import datetime
from decimal import Decimal

from guardian.allocation import allocate, hourly_by_resource
from guardian.cost import HOURS_PER_MONTH
from guardian.findings import Finding, Status
from guardian.money import total
from guardian.period import Period
from guardian.report_document import cents


def waste_summary(findings: Sequence[Finding], now: datetime) -> str:
    """Totals with each resource's hours counted once (an EMR cluster can be both orphaned and idle)."""
    counted = [f for f in findings if f.status is not Status.EXEMPT]
    since = min((f.condition_since for f in counted), default=now)
    shares = allocate(counted, Period("so far", since, now))
    waste = cents(sum((share.total for share in shares), Decimal(0)))
    unpriced_hours = {s.finding.resource_arn for s in shares if s.unpriced_hours}
    hourly = hourly_by_resource(counted)  # each resource once
    monthly = sum(h for h in hourly.values() if h is not None) * float(HOURS_PER_MONTH)
    unpriced_now = list(hourly.values()).count(None)
    exempt = len(findings) - len(counted)
    return (
        f"\n{len(counted)} findings: {total(waste, len(unpriced_hours))} wasted so far, "
        f"{total(monthly, unpriced_now, '/month')} if left running" + (f"; {exempt} exempt" if exempt else "") + "."
    )
