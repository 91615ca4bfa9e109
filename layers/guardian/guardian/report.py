"""Who is wasting what: a period's waste (period.py: an ISO week in a time zone, or the last N days) by
owner, space, resource kind, rule and day; the top resources; what is still burning, what was fixed and
what fixing it saved; against the period before.

Each finding's share of the period comes from allocation.py (each hour of a resource counted once, so the
parts add up to the total; exempt findings are not waste). This module sums the shares into the document
(report_document.py): exact (Decimal) until a figure is shown, then rounded half up to the cent.
"""

from collections import defaultdict
from collections.abc import Callable, Collection, Iterable
from dataclasses import dataclass
from datetime import datetime
from decimal import ROUND_HALF_UP, Decimal
from typing import TypeVar

from guardian.actual_cost import UNTAGGED
from guardian.allocation import Share, allocate, hourly_by_resource
from guardian.cost import HOURS_PER_MONTH
from guardian.findings import ACTIVE, Finding, Status, stopped_billing
from guardian.findings_store import FindingsStore
from guardian.inventory import Inventory
from guardian.kinds import Kind
from guardian.period import Period
from guardian.report_document import (
    AccountRow,
    ActualCost,
    Change,
    DayRow,
    FindingRow,
    KindRow,
    OwnerRow,
    PreviousPeriod,
    ReportPeriod,
    Resolved,
    RuleRow,
    SpaceRow,
    StillOpen,
    TopResource,
    Unattributed,
    WeeklyReport,
    cents,
)

TOP_RESOURCES = 10
PRIVATE = "private spaces"
UNNAMED = "owners not named"  # Cost Explorer's figures of owners the report does not name


def findings_overlapping(store: FindingsStore, start: datetime, end: datetime) -> list[Finding]:
    """Findings whose waste may fall in [start, end): all not yet resolved, and those resolved since
    ``start`` (status queries on the table's GSI1; no Scan)."""
    found = {f.id: f for status in ACTIVE if status is not Status.EXEMPT for f in store.with_status(status)}
    found |= {f.id: f for f in store.with_status(Status.RESOLVED, after=start)}
    return [f for f in found.values() if f.condition_since < end]


def report_for(
    store: FindingsStore,
    period: Period,
    now: datetime,
    names: bool = True,
    actual: ActualCost | None = None,
    private_owners: Iterable[str] = (),
    accounts: Collection[str] | None = None,
) -> WeeklyReport:
    """The report of a period, from the findings that overlap it or the period before. ``private_owners``:
    who else owns a private space (the inventory's spaces), for Cost Explorer's figures per owner;
    ``accounts``: only these accounts' findings (None: every account's)."""
    findings = findings_overlapping(store, period.previous().start, period.end)
    return build(findings, period, now, names, actual, private_owners, accounts)


def private_space_owners(inventory: Inventory) -> set[str]:
    """Who owns a private space (or one whose sharing is unknown), by the inventory: Cost Explorer's cost of
    their resources is not named in the team's report unless names are allowed."""
    return {
        space.owner
        for space in inventory.by_kind(Kind.SPACE)
        if space.owner and (space.sharing or space.attribution.sharing) != "Shared"
    }


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
    actual: ActualCost | None = None,
    private_owners: Iterable[str] = (),
    accounts: Collection[str] | None = None,
) -> WeeklyReport:
    """The report as a document: what `guardian report --format json` prints and the HTML shows. A period
    that has not ended (the current week) counts up to ``now`` only, and says so. ``accounts``: the report of
    these accounts only (Cost Explorer's figures, the stack's account's, are then left out)."""
    if accounts is not None:
        findings = [f for f in findings if f.account in accounts]
        actual = None  # grouped by owner tag across the payer's accounts: not one account's
    period = period.up_to(now)
    shares = allocate(findings, period)
    previous = allocate(findings, period.previous())
    views = {s.finding.id: View.of(s.finding, names) for s in shares}
    total, before = _total(shares), _total(previous)
    counted = [s for s in shares if s.hours]  # a finding whose condition held in the period, priced or not
    previous_views = {s.finding.id: View.of(s.finding, names) for s in previous}
    previous_by_owner = {g.key: g for g in _group(previous, lambda s: previous_views[s.finding.id].owner)}
    nobodys = [s for s in counted if s.finding.owner is None]
    unattributed = _total(nobodys)
    saved, savings_unpriced = _savings(shares, period)
    return WeeklyReport(
        period=_span(period),
        generated_at=now,
        names_shown=names,
        total_waste_usd=cents(total),
        previous=_previous(period, before, _unpriced_resources(previous)),
        change=Change(usd=cents(total - before), pct=_pct(total - before, before)),
        by_owner=[
            OwnerRow(
                owner=group.key,
                waste_usd=cents(group.total),
                findings=len(group.members),
                unpriced_findings=group.unpriced,
                share_pct=_pct(Decimal(str(cents(group.total))), total),  # of the total, as shown
                previous_waste_usd=cents(previous_by_owner.get(group.key, _Group(group.key, [])).total),
                previous_unpriced_findings=previous_by_owner.get(group.key, _Group(group.key, [])).unpriced,
            )
            for group in _group(counted, lambda s: views[s.finding.id].owner)
        ],
        by_space=_rows(SpaceRow, "space", _group(counted, lambda s: views[s.finding.id].space)),
        by_kind=_rows(KindRow, "kind", _group(counted, lambda s: s.finding.resource_kind)),
        by_rule=_rows(RuleRow, "rule", _group(counted, lambda s: s.finding.rule)),
        daily=_daily(shares, period, views),
        top_resources=_top(counted, views, period),
        open=_open(counted, period),
        resolved=_resolved(counted, period),
        savings_usd=cents(saved),
        unattributed=Unattributed(
            waste_usd=cents(unattributed),
            share_pct=_pct(unattributed, total),
            unpriced_resources=_unpriced_resources(nobodys),
        ),
        unpriced_findings=sum(1 for s in counted if s.unpriced_hours),
        actual_cost=actual if names or actual is None else _unnamed(actual, findings, private_owners),
        findings=[_row(s, views[s.finding.id], now) for s in sorted(counted, key=lambda s: -s.total)],
        unpriced_resources=_unpriced_resources(counted),
        savings_unpriced_resources=savings_unpriced,
        by_account=_by_account(counted, views, period, total),
        accounts_scope=sorted(accounts) if accounts is not None else None,
    )


def _by_account(shares: list[Share], views: dict[str, "View"], period: Period, total: Decimal) -> list[AccountRow]:
    """Each account's waste, run-rate, findings and costliest owner (its rows add up to the report's)."""
    rows = []
    for group in _group(shares, lambda s: s.finding.account):
        burning = hourly_by_resource(s.finding for s in group.members if _open_at(s.finding, period.end))
        hourly = Decimal(str(sum(h for h in burning.values() if h is not None)))
        owners = _group(group.members, lambda s: views[s.finding.id].owner)
        rows.append(
            AccountRow(
                account=group.key,
                regions=sorted({s.finding.region for s in group.members}),
                waste_usd=cents(group.total),
                monthly_usd=cents(hourly * HOURS_PER_MONTH),
                findings=len(group.members),
                unpriced_findings=group.unpriced,
                share_pct=_pct(Decimal(str(cents(group.total))), total),
                top_owner=owners[0].key if owners else None,
            )
        )
    return rows


def _unnamed(actual: ActualCost, findings: list[Finding], private_owners: Iterable[str]) -> ActualCost:
    """Cost Explorer's cost per owner tag, with names hidden: it cannot tell a private space's resources from
    a shared one's, so an owner is named only where the rest of the report names them (a finding outside a
    private space) and nothing says they own a private space (a private finding, a private space). Everyone
    else's cost is one sum, under UNNAMED; what carries no owner tag stays apart."""
    private = {f.owner for f in findings if f.private} | set(private_owners)
    nameable = {f.owner for f in findings if f.owner and not f.private} - private
    by_owner: dict[str, Decimal] = defaultdict(Decimal)
    for owner, cost in actual.by_owner.items():
        shown = owner if owner in nameable or owner == UNTAGGED else UNNAMED
        by_owner[shown] += Decimal(str(cost))
    ordered = sorted(by_owner.items(), key=lambda item: (-item[1], item[0]))
    return actual.model_copy(update={"by_owner": {owner: cents(cost) for owner, cost in ordered}})


def _span(period: Period) -> ReportPeriod:
    return ReportPeriod(
        label=period.label,
        start=period.start,
        end=period.end,
        timezone=period.timezone,
        in_progress=period.in_progress,
        scheduled_end=period.scheduled_end,
    )


def _previous(period: Period, waste: Decimal, unpriced: int) -> PreviousPeriod:
    before = period.previous()
    return PreviousPeriod(
        label=before.label,
        start=before.start,
        end=before.end,
        timezone=before.timezone,
        total_waste_usd=cents(waste),
        unpriced_resources=unpriced,
    )


def _unpriced_resources(shares: Iterable[Share]) -> int:
    """Resources some of whose hours in the period have no known price (each once): what a total leaves out."""
    return len({s.finding.resource_arn for s in shares if s.unpriced_hours})


def _total(shares: Iterable[Share]) -> Decimal:
    return sum((s.total for s in shares), Decimal(0))


def _pct(part: Decimal, whole: Decimal) -> float | None:
    return None if not whole else float((100 * part / whole).quantize(Decimal("0.1"), rounding=ROUND_HALF_UP))


@dataclass(frozen=True)
class _Group:
    """The shares that have one owner (or space, kind, rule)."""

    key: str
    members: list[Share]

    @property
    def total(self) -> Decimal:
        return _total(self.members)

    @property
    def unpriced(self) -> int:
        return sum(1 for s in self.members if s.unpriced_hours)


def _group(shares: list[Share], key: Callable[[Share], str]) -> list[_Group]:
    """Costliest first; equal ones by name."""
    members: dict[str, list[Share]] = defaultdict(list)
    for share in shares:
        members[key(share)].append(share)
    groups = [_Group(k, m) for k, m in members.items()]
    return sorted(groups, key=lambda g: (-g.total, g.key))


_Row = TypeVar("_Row", SpaceRow, KindRow, RuleRow)


def _rows(row: type[_Row], key_field: str, groups: list[_Group]) -> list[_Row]:
    return [
        row.model_validate(
            {
                key_field: group.key,
                "waste_usd": cents(group.total),
                "findings": len(group.members),
                "unpriced_findings": group.unpriced,
            }
        )
        for group in groups
    ]


def _daily(shares: list[Share], period: Period, views: dict[str, View]) -> list[DayRow]:
    days = []
    for day, _, _ in period.days():
        owners: dict[str, Decimal] = defaultdict(Decimal)
        for share in shares:
            if share.by_day.get(day):
                owners[views[share.finding.id].owner] += share.by_day[day]
        days.append(
            DayRow(
                date=day,
                waste_usd=cents(sum(owners.values(), Decimal(0))),
                by_owner={owner: cents(amount) for owner, amount in sorted(owners.items())},
            )
        )
    return days


def _top(shares: list[Share], views: dict[str, View], period: Period) -> list[TopResource]:
    """The costliest resources, each once however many findings cover it."""
    resources: dict[str, list[Share]] = defaultdict(list)
    for share in shares:
        resources[share.finding.resource_arn].append(share)
    rows = []
    for members in resources.values():
        first = members[0].finding
        view = views[first.id]
        rows.append(
            TopResource(
                resource_name=view.name,
                resource_kind=first.resource_kind,
                resource_arn=view.arn,
                owner=view.owner,
                space=view.space,
                rules=sorted({s.finding.rule for s in members}),
                status="open" if any(_open_at(s.finding, period.end) for s in members) else "resolved",
                waste_usd=cents(_total(members)),
                unpriced=any(s.unpriced_hours for s in members),
            )
        )
    return sorted(rows, key=lambda r: (-r.waste_usd, r.resource_name))[:TOP_RESOURCES]


def _open_at(finding: Finding, moment: datetime) -> bool:
    return finding.resolved_at is None or finding.resolved_at >= moment


def _open(shares: list[Share], period: Period) -> StillOpen:
    still = [s for s in shares if _open_at(s.finding, period.end)]
    burning = hourly_by_resource(s.finding for s in still)  # each resource once
    hourly = Decimal(str(sum(h for h in burning.values() if h is not None)))
    return StillOpen(
        findings=len(still),
        resources=len(burning),
        hourly_usd=cents(hourly),
        waste_usd=cents(_total(still)),
        unpriced_resources=list(burning.values()).count(None),
        monthly_usd=cents(hourly * HOURS_PER_MONTH),
    )


def _resolved(shares: list[Share], period: Period) -> Resolved:
    done = [s for s in shares if s.finding.resolved_at and period.start <= s.finding.resolved_at < period.end]
    return Resolved(findings=len(done), waste_usd=cents(_total(done)), unpriced_resources=_unpriced_resources(done))


def _savings(shares: list[Share], period: Period) -> tuple[Decimal, int]:
    """What resources that stopped billing in the period would have cost from then to its end (each once); and
    how many such resources have no known price (their saving is not in the sum)."""
    saved: dict[str, Decimal] = {}
    unpriced: set[str] = set()
    for share in shares:
        finding = share.finding
        stopped = finding.resolved_at
        if not stopped or not (period.start <= stopped < period.end) or not stopped_billing(finding):
            continue
        if finding.hourly_cost_usd is None:
            unpriced.add(finding.resource_arn)
            continue
        seconds = Decimal((period.end - stopped).total_seconds())
        amount = Decimal(str(finding.hourly_cost_usd)) * seconds / Decimal(3600)
        saved[finding.resource_arn] = max(saved.get(finding.resource_arn, Decimal(0)), amount)
    return sum(saved.values(), Decimal(0)), len(unpriced - set(saved))


def _row(share: Share, view: View, now: datetime) -> FindingRow:
    finding = share.finding
    hidden = view.arn == "" and finding.resource_arn != ""
    return FindingRow(
        id=finding.id,
        rule=finding.rule,
        resource_kind=finding.resource_kind,
        resource_name=view.name,
        resource_arn=view.arn,
        owner=view.owner,
        space=view.space,
        domain_id=finding.domain_id,
        status=finding.status.value,
        condition_since=finding.condition_since,
        resolved_at=finding.resolved_at,
        resolution=finding.resolution,
        hourly_cost_usd=finding.hourly_cost_usd,
        period_waste_usd=None if share.unpriced_hours and not share.total else cents(share.total),
        waste_usd=finding.waste_usd(now),
        monthly_cost_usd=finding.monthly_cost_usd,
        summary="(private)" if hidden else finding.summary,
        unpriced_hours=round(share.unpriced_hours, 2),
        account=finding.account,
        region=finding.region,
    )
