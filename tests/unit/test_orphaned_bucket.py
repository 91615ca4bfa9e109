"""S3 buckets made from Studio, on their own: which CreateBucket calls make one (AWS's sample, Studio's
identities, and every variant of them with fields dropped), what one costs, and when it is orphaned."""

import copy
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from guardian.arns import Location, bucket_key, kind_of, well_formed
from guardian.cost import BYTES_PER_GB, HOURS_PER_MONTH, hourly_cost
from guardian.events import InvalidEvent, translate
from guardian.kinds import NEVER_REMEDIATED, TAGGABLE, Kind, is_billing
from guardian.pricing import BundledPrices
from guardian.remediation.actions import ACTS_ON
from guardian.resource import Attribution, Creator, Resource, Source
from guardian.rules import RULES, RuleContext
from guardian.rules.orphaned_bucket import OrphanedBucket
from tests.conftest import reference

NOW = datetime(2026, 11, 26, 12, tzinfo=UTC)
ACCOUNT = "123456789012"
HERE = Location("us-east-1", ACCOUNT)
P = f"arn:aws:sagemaker:us-east-1:{ACCOUNT}"
ALICE = f"{P}:user-profile/d-1/alice"
LAB = f"{P}:space/d-1/alice-lab"
SAMPLE = "eb_cloudtrail_envelope_s3_CreateBucket_awsdocs.json"
ROLE = f"arn:aws:iam::{ACCOUNT}:role/service-role/AmazonSageMaker-ExecutionRole-alice"


def ago(hours: float) -> datetime:
    return NOW - timedelta(hours=hours)


def bucket(size: int | None = 5 * 1024**3, space_arn: str | None = None, **extra: Any) -> Resource:
    return Resource(
        arn=HERE.s3_bucket("alice-data"),
        kind=Kind.S3_BUCKET,
        name="alice-data",
        state="Available",
        size_bytes=size,
        created_at=ago(48),
        attribution=Attribution(
            source=Source.SOURCE_IDENTITY, owner="alice", owner_arn=ALICE, space_arn=space_arn, domain_id="d-1"
        ),
        **extra,
    )


def space(name: str = "alice-lab", deleted_hours_ago: float | None = None) -> Resource:
    return Resource(
        arn=f"{P}:space/d-1/{name}",
        kind=Kind.SPACE,
        name=name,
        state="InService" if deleted_hours_ago is None else "Deleting",
        deleted_at=None if deleted_hours_ago is None else ago(deleted_hours_ago),
        attribution=Attribution(source=Source.STUDIO_API, owner="alice", owner_arn=ALICE),
    )


def profile(deleted_hours_ago: float | None = None) -> Resource:
    return Resource(
        arn=ALICE,
        kind=Kind.USER_PROFILE,
        name="alice",
        state="InService" if deleted_hours_ago is None else "Deleting",
        deleted_at=None if deleted_hours_ago is None else ago(deleted_hours_ago),
    )


def context(*records: Resource) -> RuleContext:
    by_arn = {r.arn: r for r in records}
    return RuleContext(
        now=NOW,
        lookup=by_arn.get,
        spaces_of_owner=lambda owner: [r for r in records if r.kind is Kind.SPACE and r.owner_arn == owner],
    )


class TestOrphanedBucket:
    rule = OrphanedBucket()

    def test_its_only_space_deleted_past_the_grace_orphans_it_since_the_deletion(self):
        found = self.rule.evaluate(bucket(), context(profile(), space(deleted_hours_ago=2)))
        assert found is not None and found.since == ago(2)
        assert found.evidence["owner_spaces"] == ["alice-lab"] and found.evidence["space_inferred"]
        assert "alice's space alice-lab was deleted" in found.summary

    def test_within_the_grace_it_is_not_yet_and_its_check_is_due_when_the_grace_ends(self):
        records = context(profile(), space(deleted_hours_ago=0.25))
        assert self.rule.evaluate(bucket(), records) is None
        assert self.rule.next_check(bucket(), records) == ago(0.25) + timedelta(minutes=30)

    def test_while_any_of_the_owners_spaces_lives_it_is_not(self):
        records = context(profile(), space(deleted_hours_ago=5), space("alice-gpu"))
        assert self.rule.evaluate(bucket(), records) is None

    def test_the_space_its_attribution_names_decides_when_one_does(self):
        named = bucket(space_arn=LAB)
        assert self.rule.evaluate(named, context(profile(), space(deleted_hours_ago=3), space("other"))) is not None
        assert self.rule.evaluate(named, context(profile(), space())) is None

    def test_its_owners_profile_deleted_orphans_it(self):
        found = self.rule.evaluate(bucket(), context(profile(deleted_hours_ago=4), space()))
        assert found is not None and found.since == ago(4) and "profile alice was deleted" in found.summary

    def test_an_owner_with_no_known_space_or_a_bucket_already_gone_is_not_judged_orphaned(self):
        assert self.rule.evaluate(bucket(), context(profile())) is None
        gone = bucket().model_copy(update={"state": "Deleted"})
        assert self.rule.evaluate(gone, context(profile(deleted_hours_ago=4))) is None

    def test_it_is_notify_only_and_no_other_rule_looks_at_buckets(self):
        assert not OrphanedBucket.remediable and OrphanedBucket.title == "Orphaned S3 bucket"
        assert Kind.S3_BUCKET in NEVER_REMEDIATED and not ACTS_ON & NEVER_REMEDIATED
        assert [rule.name for rule in RULES if Kind.S3_BUCKET in rule.kinds] == ["orphaned-bucket"]


def test_a_bucket_costs_its_size_at_the_s3_standard_price_and_unknown_without_a_size():
    cost = hourly_cost(bucket(size=5 * 1024**3), BundledPrices())
    assert cost.hourly == Decimal("0.023") * 5 / HOURS_PER_MONTH
    assert "5.00 GB S3 Standard" in cost.basis
    assert hourly_cost(bucket(size=None), BundledPrices()).hourly is None  # never $0
    assert hourly_cost(bucket(size=123), BundledPrices()).hourly == Decimal("0.023") * 123 / BYTES_PER_GB / 730
    assert is_billing(Kind.S3_BUCKET, "Available") and Kind.S3_BUCKET in TAGGABLE


def test_bucket_arns_in_s3s_spelling_and_the_inventorys_name_the_same_bucket():
    key = HERE.s3_bucket("alice-data")
    assert key == f"arn:aws:s3:us-east-1:{ACCOUNT}:bucket/alice-data" and well_formed(key, Kind.S3_BUCKET)
    assert bucket_key("arn:aws:s3:::alice-data", HERE) == key
    assert kind_of("arn:aws:s3:::alice-data") is Kind.S3_BUCKET
    for not_a_bucket in ("arn:aws:s3:::alice-data/key.csv", "arn:aws:s3:::A_B", "arn:aws:s3:::ab", "s3://x"):
        assert kind_of(not_a_bucket) is None
    assert bucket_key(f"{P}:endpoint/Fraud", HERE) == f"{P}:endpoint/fraud"


# --- CreateBucket and DeleteBucket as CloudTrail delivers them ---------------------------------------


def studio_identity(source_identity: str | None = "alice") -> dict[str, Any]:
    """Studio's execution-role session as the reference samples show it, with an account that is not blurred."""
    name = "with" if source_identity else "no"
    identity = reference(f"cloudtrail_userIdentity_studio_execution_role_{name}_sourceIdentity_transcribed.json")[
        "userIdentity"
    ]
    identity["arn"] = f"arn:aws:sts::{ACCOUNT}:assumed-role/AmazonSageMaker-ExecutionRole-alice/SageMaker"
    identity["accountId"] = ACCOUNT
    identity["sessionContext"]["sessionIssuer"] |= {"arn": ROLE, "accountId": ACCOUNT}
    if source_identity:
        identity["sessionContext"]["sourceIdentity"] = source_identity
    return identity


def from_studio(source_identity: str | None = "alice") -> dict[str, Any]:
    event = reference(SAMPLE)
    event["detail"]["userIdentity"] = studio_identity(source_identity)
    return event


def test_awss_own_sample_parses_and_a_bucket_made_by_the_root_user_is_not_tracked():
    translation = translate(reference(SAMPLE))
    assert translation.name == "cloudtrail:CreateBucket" and translation.observations == []


@pytest.mark.parametrize("source_identity", ["alice", None])
def test_a_bucket_made_by_a_studio_execution_role_is_tracked_with_its_maker(source_identity):
    [observed] = translate(from_studio(source_identity)).observations
    assert observed.arn == HERE.s3_bucket("bucket-test-iad") and observed.kind is Kind.S3_BUCKET
    assert observed.fields["state"] == "Available"
    assert observed.fields["creator"] == Creator(
        source_identity=source_identity,
        role_arn=ROLE,
        principal_arn=f"arn:aws:sts::{ACCOUNT}:assumed-role/AmazonSageMaker-ExecutionRole-alice/SageMaker",
        event_name="CreateBucket",
    )


def test_the_transcribed_studio_identities_with_their_blurred_arns_are_rejected_not_recorded():
    event = reference(SAMPLE)
    identity = reference("cloudtrail_userIdentity_studio_execution_role_with_sourceIdentity_transcribed.json")
    event["detail"]["userIdentity"] = identity["userIdentity"]
    with pytest.raises(InvalidEvent) as rejected:
        translate(event)
    assert rejected.value.reason == "malformed"


def test_a_delete_bucket_marks_it_gone_whoever_deletes_it():
    event = reference(SAMPLE)
    event["detail"]["eventName"] = "DeleteBucket"
    [gone] = translate(event).observations
    assert (gone.arn, gone.fields["state"]) == (HERE.s3_bucket("bucket-test-iad"), "Deleted")


def _leaves(value: Any, path: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    """Every path to a field of the event, containers too (dropping one drops all under it)."""
    found: list[tuple[Any, ...]] = [path] if path else []
    if isinstance(value, dict):
        for key, item in value.items():
            found += _leaves(item, (*path, key))
    return found


def _dropped(event: dict[str, Any], paths: list[tuple[Any, ...]]) -> dict[str, Any]:
    event = copy.deepcopy(event)
    for path in paths:
        holder: Any = event
        for key in path[:-1]:
            holder = holder.get(key) if isinstance(holder, dict) else None
        if isinstance(holder, dict):
            holder.pop(path[-1], None)
    return event


VARIANTS = {
    "aws-sample": reference(SAMPLE),
    "studio-with-source-identity": from_studio("alice"),
    "studio-without-source-identity": from_studio(None),
    "delete": from_studio("alice") | {"detail": from_studio("alice")["detail"] | {"eventName": "DeleteBucket"}},
}


@settings(max_examples=60, deadline=None)
@given(name=st.sampled_from(sorted(VARIANTS)), data=st.data())
def test_any_variant_with_fields_dropped_is_rejected_with_a_reason_or_says_only_what_the_whole_said(name, data):
    whole = VARIANTS[name]
    paths = _leaves(whole)
    dropped = data.draw(st.lists(st.sampled_from(paths), min_size=1, max_size=4, unique=True))
    expected = {o.arn: o for o in translate(whole).observations}
    try:
        translation = translate(_dropped(whole, dropped))
    except InvalidEvent as error:
        assert error.reason in ("malformed", "unsupported", "out-of-range")
        return
    for observed in translation.observations:
        assert observed.arn in expected, f"dropping {dropped} made a record the whole event did not"
        full = expected[observed.arn].fields
        assert all(full.get(key) == value for key, value in observed.fields.items() if key != "creator")
        # The maker may be known less well (a field dropped), never as someone else.
        creator, full_creator = observed.fields.get("creator"), full.get("creator")
        if creator is not None:
            assert full_creator is not None
            for attribute in ("source_identity", "role_arn", "principal_arn"):
                assert getattr(creator, attribute) in (None, getattr(full_creator, attribute))
