"""`guardian demo`: a Studio account, its day of events through the template's rules, then the sweep."""

from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from guardian.arns import Location
from guardian.aws import AwsClients
from guardian.dynamo_inventory import DynamoInventory
from guardian.kinds import Kind
from guardian.models import Resource

from guardian_sandbox import studio
from guardian_sandbox.eventfactory import EventFactory, sample
from guardian_sandbox.scenario import StudioAccount, delivery_order, malformed_event
from guardian_sandbox.stack import SANDBOX_ACCOUNT, LocalStack

INVENTORY_COLUMNS = (
    "kind",
    "name",
    "state",
    "running",
    "owner",
    "space",
    "sharing",
    "attribution",
    "instance_type",
    "instance_count",
    "tagged",
)


@dataclass
class DemoResult:
    resources: list[Resource]
    delivered: int = 0
    rejected: int = 0
    outcomes: Counter = field(default_factory=Counter)


def run(clients: AwsClients, say: Callable[[str], None], now: datetime | None = None) -> DemoResult:
    """Seed, replay and sweep. The account was built over the past day, so an embedded sandbox runs
    with Studio's state transitions already complete."""
    now = now or datetime.now(UTC)
    if not clients.endpoint_url:
        studio.settings.transition_seconds = 0
    stack = LocalStack(clients).deploy()
    location = Location(region=clients.region, account=SANDBOX_ACCOUNT)
    start = (now - timedelta(hours=10)).replace(minute=0, second=0, microsecond=0)
    say(f"Seeding a Studio account in the sandbox ({clients.endpoint_url or 'embedded'}) ...")
    day = StudioAccount(clients, location, start).build()
    say(f"Replaying its day ({start:%H:%M}-{now:%H:%M} UTC) through the rules of template.yaml:\n")
    result = DemoResult(resources=[])
    seen: set[str] = set()
    events = delivery_order(day)
    events.append(
        type(events[0])(now, "EMR event with a truncated reason", malformed_event(EventFactory(location), now))
    )
    for scheduled in events:
        repeat = scheduled.event["id"] in seen
        seen.add(scheduled.event["id"])
        for delivery in stack.deliver(scheduled.event):
            result.delivered += 1
            if delivery.error is not None:
                result.rejected += 1
                say(f"  {scheduled.at:%a %H:%M}  {scheduled.label:<40} REJECTED and parked: {delivery.error}")
                continue
            resources = delivery.result["resources"]
            result.outcomes.update("changed" if r["changed"] else "unchanged" for r in resources)
            note = (
                "duplicate, nothing changed"
                if repeat and not any(r["changed"] for r in resources)
                else ", ".join(
                    f"{r['kind']} {r['state']} owner={r['owner'] or '?'} ({r['attribution']})"
                    + (" +tags" if r["tagged"] else "")
                    for r in resources
                )
            )
            say(f"  {scheduled.at:%a %H:%M}  {scheduled.label:<40} {note}")
    say("\nThe hourly sweep reconciles what events did not say ...")
    report = stack.invoke("SweepFunction", sample_scheduled(now, location))
    described = sum(k["described"] for k in report["kinds"].values())
    say(
        f"  listed {sum(k['listed'] for k in report['kinds'].values())} resources, described {described}, "
        f"re-attributed {report['reattributed']}\n"
    )
    inventory = DynamoInventory(clients("dynamodb"), stack.table_name)
    result.resources = [r for kind in Kind for r in inventory.by_kind(kind)]
    return result


def sample_scheduled(now: datetime, location: Location) -> dict:
    event = sample("scheduled.json", "sweep")
    return event | {"time": now.strftime("%Y-%m-%dT%H:%M:%SZ"), "account": location.account, "region": location.region}


def inventory_rows(resources: list[Resource], tag_prefix: str = "studio-cost-guardian") -> list[dict]:
    rows = []
    for resource in resources:
        row = resource.summary()
        row["tagged"] = any(key.startswith(f"{tag_prefix}:") for key in resource.tags)
        rows.append(row)
    return rows


__all__ = ["INVENTORY_COLUMNS", "DemoResult", "inventory_rows", "run", "sample"]
