"""S3 buckets made from Studio: in the inventory from the CloudTrail event of the boto3 call itself, owned by
whoever made them, costed from S3's daily BucketSizeBytes, and said to be orphaned when their space goes;
never deleted by the guardian, and no other bucket in the account is tracked.

Every call is made with boto3 against the sandbox; its CloudTrail records the call with the caller's identity
and the records reach the stack as EventBridge delivers them (simulation/bus.py): no event is made by hand.
"""

import json
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest

from guardian.arns import Location
from guardian.aws import AwsClients
from guardian.cost import BYTES_PER_GB, HOURS_PER_MONTH, hourly_cost
from guardian.dynamo_inventory import DynamoInventory
from guardian.findings import Finding, finding_id
from guardian.findings_store import DynamoFindings
from guardian.kinds import Kind
from guardian.pricing import BundledPrices, Usage
from guardian.remediation.actions import ACTS_ON
from guardian.resource import Resource, Source
from guardian.rules import RULES_BY_NAME
from guardian.scan import scan, scan_guardian
from guardian_sandbox import calls, clock, cloudtrail
from guardian_sandbox.eventfactory import Caller
from guardian_sandbox.simulation.bus import CloudTrailBus
from guardian_sandbox.stack import SANDBOX_ACCOUNT, SandboxStack
from tests.conftest import deliver_recorded, sample
from tests.integration.response_shapes import recording as responses

REGION = "us-east-1"
LOCATION = Location(REGION, SANDBOX_ACCOUNT)
ROLE = "AmazonSageMaker-ExecutionRole-alice"
ROLE_ARN = f"arn:aws:iam::{SANDBOX_ACCOUNT}:role/service-role/{ROLE}"
ALICE = Caller(role=ROLE, source_identity="alice")
ALICE_NO_SOURCE_IDENTITY = Caller(role=ROLE)
BUCKET = "alice-experiments"
BUCKET_KEY = LOCATION.s3_bucket(BUCKET)
MIB = 1024 * 1024
ORPHANED = "orphaned-bucket"
ALICE_EMAIL = "alice@example.com"


@dataclass
class Account:
    """The stack on the sandbox, and alice's Studio: a domain, her profile (her own execution role) and space."""

    stack: SandboxStack
    bus: CloudTrailBus
    t0: datetime  # when her Studio was made (a day boundary and some hours before the story)

    def at(self, hours: float) -> datetime:
        return self.t0 + timedelta(hours=hours)

    def deliver_calls(self, at: datetime) -> list[dict[str, Any]]:
        """What CloudTrail recorded since last asked, delivered to the stack's rules thirty seconds later."""
        return [delivery.result for _, delivery in deliver_recorded(self.stack, self.bus, at + timedelta(seconds=30))]

    def sweep(self, at: datetime) -> dict[str, Any]:
        with clock.at(self.stack.clients, at):
            result: dict[str, Any] = self.stack.invoke("SweepFunction", sample("scheduled.json", "sweep"))
        return result

    def record(self, key: str = BUCKET_KEY) -> Resource | None:
        return DynamoInventory(self.stack.clients("dynamodb"), self.stack.table_name).get(key)

    def finding(self, rule: str = ORPHANED, key: str = BUCKET_KEY) -> Finding | None:
        return DynamoFindings(self.stack.clients("dynamodb"), self.stack.table_name).get(finding_id(rule, key))

    def make_bucket(self, at: datetime, caller: Caller | None, name: str = BUCKET, size: int = 3 * MIB) -> None:
        """A bucket made (and filled) by ``caller``, the sandbox's IAM user if None."""
        identity = caller.user_identity(SANDBOX_ACCOUNT) if caller else None
        with clock.at(self.stack.clients, at), cloudtrail.calls_by(identity) if identity else _nobody():
            s3 = self.stack.clients("s3")
            s3.create_bucket(Bucket=name)
            s3.put_object(Bucket=name, Key="data.bin", Body=b"x" * size)


class _nobody:
    def __enter__(self) -> None:
        return None

    def __exit__(self, *_: object) -> None:
        return None


@pytest.fixture
def account(sandbox: AwsClients) -> Iterator[Account]:
    owners = {"OWNER_EMAILS": json.dumps({"alice": ALICE_EMAIL})}  # her address, her subscription confirmed
    stack = SandboxStack(sandbox, parameters=owners, confirm_subscriptions_automatically=True).deploy()
    bus = CloudTrailBus(SANDBOX_ACCOUNT, REGION)
    # Three days ago, at 09:00: the story's days are whole days of the sandbox's clock.
    t0 = (datetime.now(UTC) - timedelta(days=3)).replace(hour=9, minute=0, second=0, microsecond=0)
    sm = stack.clients("sagemaker")
    with clock.at(stack.clients, t0):
        domain = sm.create_domain(
            DomainName="lab",
            AuthMode="IAM",
            SubnetIds=["s"],
            VpcId="v",
            DefaultUserSettings={"ExecutionRole": f"arn:aws:iam::{SANDBOX_ACCOUNT}:role/default"},
        )["DomainArn"].rsplit("/", 1)[-1]
        sm.create_user_profile(DomainId=domain, UserProfileName="alice", UserSettings={"ExecutionRole": ROLE_ARN})
        sm.create_space(
            DomainId=domain,
            SpaceName="alice-lab",
            SpaceSharingSettings={"SharingType": "Private"},
            OwnershipSettings={"OwnerUserProfileName": "alice"},
        )
    world = Account(stack, bus, t0)
    world.deliver_calls(t0)
    world.sweep(world.at(0.5))  # the guardian knows alice, her role and her space
    world.domain = domain  # type: ignore[attr-defined]
    yield world


def _price_per_hour(size: int) -> Decimal:
    per_gb_month = BundledPrices().price(Usage.S3, "gb-month", REGION)
    assert per_gb_month == Decimal("0.023")
    return per_gb_month * Decimal(size) / BYTES_PER_GB / HOURS_PER_MONTH


def test_a_bucket_made_from_studio_is_in_the_inventory_owned_by_its_maker_from_the_call_alone(account):
    account.make_bucket(account.at(1), ALICE)
    account.deliver_calls(account.at(1))
    bucket = account.record()
    assert bucket is not None and bucket.kind is Kind.S3_BUCKET and bucket.name == BUCKET
    assert (bucket.owner, bucket.attribution.source) == ("alice", Source.SOURCE_IDENTITY)
    assert bucket.owner_arn == LOCATION.user_profile(account.domain, "alice")
    assert bucket.creator is not None and bucket.creator.role_arn == ROLE_ARN
    assert bucket.created_at == account.at(1)


def test_without_a_source_identity_the_execution_role_names_its_owner(account):
    account.make_bucket(account.at(1), ALICE_NO_SOURCE_IDENTITY)
    account.deliver_calls(account.at(1))
    bucket = account.record()
    assert bucket is not None
    assert (bucket.owner, bucket.attribution.source) == ("alice", Source.EXECUTION_ROLE)


def test_the_guardian_tags_the_bucket_keeping_every_tag_its_owner_set(account):
    tags = {"TagSet": [{"Key": "project", "Value": "churn"}]}
    account.make_bucket(account.at(1), ALICE)
    with clock.at(account.stack.clients, account.at(1)):
        account.stack.clients("s3").put_bucket_tagging(Bucket=BUCKET, Tagging=tags)
    account.deliver_calls(account.at(1))
    held = account.stack.clients("s3").get_bucket_tagging(Bucket=BUCKET)["TagSet"]
    assert {t["Key"]: t["Value"] for t in held} == {
        "project": "churn",
        "studio-cost-guardian:owner": "alice",
        "studio-cost-guardian:owner-arn": LOCATION.user_profile(account.domain, "alice"),
        "studio-cost-guardian:attribution": "source-identity",
    }
    account.sweep(account.at(2))  # the sweep reads the tags back (in bulk): nothing is lost or re-written
    assert account.record().tags["project"] == "churn"


def test_its_cost_is_unknown_until_s3_reports_its_size_then_follows_bucket_size_bytes(account):
    account.make_bucket(account.at(1), ALICE, size=3 * MIB)
    account.deliver_calls(account.at(1))
    account.sweep(account.at(2))  # the same day: S3 has published no size for it yet
    bucket = account.record()
    assert bucket is not None and bucket.size_bytes is None
    assert hourly_cost(bucket, BundledPrices()).hourly is None  # unknown, never $0
    account.sweep(account.at(24))  # the next morning: yesterday's BucketSizeBytes is out
    bucket = account.record()
    assert bucket is not None and bucket.size_bytes == 3 * MIB
    assert hourly_cost(bucket, BundledPrices()).hourly == _price_per_hour(3 * MIB)
    with clock.at(account.stack.clients, account.at(25)):
        account.stack.clients("s3").put_object(Bucket=BUCKET, Key="more.bin", Body=b"y" * (5 * MIB))
    account.sweep(account.at(26))  # today's growth is tomorrow's datapoint
    assert account.record().size_bytes == 3 * MIB
    account.sweep(account.at(48))
    assert account.record().size_bytes == 8 * MIB


def test_deleting_its_space_opens_one_orphaned_bucket_finding_and_tells_its_owner(account):
    account.make_bucket(account.at(1), ALICE)
    account.deliver_calls(account.at(1))
    account.sweep(account.at(24))  # sized
    deleted = account.at(26)
    with clock.at(account.stack.clients, deleted):
        account.stack.clients("sagemaker").delete_space(DomainId=account.domain, SpaceName="alice-lab")
    account.deliver_calls(deleted)
    assert account.finding() is None  # the grace first
    with clock.at(account.stack.clients, deleted + timedelta(minutes=31)):
        account.stack.fire_due_schedules(deleted + timedelta(minutes=31))
        account.stack.pump_streams()
    finding = account.finding()
    assert finding is not None and (finding.owner, finding.rule) == ("alice", ORPHANED)
    assert finding.hourly_cost_usd == pytest.approx(float(_price_per_hour(3 * MIB)), rel=0.01)
    assert finding.evidence["owner_spaces"] == ["alice-lab"]
    assert account.finding("orphaned-resource") is None  # the bucket's rule is its own
    alerts = [m for m in account.stack.mailbox() if ALICE_EMAIL in m["to"]]
    assert len(alerts) == 1 and f"Orphaned S3 bucket: {BUCKET}" in alerts[0]["text"]
    account.sweep(account.at(28))  # a sweep finds the same: still one finding, nothing sent again
    account.stack.pump_streams()
    assert [m for m in account.stack.mailbox() if ALICE_EMAIL in m["to"]] == []
    store = DynamoFindings(account.stack.clients("dynamodb"), account.stack.table_name)
    assert [f.rule for f in store.of_owner(LOCATION.user_profile(account.domain, "alice"))] == [ORPHANED]


def test_remediation_in_enforce_mode_never_acts_on_a_bucket(account):
    assert Kind.S3_BUCKET not in ACTS_ON and not RULES_BY_NAME[ORPHANED].remediable
    account.make_bucket(account.at(1), ALICE)
    account.deliver_calls(account.at(1))
    with clock.at(account.stack.clients, account.at(2)):
        account.stack.clients("sagemaker").delete_space(DomainId=account.domain, SpaceName="alice-lab")
    account.deliver_calls(account.at(2))
    account.sweep(account.at(24))
    account.stack.pump_streams()
    assert account.finding() is not None
    account.stack.parameters |= {"REMEDIATION_MODE": "enforce", "REMEDIATION_GRACE_HOURS": "1"}
    with calls.recording() as made:
        for hours in (25, 30, 60):
            with clock.at(account.stack.clients, account.at(hours)):
                account.stack.invoke("RemediateFunction", sample("scheduled.json", "remediate"))
            account.stack.pump_streams()
    assert not {call for call in made.calls if call[0] == "s3"}
    assert account.stack.clients("s3").head_bucket(Bucket=BUCKET)["ResponseMetadata"]["HTTPStatusCode"] == 200
    finding = account.finding()
    assert finding is not None and "remediat" not in finding.status.value and "done_at" not in finding.remediation
    assert finding.remediation["skipped"].startswith("not-remediable:")  # said, with the reason


def test_a_bucket_made_by_anyone_else_is_not_tracked(account):
    account.make_bucket(account.at(1), None, name="finance-reports")
    account.make_bucket(account.at(1), Caller(iam_user="bob"), name="bobs-bucket")
    results = account.deliver_calls(account.at(1))
    assert results and all(r["resources"] == [] for r in results)
    account.sweep(account.at(24))
    for name in ("finance-reports", "bobs-bucket"):
        assert account.record(LOCATION.s3_bucket(name)) is None


def test_deleting_the_bucket_marks_it_gone_and_resolves_its_finding(account):
    account.make_bucket(account.at(1), ALICE)
    account.deliver_calls(account.at(1))
    with clock.at(account.stack.clients, account.at(2)):
        account.stack.clients("sagemaker").delete_space(DomainId=account.domain, SpaceName="alice-lab")
    account.deliver_calls(account.at(2))
    account.sweep(account.at(3))
    assert account.finding() is not None
    with clock.at(account.stack.clients, account.at(4)):
        s3 = account.stack.clients("s3")
        s3.delete_object(Bucket=BUCKET, Key="data.bin")
        s3.delete_bucket(Bucket=BUCKET)
    account.deliver_calls(account.at(4))
    assert account.record().state == "Deleted"
    assert account.finding().status.value == "resolved"


def test_the_sweep_marks_gone_a_bucket_deleted_without_its_event(account):
    account.make_bucket(account.at(1), ALICE)
    account.deliver_calls(account.at(1))
    with clock.at(account.stack.clients, account.at(2)):
        s3 = account.stack.clients("s3")
        s3.delete_object(Bucket=BUCKET, Key="data.bin")
        s3.delete_bucket(Bucket=BUCKET)
    account.bus.new_events()  # EventBridge lost it
    account.sweep(account.at(3))
    assert account.record().state == "Deleted"


def test_every_answer_of_s3_and_cloudwatch_fits_botocore_and_cloudtrail_records_the_caller(account):
    with responses() as log:
        account.make_bucket(account.at(1), ALICE)
        with clock.at(account.stack.clients, account.at(1)):
            tags = {"TagSet": [{"Key": "project", "Value": "churn"}]}
            account.stack.clients("s3").put_bucket_tagging(Bucket=BUCKET, Tagging=tags)
        account.deliver_calls(account.at(1))
        account.sweep(account.at(24))
    assert {"s3.ListBuckets", "cloudwatch.GetMetricData", "s3.GetBucketTagging", "s3.PutBucketTagging"} <= (
        log.operations()
    )
    assert log.problems() == {}
    with clock.at(account.stack.clients, account.at(24)):
        found = account.stack.clients("cloudtrail").lookup_events(
            LookupAttributes=[{"AttributeKey": "EventName", "AttributeValue": "CreateBucket"}]
        )["Events"]
    [created] = [e for e in found if e["Resources"] == [{"ResourceType": "AWS::S3::Bucket", "ResourceName": BUCKET}]]
    assert created["Username"] == "SageMaker" and created["EventSource"] == "s3.amazonaws.com"


def test_a_read_only_scan_finds_the_buckets_made_from_studio_in_cloudtrails_history(account):
    account.make_bucket(account.at(1), ALICE)
    account.make_bucket(account.at(1), Caller(iam_user="bob"), name="bobs-bucket")
    guardian = scan_guardian(account.stack.clients, price_source="bundled")
    with clock.at(account.stack.clients, account.at(2)):
        report = scan(guardian, account.at(2))
    buckets = {r.name: r for r in report.sweep.resources if r.kind is Kind.S3_BUCKET}
    assert list(buckets) == [BUCKET] and buckets[BUCKET].owner == "alice"
    assert account.record() is None
