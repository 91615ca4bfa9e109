"""What every entry point needs, built once: settings, clients, the inventory, the findings, the prices."""

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from guardian.arns import Location, location_of
from guardian.attribution import Directory, OwnershipTags
from guardian.aws import AwsClients, MemberClients, account_location
from guardian.dynamo_inventory import DynamoInventory
from guardian.findings_store import DynamoFindings, FindingsStore
from guardian.inventory import Inventory
from guardian.kinds import Kind
from guardian.pricing import PRICE_LIST_REGION, BundledPrices, PriceBook, PriceListPrices
from guardian.rules import RulesConfig
from guardian.settings import Settings

if TYPE_CHECKING:  # delivery.py builds on the Guardian
    from guardian.delivery import Delivery


class ForeignAccount(ValueError):
    """An account this guardian does not watch (not its own, and not a member of what it was given)."""


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
    home: Location | None = None  # where it watches (None: where its clients are, asked once)
    hub: "Guardian | None" = field(default=None, repr=False)  # a member's (Guardian.at): where others are reached
    _directories: dict[Location | None, tuple[Directory, datetime]] = field(default_factory=dict, repr=False)
    _members: dict[tuple[Location, bool], "Guardian"] = field(default_factory=dict, repr=False)

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
        if self.home is None:
            if self.settings.account_id:
                self.home = Location(region=self.clients.region, account=self.settings.account_id)
            else:
                self.home = account_location(self.clients)
        return self.home

    def scope(self) -> Location | None:
        """The one account and region whose records and findings this guardian judges; None when it watches
        only its own, so everything stored is its (and no call is made to learn where it is)."""
        return self.location() if self.hub is not None or self.settings.watches_members else None

    def watches(self, account: str) -> bool:
        """Its own account, a listed member, or (in an organization) any account: the hub's bus accepts events
        from the organization only, and its role may be assumed only in the organization's accounts."""
        settings = self.settings
        return (
            account == self.location().account or account in settings.member_accounts or bool(settings.organization_id)
        )

    def at(self, account: str | None = None, region: str | None = None, acting: bool = False) -> "Guardian":
        """The guardian of another account or region: the same table, stores, prices and delivery, with clients
        there through the member template's role (read-only; ``acting``: its remediation role), in the hub's
        own account too, whose statements name the hub's region only. Kept for the container's life, as its
        credentials are (botocore refreshes them). Raises ForeignAccount for an account it does not watch."""
        if self.hub is not None:
            return self.hub.at(account, region, acting)
        home = self.location()
        where = Location(region=region or home.region, account=account or home.account, partition=home.partition)
        if where == home or (where.account == home.account and not self.settings.watches_members):
            return self  # a single-account stack hears of its own region only (EventBridge is regional)
        if not self.watches(where.account):
            raise ForeignAccount(f"account {where.account} is not watched by this guardian")
        if (where, acting) not in self._members:
            settings = self.settings
            role = settings.member_role_arn(where.account, home.partition, acting)
            clients = MemberClients(self.clients, where.region, role, settings.member_external_id)
            self._members[where, acting] = Guardian(
                settings, clients, self.inventory, self.findings, self.prices, home=where, hub=self
            )
        return self._members[where, acting]

    def at_arn(self, arn: str, acting: bool = False) -> "Guardian":
        """The guardian of where ``arn`` lives (its own, for an ARN that names no account)."""
        where = location_of(arn)
        return self.at(where.account or None, where.region or None, acting)

    def directory(self, now: datetime, everywhere: bool = False) -> Directory:
        """Who owns what where it watches (a hub's own account and region, or a member's: owners are attributed
        by name within one). ``everywhere``: every account's profiles, as an owner named in a message is
        looked up (the same name in two accounts: the first found)."""
        key = None if everywhere else self.scope()
        held = self._directories.get(key)
        if held is None or now - held[1] > DIRECTORY_TTL:
            directory = Directory(
                profiles=list(self.inventory.by_kind(Kind.USER_PROFILE, key)),
                domains={d.domain_id or d.name: d for d in self.inventory.by_kind(Kind.DOMAIN, key)},
                space_lookup=self.inventory.get,
            )
            held = self._directories[key] = (directory, now)
        return held[0]

    def forget_directory(self) -> None:
        """Profiles, domains or spaces changed: look them up afresh."""
        self._directories.clear()


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
