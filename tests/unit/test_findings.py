"""The finding lifecycle: deterministic ids, cost history and the waste it adds up to, exemptions,
snoozes, resolution and reopening, each change in the audit trail with its reason."""

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest

from guardian import findings as lifecycle
from guardian.cost import Cost
from guardian.findings import Status, exemption_of, finding_id
from guardian.kinds import Kind
from guardian.resource import Attribution, Resource, Source
from guardian.rules import Detection

T0 = datetime(2026, 11, 23, 9, tzinfo=UTC)
ARN = "arn:aws:sagemaker:us-east-1:123456789012:endpoint/fraud"
RESOURCE = Resource(
    arn=ARN,
    kind=Kind.ENDPOINT,
    name="fraud",
    state="InService",
    attribution=Attribution(
        source=Source.AUTO_TAG, owner="alice", space="alice-lab", sharing="Private", domain_id="d-1"
    ),
)
NOT_EXEMPT = lifecycle.Exemption(False)


def detected(since=T0, summary="still billing since space alice-lab stopped") -> Detection:
    return Detection("orphaned-resource", RESOURCE, since, summary, {"space": "alice-lab"})


def at(hours: float) -> datetime:
    return T0 + timedelta(hours=hours)


def test_one_finding_per_rule_and_resource_whatever_detects_it():
    assert finding_id("orphaned-resource", ARN) == finding_id("orphaned-resource", ARN)
    assert finding_id("orphaned-resource", ARN) != finding_id("idle-endpoint", ARN)


def test_an_opened_finding_carries_owner_space_cost_and_why():
    finding, audit = lifecycle.opened(detected(), Cost(Decimal("0.23"), "1 x ml.m5.xlarge"), NOT_EXEMPT, at(2))
    public = finding.public(at(10))
    assert (public["owner"], public["space"], public["sharing"], public["status"]) == (
        "alice",
        "alice-lab",
        "Private",
        "open",
    )
    assert (public["hourly_cost_usd"], public["monthly_cost_usd"], public["waste_usd"]) == (0.23, 167.9, 2.30)
    assert public["evidence"]["cost_basis"] == "1 x ml.m5.xlarge" and public["detected_at"] == "2026-11-23T11:00:00Z"
    assert [a.action for a in audit] == ["opened"]


def test_waste_follows_the_cost_history_and_splits_at_any_window():
    finding, _ = lifecycle.opened(detected(), Cost(Decimal("1.00"), ""), NOT_EXEMPT, at(0))
    scaled, _ = lifecycle.refreshed(finding, detected(), Cost(Decimal("3.00"), ""), NOT_EXEMPT, at(10))
    assert [s.hourly for s in scaled.segments] == [1.0, 3.0]
    assert scaled.waste_usd(at(12)) == 16.00  # 10 h at $1, 2 h at $3
    assert scaled.waste_usd(at(12), since=at(9)) == 7.00  # the window [9 h, 12 h)
    ended, _ = lifecycle.resolved(scaled, at(11), "condition ended")
    assert ended.waste_usd(at(100)) == 13.00  # nothing accrues after resolution


def test_unknown_cost_means_unknown_waste_not_zero():
    finding, _ = lifecycle.opened(detected(), Cost(None, "no price"), NOT_EXEMPT, at(0))
    assert finding.waste_usd(at(5)) is None and finding.monthly_cost_usd is None
    assert finding.waste_usd(at(0)) is None  # the moment it opens: unknown so far, not $0.00 so far
    priced, _ = lifecycle.opened(detected(), Cost(Decimal("1.00"), ""), NOT_EXEMPT, at(0))
    assert priced.waste_usd(at(0)) == 0.0


def test_an_unchanged_condition_changes_nothing():
    finding, _ = lifecycle.opened(detected(), Cost(Decimal("0.23"), "b"), NOT_EXEMPT, at(0))
    again, audit = lifecycle.refreshed(finding, detected(), Cost(Decimal("0.23"), "b"), NOT_EXEMPT, at(1))
    assert audit == [] and again == finding


def test_a_resolved_finding_that_comes_back_is_reopened_with_its_history():
    finding, _ = lifecycle.opened(detected(), Cost(Decimal("0.23"), ""), NOT_EXEMPT, at(0))
    ended, _ = lifecycle.resolved(finding, at(5), "condition ended")
    reopened, audit = lifecycle.refreshed(ended, detected(since=at(8)), Cost(Decimal("0.23"), ""), NOT_EXEMPT, at(9))
    assert (reopened.status, reopened.condition_since, reopened.resolved_at) == (Status.OPEN, at(8), None)
    assert audit[0].action == "reopened" and reopened.version > ended.version


def test_a_snooze_holds_until_its_date_then_the_finding_opens_again():
    finding, _ = lifecycle.opened(detected(), Cost(Decimal("0.23"), ""), NOT_EXEMPT, at(0))
    snoozed, audit = lifecycle.snoozed(finding, at(48), "demo on Friday", "arn:aws:iam::1:user/alice", at(1))
    assert (snoozed.status, audit[0].actor, audit[0].reason) == (
        Status.SNOOZED,
        "arn:aws:iam::1:user/alice",
        "until 2026-11-25T09:00:00Z: demo on Friday",
    )
    still, _ = lifecycle.refreshed(snoozed, detected(), Cost(Decimal("0.23"), ""), NOT_EXEMPT, at(47))
    assert still.status is Status.SNOOZED
    woke, audit = lifecycle.refreshed(snoozed, detected(), Cost(Decimal("0.23"), ""), NOT_EXEMPT, at(49))
    assert woke.status is Status.OPEN and audit[0].action == "snooze ended"
    with pytest.raises(ValueError, match="not in the future"):
        lifecycle.snoozed(finding, at(0), "too late", "me", at(1))


@pytest.mark.parametrize(
    ("value", "exempt", "until"),
    [
        ("true", True, None),
        ("TRUE", True, None),
        ("2026-12-31", True, datetime(2026, 12, 31, 23, 59, 59, 999999, UTC)),
        ("2026-11-01", False, None),
        ("forever", False, None),
    ],
)
def test_the_exemption_tag_is_true_or_a_date_until_which(value, exempt, until):
    tagged = RESOURCE.model_copy(update={"tags": {"studio-cost-guardian:exempt": value}})
    found = exemption_of(tagged, "studio-cost-guardian:exempt", at(0))
    assert (found.exempt, found.until) == (exempt, until)
    if value in ("2026-11-01", "forever"):
        assert found.reason  # an ended or unreadable exemption is explained, not silently ignored


def test_an_exempt_resource_is_visible_as_exempt_and_leaves_it_when_the_tag_goes():
    exempt = lifecycle.Exemption(True, None, "tag studio-cost-guardian:exempt=true")
    finding, _ = lifecycle.opened(detected(), Cost(Decimal("0.23"), ""), exempt, at(0))
    assert finding.status is Status.EXEMPT
    back, audit = lifecycle.refreshed(finding, detected(), Cost(Decimal("0.23"), ""), NOT_EXEMPT, at(2))
    assert back.status is Status.OPEN and audit[0].action == "exemption ended"


def test_a_doubled_cost_after_the_owner_was_told_is_news_once():
    finding, _ = lifecycle.opened(detected(), Cost(Decimal("1.00"), ""), NOT_EXEMPT, at(0))
    told, _ = lifecycle.notified(finding, at(1), "email")
    doubled, audit = lifecycle.refreshed(told, detected(), Cost(Decimal("2.00"), ""), NOT_EXEMPT, at(2))
    assert doubled.version == told.version + 1 and audit[0].action == "cost doubled"
    again, audit = lifecycle.refreshed(doubled, detected(), Cost(Decimal("2.00"), ""), NOT_EXEMPT, at(3))
    assert again.version == doubled.version and audit == []
