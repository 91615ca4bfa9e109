"""What remediation never acts on, decided in one place (guardian.remediation.safety): each protection alone
stops it with its own reason code, and, as a property, no combination of protections ever lets it act."""

from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from guardian.attribution import OwnershipTags
from guardian.findings import Finding, Status, finding_id
from guardian.kinds import Kind
from guardian.remediation.live import Live, LiveSpace
from guardian.remediation.safety import Policy, Reason, reason_not_to_act
from guardian.resource import Attribution, Resource, Source

T0 = datetime(2026, 11, 2, 8, tzinfo=UTC)
NOW = T0 + timedelta(hours=30)
TAGS = OwnershipTags("studio-cost-guardian")
EXEMPT = "studio-cost-guardian:exempt"
POLICY = Policy(grace=timedelta(hours=24), lead=timedelta(hours=2), exemption_tag=EXEMPT, ownership=TAGS)
ARN = "arn:aws:sagemaker:us-east-1:123456789012:endpoint/fraud"
SPACE_ARN = "arn:aws:sagemaker:us-east-1:123456789012:space/d-1/alice-lab"
PROFILE_ARN = "arn:aws:sagemaker:us-east-1:123456789012:user-profile/d-1/alice"

RECORD = Resource(
    arn=ARN,
    kind=Kind.ENDPOINT,
    name="fraud",
    state="InService",
    created_at=T0,
    guardian_tagged_at=T0 + timedelta(minutes=1),
    tags={TAGS.owner: "alice"},
    attribution=Attribution(
        source=Source.AUTO_TAG,
        owner="alice",
        owner_arn=PROFILE_ARN,
        space="alice-lab",
        space_arn=SPACE_ARN,
        sharing="Private",
        notes=("auto-tag: alice",),
    ),
)


def finding(rule: str, status: Status = Status.NOTIFIED, **fields) -> Finding:
    return Finding(
        id=finding_id(rule, ARN),
        rule=rule,
        resource_arn=ARN,
        resource_kind="endpoint",
        resource_name="fraud",
        owner="alice",
        sharing="Private",
        region="us-east-1",
        account="123456789012",
        status=status,
        detected_at=T0,
        condition_since=T0,
        summary="still billing",
        severity="medium",
        notified_at=T0 + timedelta(hours=1),
        reached_at=T0 + timedelta(hours=1),
        **fields,
    )


ORPHAN = finding("orphaned-resource")
IDLE = finding("idle-endpoint")
LIVE = Live(
    ARN,
    Kind.ENDPOINT,
    exists=True,
    state="InService",
    created_at=T0,
    last_modified_at=T0,
    shape={"endpoint_config_name": "c", "instance_count": 1},
    tags={TAGS.owner: "alice"},
    space=LiveSpace("alice-lab", "d-1", exists=True, sharing="Private", running=False, last_start=T0),
    calls_since_reminder=0.0,
    firing=frozenset({"orphaned-resource", "idle-endpoint"}),
)
NAMED = LIVE.named()  # what the reminder named: the live state as it was then


@dataclass(frozen=True)
class Case:
    """What the decision sees: the finding acted on, its resource's other findings, the record, the live read."""

    finding: Finding = field(default_factory=lambda: ORPHAN)
    others: tuple[Finding, ...] = (IDLE,)
    record: Resource = field(default_factory=lambda: RECORD)
    live: Live = LIVE
    policy: Policy = POLICY

    def decide(self, acting: bool):
        findings = [self.finding, *self.others]
        named = NAMED if acting else None
        return reason_not_to_act(self.finding, findings, self.record, self.live, NOW, self.policy, named)


def _record(case: Case, **fields) -> Case:
    return replace(case, record=case.record.model_copy(update=fields))


def _attribution(case: Case, **fields) -> Case:
    return _record(case, attribution=case.record.attribution.model_copy(update=fields))


def _live(case: Case, **fields) -> Case:
    return replace(case, live=replace(case.live, **fields))


def _live_space(case: Case, **fields) -> Case:
    assert case.live.space is not None
    return _live(case, space=replace(case.live.space, **fields))


def _sibling(case: Case, **fields) -> Case:
    return replace(case, others=tuple(f.model_copy(update=fields) for f in case.others))


# Each protection: how it changes what the decision sees, the reason expected when it is the only one, and
# whether only acting can see it (it is a change since the reminder).
PROTECTIONS: dict[str, tuple[Callable[[Case], Case], Reason, bool]] = {
    "exempt tag": (lambda c: _record(c, tags=c.record.tags | {EXEMPT: "true"}), Reason.EXEMPT, False),
    "exempt until a day to come": (
        lambda c: _record(c, tags=c.record.tags | {EXEMPT: "2026-12-31"}),
        Reason.EXEMPT,
        False,
    ),
    "exempt tag seen live only": (lambda c: _live(c, tags=c.live.tags | {EXEMPT: "true"}), Reason.EXEMPT, False),
    "another finding exempt": (lambda c: _sibling(c, status=Status.EXEMPT), Reason.EXEMPT, False),
    "another finding snoozed": (
        lambda c: _sibling(c, status=Status.SNOOZED, snoozed_until=NOW + timedelta(days=3)),
        Reason.SNOOZED,
        False,
    ),
    "owner never reached": (
        lambda c: replace(c, finding=c.finding.model_copy(update={"reached_at": None})),
        Reason.OWNER_NOT_REACHED,
        False,
    ),
    "in grace": (
        lambda c: replace(c, finding=c.finding.model_copy(update={"reached_at": NOW - timedelta(hours=1)})),
        Reason.IN_GRACE,
        False,
    ),
    "a schedule called off an hour ago": (
        lambda c: replace(
            c, finding=c.finding.model_copy(update={"remediation": {"cancelled_at": NOW - timedelta(hours=1)}})
        ),
        Reason.IN_GRACE,
        False,
    ),
    "shared space": (lambda c: _attribution(c, sharing="Shared"), Reason.SHARED_SPACE, False),
    "space shared since": (lambda c: _live_space(c, sharing="Shared"), Reason.SHARED_SPACE, False),
    "unattributed": (
        lambda c: _attribution(c, source=Source.UNATTRIBUTED, owner=None, owner_arn=None),
        Reason.UNATTRIBUTED,
        False,
    ),
    "conflicting attribution": (
        lambda c: _attribution(c, notes=("auto-tag: alice", "conflict: source-identity says bob, auto-tag wins")),
        Reason.CONFLICTING_ATTRIBUTION,
        False,
    ),
    "owner only from a tag anyone can write": (
        lambda c: _attribution(c, source=Source.GUARDIAN_TAG),
        Reason.WEAK_OWNERSHIP,
        False,
    ),
    "owner only from a shared execution role": (
        lambda c: _attribution(c, source=Source.EXECUTION_ROLE),
        Reason.WEAK_OWNERSHIP,
        False,
    ),
    "never tagged by the guardian": (
        lambda c: _record(c, guardian_tagged_at=None),
        Reason.NOT_TAGGED_BY_GUARDIAN,
        False,
    ),
    "ownership tag rewritten": (
        lambda c: _live(c, tags=c.live.tags | {TAGS.owner: "bob"}),
        Reason.CONFLICTING_ATTRIBUTION,
        False,
    ),
    "ownership tag removed": (
        lambda c: _live(c, tags={k: v for k, v in c.live.tags.items() if k != TAGS.owner}),
        Reason.NOT_TAGGED_BY_GUARDIAN,
        False,
    ),
    "gone": (lambda c: _live(c, exists=False, state="Deleted"), Reason.GONE, False),
    "rule no longer fires": (lambda c: _live(c, firing=frozenset()), Reason.CONDITION_ENDED, False),
    "not a remediable rule": (
        lambda c: replace(c, finding=c.finding.model_copy(update={"rule": "unattributed-resource"})),
        Reason.NOT_REMEDIABLE,
        False,
    ),
    "re-created under the old name": (
        lambda c: _live(c, created_at=NOW - timedelta(hours=1)),
        Reason.RECREATED,
        True,
    ),
    "space restarted": (
        lambda c: _live_space(c, running=True, last_start=NOW - timedelta(hours=1)),
        Reason.SPACE_RESTARTED,
        True,
    ),
    "scaled since the reminder": (
        lambda c: _live(c, shape=c.live.shape | {"instance_count": 2}),
        Reason.CHANGED,
        True,
    ),
    "updating since the reminder": (lambda c: _live(c, state="Updating"), Reason.CHANGED, True),
    "called since the reminder": (lambda c: _live(c, calls_since_reminder=3.0), Reason.IN_USE, True),
}


def test_a_plain_orphan_past_its_grace_is_acted_on():
    assert Case().decide(acting=False) is None
    assert Case().decide(acting=True) is None


@pytest.mark.parametrize("name", sorted(PROTECTIONS))
def test_each_protection_alone_stops_remediation_with_its_reason(name):
    protect, reason, only_when_acting = PROTECTIONS[name]
    protected = protect(Case())
    acting = protected.decide(acting=True)
    assert acting is not None and acting.reason is reason, f"{name}: {acting}"
    assert str(acting).startswith(f"{reason.value}: ")
    if not only_when_acting:
        reminding = protected.decide(acting=False)
        assert reminding is not None and reminding.reason is reason, f"{name}: {reminding}"


@given(st.sets(st.sampled_from(sorted(PROTECTIONS)), min_size=1))
def test_no_combination_of_protections_ever_lets_remediation_act(names):
    case = Case()
    for name in sorted(names):
        case = PROTECTIONS[name][0](case)
    assert case.decide(acting=True) is not None
    if not all(PROTECTIONS[name][2] for name in names):
        assert case.decide(acting=False) is not None


@given(st.integers(min_value=0, max_value=60 * 48))
def test_never_before_the_grace_after_a_delivered_notice(minutes_since_reached):
    reached = NOW - timedelta(minutes=minutes_since_reached)
    case = replace(Case(), finding=ORPHAN.model_copy(update={"reached_at": reached}))
    acting = case.decide(acting=True)
    if reached + POLICY.grace > NOW:
        assert acting is not None and acting.reason is Reason.IN_GRACE
    else:
        assert acting is None
    reminding = case.decide(acting=False)  # the reminder goes out a lead time before the grace ends
    assert (reminding is None) == (reached + POLICY.grace <= NOW + POLICY.lead)


def test_shared_spaces_are_acted_on_only_when_the_stack_says_so():
    shared = _live_space(_attribution(Case(), sharing="Shared"), sharing="Shared")
    assert shared.decide(acting=True).reason is Reason.SHARED_SPACE
    opted_in = replace(shared, policy=replace(POLICY, remediate_shared_spaces=True))
    assert opted_in.decide(acting=True) is None


def test_a_snooze_that_ended_protects_nothing():
    ended = _sibling(Case(), status=Status.SNOOZED, snoozed_until=NOW - timedelta(minutes=1))
    assert ended.decide(acting=True) is None


def test_a_stopped_space_whose_deleted_app_aws_forgot_has_not_restarted():
    """AWS lists a deleted app for about a day, then forgets it: the space's newest app start goes from the
    one the reminder named to none. That is the same stopped space, not a restart."""
    forgotten = _live_space(Case(), running=False, last_start=None)
    assert forgotten.decide(acting=True) is None
