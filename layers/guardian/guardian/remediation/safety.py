"""What is never acted on, decided in one place.

Given the findings of one resource, the guardian's record of it, the resource as AWS describes it now and
the moment, :func:`reason_not_to_act` says why the guardian must not act, or None. Each reason has a code
(:class:`Reason`), recorded in the finding's audit trail and shown in dry-run output as ``<code>: <text>``.

Never acted on: anything exempt (its tag, with or without a date to come) or snoozed (a snooze or an
exemption on any finding of the resource protects the resource, whichever rule fires; a snooze lasts to its
date even if its finding resolved meanwhile because the condition ended); an owner not
reached (the grace counts from the first notice delivered to a person, never from an attempt), or still
in grace; a resource of a shared space (unless RemediateSharedSpaces); unattributed, or with conflicting
attribution, or owned only by weak evidence (ownership for acting comes from auto-tags, the Studio API or
CloudTrail's source identity, never from a tag anyone can write); anything the guardian did not tag itself
(its own record says so, not the tag's presence); and, at the moment of acting, a resource re-created
under the old name, a space that restarted, a resource changed since the reminder, an endpoint called
since, or one on which the rule no longer fires.

Pure: the live reads happen before (guardian.remediation.live), so the decision can be stated as a property
(tests/unit/test_remediation_safety.py)."""

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any

from guardian.attribution import STRONG_SOURCES, OwnershipTags
from guardian.findings import Exemption, Finding, Status, exemption_of, stopped_billing
from guardian.kinds import Kind, is_billing
from guardian.remediation.live import Live
from guardian.resource import Resource, Source
from guardian.rules import RULES_BY_NAME
from guardian.rules.base import iso

# An event's time and a describe's may differ by their precision, never by a re-creation.
_SAME_MOMENT = timedelta(seconds=1)


SPACE_KEYS = frozenset({"space_running", "space_last_start"})  # what the reminder named of the space


class Reason(StrEnum):
    NOT_REMEDIABLE = "not-remediable"
    GONE = "gone"
    EXEMPT = "exempt"
    SNOOZED = "snoozed"
    UNATTRIBUTED = "unattributed"
    CONFLICTING_ATTRIBUTION = "conflicting-attribution"
    WEAK_OWNERSHIP = "weak-ownership"
    SHARED_SPACE = "shared-space"
    NOT_TAGGED_BY_GUARDIAN = "not-tagged-by-guardian"
    OWNER_NOT_REACHED = "owner-not-reached"
    IN_GRACE = "in-grace"
    RECREATED = "re-created"
    SPACE_RESTARTED = "space-restarted"
    CHANGED = "changed-since-reminder"
    IN_USE = "in-use"
    CONDITION_ENDED = "condition-ended"


@dataclass(frozen=True)
class Skip:
    reason: Reason
    text: str

    def __str__(self) -> str:
        return f"{self.reason.value}: {self.text}"


@dataclass(frozen=True)
class Policy:
    """The settings the decision depends on."""

    grace: timedelta
    lead: timedelta  # the reminder goes out this long before acting
    exemption_tag: str
    ownership: OwnershipTags
    remediate_shared_spaces: bool = False


def grace_start(finding: Finding, findings: Sequence[Finding]) -> datetime | None:
    """When the grace before acting began: the first notice delivered to the owner, or later, when an
    earlier schedule of the resource was called off (the clock starts over). None: nobody was reached."""
    if finding.reached_at is None:
        return None
    restarts = [_time((f.remediation or {}).get("cancelled_at")) for f in findings]
    return max([finding.reached_at, *(t for t in restarts if t is not None)])


def record_reason(
    finding: Finding, findings: Sequence[Finding], record: Resource | None, now: datetime, policy: Policy, acting: bool
) -> Skip | None:
    """What the guardian's own records already rule out (no call made). ``acting``: deciding to act now;
    otherwise, to send the reminder that the guardian will act a lead time from now."""
    rule = RULES_BY_NAME.get(finding.rule)
    if rule is None or not rule.remediable:
        return Skip(Reason.NOT_REMEDIABLE, f"{finding.rule} findings are never acted on")
    if record is None or not is_billing(record.kind, record.state):
        return Skip(Reason.GONE, "the guardian's record says it no longer runs")
    protected = _protection(findings, record, now, policy)
    if protected:
        return protected
    ownership = _ownership(finding, record, policy)
    if ownership:
        return ownership
    start = grace_start(finding, findings)
    if start is None:
        return Skip(Reason.OWNER_NOT_REACHED, f"no notice has reached {finding.owner} yet")
    ends = start + policy.grace
    if ends > (now if acting else now + policy.lead):
        return Skip(Reason.IN_GRACE, f"grace ends {iso(ends)}")
    return None


def reason_not_to_act(
    finding: Finding,
    findings: Sequence[Finding],
    record: Resource | None,
    live: Live,
    now: datetime,
    policy: Policy,
    named: Mapping[str, Any] | None = None,
) -> Skip | None:
    """Why the guardian must not act on ``finding``'s resource, or None. ``findings``: every active finding of
    the resource (``finding`` among them); ``live``: the resource as AWS describes it now; ``named``: the
    state the reminder named (None: deciding whether to send the reminder)."""
    acting = named is not None
    held = record_reason(finding, findings, record, now, policy, acting)
    if held or record is None:
        return held or Skip(Reason.GONE, "the guardian has no record of it")
    if not live.exists or not is_billing(record.kind, live.state):
        return Skip(Reason.GONE, f"it no longer runs ({live.state or 'not found'})")
    recreated = _recreated(record, live, named)
    if recreated:
        return recreated
    live_protection = _live_protection(record, live, now, policy)
    if live_protection:
        return live_protection
    if acting:
        assert named is not None  # acting means a reminder named a state
        changed = _changed(named, live)
        if changed:
            return changed
        if live.calls_since_reminder == math.inf:
            return Skip(Reason.IN_USE, "its variants are unknown, so it cannot be shown unused since the reminder")
        if live.calls_since_reminder:
            return Skip(Reason.IN_USE, f"called {live.calls_since_reminder:g} times since the reminder")
    if finding.rule not in live.firing:
        return Skip(Reason.CONDITION_ENDED, f"{finding.rule} no longer holds on the live resource")
    return None


# --- the parts ---------------------------------------------------------------------------------------


def _protection(findings: Sequence[Finding], record: Resource, now: datetime, policy: Policy) -> Skip | None:
    """An exemption or a snooze, on the resource or on any of its findings, protects the resource."""
    exempt = exemption_of(record, policy.exemption_tag, now)
    if exempt.exempt:
        return Skip(Reason.EXEMPT, exempt.reason or "exempt")
    for other in findings:
        if other.status is Status.EXEMPT:
            return Skip(Reason.EXEMPT, f"{other.rule} finding {other.id} is exempt ({other.exempt_reason or 'tag'})")
    for other in findings:
        if other.status is Status.SNOOZED and (other.snoozed_until is None or other.snoozed_until > now):
            until = f" until {iso(other.snoozed_until)}" if other.snoozed_until else ""
            return Skip(Reason.SNOOZED, f"{other.rule} finding {other.id} is snoozed{until}")
        if _snooze_outlived(other, record, now):
            return Skip(Reason.SNOOZED, f"{other.rule} finding {other.id} was snoozed until {iso(other.snoozed_until)}")
    return None


def _snooze_outlived(finding: Finding, record: Resource, now: datetime) -> bool:
    """A snooze outlives its finding when only the condition ended (the space restarted, say): the owner kept
    the resource, whatever rule fires on it next. Not when the resource went (a namesake is another one)."""
    return (
        finding.status is Status.RESOLVED
        and finding.snoozed_until is not None
        and finding.snoozed_until > now
        and not stopped_billing(finding)
        and finding.resolved_at is not None
        and (record.created_at is None or finding.resolved_at >= record.created_at)
    )


def _ownership(finding: Finding, record: Resource, policy: Policy) -> Skip | None:
    """Whose it is must be known from strong evidence, agree everywhere, be shown by the guardian's own tag,
    and be one person's (not a shared space's)."""
    attribution = record.attribution
    if attribution.source is Source.UNATTRIBUTED or not attribution.owner:
        return Skip(Reason.UNATTRIBUTED, "nobody the guardian can name owns it")
    conflicts = [note for note in attribution.notes if note.startswith("conflict:")]
    if conflicts:
        return Skip(Reason.CONFLICTING_ATTRIBUTION, conflicts[0])
    if finding.owner and finding.owner != attribution.owner:
        return Skip(
            Reason.CONFLICTING_ATTRIBUTION, f"the finding names {finding.owner}, the record {attribution.owner}"
        )
    if attribution.source not in STRONG_SOURCES:
        return Skip(
            Reason.WEAK_OWNERSHIP, f"its owner comes from {attribution.source.value}, which is no proof of ownership"
        )
    sharing = record.sharing if record.kind is Kind.SPACE else attribution.sharing
    if "Shared" in (sharing, finding.sharing) and not policy.remediate_shared_spaces:
        return Skip(Reason.SHARED_SPACE, f"space {attribution.space or finding.space} is shared by the team")
    if record.guardian_tagged_at is None:
        return Skip(Reason.NOT_TAGGED_BY_GUARDIAN, "the guardian never tagged it")
    tagged = record.tags.get(policy.ownership.owner)
    if tagged != attribution.owner:
        return Skip(
            Reason.CONFLICTING_ATTRIBUTION,
            f"its {policy.ownership.owner} tag says {tagged}, the record {attribution.owner}",
        )
    return None


def _live_protection(record: Resource, live: Live, now: datetime, policy: Policy) -> Skip | None:
    """What the live tags and space say, which may be newer than the guardian's record."""
    exempt: Exemption = exemption_of(record.model_copy(update={"tags": live.tags}), policy.exemption_tag, now)
    if exempt.exempt:
        return Skip(Reason.EXEMPT, f"{exempt.reason} (tagged since the guardian last looked)")
    owner_tag = policy.ownership.owner
    tagged = live.tags.get(owner_tag)
    if tagged is None:
        return Skip(Reason.NOT_TAGGED_BY_GUARDIAN, f"it no longer carries the {owner_tag} tag")
    if tagged != record.owner:
        return Skip(Reason.CONFLICTING_ATTRIBUTION, f"its {owner_tag} tag now says {tagged}, the record {record.owner}")
    tagged_at = record.guardian_tagged_at
    if tagged_at is not None and live.created_at is not None and live.created_at > tagged_at:
        return Skip(
            Reason.RECREATED,
            f"created {iso(live.created_at)}: the guardian tagged an earlier resource of this name ({iso(tagged_at)})",
        )
    if live.space is not None and live.space.sharing == "Shared" and not policy.remediate_shared_spaces:
        return Skip(Reason.SHARED_SPACE, f"space {live.space.name} is shared by the team")
    return None


def _recreated(record: Resource, live: Live, named: Mapping[str, Any] | None) -> Skip | None:
    """Another resource of the same name (the same ARN): created at another moment than the one the reminder
    named, or, before any reminder, than the one the guardian's record is of."""
    if named is not None:
        created = live.named().get("created_at")
        if named.get("created_at") != created:
            return Skip(
                Reason.RECREATED, f"created {created}, not {named.get('created_at')}: another resource of the same name"
            )
    elif record.created_at and live.created_at and abs(live.created_at - record.created_at) > _SAME_MOMENT:
        return Skip(Reason.RECREATED, f"re-created {iso(live.created_at)}: the guardian's record is of an earlier one")
    return None


def _changed(named: Mapping[str, Any], live: Live) -> Skip | None:
    """The state the reminder named, field by field, against the live one."""
    now_named = live.named()
    started_then, started_now = named.get("space_last_start"), now_named.get("space_last_start")
    if named.get("space_running") is False and now_named.get("space_running") is True:
        return Skip(Reason.SPACE_RESTARTED, "its space was stopped at the reminder and runs now")
    # A newer app is a restart; an app that merely dropped out of ListApps (AWS forgets deleted apps) is not.
    if started_now is not None and (started_then is None or started_now > started_then):
        return Skip(Reason.SPACE_RESTARTED, f"its space started an app at {started_now}, after the reminder")
    for key, value in named.items():
        if key in SPACE_KEYS:
            continue
        if now_named.get(key) != value:
            return Skip(Reason.CHANGED, f"{key.replace('_', ' ')} was {value}, is {now_named.get(key)}")
    return None


def _time(value: Any) -> datetime | None:
    if isinstance(value, datetime):
        return value
    if isinstance(value, str):
        try:
            return datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError:
            return None
    return None
