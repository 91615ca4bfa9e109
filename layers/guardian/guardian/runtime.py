"""What every entry point needs, built once: settings, clients, the inventory, the findings, the prices."""

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from guardian.arns import Location
from guardian.attribution import Directory, OwnershipTags
from guardian.aws import AwsClients, account_location
from guardian.dynamo_inventory import DynamoInventory
from guardian.findings_store import DynamoFindings, FindingsStore
from guardian.inventory import Inventory
from guardian.kinds import Kind
from guardian.pricing import PRICE_LIST_REGION, BundledPrices, PriceBook, PriceListPrices
from guardian.rules import RulesConfig
from guardian.settings import Settings

if TYPE_CHECKING:  # delivery.py builds on the Guardian
    from guardian.delivery import Delivery

# Profiles and domains change rarely; a warm function reloads them at most this often.
DIRECTORY_TTL = timedelta(minutes=5)


@dataclass
class Guardian:
    settings: Settings
    clients: AwsClients
    inventory: Inventory
    findings: FindingsStore
    prices: PriceBook
    delivery: "Delivery | None" = field(default=None, repr=False)  # the outbox and channels, made when needed
    _directory: Directory | None = field(default=None, repr=False)
    _directory_at: datetime | None = field(default=None, repr=False)

    @classmethod
    def deployed(cls, settings: Settings, clients: AwsClients | None = None) -> "Guardian":
        clients = clients or AwsClients(region=settings.region)
        table = clients("dynamodb")
        return cls(
            settings,
            clients,
            DynamoInventory(table, settings.table_name),
            DynamoFindings(table, settings.table_name),
            price_book(settings.price_source, clients),
        )

    @property
    def write_tags(self) -> bool:
        return self.settings.write_tags

    @property
    def rules(self) -> RulesConfig:
        return self.settings.rules

    @property
    def ownership_tags(self) -> OwnershipTags:
        return OwnershipTags(self.settings.tag_prefix)

    def location(self) -> Location:
        """The account and region this guardian watches (no call when the stack says the account)."""
        if self.settings.account_id:
            return Location(region=self.clients.region, account=self.settings.account_id)
        return account_location(self.clients)

    def directory(self, now: datetime) -> Directory:
        if self._directory is None or self._directory_at is None or now - self._directory_at > DIRECTORY_TTL:
            self._directory = Directory(
                profiles=list(self.inventory.by_kind(Kind.USER_PROFILE)),
                domains={d.domain_id or d.name: d for d in self.inventory.by_kind(Kind.DOMAIN)},
                space_lookup=self.inventory.get,
            )
            self._directory_at = now
        return self._directory

    def forget_directory(self) -> None:
        """Profiles, domains or spaces changed: look them up afresh."""
        self._directory = None


def price_book(source: str, clients: AwsClients) -> PriceBook:
    """The Price List API (with the bundled table behind it), or the bundled table alone (offline)."""
    if source == "bundled":
        return BundledPrices()
    return PriceListPrices(lambda: clients("pricing", PRICE_LIST_REGION))


_cached: dict[Settings, Guardian] = {}


def from_env(env: Mapping[str, str], clients: AwsClients | None = None) -> Guardian:
    """The Guardian for a function's environment (handlers pass ``os.environ``), kept across warm
    invocations unless clients are given (tests, the sandbox)."""
    settings = Settings.from_env(env)
    if clients is not None:
        return Guardian.deployed(settings, clients)
    if settings not in _cached:
        _cached[settings] = Guardian.deployed(settings)
    return _cached[settings]


def forget_cached() -> None:
    """Drop guardians kept across invocations: a new sandbox or test starts from fresh clients."""
    _cached.clear()
