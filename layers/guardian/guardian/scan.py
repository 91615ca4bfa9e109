"""Read-only audits of an account: reconcile into memory, evaluate the rules, write nothing, tag nothing."""

from datetime import datetime

from guardian.aws import AwsClients, account_location
from guardian.evaluation import EvaluationReport, evaluate
from guardian.findings_store import MemoryFindings
from guardian.inventory import MemoryInventory
from guardian.reconcile import SweepReport, reconcile
from guardian.rules import RulesConfig
from guardian.runtime import Guardian, price_book
from guardian.settings import PriceSource, Settings


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


def scan_inventory(guardian: Guardian, now: datetime) -> SweepReport:
    return reconcile(guardian, now, account_location(guardian.clients))


def scan(guardian: Guardian, now: datetime) -> tuple[SweepReport, EvaluationReport]:
    """`guardian scan`: the whole sweep, in memory."""
    sweep = scan_inventory(guardian, now)
    # A scan's inventory is in memory (scan_guardian), so it can be read whole.
    assert isinstance(guardian.inventory, MemoryInventory)
    return sweep, evaluate(guardian, guardian.inventory.all(), now)
