"""Findings: what a rule found about a resource, with a lifecycle, a cost history and an audit trail.

open -> notified -> (snoozed | exempt | remediation-scheduled -> remediated) -> resolved. One finding per
(rule, resource), whose id is derived from both, so a repeated detection updates the same finding and a
condition that comes back reopens it. Waste is derived, never stored: the cost history is a list of
segments (from when, what per hour), and waste over any window is their overlap with it.
"""

import hashlib
from dataclasses import dataclass
from datetime import UTC, date, datetime, time
from decimal import ROUND_HALF_UP, Decimal
from enum import StrEnum
from typing import Any

from pydantic import BaseModel, Field

from guardian.attribution import confidence
from guardian.cost import HOURS_PER_MONTH, Cost
from guardian.resource import Resource
from guardian.rules.base import Detection, iso


class Status(StrEnum):
    OPEN = "open"
    NOTIFIED = "notified"
    SNOOZED = "snoozed"
    EXEMPT = "exempt"
    REMEDIATION_SCHEDULED = "remediation-scheduled"
    REMEDIATED = "remediated"
    RESOLVED = "resolved"


ACTIVE = tuple(s for s in Status if s is not Status.RESOLVED)
CENT = Decimal("0.01")


def finding_id(rule: str, arn: str) -> str:
    return "f-" + hashlib.sha256(f"{rule}|{arn}".encode()).hexdigest()[:16]


SEVERITIES = ("low", "medium", "high")  # in order


def severity(hourly: Decimal | None) -> str:
    monthly = (hourly or Decimal(0)) * HOURS_PER_MONTH
    return "high" if monthly >= 500 else "medium" if monthly >= 50 else "low"


class CostSegment(BaseModel):
    start: datetime
    hourly: float | None


class AuditEntry(BaseModel):
    at: datetime
    action: str
    from_status: str | None = None
    to_status: str | None = None
    reason: str = ""
    actor: str = "guardian"


class FindingAttribution(BaseModel):
    """Why the finding names its owner: the source that decided, how far it can be trusted ("strong": Studio's
    auto-tags, the Studio API, CloudTrail's source identity; "weak": an execution role, the guardian's own tag;
    "none"), what every source said, and where sources disagree."""

    source: str
    confidence: str
    owner: str | None = None
    evidence: list[str] = Field(default_factory=list)
    conflicts: list[str] = Field(default_factory=list)


def attribution_of(resource: Resource) -> FindingAttribution:
    attribution, creator = resource.attribution, resource.creator
    notes = [note for note in attribution.notes if not note.startswith("conflict:")]
    if creator is not None and creator.event_name:
        by = creator.principal_arn or creator.role_arn or "an unknown caller"
        notes.append(
            f"cloudtrail: {creator.event_name} by {by}"
            + (f", source identity {creator.source_identity}" if creator.source_identity else "")
        )
    return FindingAttribution(
        source=attribution.source.value,
        confidence=confidence(attribution.source),
        owner=attribution.owner,
        evidence=notes,
        conflicts=[note for note in attribution.notes if note.startswith("conflict:")],
    )


class Finding(BaseModel):
    id: str
    rule: str
    resource_arn: str
    resource_kind: str
    resource_name: str
    owner: str | None = None
    owner_arn: str | None = None
    space: str | None = None
    space_arn: str | None = None
    domain_id: str | None = None
    sharing: str | None = None
    region: str
    account: str
    status: Status
    detected_at: datetime
    condition_since: datetime
    summary: str
    severity: str
    evidence: dict[str, Any] = Field(default_factory=dict)
    attribution: FindingAttribution | None = None  # None: a finding stored before it was recorded
    cost_basis: str = ""
    segments: list[CostSegment] = Field(default_factory=list)
    notified_at: datetime | None = None  # a message about it went out (it may have reached nobody)
    # The first notice delivered to a person who can act (a Slack post answered 2xx, an email to a confirmed
    # subscription): remediation's grace counts from here, never from an attempt.
    reached_at: datetime | None = None
    delivery_state: str | None = None  # "delivered", "awaiting-confirmation", "unreachable" (owner has no channel)
    notified_hourly: float | None = None
    snoozed_until: datetime | None = None
    snooze_reason: str | None = None
    exempt_until: datetime | None = None
    exempt_reason: str | None = None
    remediation: dict[str, Any] | None = None
    remediation_due_at: datetime | None = None
    resolved_at: datetime | None = None
    resolution: str | None = None
    version: int = 1  # moves when the owner should hear about it again
    revision: int = 0  # moves on every write
    updated_at: datetime | None = None

    @property
    def hourly_cost_usd(self) -> float | None:
        return self.segments[-1].hourly if self.segments else None

    @property
    def monthly_cost_usd(self) -> float | None:
        hourly = self.hourly_cost_usd
        return None if hourly is None else round(hourly * float(HOURS_PER_MONTH), 2)

    def waste_usd(self, until: datetime, since: datetime | None = None) -> float | None:
        """Waste accrued in [since, until) (default: since the condition began), cents-exact."""
        start = max(since or self.condition_since, self.condition_since)
        end = min(until, self.resolved_at) if self.resolved_at else until
        total = Decimal(0)
        for index, segment in enumerate(self.segments):
            seg_end = self.segments[index + 1].start if index + 1 < len(self.segments) else end
            overlap = (min(seg_end, end) - max(segment.start, start)).total_seconds()
            if overlap <= 0:
                continue
            if segment.hourly is None:
                return None
            total += Decimal(str(segment.hourly)) * Decimal(overlap) / Decimal(3600)
        if not total and self._unpriced_at(start):
            return None  # nothing accrued yet at an unknown price: unknown, not $0
        return float(total.quantize(CENT, rounding=ROUND_HALF_UP))

    def _unpriced_at(self, moment: datetime) -> bool:
        """Whether the price in force at ``moment`` is unknown."""
        in_force = [s for s in self.segments if s.start <= moment] or self.segments[:1]
        return bool(in_force) and in_force[-1].hourly is None

    @property
    def private(self) -> bool:
        """About a private space's resources (or an owner's, space unknown): for its owner's eyes only. What
        nobody owns is the team's business."""
        return self.owner is not None and self.sharing != "Shared"

    @property
    def active(self) -> bool:
        return self.status is not Status.RESOLVED

    def public(self, now: datetime) -> dict[str, Any]:
        """The finding as `guardian scan --format json` and the alerts show it (a scripting interface)."""
        return {
            "id": self.id,
            "rule": self.rule,
            "resource_arn": self.resource_arn,
            "resource_kind": self.resource_kind,
            "resource_name": self.resource_name,
            "account": self.account,
            "region": self.region,
            "owner": self.owner,
            "space": self.space,
            "domain_id": self.domain_id,
            "sharing": self.sharing,
            "status": self.status.value,
            "detected_at": iso(self.detected_at),
            "condition_since": iso(self.condition_since),
            "hourly_cost_usd": self.hourly_cost_usd,
            "waste_usd": self.waste_usd(now),
            "monthly_cost_usd": self.monthly_cost_usd,
            "severity": self.severity,
            "summary": self.summary,
            "evidence": self.evidence | {"cost_basis": self.cost_basis},
            "attribution": self.attribution.model_dump() if self.attribution else None,
            "snoozed_until": iso(self.snoozed_until),
            "exempt_until": iso(self.exempt_until),
            "remediation": self.remediation,
            "delivery_state": self.delivery_state,
            "reached_at": iso(self.reached_at),
            "resolved_at": iso(self.resolved_at),
            "resolution": self.resolution,
        }


@dataclass(frozen=True)
class Exemption:
    exempt: bool
    until: datetime | None = None
    reason: str | None = None


def exemption_of(resource: Resource, tag_key: str, now: datetime) -> Exemption:
    """The exemption tag: `true` (always), or an ISO date until which (that day included) it holds."""
    value = resource.tags.get(tag_key)
    if value is None:
        return Exemption(False)
    if value.strip().lower() == "true":
        return Exemption(True, None, f"tag {tag_key}=true")
    try:
        until = datetime.combine(date.fromisoformat(value.strip()), time.max, tzinfo=UTC)
    except ValueError:
        return Exemption(False, reason=f"tag {tag_key}={value!r} is neither true nor a date: ignored")
    if until < now:
        return Exemption(False, reason=f"exemption ended {value}")
    return Exemption(True, until, f"tag {tag_key}={value}")


def moved(
    finding: Finding, to: Status, now: datetime, action: str, reason: str, actor: str = "guardian"
) -> tuple[Finding, AuditEntry]:
    entry = AuditEntry(
        at=now, action=action, from_status=finding.status.value, to_status=to.value, reason=reason, actor=actor
    )
    return finding.model_copy(update={"status": to, "version": finding.version + 1}), entry


def opened(detection: Detection, cost: Cost, exemption: Exemption, now: datetime) -> tuple[Finding, list[AuditEntry]]:
    resource = detection.resource
    status = Status.EXEMPT if exemption.exempt else Status.OPEN
    finding = Finding(
        id=finding_id(detection.rule, resource.arn),
        rule=detection.rule,
        resource_arn=resource.api_arn or resource.arn,
        resource_kind=resource.kind.value,
        resource_name=resource.name,
        owner=resource.owner,
        owner_arn=resource.owner_arn,
        space=resource.space,
        space_arn=resource.space_arn,
        domain_id=resource.attribution.domain_id or resource.domain_id,
        sharing=resource.sharing if resource.kind.value == "space" else resource.attribution.sharing,
        region=resource.region,
        account=resource.account,
        status=status,
        detected_at=now,
        condition_since=detection.since,
        summary=detection.summary,
        severity=severity(cost.hourly),
        evidence=detection.evidence,
        attribution=attribution_of(resource),
        cost_basis=cost.basis,
        segments=[CostSegment(start=detection.since, hourly=_float(cost.hourly))],
        exempt_until=exemption.until,
        exempt_reason=exemption.reason if exemption.exempt else None,
        updated_at=now,
    )
    return finding, [
        AuditEntry(
            at=now,
            action="opened",
            to_status=status.value,
            reason=detection.summary + (f"; exempt: {exemption.reason}" if exemption.exempt else ""),
        )
    ]


# Evidence that is a measurement of the moment it was taken (a metric series, the window it covers), not a
# fact of the condition: a later sweep's measurement of a condition that holds as it did does not rewrite the
# finding (nor wake notify). Elapsed time is never evidence: it is computed when a message is rendered.
MOMENTARY = frozenset({"is_idle_points", "window_start", "window_end"})


def lasting_evidence(held: dict[str, Any], detected: dict[str, Any]) -> dict[str, Any]:
    """The evidence a continuing finding keeps: the new detection's when its facts changed, else as held."""

    def facts(evidence: dict[str, Any]) -> dict[str, Any]:
        return {key: value for key, value in evidence.items() if key not in MOMENTARY}

    return held if facts(held) == facts(detected) and held.keys() == detected.keys() else detected


def refreshed(
    finding: Finding, detection: Detection, cost: Cost, exemption: Exemption, now: datetime
) -> tuple[Finding, list[AuditEntry]]:
    """The condition still holds: bring cost, evidence and status up to date."""
    audit: list[AuditEntry] = []
    if finding.status is Status.RESOLVED:
        reopened, _ = opened(detection, cost, exemption, now)
        update: dict[str, Any] = {"version": finding.version + 1, "revision": finding.revision}
        if reopened.status is Status.OPEN and _snooze_holds(finding, now):
            # Only its condition had ended (the space ran a while): the owner's snooze of the resource stands.
            update |= {
                "status": Status.SNOOZED,
                "snoozed_until": finding.snoozed_until,
                "snooze_reason": finding.snooze_reason,
            }
        reopened = reopened.model_copy(update=update)
        return reopened, [
            AuditEntry(
                at=now,
                action="reopened",
                from_status="resolved",
                to_status=reopened.status.value,
                reason=detection.summary,
            )
        ]
    resource = detection.resource
    changes: dict[str, Any] = {
        "summary": detection.summary,
        "evidence": lasting_evidence(finding.evidence, detection.evidence),
        "cost_basis": cost.basis,
        "severity": severity(cost.hourly),
        "owner": resource.owner,
        "owner_arn": resource.owner_arn,
        "space": resource.space,
        "space_arn": resource.space_arn,
        "attribution": attribution_of(resource),
    }
    hourly = _float(cost.hourly)
    segments = list(finding.segments)
    if not segments or segments[-1].hourly != hourly:
        segments.append(CostSegment(start=now, hourly=hourly))
        changes["segments"] = segments
    updated = finding.model_copy(update=changes)
    if exemption.exempt and updated.status is not Status.EXEMPT:
        updated, entry = moved(updated, Status.EXEMPT, now, "exempted", exemption.reason or "exempt")
        updated = updated.model_copy(
            update={"exempt_until": exemption.until, "exempt_reason": exemption.reason, "remediation": None}
        )
        audit.append(entry)
    elif not exemption.exempt and updated.status is Status.EXEMPT:
        updated, entry = moved(updated, Status.OPEN, now, "exemption ended", exemption.reason or "no exemption tag")
        updated = updated.model_copy(update={"exempt_until": None, "exempt_reason": None})
        audit.append(entry)
    elif updated.status is Status.SNOOZED and updated.snoozed_until and updated.snoozed_until <= now:
        updated, entry = moved(updated, Status.OPEN, now, "snooze ended", f"snoozed until {iso(updated.snoozed_until)}")
        audit.append(entry)
    elif _cost_doubled(updated):
        audit.append(
            AuditEntry(
                at=now,
                action="cost doubled",
                reason=f"now ${hourly}/h, ${updated.notified_hourly}/h when the owner was last told",
            )
        )
        updated = updated.model_copy(update={"version": updated.version + 1, "notified_hourly": hourly})
    return updated, audit


def _snooze_holds(finding: Finding, now: datetime) -> bool:
    """A resolved finding's snooze still to run, on the same resource (not one that went: a namesake is new)."""
    return finding.snoozed_until is not None and finding.snoozed_until > now and not stopped_billing(finding)


def _cost_doubled(finding: Finding) -> bool:
    told, now = finding.notified_hourly, finding.hourly_cost_usd
    return finding.status is Status.NOTIFIED and told is not None and told > 0 and now is not None and now >= 2 * told


RESOURCE_GONE = "resource is gone"
CONDITION_ENDED = "condition ended"
REMEDIATED = "remediated"


def ended(finding: Finding, now: datetime, gone: bool) -> tuple[Finding, list[AuditEntry]]:
    """Resolved because the resource is gone or the condition ended (after remediation, it says so)."""
    reason = RESOURCE_GONE if gone else CONDITION_ENDED
    if finding.status is Status.REMEDIATED:
        reason = f"{REMEDIATED}: {reason}"
    return resolved(finding, now, reason)


def stopped_billing(finding: Finding) -> bool:
    """Resolved because the resource stopped billing (deleted, terminated, remediated), not merely because
    the condition ended (an idle endpoint called again still bills)."""
    return (finding.resolution or "").startswith((RESOURCE_GONE, REMEDIATED))


def resolved(finding: Finding, now: datetime, resolution: str) -> tuple[Finding, list[AuditEntry]]:
    updated, entry = moved(finding, Status.RESOLVED, now, "resolved", resolution)
    return updated.model_copy(update={"resolved_at": now, "resolution": resolution}), [entry]


def snoozed(
    finding: Finding, until: datetime, reason: str, actor: str, now: datetime
) -> tuple[Finding, list[AuditEntry]]:
    if not finding.active:
        raise ValueError(f"finding {finding.id} is resolved: nothing to snooze")
    if until <= now:
        raise ValueError(f"snooze until {iso(until)} is not in the future")
    updated, entry = moved(finding, Status.SNOOZED, now, "snoozed", f"until {iso(until)}: {reason}", actor)
    return updated.model_copy(update={"snoozed_until": until, "snooze_reason": reason, "remediation": None}), [entry]


# Finding.delivery_state: whether whoever must act (its owner; the team, for what nobody owns) was reached.
DELIVERED = "delivered"  # a notice reached them (reached_at says when first)
AWAITING_CONFIRMATION = "awaiting-confirmation"  # held: the owner's email subscription is not confirmed yet
UNREACHABLE = "unreachable"  # no channel reaches the owner (no address, no Slack; or only a refused webhook)


def notified(finding: Finding, now: datetime, channel: str, reached: bool = True) -> tuple[Finding, list[AuditEntry]]:
    """A message about it went out on ``channel``; ``reached``: it was delivered to a person (Slack answered
    2xx, the email went to a confirmed subscription), so grace before any action counts from the first such."""
    reason = f"sent via {channel}" + ("" if reached else ", which reached nobody")
    if finding.status is Status.OPEN:
        updated, entry = moved(finding, Status.NOTIFIED, now, "notified", reason)
    else:
        updated, entry = finding, AuditEntry(at=now, action="notified", reason=reason)
    changes: dict[str, Any] = {"notified_at": now, "notified_hourly": finding.hourly_cost_usd}
    if reached:
        changes |= {"reached_at": finding.reached_at or now, "delivery_state": DELIVERED}
    elif finding.reached_at is None and finding.delivery_state is None:
        changes["delivery_state"] = UNREACHABLE
    return updated.model_copy(update=changes), [entry]


def held(finding: Finding, now: datetime, state: str, reason: str) -> tuple[Finding, list[AuditEntry]]:
    """A message about it is kept until its owner can be reached (``state``: AWAITING_CONFIRMATION or
    UNREACHABLE); a finding whose owner was reached before stays DELIVERED."""
    entry = AuditEntry(at=now, action="message held", reason=reason)
    if finding.reached_at is not None or finding.delivery_state == state:
        return finding, [entry]
    return finding.model_copy(update={"delivery_state": state}), [entry]


def _float(value: Decimal | None) -> float | None:
    return None if value is None else float(value)
