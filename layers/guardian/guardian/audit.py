"""Read-only audits of an account: reconcile into memory, write nothing, tag nothing."""

from datetime import datetime

from guardian.aws import AwsClients, account_location
from guardian.inventory import MemoryInventory
from guardian.reconcile import SweepReport, reconcile
from guardian.runtime import Guardian
from guardian.settings import Settings


def audit_inventory(
    clients: AwsClients, now: datetime, tag_prefix: str = "studio-cost-guardian"
) -> tuple[MemoryInventory, SweepReport]:
    inventory = MemoryInventory()
    settings = Settings(TABLE_NAME="in-memory", AWS_REGION=clients.region, TAG_PREFIX=tag_prefix, WRITE_TAGS=False)
    guardian = Guardian(settings, clients, inventory, write_tags=False)
    report = reconcile(guardian, now, account_location(clients))
    return inventory, report
