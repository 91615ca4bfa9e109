"""Partner AI Apps: made with boto3 against the sandbox, they reach the inventory attributed to whoever made them
(the sandbox's CloudTrail delivers the calls to the stack's bus, as a trail does: no event is written by hand),
they bill by their tier at a price nobody publishes (unknown, never $0, wherever a person reads it), they are
covered by the billable-resource rules, never acted on by remediation, and their deletion resolves their
findings. The sandbox emulates them as the service model says (moto has none)."""

from collections.abc import Iterator
from contextlib import nullcontext
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from botocore.exceptions import ClientError

from guardian.findings import Finding, Status
from guardian.kinds import Kind
from guardian.messages import detail
from guardian.remediation.actions import ACTS_ON
from guardian.resource import Resource, Source
from guardian_sandbox import clock, cloudtrail, studio
from guardian_sandbox.eventfactory import Caller
from guardian_sandbox.simulation.bus import CloudTrailBus
from guardian_sandbox.stack import SANDBOX_ACCOUNT, SandboxStack
from tests.conftest import deliver_recorded, sample, stored_finding, stored_record

ROLE = f"arn:aws:iam::{SANDBOX_ACCOUNT}:role/service-role/AmazonSageMaker-ExecutionRole-Default"
ALICE = Caller(role="AmazonSageMaker-ExecutionRole-alice", source_identity="alice")
EVENT_LAG = timedelta(seconds=30)
UNATTRIBUTED = "unattributed-resource"


@dataclass
class Account:
    stack: SandboxStack
    bus: CloudTrailBus
    t0: datetime

    @property
    def sagemaker(self) -> Any:
        return self.stack.clients("sagemaker")

    def record(self, arn: str) -> Resource:
        return stored_record(self.stack, arn)

    def finding(self, rule: str, arn: str) -> Finding | None:
        return stored_finding(self.stack, rule, arn)

    def deliver_calls(self, at: datetime) -> list[str]:
        """Every call the sandbox recorded since last asked, delivered by EventBridge as a trail delivers it (and the
        services' own state changes); returns the calls a rule routed to the stack."""
        delivered = deliver_recorded(self.stack, self.bus, at)
        return [event["detail"]["eventName"] for event, _ in delivered if event["detail"].get("eventName")]

    def sweep(self, at: datetime) -> None:
        with clock.at(self.stack.clients, at):
            self.stack.invoke("SweepFunction", sample("scheduled.json", "sweep"))

    def create_app(self, name: str, at: datetime, caller: Caller | None = None, tier: str = "small") -> str:
        identity = caller.user_identity(SANDBOX_ACCOUNT) if caller else None
        with clock.at(self.stack.clients, at), cloudtrail.calls_by(identity) if identity else nullcontext():
            arn: str = self.sagemaker.create_partner_app(
                Name=name, Type="comet", ExecutionRoleArn=ROLE, Tier=tier, AuthType="IAM"
            )["Arn"]
        return arn


def status(finding: Finding | None) -> Status:
    assert finding is not None
    return finding.status


@pytest.fixture
def account(stack: SandboxStack) -> Iterator[Account]:
    t0 = datetime.now(UTC).replace(microsecond=0) - timedelta(hours=8)
    with clock.at(stack.clients, t0 - timedelta(hours=1)):
        sm = stack.clients("sagemaker")
        domain = sm.create_domain(
            DomainName="lab", AuthMode="IAM", SubnetIds=["s"], VpcId="v", DefaultUserSettings={"ExecutionRole": ROLE}
        )["DomainArn"].rsplit("/", 1)[-1]
        sm.create_user_profile(DomainId=domain, UserProfileName="alice")
    account = Account(stack, CloudTrailBus(SANDBOX_ACCOUNT, "us-east-1"), t0)
    account.sweep(t0 - timedelta(minutes=30))  # the owners are known
    account.deliver_calls(t0 - timedelta(minutes=30))  # (the domain's calls: nothing to route)
    yield account


def test_a_partner_app_made_from_a_notebook_is_in_the_inventory_as_its_makers_with_its_tier(account: Account):
    arn = account.create_app("evals", account.t0, ALICE)
    assert account.deliver_calls(account.t0 + EVENT_LAG) == ["CreatePartnerApp"]
    app = account.record(arn)
    assert (app.kind, app.name, app.app_type, app.instance_type) == (Kind.PARTNER_APP, "evals", "comet", "small")
    assert (app.owner, app.attribution.source) == ("alice", Source.SOURCE_IDENTITY)
    assert app.api_arn == arn  # the id as the API spells it: later calls name the app by it

    later = account.t0 + timedelta(hours=1)
    with clock.at(account.stack.clients, later):
        account.sagemaker.update_partner_app(Arn=arn, Tier="large")
    account.deliver_calls(later + EVENT_LAG)
    assert account.record(arn).instance_type == "large"  # what it bills by now, within the minute

    account.sweep(later + timedelta(minutes=5))
    swept = account.record(arn)
    assert (swept.state, swept.instance_type, swept.owner) == ("Available", "large", "alice")


def test_a_partner_app_nobody_can_be_named_for_is_a_finding_whose_cost_is_unknown_never_zero(account: Account):
    arn = account.create_app("guard", account.t0)  # by an IAM user: no Studio evidence
    account.deliver_calls(account.t0 + EVENT_LAG)
    now = account.t0 + timedelta(hours=2)
    account.sweep(now)
    finding = account.finding(UNATTRIBUTED, arn)
    assert finding is not None and finding.status is Status.OPEN
    assert finding.hourly_cost_usd is None  # no published price for a tier: unknown, not $0
    assert "small" in finding.cost_basis and "no price" in finding.cost_basis
    said = detail(finding, now)
    assert "unknown" in said and "$0.00" not in said


def test_deleting_a_partner_app_resolves_its_findings_at_the_event(account: Account):
    arn = account.create_app("guard", account.t0)
    account.deliver_calls(account.t0 + EVENT_LAG)
    account.sweep(account.t0 + timedelta(hours=2))
    assert status(account.finding(UNATTRIBUTED, arn)) is Status.OPEN
    gone_at = account.t0 + timedelta(hours=3)
    with clock.at(account.stack.clients, gone_at):
        account.sagemaker.delete_partner_app(Arn=arn)
    assert account.deliver_calls(gone_at + EVENT_LAG) == ["DeletePartnerApp"]
    assert status(account.finding(UNATTRIBUTED, arn)) is Status.RESOLVED
    assert account.record(arn).state == "Deleting"


def test_a_partner_app_missed_by_its_events_is_found_by_the_sweep_and_its_deletion_too(account: Account):
    arn = account.create_app("quiet", account.t0, ALICE)
    account.bus.new_events()  # never delivered
    account.sweep(account.t0 + timedelta(minutes=10))
    app = account.record(arn)
    assert (app.state, app.instance_type) == ("Available", "small")
    with clock.at(account.stack.clients, account.t0 + timedelta(hours=1)):
        account.sagemaker.delete_partner_app(Arn=arn)
    account.bus.new_events()
    account.sweep(account.t0 + timedelta(hours=2))
    assert account.record(arn).state == "Deleted"


def test_remediation_never_acts_on_a_partner_app():
    """Deleting one loses its data and users, and no restore brings them back: its findings are reported only."""
    assert Kind.PARTNER_APP not in ACTS_ON


def test_the_sandbox_passes_through_creating_and_deleting_and_refuses_what_the_service_refuses(
    stack: SandboxStack, monkeypatch: pytest.MonkeyPatch
):
    monkeypatch.setattr(studio.settings, "transition_seconds", 60.0)
    sm = stack.clients("sagemaker")
    start = datetime.now(UTC)
    with clock.at(stack.clients, start):
        arn = sm.create_partner_app(Name="fid", Type="fiddler", ExecutionRoleArn=ROLE, Tier="small", AuthType="IAM")[
            "Arn"
        ]
        assert sm.describe_partner_app(Arn=arn)["Status"] == "Creating"
        with pytest.raises(ClientError) as changing:
            sm.update_partner_app(Arn=arn, Tier="large")
        assert changing.value.response["Error"]["Code"] == "ConflictException"
        with pytest.raises(ClientError) as taken:
            sm.create_partner_app(Name="fid", Type="comet", ExecutionRoleArn=ROLE, Tier="small", AuthType="IAM")
        assert taken.value.response["Error"]["Code"] == "ConflictException"
    with clock.at(stack.clients, start + timedelta(seconds=61)):
        assert sm.describe_partner_app(Arn=arn.lower())["Status"] == "Available"  # any case, as the service
        sm.delete_partner_app(Arn=arn)
        assert [s["Status"] for s in sm.list_partner_apps()["Summaries"]] == ["Deleting"]
    with clock.at(stack.clients, start + timedelta(seconds=122)):
        assert sm.list_partner_apps()["Summaries"] == []
        with pytest.raises(ClientError) as gone:
            sm.describe_partner_app(Arn=arn)
        assert gone.value.response["Error"]["Code"] == "ResourceNotFound"
    assert arn.rsplit("/", 1)[-1].startswith("app-")  # an id, not the name
