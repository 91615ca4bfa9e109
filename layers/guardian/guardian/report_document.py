"""The weekly report as a document: what report.build makes, report_format renders, `guardian report
--format json` prints and the report function writes to S3 (and keeps under REPORT#<week>, less its
findings).

Its JSON (``model_dump(mode="json")``) is a scripting interface: field names and their order are the JSON's
keys and key order, so a field is renamed or moved never, and added only at the end of its model. Amounts
are dollars already rounded half up to the cent; times are UTC ISO strings ending in Z. A dollar figure
covers the known prices only: what has no price is counted beside it (``unpriced_*``), never added as 0,
and a finding's own figure with no known price at all is null.
"""

import datetime as dt
from decimal import ROUND_HALF_UP, Decimal
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, PlainSerializer

from guardian.findings import CENT
from guardian.rules.base import iso

# A time in the document: an aware datetime in Python, "2026-11-16T00:00:00Z" in JSON, CSV and HTML.
UtcTime = Annotated[dt.datetime, PlainSerializer(iso, return_type=str)]


def cents(amount: Decimal) -> float:
    """An exact amount as the document shows it: dollars, rounded half up to the cent."""
    return float(amount.quantize(CENT, rounding=ROUND_HALF_UP))


class _Part(BaseModel):
    """A piece of the document: fixed once built, and nothing in it that the JSON does not name."""

    model_config = ConfigDict(frozen=True, extra="forbid")


class PeriodSpan(_Part):
    label: str  # "2026-W47", or "the 7 days to 2026-11-23 08:00 UTC"
    start: UtcTime
    end: UtcTime  # exclusive
    timezone: str  # the IANA zone whose midnights divide the period into days


class ReportPeriod(PeriodSpan):
    """The period a report covers. A week in progress stops at the moment the report was made: ``end`` is
    that moment, ``in_progress`` says so and ``scheduled_end`` is where the week will end."""

    in_progress: bool = False
    scheduled_end: UtcTime | None = None


class PreviousPeriod(PeriodSpan):
    total_waste_usd: float
    unpriced_resources: int = 0  # resources whose waste in that period has no known price


class Change(_Part):
    usd: float
    pct: float | None  # None when the period before wasted nothing


# Waste grouped by owner, space, kind and rule: the key comes first, then the same three figures.
# unpriced_findings counts findings whose price is unknown: their waste is not in waste_usd.
class OwnerRow(_Part):
    owner: str  # a user profile name, "unattributed", or "private spaces" when names are hidden
    waste_usd: float
    findings: int
    unpriced_findings: int
    share_pct: float | None  # of the period's total; None when the total is nothing
    previous_waste_usd: float
    previous_unpriced_findings: int = 0


class SpaceRow(_Part):
    space: str
    waste_usd: float
    findings: int
    unpriced_findings: int


class KindRow(_Part):
    kind: str
    waste_usd: float
    findings: int
    unpriced_findings: int


class RuleRow(_Part):
    rule: str
    waste_usd: float
    findings: int
    unpriced_findings: int


class DayRow(_Part):
    """A calendar day of the period, in its time zone."""

    date: dt.date
    waste_usd: float
    by_owner: dict[str, float]  # owners by name, in name order; only those who wasted something that day


class TopResource(_Part):
    """A resource, once however many findings cover it."""

    resource_name: str
    resource_kind: str
    resource_arn: str  # "" for a private space's resource when names are hidden
    owner: str
    space: str
    rules: list[str]
    status: Literal["open", "resolved"]
    waste_usd: float
    unpriced: bool  # some of its hours have no known price


class StillOpen(_Part):
    """What is still burning at the period's end."""

    findings: int
    resources: int
    hourly_usd: float
    waste_usd: float
    unpriced_resources: int = 0  # their hourly price (and so hourly_usd's part of them) unknown
    monthly_usd: float = 0.0  # the run-rate: hourly_usd for a month (730 h), if nothing is fixed


class Resolved(_Part):
    """Findings resolved within the period, and the waste they ran up before."""

    findings: int
    waste_usd: float
    unpriced_resources: int = 0


class Unattributed(_Part):
    waste_usd: float
    share_pct: float | None
    unpriced_resources: int = 0


class ActualCost(_Part):
    """What Cost Explorer says the owners' resources cost over the period's UTC days (actual_cost.py)."""

    source: str
    tag: str  # the owner tag the cost is grouped by
    metric: str
    start: dt.date
    end: dt.date  # exclusive
    by_owner: dict[str, float]  # costliest first; resources without the tag under "untagged"
    total_usd: float
    calls: int  # each one costs $0.01


class FindingRow(_Part):
    """A finding with its share of the period's waste (the CSV's row, the HTML's "Every finding")."""

    id: str
    rule: str
    resource_kind: str
    resource_name: str
    resource_arn: str
    owner: str
    space: str
    domain_id: str | None
    status: str
    condition_since: UtcTime
    resolved_at: UtcTime | None
    resolution: str | None
    hourly_cost_usd: float | None
    # After overlaps (an hour two findings cover counts for the first); None when none of its hours in the
    # period has a known price; the known part when some have (unpriced_hours says how many have not).
    period_waste_usd: float | None
    waste_usd: float | None  # since its condition began, up to when the report was made
    monthly_cost_usd: float | None
    summary: str
    unpriced_hours: float = 0.0
    account: str = ""  # the AWS account and region of its resource
    region: str = ""


class AccountRow(_Part):
    """An account's part of the period (a hub watches many): where it wastes, how much so far, what what still
    burns there costs a month if nothing is fixed, and whose waste is the largest."""

    account: str
    regions: list[str]  # in name order
    waste_usd: float
    monthly_usd: float  # the run-rate of what is still open there (each resource once), for 730 h
    findings: int
    unpriced_findings: int
    share_pct: float | None  # of the period's total; None when the total is nothing
    top_owner: str | None  # as by_owner names them ("private spaces" when names are hidden)


class WeeklyReport(_Part):
    """Who is wasting what in a period, against the period before (see report.py for the arithmetic)."""

    period: ReportPeriod
    generated_at: UtcTime
    currency: Literal["USD"] = "USD"
    names_shown: bool  # False: private spaces' resources counted under "private spaces", not named
    total_waste_usd: float
    previous: PreviousPeriod
    change: Change
    by_owner: list[OwnerRow]
    by_space: list[SpaceRow]
    by_kind: list[KindRow]
    by_rule: list[RuleRow]
    daily: list[DayRow]
    top_resources: list[TopResource]
    open: StillOpen
    resolved: Resolved
    savings_usd: float  # what resources that stopped billing would have cost to the period's end
    unattributed: Unattributed
    unpriced_findings: int
    actual_cost: ActualCost | None
    findings: list[FindingRow]
    unpriced_resources: int = 0  # resources with hours in the period and no known price: not in total_waste_usd
    savings_unpriced_resources: int = 0  # stopped in the period with no known price: not in savings_usd
    by_account: list[AccountRow] = []  # costliest first; one row per account, even when there is one
    accounts_scope: list[str] | None = None  # the accounts the report was limited to; None: every account
