"""Where a period's waste falls: each finding's share of it, by day of the period's time zone.

Where two findings cover one resource at the same time (an EMR cluster both orphaned and idle), each hour
counts once, for the finding that began first, so the parts add up to the total; a risk's finding, which
wastes $0 (an EMR cluster without auto-termination), gives way to one that wastes (the same cluster idle).
Exempt findings are not waste. Amounts stay exact (Decimal) here; they are rounded only when shown.
"""

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from itertools import pairwise
from zoneinfo import ZoneInfo

from guardian.findings import Finding, Status
from guardian.period import Period


@dataclass
class Share:
    """What one finding accrued in a period, after overlaps, by day of the period's time zone."""

    finding: Finding
    by_day: dict[date, Decimal] = field(default_factory=lambda: defaultdict(Decimal))
    unpriced_hours: float = 0.0
    hours: float = 0.0  # while its condition held in the period (its cost may count under another finding)

    @property
    def total(self) -> Decimal:
        return sum(self.by_day.values(), Decimal(0))


def allocate(findings: Iterable[Finding], period: Period) -> list[Share]:
    shares = {f.id: Share(f) for f in findings if f.status is not Status.EXEMPT}
    by_resource: dict[str, list[Finding]] = defaultdict(list)
    for share in shares.values():
        by_resource[share.finding.resource_arn].append(share.finding)
    zone = ZoneInfo(period.timezone)
    day_starts = {start for _, start, _ in period.days()}
    for group in by_resource.values():
        # The resource's hours split wherever a day, a finding, a price or a resolution begins or ends.
        edges = set(day_starts) | {period.start, period.end}
        for finding in group:
            edges |= {finding.condition_since, *(s.start for s in finding.segments)}
            if finding.resolved_at:
                edges.add(finding.resolved_at)
        points = sorted(e for e in edges if period.start <= e <= period.end)
        first_come = sorted(group, key=lambda f: (f.condition_since, f.rule, f.id))
        for start, end in pairwise(points):
            accruing = [f for f in first_come if _accruing(f, start)]
            for finding in accruing:
                shares[finding.id].hours += (end - start).total_seconds() / 3600
            if not accruing:
                continue
            winner = next((f for f in accruing if _rate(f, start) != (True, 0)), accruing[0])
            priced, hourly = _rate(winner, start)
            if not priced:
                continue
            share = shares[winner.id]
            if hourly is None:
                share.unpriced_hours += (end - start).total_seconds() / 3600
                continue
            seconds = Decimal((end - start).total_seconds())
            share.by_day[start.astimezone(zone).date()] += Decimal(str(hourly)) * seconds / Decimal(3600)
    return list(shares.values())


def _accruing(finding: Finding, at: datetime) -> bool:
    return finding.condition_since <= at and (finding.resolved_at is None or at < finding.resolved_at)


def _rate(finding: Finding, at: datetime) -> tuple[bool, float | None]:
    """(whether a cost segment has begun, its hourly rate: None when the price is unknown)."""
    started = [s for s in finding.segments if s.start <= at]
    return (True, started[-1].hourly) if started else (False, None)


def hourly_by_resource(findings: Iterable[Finding]) -> dict[str, float | None]:
    """What each resource wastes an hour now, once however many findings cover it: the highest known rate (a
    risk's $0 gives way to the same cluster's idle finding); None where only an unknown price is left."""
    rates: dict[str, list[float | None]] = defaultdict(list)
    for finding in findings:
        rates[finding.resource_arn].append(finding.hourly_cost_usd)
    return {arn: _burning(found) for arn, found in rates.items()}


def _burning(rates: list[float | None]) -> float | None:
    known = [r for r in rates if r is not None]
    if None in rates and not any(known):
        return None
    return max(known)
