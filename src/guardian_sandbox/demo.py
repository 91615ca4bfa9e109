"""`guardian demo`: a Studio account, its day and a half of events through the template's rules, the
one-time evaluation its stopped space schedules, the hourly sweep, the alerts its findings send; then a
live act (a space stopped with two endpoints running, then the endpoints deleted), the team's digest,
the inventory and the findings."""

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from guardian.arns import Location
from guardian.aws import AwsClients
from guardian.dynamo_inventory import DynamoInventory
from guardian.findings import ACTIVE, Finding
from guardian.findings_store import DynamoFindings
from guardian.kinds import Kind
from guardian.resource import Resource
from guardian_sandbox import clock, studio
from guardian_sandbox.eventfactory import EventFactory, sample
from guardian_sandbox.scenario import (
    OWNER_EMAILS,
    PROFILES,
    ScheduledEvent,
    StudioAccount,
    delivery_order,
    malformed_event,
)
from guardian_sandbox.stack import SANDBOX_ACCOUNT, SandboxStack

LIVE_ACT = timedelta(hours=1)  # the story ends this long before now; the live act happens in between
TEAM_EMAIL = "platform-team@example.com"  # the stack's TeamEmail parameter
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
    now: datetime
    resources: list[Resource]
    findings: list[Finding]
    delivered: int = 0
    rejected: int = 0
    messages: list[dict[str, Any]] = field(default_factory=list)  # every email, as the topic sent it
    redelivered_messages: int = 0  # what a duplicate stream batch sent (nothing, if deduplication works)


def run(
    clients: AwsClients, say: Callable[[str], None], now: datetime | None = None, slack_webhook: str | None = None
) -> DemoResult:
    """Seed, replay, fire the due schedule, sweep, alert; then the live act and the team's digest. The story
    ends an hour before ``now``; the live act fills that hour. An embedded sandbox runs with Studio's state
    transitions already complete (the story is in the past)."""
    now = now or datetime.now(UTC)
    story_end = now - LIVE_ACT
    if not clients.endpoint_url:
        studio.settings.transition_seconds = 0
    # Each owner follows SNS's confirmation link at once: on AWS, email to a subscription not yet confirmed is
    # held until it is (tests/integration/test_reached.py shows that).
    parameters = {"OWNER_EMAILS": json.dumps(OWNER_EMAILS)}
    stack = SandboxStack(clients, parameters=parameters, confirm_subscriptions_automatically=True).deploy()
    stack.subscribe_team(TEAM_EMAIL)
    if slack_webhook:  # every channel, the team's and each person's, is this one webhook
        stack.use_slack(json.dumps({"team": slack_webhook, "owners": dict.fromkeys(PROFILES, slack_webhook)}))
    location = Location(region=clients.region, account=SANDBOX_ACCOUNT)
    say(f"Seeding a Studio account in the sandbox ({clients.endpoint_url or 'embedded'}) ...")
    account = StudioAccount(clients, location, story_end)
    day = account.build()
    say(
        f"Replaying its events ({account.start:%a %H:%M} - {story_end:%a %H:%M} UTC) through the rules of "
        "template.yaml:\n"
    )
    result = DemoResult(now=now, resources=[], findings=[])
    events = delivery_order(day)
    events.append(
        ScheduledEvent(
            story_end, "EMR event with a truncated reason", malformed_event(EventFactory(location), story_end)
        )
    )
    with clock.at(clients, story_end):
        _replay(stack, events, result, say)
    checked = story_end + timedelta(minutes=2)
    with clock.at(clients, checked):
        fired = stack.fire_due_schedules(checked)
    for request, report in fired:
        say(f"  {checked:%a %H:%M}  {_evaluation_line(request, report)}")
    say("\nThe hourly sweep reconciles what events did not say and evaluates every rule ...")
    swept = story_end + timedelta(minutes=3)
    with clock.at(clients, swept):
        report = stack.invoke("SweepFunction", sample_scheduled(swept, location))
    kinds = report["kinds"].values()
    say(
        f"  listed {sum(k['listed'] for k in kinds)} resources, described {sum(k['described'] for k in kinds)}, "
        f"re-attributed {report['reattributed']}; findings: {report['evaluation']}"
    )
    say(
        "\nAlerts: each change of a finding reaches the notify function through the table's stream (each owner "
        "confirms SNS's subscription email at once here; until then their email would be held); the messages:"
    )
    with clock.at(clients, swept + timedelta(minutes=1)):
        _alerts(stack, result, say)
    _live_act(stack, account, story_end, result, say)
    say("\nThe team's daily digest (TeamNotifications=digest): findings in private spaces counted, not named.")
    stack.invoke("NotifyFunction", {"digest": True})
    _print_mail(stack, result, say)
    table = stack.clients("dynamodb")
    inventory = DynamoInventory(table, stack.table_name)
    findings = DynamoFindings(table, stack.table_name)
    result.resources = [r for kind in Kind for r in inventory.by_kind(kind)]
    result.findings = sorted(
        (f for status in ACTIVE for f in findings.with_status(status)), key=lambda f: -(f.waste_usd(now) or 0)
    )
    return result


def _live_act(
    stack: SandboxStack, account: StudioAccount, story_end: datetime, result: DemoResult, say: Callable[[str], None]
) -> None:
    """erin stops erin-nlp while sentiment-a and sentiment-b still serve from it, then deletes them."""
    clients = stack.clients
    stopped = story_end + timedelta(minutes=5)
    say(f"\nLive: erin stops her private space erin-nlp at {stopped:%H:%M}; its two endpoints keep billing.")
    with clock.at(clients, stopped):
        _replay(stack, [account.stop_space("erin-nlp", "erin", stopped)], result, say)
    due = stopped + timedelta(minutes=30)
    with clock.at(clients, due):
        for request, report in stack.fire_due_schedules(due):
            say(f"  {due:%a %H:%M}  {_evaluation_line(request, report)}")
        _alerts(stack, result, say)
    deleted = due + timedelta(minutes=10)
    say(f"\nerin deletes both endpoints at {deleted:%H:%M}:")
    with clock.at(clients, deleted):
        deletions = [account.delete_endpoint(name, "erin", deleted) for name in ("sentiment-a", "sentiment-b")]
        _replay(stack, deletions, result, say)
        _alerts(stack, result, say)
        say("\nLambda hands the notify function that stream batch again (streams deliver at least once):")
        stack.redeliver_last_batch()
        result.redelivered_messages = len(_print_mail(stack, result, say))


def _evaluation_line(request: dict[str, Any], report: dict[str, Any]) -> str:
    scope = request["evaluate"]
    target = (scope.get("space_arn") or scope.get("owner_arn") or "").rsplit("/", 1)[-1]
    return (
        f"one-time evaluation of {target} (its orphan grace is over): "
        f"{report['evaluation']['opened']} finding(s) opened"
    )


def _alerts(stack: SandboxStack, result: DemoResult, say: Callable[[str], None]) -> None:
    stack.pump_streams()
    _print_mail(stack, result, say)


def _print_mail(stack: SandboxStack, result: DemoResult, say: Callable[[str], None]) -> list[dict[str, Any]]:
    mail = stack.mailbox()
    if not mail:
        say("  (no message sent)")
    for message in mail:
        result.messages.append(message)
        audience = message["attributes"].get("audience")
        whom = f"owner {message['attributes'].get('owner')}" if audience == "owner" else "the team"
        say(f"\n  To: {', '.join(message['to']) or 'nobody subscribed'} ({whom})")
        say(f"  Subject: {message['subject']}")
        say("\n".join(f"  | {line}" for line in message["text"].splitlines()))
    return mail


def _replay(stack: SandboxStack, events: list[ScheduledEvent], result: DemoResult, say: Callable[[str], None]) -> None:
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
            if repeat and not any(r["changed"] for r in resources):
                note = "duplicate, nothing changed"
            else:
                note = ", ".join(
                    f"{r['kind']} {r['state']} owner={r['owner'] or '?'} ({r['attribution']})"
                    + (" +tags" if r["tagged"] else "")
                    for r in resources
                )
            say(f"  {scheduled.at:%a %H:%M}  {scheduled.label:<40} {note}")


def sample_scheduled(now: datetime, location: Location) -> dict[str, Any]:
    event = sample("scheduled.json", "sweep")
    return event | {"time": now.strftime("%Y-%m-%dT%H:%M:%SZ"), "account": location.account, "region": location.region}


def inventory_rows(resources: list[Resource], tag_prefix: str = "studio-cost-guardian") -> list[dict[str, Any]]:
    """The inventory as `guardian demo` prints it: each record's summary, and whether it carries the
    guardian's ownership tag."""
    rows = []
    for resource in resources:
        row = resource.summary()
        row["tagged"] = f"{tag_prefix}:owner" in resource.tags
        rows.append(row)
    return rows
