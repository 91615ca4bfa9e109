"""What a resource costs per hour while it runs, from its shape and the price book."""

from dataclasses import dataclass
from decimal import Decimal

from guardian.kinds import Kind
from guardian.money import rate
from guardian.pricing import PriceBook, Usage
from guardian.resource import Resource

HOURS_PER_MONTH = Decimal(730)
# Apps that run on the system instance (Studio Classic's JupyterServer) bill nothing themselves.
FREE_INSTANCE = "system"


@dataclass(frozen=True)
class Cost:
    hourly: Decimal | None  # None: a type or region with no known price (never guessed as 0)
    basis: str  # how it was computed, for the evidence ("2 x ml.c5.xlarge hosting @ $0.204/h")

    @property
    def monthly(self) -> Decimal | None:
        return None if self.hourly is None else self.hourly * HOURS_PER_MONTH


def as_risk(cost: Cost) -> Cost:
    """The cost of a risk's finding (Rule.risk): nothing is wasted while the resource works, so $0 an hour;
    what the resource costs stays in the basis, for whoever reads the evidence."""
    return Cost(
        Decimal(0), f"a risk, not waste: nothing wasted while it works (it costs {rate(cost.hourly)}/h: {cost.basis})"
    )


def hourly_cost(resource: Resource, prices: PriceBook) -> Cost:
    region = resource.region
    if resource.kind is Kind.ENDPOINT:
        return _endpoint(resource, prices, region)
    if resource.kind is Kind.APP:
        if resource.app_type == "Canvas":
            return _priced(prices, Usage.CANVAS, "session", 1, region, "Canvas workspace session")
        if resource.instance_type in (None, FREE_INSTANCE):
            return Cost(Decimal(0), "runs on the free system instance")
        return _priced(prices, Usage.STUDIO, resource.instance_type, 1, region, f"{resource.app_type} app")
    if resource.kind is Kind.SPACE:
        gigabytes = resource.storage_gb or 5  # Studio's default space volume
        per_gb_month = prices.price(Usage.STORAGE, "gb-month", region)
        if per_gb_month is None:
            return Cost(None, f"{gigabytes} GB space storage: no price for {region}")
        return Cost(per_gb_month * gigabytes / HOURS_PER_MONTH, f"{gigabytes} GB ML storage @ ${per_gb_month}/GB-month")
    if resource.kind is Kind.EMR_CLUSTER:
        return _emr(resource, prices, region)
    if resource.kind is Kind.HYPERPOD_CLUSTER:
        return _groups(resource, prices, region, Usage.HYPERPOD, "HyperPod")
    if resource.kind is Kind.MLFLOW_TRACKING_SERVER:
        # Small is CreateMlflowTrackingServer's default size; a server whose size was never reported says so.
        size = resource.tracking_server_size or "Small"
        what = f"MLflow tracking server ({size}{'' if resource.tracking_server_size else ', the default size'})"
        return _priced(prices, Usage.MLFLOW, size, 1, region, what)
    if resource.kind is Kind.NOTEBOOK_INSTANCE and resource.instance_type:
        return _priced(prices, Usage.NOTEBOOK, resource.instance_type, 1, region, "notebook instance")
    if resource.kind is Kind.PARTNER_APP:
        # Priced by its tier; no tier known, or none in the price book, is unknown (never $0).
        what = f"Partner AI App ({resource.app_type or 'type not known'}, tier)"
        if not resource.instance_type:
            return Cost(None, f"{what}: tier not known yet")
        return _priced(prices, Usage.PARTNER_APP, resource.instance_type, 1, region, what)
    if resource.kind is Kind.INFERENCE_COMPONENT:
        # Its endpoint's instances bill (and are costed on the endpoint); its own share is not apportioned.
        return Cost(None, f"a share of endpoint {resource.endpoint_name or '(not known)'}'s instances, not apportioned")
    if resource.kind is Kind.S3_BUCKET:
        return _bucket(resource, prices, region)
    return Cost(None, f"no cost model for {resource.kind.value}")


BYTES_PER_GB = Decimal(1024**3)  # S3 bills GB-months of 2^30 bytes


def _bucket(resource: Resource, prices: PriceBook, region: str) -> Cost:
    """S3 Standard storage for the bucket's size, from its daily BucketSizeBytes (guardian.bucket_size)."""
    if resource.size_bytes is None:
        return Cost(None, "size not known yet: no BucketSizeBytes datapoint (S3 reports it once a day)")
    gigabytes = Decimal(resource.size_bytes) / BYTES_PER_GB
    per_gb_month = prices.price(Usage.S3, "gb-month", region)
    if per_gb_month is None:
        return Cost(None, f"{gigabytes:.2f} GB in S3 Standard: no price for {region}")
    return Cost(
        per_gb_month * gigabytes / HOURS_PER_MONTH, f"{gigabytes:.2f} GB S3 Standard @ ${per_gb_month}/GB-month"
    )


def _priced(prices: PriceBook, usage: Usage, instance_type: str, count: int, region: str, what: str) -> Cost:
    price = prices.price(usage, instance_type, region)
    if price is None:
        return Cost(None, f"{what}: no price for {instance_type} in {region}")
    return Cost(price * count, f"{count} x {instance_type} {what} @ ${price}/h")


def _endpoint(resource: Resource, prices: PriceBook, region: str) -> Cost:
    if resource.serverless:
        return Cost(Decimal(0), "serverless: billed per request, nothing while idle")
    if resource.instance_count == 0:
        return Cost(Decimal(0), "scaled to zero instances")
    variants = [g for g in resource.groups.values() if g.instance_type and not g.serverless]
    if not variants:
        return Cost(None, "instance type not known yet (endpoint config not read)")
    types = {g.instance_type for g in variants if g.instance_type}
    if len(types) == 1 and resource.instance_count:
        # One type: the endpoint's current total count (events keep it fresher than per-variant counts).
        return _priced(prices, Usage.HOSTING, types.pop(), resource.instance_count, region, "hosting")
    return _sum(
        [
            _priced(prices, Usage.HOSTING, g.instance_type, g.instance_count or 1, region, "hosting")
            for g in variants
            if g.instance_type
        ]
    )


def _emr(resource: Resource, prices: PriceBook, region: str) -> Cost:
    parts = []
    for group in resource.groups.values():
        if not group.instance_type or not group.instance_count:
            continue
        ec2 = _priced(prices, Usage.EC2, group.instance_type, group.instance_count, region, "EC2")
        uplift = _priced(prices, Usage.EMR, group.instance_type, group.instance_count, region, "EMR")
        spot = " (spot, priced at on-demand)" if group.market == "SPOT" else ""
        parts += [Cost(ec2.hourly, f"{group.role or ''} {ec2.basis}{spot}".strip()), uplift]
    if not parts:
        return Cost(None, "instance groups not known yet")
    return _sum(parts)


def _groups(resource: Resource, prices: PriceBook, region: str, usage: Usage, what: str) -> Cost:
    parts = [
        _priced(prices, usage, g.instance_type, g.instance_count, region, what)
        for g in resource.groups.values()
        if g.instance_type and g.instance_count
    ]
    return _sum(parts) if parts else Cost(None, "instance groups not known yet")


def _sum(parts: list[Cost]) -> Cost:
    basis = " + ".join(p.basis for p in parts)
    hourly = [p.hourly for p in parts]
    if any(h is None for h in hourly):
        return Cost(None, basis)
    return Cost(sum((h for h in hourly if h is not None), Decimal(0)), basis)
