"""`guardian inventory`: an account reconciled read-only, in memory; what it holds and who owns it."""

from datetime import UTC, datetime

from guardian.inventory import MemoryInventory
from guardian.scan import scan_guardian, scan_inventory
from guardian_cli.account import Endpoint, account, price_source
from guardian_cli.output import render, warn_of_collection_errors
from guardian_cli.progress import AuditProgress

# The record's fields a user reads (and a script parses): Resource.summary() has more.
INVENTORY_FIELDS = (
    "arn",
    "kind",
    "name",
    "state",
    "owner",
    "space",
    "domain_id",
    "sharing",
    "instance_type",
    "instance_count",
    "attribution",
)


def run(endpoint: Endpoint, fmt: str, tag_prefix: str) -> int:
    with account(endpoint, embedded_default=False) as clients, AuditProgress() as progress:
        guardian = scan_guardian(clients, tag_prefix=tag_prefix, price_source=price_source(endpoint))
        report = scan_inventory(guardian, datetime.now(UTC), progress.looked_up, progress.listed)
    inventory = guardian.inventory
    assert isinstance(inventory, MemoryInventory)  # scan_guardian's: in memory, so it can be read whole
    rows = [{k: r.summary()[k] for k in INVENTORY_FIELDS} for r in inventory.all()]
    print(render(rows, fmt, INVENTORY_FIELDS))
    warn_of_collection_errors(report)
    return 0
