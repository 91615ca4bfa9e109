"""Who is wasting what: a period's waste (an ISO week in a time zone, or the last N days) by owner, space,
resource kind, rule and day; the top resources; what is still burning, what was fixed and what fixing it
saved; against the period before.

Where two findings cover one resource at the same time (an EMR cluster both orphaned and idle), each hour
counts once, for the finding that began first, so the parts add up to the total. Exempt findings are
not waste. Amounts are exact (Decimal) until shown, then rounded half up to the cent.
"""

import re
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from decimal import ROUND_HALF_UP, Decimal
from itertools import pairwise
from typing import Any
from zoneinfo import ZoneInfo

from guardian.clock import zone
from guardian.findings import ACTIVE, CENT, Finding, Status, stopped_billing
from guardian.findings_store import FindingsStore
from guardian.rules.base import iso

WEEK = timedelta(days=7)
TOP_RESOURCES = 10
PRIVATE = "private spaces"


@dataclass(frozen=True)
class Period:
    label: str
    start: datetime  # UTC
    end: datetime  # UTC, exclusive
    timezone: str = "UTC"

    def __post_init__(self) -> None:
        zone(self.timezone)

    @classmethod
    def iso_week(cls, week: str, timezone: str = "UTC") -> "Period":
        """`2026-W47`: Monday 00:00 to the next Monday 00:00 in the time zone."""
        zone(timezone)
        match = re.fullmatch(r"(\d{4})-W(\d{2})", week)
        if not match:
            raise ValueError(f"{week!r} is not an ISO week such as 2026-W47")
        monday = date.fromisocalendar(int(match[1]), int(match[2]), 1)  # ValueError for a week the year lacks
        return cls(week, _midnight(monday, timezone), _midnight(monday + WEEK, timezone), timezone)

    @classmethod
    def week_before(cls, now: datetime, timezone: str = "UTC") -> "Period":
        """The ISO week that ended most recently in the time zone (on a Monday morning: last week)."""
        today = now.astimezone(ZoneInfo(timezone)).date()
        year, week, _ = (today - timedelta(days=today.weekday()) - WEEK).isocalendar()
        return cls.iso_week(f"{year}-W{week:02d}", timezone)

    @classmethod
    def last_days(cls, now: datetime, days: int = 7, timezone: str = "UTC") -> "Period":
        end = now.astimezone(UTC)
        return cls(f"the {days} days to {end:%Y-%m-%d %H:%M} UTC", end - timedelta(days=days), end, timezone)

    def previous(self) -> "Period":
        if re.fullmatch(r"\d{4}-W\d{2}", self.label):
            year, week, _ = (self.start.astimezone(ZoneInfo(self.timezone)).date() - WEEK).isocalendar()
            return Period.iso_week(f"{year}-W{week:02d}", self.timezone)
        length = self.end - self.start
        return Period(f"the {length.days} days before", self.start - length, self.start, self.timezone)

    def days(self) -> list[tuple[date, datetime, datetime]]:
        """The calendar days of the period in its time zone (a DST day has 23 or 25 hours)."""
        zone, days, cursor = ZoneInfo(self.timezone), [], self.start
        while cursor < self.end:
            day = cursor.astimezone(zone).date()
            until = min(_midnight(day + timedelta(days=1), self.timezone), self.end)
            days.append((day, cursor, until))
            cursor = until
        return days


def _midnight(day: date, timezone: str) -> datetime:
    return datetime.combine(day, time(), ZoneInfo(timezone)).astimezone(UTC)


def cents(amount: Decimal) -> float:
    return float(amount.quantize(CENT, rounding=ROUND_HALF_UP))


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
            winner = accruing[0] if accruing else None
            priced, hourly = _rate(winner, start) if winner else (False, None)
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


def findings_overlapping(store: FindingsStore, start: datetime, end: datetime) -> list[Finding]:
    """Findings whose waste may fall in [start, end): all not yet resolved, and those resolved since
    ``start`` (status queries on the table's GSI1; no Scan)."""
    found = {f.id: f for status in ACTIVE if status is not Status.EXEMPT for f in store.with_status(status)}
    found |= {f.id: f for f in store.with_status(Status.RESOLVED, after=start)}
    return [f for f in found.values() if f.condition_since < end]


def report_for(
    store: FindingsStore, period: Period, now: datetime, names: bool = True, actual: dict[str, Any] | None = None
) -> dict[str, Any]:
    """The report of a period, from the findings that overlap it or the period before."""
    return build(findings_overlapping(store, period.previous().start, period.end), period, now, names, actual)


@dataclass(frozen=True)
class View:
    """A finding as the report shows it: named, or (private, names not allowed) counted only."""

    owner: str
    space: str
    name: str
    arn: str

    @classmethod
    def of(cls, finding: Finding, names: bool) -> "View":
        if finding.private and not names:
            return cls(PRIVATE, PRIVATE, f"(a private {finding.resource_kind})", "")
        owner = finding.owner or "unattributed"
        return cls(owner, finding.space or "(no space)", finding.resource_name, finding.resource_arn)


def build(
    findings: list[Finding],
    period: Period,
    now: datetime,
    names: bool = True,
    actual: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """The report as a document: what `guardian report --format json` prints and the HTML shows."""
    shares = allocate(findings, period)
    previous = allocate(findings, period.previous())
    views = {s.finding.id: View.of(s.finding, names) for s in shares}
    total, before = sum((s.total for s in shares), Decimal(0)), sum((s.total for s in previous), Decimal(0))
    counted = [s for s in shares if s.hours]
    previous_views = {s.finding.id: View.of(s.finding, names) for s in previous}
    previous_by_owner = _group(previous, lambda s: previous_views[s.finding.id].owner)
    unattributed = sum((s.total for s in counted if s.finding.owner is None), Decimal(0))
    return {
        "period": _period(period),
        "generated_at": iso(now),
        "currency": "USD",
        "names_shown": names,
        "total_waste_usd": cents(total),
        "previous": _period(period.previous()) | {"total_waste_usd": cents(before)},
        "change": {"usd": cents(total - before), "pct": _pct(total - before, before)},
        "by_owner": [
            row
            | {
                "share_pct": _pct(Decimal(str(row["waste_usd"])), total),
                "previous_waste_usd": cents(previous_by_owner.get(row["owner"], (Decimal(0), []))[0]),
            }
            for row in _rows(counted, "owner", lambda s: views[s.finding.id].owner)
        ],
        "by_space": _rows(counted, "space", lambda s: views[s.finding.id].space),
        "by_kind": _rows(counted, "kind", lambda s: s.finding.resource_kind),
        "by_rule": _rows(counted, "rule", lambda s: s.finding.rule),
        "daily": _daily(shares, period, views),
        "top_resources": _top(counted, views, period),
        "open": _open(counted, period),
        "resolved": _resolved(counted, period),
        "savings_usd": cents(_savings(shares, period)),
        "unattributed": {"waste_usd": cents(unattributed), "share_pct": _pct(unattributed, total)},
        "unpriced_findings": sum(1 for s in counted if s.unpriced_hours),
        "actual_cost": actual,
        "findings": [_row(s, views[s.finding.id], now) for s in sorted(counted, key=lambda s: -s.total)],
    }


def _period(period: Period) -> dict[str, Any]:
    return {"label": period.label, "start": iso(period.start), "end": iso(period.end), "timezone": period.timezone}


def _pct(part: Decimal, whole: Decimal) -> float | None:
    return None if not whole else float((100 * part / whole).quantize(Decimal("0.1"), rounding=ROUND_HALF_UP))


def _group(shares: list[Share], key) -> dict[str, tuple[Decimal, list[Share]]]:
    groups: dict[str, list[Share]] = defaultdict(list)
    for share in shares:
        groups[key(share)].append(share)
    totals = {k: (sum((s.total for s in members), Decimal(0)), members) for k, members in groups.items()}
    return dict(sorted(totals.items(), key=lambda item: (-item[1][0], item[0])))


def _rows(shares: list[Share], name: str, key, total: Decimal | None = None) -> list[dict[str, Any]]:
    rows = []
    for value, (amount, members) in _group(shares, key).items():
        row = {name: value, "waste_usd": cents(amount), "findings": len(members)}
        row["unpriced_findings"] = sum(1 for s in members if s.unpriced_hours)
        if total is not None:
            row["share_pct"] = _pct(amount, total)
        rows.append(row)
    return rows


def _daily(shares: list[Share], period: Period, views: dict[str, View]) -> list[dict[str, Any]]:
    days = []
    for day, _, _ in period.days():
        owners: dict[str, Decimal] = defaultdict(Decimal)
        for share in shares:
            if share.by_day.get(day):
                owners[views[share.finding.id].owner] += share.by_day[day]
        days.append(
            {
                "date": day.isoformat(),
                "waste_usd": cents(sum(owners.values(), Decimal(0))),
                "by_owner": {owner: cents(amount) for owner, amount in sorted(owners.items())},
            }
        )
    return days


def _top(shares: list[Share], views: dict[str, View], period: Period) -> list[dict[str, Any]]:
    resources: dict[str, list[Share]] = defaultdict(list)
    for share in shares:
        resources[share.finding.resource_arn].append(share)
    rows = []
    for members in resources.values():
        first = members[0].finding
        view = views[first.id]
        rows.append(
            {
                "resource_name": view.name,
                "resource_kind": first.resource_kind,
                "resource_arn": view.arn,
                "owner": view.owner,
                "space": view.space,
                "rules": sorted({s.finding.rule for s in members}),
                "status": "open" if any(_open_at(s.finding, period.end) for s in members) else "resolved",
                "waste_usd": cents(sum((s.total for s in members), Decimal(0))),
                "unpriced": any(s.unpriced_hours for s in members),
            }
        )
    return sorted(rows, key=lambda r: (-r["waste_usd"], r["resource_name"]))[:TOP_RESOURCES]


def _open_at(finding: Finding, moment: datetime) -> bool:
    return finding.resolved_at is None or finding.resolved_at >= moment


def _open(shares: list[Share], period: Period) -> dict[str, Any]:
    still = [s for s in shares if _open_at(s.finding, period.end)]
    burning = {s.finding.resource_arn: s.finding.hourly_cost_usd or 0.0 for s in still}
    return {
        "findings": len(still),
        "resources": len(burning),
        "hourly_usd": cents(Decimal(str(sum(burning.values())))),
        "waste_usd": cents(sum((s.total for s in still), Decimal(0))),
    }


def _resolved(shares: list[Share], period: Period) -> dict[str, Any]:
    done = [s for s in shares if s.finding.resolved_at and period.start <= s.finding.resolved_at < period.end]
    return {"findings": len(done), "waste_usd": cents(sum((s.total for s in done), Decimal(0)))}


def _savings(shares: list[Share], period: Period) -> Decimal:
    """What resources that stopped billing in the period would have cost from then to its end (each once)."""
    saved: dict[str, Decimal] = {}
    for share in shares:
        finding = share.finding
        stopped = finding.resolved_at
        if not stopped or not (period.start <= stopped < period.end) or finding.hourly_cost_usd is None:
            continue
        if not stopped_billing(finding):
            continue
        seconds = Decimal((period.end - stopped).total_seconds())
        amount = Decimal(str(finding.hourly_cost_usd)) * seconds / Decimal(3600)
        saved[finding.resource_arn] = max(saved.get(finding.resource_arn, Decimal(0)), amount)
    return sum(saved.values(), Decimal(0))


def _row(share: Share, view: View, now: datetime) -> dict[str, Any]:
    finding = share.finding
    hidden = view.arn == "" and finding.resource_arn != ""
    return {
        "id": finding.id,
        "rule": finding.rule,
        "resource_kind": finding.resource_kind,
        "resource_name": view.name,
        "resource_arn": view.arn,
        "owner": view.owner,
        "space": view.space,
        "domain_id": finding.domain_id,
        "status": finding.status.value,
        "condition_since": iso(finding.condition_since),
        "resolved_at": iso(finding.resolved_at),
        "resolution": finding.resolution,
        "hourly_cost_usd": finding.hourly_cost_usd,
        "period_waste_usd": cents(share.total),
        "waste_usd": finding.waste_usd(now),
        "monthly_cost_usd": finding.monthly_cost_usd,
        "summary": "(private)" if hidden else finding.summary,
    }
