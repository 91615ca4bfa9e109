"""`guardian demo`: a Studio account, its day and a half of events through the template's rules, the
one-time evaluation its stopped space schedules, then the hourly sweep, the inventory and the findings."""

from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from guardian.arns import Location
from guardian.aws import AwsClients
from guardian.dynamo_inventory import DynamoInventory
from guardian.findings import ACTIVE, Finding
from guardian.findings_store import DynamoFindings
from guardian.kinds import Kind
from guardian.models import Resource
from guardian_sandbox import studio
from guardian_sandbox.eventfactory import EventFactory, sample
from guardian_sandbox.scenario import ScheduledEvent, StudioAccount, delivery_order, malformed_event
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
FINDING_COLUMNS = (
    "rule",
    "resource_name",
    "owner",
    "space",
    "status",
    "hourly_cost_usd",
    "waste_usd",
    "monthly_cost_usd",
    "summary",
)


@dataclass
class DemoResult:
    now: datetime
    resources: list[Resource]
    findings: list[Finding]
    delivered: int = 0
    rejected: int = 0
    scheduled_evaluations: int = 0
    outcomes: Counter = field(default_factory=Counter)


def run(clients: AwsClients, say: Callable[[str], None], now: datetime | None = None) -> DemoResult:
    """Seed, replay, fire the due schedule, sweep. An embedded sandbox runs with Studio's state
    transitions already complete (the story is in the past)."""
    now = now or datetime.now(UTC)
    if not clients.endpoint_url:
        studio.settings.transition_seconds = 0
    stack = LocalStack(clients).deploy()
    location = Location(region=clients.region, account=SANDBOX_ACCOUNT)
    say(f"Seeding a Studio account in the sandbox ({clients.endpoint_url or 'embedded'}) ...")
    account = StudioAccount(clients, location, now)
    day = account.build()
    say(f"Replaying its events ({account.start:%a %H:%M} - {now:%a %H:%M} UTC) through the rules of template.yaml:\n")
    result = DemoResult(now=now, resources=[], findings=[])
    events = delivery_order(day)
    events.append(
        ScheduledEvent(now, "EMR event with a truncated reason", malformed_event(EventFactory(location), now))
    )
    _replay(stack, events, result, say)
    fired = stack.fire_due_schedules(now + timedelta(minutes=2))
    result.scheduled_evaluations = len(fired)
    for _, report in fired:
        say(
            f"\n  {now + timedelta(minutes=1):%a %H:%M}  one-time evaluation of alice-lab (30 min after it stopped): "
            f"{report['evaluation']['opened']} finding(s) opened"
        )
    say("\nThe hourly sweep reconciles what events did not say and evaluates every rule ...")
    report = stack.invoke("SweepFunction", sample_scheduled(now, location))
    kinds = report["kinds"].values()
    say(
        f"  listed {sum(k['listed'] for k in kinds)} resources, described {sum(k['described'] for k in kinds)}, "
        f"re-attributed {report['reattributed']}; findings: {report['evaluation']}\n"
    )
    table = stack.clients("dynamodb")
    inventory = DynamoInventory(table, stack.table_name)
    findings = DynamoFindings(table, stack.table_name)
    result.resources = [r for kind in Kind for r in inventory.by_kind(kind)]
    result.findings = sorted(
        (f for status in ACTIVE for f in findings.with_status(status)), key=lambda f: -(f.waste_usd(now) or 0)
    )
    return result


def _replay(stack: LocalStack, events: list[ScheduledEvent], result: DemoResult, say: Callable[[str], None]) -> None:
    seen: set[str] = set()
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
            if repeat and not any(r["changed"] for r in resources):
                note = "duplicate, nothing changed"
            else:
                note = ", ".join(
                    f"{r['kind']} {r['state']} owner={r['owner'] or '?'} ({r['attribution']})"
                    + (" +tags" if r["tagged"] else "")
                    for r in resources
                )
            say(f"  {scheduled.at:%a %H:%M}  {scheduled.label:<40} {note}")


def sample_scheduled(now: datetime, location: Location) -> dict:
    event = sample("scheduled.json", "sweep")
    return event | {"time": now.strftime("%Y-%m-%dT%H:%M:%SZ"), "account": location.account, "region": location.region}


def inventory_rows(resources: list[Resource], tag_prefix: str = "studio-cost-guardian") -> list[dict]:
    rows = []
    for resource in resources:
        row = resource.summary()
        row["tagged"] = f"{tag_prefix}:owner" in resource.tags
        rows.append(row)
    return rows


def finding_rows(findings: list[Finding], now: datetime) -> list[dict]:
    return [f.public(now) for f in findings]
