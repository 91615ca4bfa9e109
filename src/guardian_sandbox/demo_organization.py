"""`guardian demo --accounts N --regions M`: the demo's day across an organization. The sandbox holds an
organization (guardian_sandbox.organization: the hub is the management account, members made with
CreateAccount, member-template.yaml deployed to every account and region); each account and region runs the
demo's Studio domain (guardian_sandbox.scenario), whose events its member rules forward to the hub's bus, where
the hub's ingest records them; the hourly sweep fans out to every account and region; one member's role is
then removed, and the next sweep reports it unreachable while the others are swept; then the alerts, the
findings with their account and region, and the weekly report with its by-account view."""

import json
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from guardian import report_format
from guardian.arns import Location
from guardian.aws import AwsClients
from guardian.dynamo_inventory import DynamoInventory
from guardian.findings import ACTIVE, Finding
from guardian.findings_store import DynamoFindings
from guardian.kinds import Kind
from guardian.period import Period
from guardian.report import report_for
from guardian.resource import Resource
from guardian.runtime import forget_cached
from guardian_sandbox import clock, organization, studio
from guardian_sandbox.demo import LIVE_ACT, TEAM_EMAIL
from guardian_sandbox.eventfactory import Caller
from guardian_sandbox.scenario import OWNER_EMAILS, PROFILES, ScheduledEvent, StudioAccount, delivery_order
from guardian_sandbox.stack import SandboxStack

# The regions a demo of M regions sweeps: the hub's, then these in turn.
OTHER_REGIONS = ("eu-west-1", "us-west-2", "ap-southeast-2", "eu-central-1", "ca-central-1")


@dataclass
class OrganizationDemoResult:
    now: datetime
    organization_id: str
    accounts: list[str]
    regions: list[str]
    broken: str | None
    resources: list[Resource] = field(default_factory=list)
    findings: list[Finding] = field(default_factory=list)
    forwarded: int = 0  # deliveries to the hub's functions of events raised outside the hub's own bus
    delivered: int = 0
    rejected: int = 0
    kept: int = 0  # events no member rule matched: they stayed in their account
    sweeps: list[dict[str, Any]] = field(default_factory=list)  # the last fan-out's children
    fan_out: str = ""  # how the sweep fanned out
    messages: list[dict[str, Any]] = field(default_factory=list)
    report: list[str] = field(default_factory=list)  # the weekly report's summary lines


def regions_for(hub_region: str, count: int) -> list[str]:
    return [hub_region, *[r for r in OTHER_REGIONS if r != hub_region][: count - 1]]


def run(
    clients: AwsClients,
    say: Callable[[str], None],
    accounts: int,
    regions: int,
    now: datetime | None = None,
    slack_webhook: str | None = None,
) -> OrganizationDemoResult:
    """Build the organization, tell each account and region's day through the member rules, fan the sweep out,
    break the last member, sweep again, send the alerts and write the report. ``accounts``/``regions``: at
    least 1; the last member is broken only when there is one."""
    now = now or datetime.now(UTC)
    story_end = now - LIVE_ACT
    if not clients.endpoint_url:
        studio.settings.transition_seconds = 0
    say(f"Seeding an organization in the sandbox ({clients.endpoint_url or 'embedded'}) ...")
    org = organization.build(clients, accounts, regions_for(clients.region, regions))
    parameters = org.hub_parameters() | {"OWNER_EMAILS": json.dumps(OWNER_EMAILS)}
    stack = SandboxStack(clients, parameters=parameters, confirm_subscriptions_automatically=True).deploy()
    stack.subscribe_team(TEAM_EMAIL)
    if slack_webhook:
        stack.use_slack(json.dumps({"team": slack_webhook, "owners": dict.fromkeys(PROFILES, slack_webhook)}))
    say(
        f"  organization {org.organization_id}: the hub {org.hub_account} (its management account) and "
        f"{len(org.members)} member(s) {', '.join(org.members) or '-'}; regions {', '.join(org.regions)}"
    )
    say(
        f"  member-template.yaml deployed to {len(org.locations())} stack instance(s): {org.role_name} in each "
        f"account, forwarding rules to the hub's bus in every account and region but the hub's own"
    )
    result = OrganizationDemoResult(
        now, org.organization_id, org.accounts, org.regions, broken=org.members[-1] if org.members else None
    )
    say(
        f"\nEach account and region runs a Studio domain (alice, bob, carol, dave, erin); its day "
        f"({story_end - timedelta(hours=30):%a %H:%M} - {story_end:%a %H:%M} UTC) reaches the hub's ingest:"
    )
    worlds: dict[Location, StudioAccount] = {}
    for where in org.locations():
        world = StudioAccount(org.clients(where.account, where.region), where, story_end)
        worlds[where] = world
        events = delivery_order(world.build())
        events.append(_unforwarded(world, story_end))
        with clock.at(clients, story_end):
            _replay(org, stack, where, [e.event for e in events], result, say)
    say("\nThe hourly sweep of every account and region (the hub's own through its role too):")
    swept = story_end + timedelta(minutes=3)
    with clock.at(clients, swept):
        _sweep_all(stack, result, say)
    with clock.at(clients, swept + timedelta(minutes=1)):
        stack.pump_streams()
        _mail(stack, result)
    if result.broken:
        say(f"\nSomeone deletes {org.role_name} in {result.broken}; the next hourly sweep:")
        org.break_member(result.broken)
        # An hour on, the role sessions the sweep holds have expired (AssumeRole's default hour): assumed afresh.
        forget_cached()
        with clock.at(clients, swept + timedelta(hours=1)):
            _sweep_all(stack, result, say)
            stack.pump_streams()
        with clock.at(clients, swept + timedelta(hours=1, minutes=1)):
            _mail(stack, result)
    by_audience = Counter(m["attributes"].get("audience", "team") for m in result.messages)
    say(
        f"\nAlerts: {len(result.messages)} emails through the table's stream and the topic "
        f"({', '.join(f'{n} to {who}' for who, n in sorted(by_audience.items()))})."
    )
    table = stack.clients("dynamodb")
    inventory = DynamoInventory(table, stack.table_name)
    findings = DynamoFindings(table, stack.table_name)
    result.resources = [r for kind in Kind for r in inventory.by_kind(kind)]
    result.findings = [f for status in ACTIVE for f in findings.with_status(status)]
    report = report_for(findings, Period.last_days(now, 7, "UTC"), now)
    result.report = report_format.summary_lines(report)
    return result


def _unforwarded(world: StudioAccount, at: datetime) -> ScheduledEvent:
    """A call no hub rule ingests (a training job): no member rule matches it, so it never leaves its account."""
    request = {"trainingJobName": "nightly-train", "roleArn": f"arn:aws:iam::{world.location.account}:role/train"}
    event = world.factory.api_call("CreateTrainingJob", at, Caller(iam_user="ci-bot"), request, None)
    return ScheduledEvent(at, "CreateTrainingJob nightly-train", event)


def _replay(
    org: organization.Organization,
    stack: SandboxStack,
    where: Location,
    events: list[dict[str, Any]],
    result: OrganizationDemoResult,
    say: Callable[[str], None],
) -> None:
    own_bus = where.account == org.hub_account and where.region == org.hub.region
    delivered = rejected = kept = recorded = 0
    for event in events:
        deliveries = org.forward(stack, event)
        kept += not deliveries
        for delivery in deliveries:
            delivered += 1
            if delivery.error is not None:
                rejected += 1
            else:
                recorded += sum(r["changed"] for r in delivery.result["resources"])
    result.delivered += delivered
    result.rejected += rejected
    result.kept += kept
    result.forwarded += 0 if own_bus else delivered
    path = "the hub's own bus" if own_bus else "forwarded by the member rules"
    say(
        f"  {where.account} {where.region:<14} {len(events)} events: {delivered} {path}, {recorded} resource "
        f"changes recorded, {rejected} rejected; {kept} matched no member rule and stayed in the account"
    )


def _sweep_all(stack: SandboxStack, result: OrganizationDemoResult, say: Callable[[str], None]) -> None:
    """One sweep per account and region: template.yaml's SweepFanOut state machine, walked by the sandbox, its
    children's sweep reports kept as they pass (the definition discards them: ResultPath null)."""
    children: list[dict[str, Any]] = []

    def invoke(function_arn: str, payload: Any) -> Any:
        answer = stack.invoke_by_arn(function_arn, payload)
        if isinstance(payload, dict) and "account" in payload and isinstance(answer, dict):
            children.append(answer)
        return answer

    execution = stack.run_sweep_fanout(invoke=invoke)
    result.fan_out = f"the SweepFanOut state machine: {execution.status}, {execution.transitions} state transitions"
    result.sweeps = children
    for child in children:
        where = child.get("location", {})
        place = f"{where.get('account')} {where.get('region', ''):<14}"
        if not child.get("reached", True):
            say(f"  {place} UNREACHABLE ({child.get('unreachable')}): a member-unreachable finding; the others swept")
            continue
        kinds = child.get("kinds", {}).values()
        evaluation = child.get("evaluation", {})
        say(
            f"  {place} listed {sum(k['listed'] for k in kinds)}, described {sum(k['described'] for k in kinds)}; "
            f"findings opened {evaluation.get('opened', 0)}, active {evaluation.get('active_findings', 0)}"
        )
    say(f"  ({len(children)} sweeps, by {result.fan_out})")


def _mail(stack: SandboxStack, result: OrganizationDemoResult) -> None:
    result.messages += stack.mailbox()
