"""When a change of a finding is news, and who may read it: one message when it opens, a reminder before
remediation, one when it resolves (only to someone who was told it opened), a re-notice only when the
cost doubled; nothing for the guardian's own bookkeeping."""

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest

from guardian import findings as lifecycle
from guardian.cost import Cost
from guardian.findings import Finding, Status
from guardian.kinds import Kind
from guardian.notices import NoticeKind, notice_for
from guardian.resource import Attribution, Resource, Source
from guardian.rules import Detection

T0 = datetime(2026, 11, 23, 9, tzinfo=UTC)
NOT_EXEMPT = lifecycle.Exemption(False)


def opened(sharing: str | None = "Private", owner: str | None = "alice", hourly: str = "0.23") -> Finding:
    resource = Resource(
        arn="arn:aws:sagemaker:us-east-1:123456789012:endpoint/fraud",
        kind=Kind.ENDPOINT,
        name="fraud",
        state="InService",
        attribution=Attribution(source=Source.AUTO_TAG, owner=owner, space="alice-lab", sharing=sharing),
    )
    detection = Detection("orphaned-resource", resource, T0, "still billing since space alice-lab stopped", {})
    finding, _ = lifecycle.opened(detection, Cost(Decimal(hourly), "1 x ml.m5.xlarge"), NOT_EXEMPT, T0)
    return finding


def later(hours: float) -> datetime:
    return T0 + timedelta(hours=hours)


def test_a_new_finding_is_news_and_the_guardian_marking_it_notified_is_not():
    finding = opened()
    assert notice_for(None, finding).kind is NoticeKind.OPENED
    told, _ = lifecycle.notified(finding, later(1), "email")
    assert notice_for(finding, told) is None


def test_a_refresh_with_the_same_cost_is_silent_and_a_doubled_cost_is_news_once():
    told, _ = lifecycle.notified(opened(), later(1), "email")
    resource = Resource(
        arn=told.resource_arn,
        kind=Kind.ENDPOINT,
        name="fraud",
        state="InService",
        attribution=Attribution(source=Source.AUTO_TAG, owner="alice", space="alice-lab", sharing="Private"),
    )
    detection = Detection("orphaned-resource", resource, T0, "still billing", {})
    same, _ = lifecycle.refreshed(told, detection, Cost(Decimal("0.23"), ""), NOT_EXEMPT, later(2))
    assert notice_for(told, same) is None
    doubled, _ = lifecycle.refreshed(told, detection, Cost(Decimal("0.46"), ""), NOT_EXEMPT, later(3))
    assert notice_for(told, doubled).kind is NoticeKind.CHANGED
    retold, _ = lifecycle.notified(doubled, later(3), "email")
    again, _ = lifecycle.refreshed(retold, detection, Cost(Decimal("0.46"), ""), NOT_EXEMPT, later(4))
    assert notice_for(retold, again) is None


def test_resolution_is_news_only_to_someone_who_was_told():
    finding = opened()
    quietly_resolved, _ = lifecycle.resolved(finding, later(1), "resource is gone")
    assert notice_for(finding, quietly_resolved) is None
    told, _ = lifecycle.notified(finding, later(1), "email")
    resolved, _ = lifecycle.resolved(told, later(2), "resource is gone")
    assert notice_for(told, resolved).kind is NoticeKind.RESOLVED
    assert notice_for(resolved, resolved) is None  # the same state again


def test_a_snooze_is_silent_and_its_end_is_news_again():
    told, _ = lifecycle.notified(opened(), later(1), "email")
    snoozed, _ = lifecycle.snoozed(told, later(48), "demo on Monday", "alice", later(2))
    assert notice_for(told, snoozed) is None
    woke, _ = lifecycle.moved(snoozed, Status.OPEN, later(49), "snooze ended", "over")
    assert notice_for(snoozed, woke).kind is NoticeKind.OPENED


def test_scheduled_remediation_is_a_reminder_once():
    told, _ = lifecycle.notified(opened(), later(1), "email")
    scheduled, _ = lifecycle.moved(told, Status.REMEDIATION_SCHEDULED, later(2), "remediation scheduled", "grace")
    assert notice_for(told, scheduled).kind is NoticeKind.REMINDER
    assert notice_for(scheduled, scheduled.model_copy(update={"revision": 9})) is None


def test_each_state_of_a_finding_has_its_own_delivery_key():
    finding = opened()
    told, _ = lifecycle.notified(finding, later(1), "email")
    resolved, _ = lifecycle.resolved(told, later(2), "gone")
    first, last = notice_for(None, finding), notice_for(told, resolved)
    assert first.key != last.key and first.key == notice_for(None, finding).key


@pytest.mark.parametrize(
    ("sharing", "owner", "private"),
    [("Private", "alice", True), ("Shared", "alice", False), (None, "alice", True), (None, None, False)],
)
def test_what_is_private_to_its_owner(sharing, owner, private):
    """A private space's resources, and a known owner's whose space is unknown, are the owner's business."""
    assert notice_for(None, opened(sharing=sharing, owner=owner)).private is private
