"""Read-only audits of an account: reconcile into memory, evaluate the rules, write nothing, tag nothing.

An account the guardian never watched has no records of when things happened or who did them; a scan reads
them from CloudTrail's event history instead (guardian.evidence: LookupEvents, 90 days of management events,
no trail needed), with a scan's budget of calls (SCAN_MAX_CALLS, paced at the service's 2 a second): when
each stopped space stopped (its newest DeleteApp), and who created each billable resource (its Create call's
caller: role and source identity, read by the event path's translators). Without that history (denied,
throttled, the budget spent) the scan still completes: a stop is then known only to be before the scan, and
the findings say so ("stopped before <time>")."""

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from guardian.attribution import STRONG_SOURCES
from guardian.aws import AwsClients, account_location
from guardian.evaluation import EvaluationReport, evaluate
from guardian.evidence import SCAN_MAX_CALLS, Evidence
from guardian.findings_store import MemoryFindings
from guardian.inventory import MemoryInventory
from guardian.kinds import BILLABLE_OUTSIDE_SPACE, is_gone
from guardian.observability import logger
from guardian.reconcile import SweepProgress, SweepReport, reconcile
from guardian.recording import record
from guardian.resource import Observation, Resource
from guardian.rules import RulesConfig
from guardian.runtime import Guardian, price_book
from guardian.settings import PriceSource, Settings

# Hears (LookupEvents calls made, calls allowed) after each call: a progress line.
Progress = Callable[[int, int], None]


@dataclass(frozen=True)
class HistoryReport:
    """What a scan read of CloudTrail's event history."""

    calls: int  # LookupEvents calls made
    max_calls: int  # the scan's budget
    failed: str | None  # why it stopped looking (an error, the budget spent), or None
    attributed: int  # resources whose creator the history named


@dataclass(frozen=True)
class ScanReport:
    sweep: SweepReport
    evaluation: EvaluationReport
    history: HistoryReport


def scan_guardian(
    clients: AwsClients,
    rules: RulesConfig | None = None,
    tag_prefix: str = "studio-cost-guardian",
    price_source: PriceSource = "price-list",
) -> Guardian:
    settings = Settings(
        TABLE_NAME="in-memory",
        AWS_REGION=clients.region,
        TAG_PREFIX=tag_prefix,
        WRITE_TAGS=False,
        PRICE_SOURCE=price_source,
        rules=rules or RulesConfig(),
    )
    return Guardian(settings, clients, MemoryInventory(), MemoryFindings(), price_book(price_source, clients))


def scan_inventory(
    guardian: Guardian, now: datetime, progress: Progress | None = None, sweep_progress: SweepProgress | None = None
) -> SweepReport:
    """The account reconciled into memory, dated and attributed from CloudTrail's history (`guardian inventory`).
    ``progress`` hears the LookupEvents calls, ``sweep_progress`` the resources listed and described."""
    evidence = Evidence(guardian.clients, now, SCAN_MAX_CALLS, progress)
    return _inventory(guardian, now, evidence, sweep_progress)[0]


def scan(
    guardian: Guardian, now: datetime, progress: Progress | None = None, sweep_progress: SweepProgress | None = None
) -> ScanReport:
    """`guardian scan`: the whole sweep, in memory, and every rule as a one-off audit (RuleContext.audit).
    ``progress`` hears the LookupEvents calls, ``sweep_progress`` the resources listed and described."""
    evidence = Evidence(guardian.clients, now, SCAN_MAX_CALLS, progress)
    sweep, history = _inventory(guardian, now, evidence, sweep_progress)
    # A scan's inventory is in memory (scan_guardian), so it can be read whole.
    assert isinstance(guardian.inventory, MemoryInventory)
    return ScanReport(sweep, evaluate(guardian, guardian.inventory.all(), now, audit=True), history)


def _inventory(
    guardian: Guardian, now: datetime, evidence: Evidence, sweep_progress: SweepProgress | None = None
) -> tuple[SweepReport, HistoryReport]:
    _buckets_from_history(guardian, evidence, now)
    sweep = reconcile(guardian, now, account_location(guardian.clients), evidence, sweep_progress)
    attributed = _attribute_from_history(guardian, sweep, evidence, now)
    history = HistoryReport(evidence.calls, evidence.max_calls, evidence.failed, attributed)
    logger.info("scan read CloudTrail's history", extra=vars(history))
    return sweep, history


def _buckets_from_history(guardian: Guardian, evidence: Evidence, now: datetime) -> int:
    """The buckets made from Studio, from their CreateBucket calls (the event path's record of each): no list
    call says which buckets are Studio's. Recorded before the sweep, which then says which are gone."""
    made = sorted(evidence.made("CreateBucket"), key=lambda call: call.observed_at)
    for call in made:
        record(guardian, call, now, follow_up=False)
    return len(made)


def _attribute_from_history(guardian: Guardian, sweep: SweepReport, evidence: Evidence, now: datetime) -> int:
    """Each live billable resource's creator, from its Create call, recorded as its event would have (the
    owner follows from it, guardian.attribution). Those no strong evidence names an owner for come first,
    newest first (the fewest pages back), should the budget run out."""
    held = [
        r for r in sweep.resources if r.kind in BILLABLE_OUTSIDE_SPACE and not is_gone(r.state) and r.creator is None
    ]
    held.sort(key=lambda r: (r.attribution.source in STRONG_SOURCES, -(r.created_at or now).timestamp()))
    attributed = 0
    for resource in held:
        creation = evidence.creation(resource)  # once the lookups fail, from what they read before
        if creation is None:
            continue
        record(guardian, _creator_only(resource, creation), now, follow_up=False)
        attributed += 1
    return attributed


def _creator_only(resource: Resource, creation: Observation) -> Observation:
    """Of the Create call, only who made it: the describe the scan made since knows the rest better."""
    return creation.model_copy(
        update={"arn": resource.arn, "fields": {"creator": creation.fields["creator"]}, "tags": None, "groups": None}
    )
