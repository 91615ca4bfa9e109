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
    cost_basis: str = ""
    segments: list[CostSegment] = Field(default_factory=list)
    notified_at: datetime | None = None
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
        return float(total.quantize(CENT, rounding=ROUND_HALF_UP))

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
            "snoozed_until": iso(self.snoozed_until),
            "exempt_until": iso(self.exempt_until),
            "remediation": self.remediation,
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


def refreshed(
    finding: Finding, detection: Detection, cost: Cost, exemption: Exemption, now: datetime
) -> tuple[Finding, list[AuditEntry]]:
    """The condition still holds: bring cost, evidence and status up to date."""
    audit: list[AuditEntry] = []
    if finding.status is Status.RESOLVED:
        reopened, _ = opened(detection, cost, exemption, now)
        reopened = reopened.model_copy(update={"version": finding.version + 1, "revision": finding.revision})
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
        "evidence": detection.evidence,
        "cost_basis": cost.basis,
        "severity": severity(cost.hourly),
        "owner": resource.owner,
        "owner_arn": resource.owner_arn,
        "space": resource.space,
        "space_arn": resource.space_arn,
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


def notified(finding: Finding, now: datetime, channel: str) -> tuple[Finding, list[AuditEntry]]:
    if finding.status is Status.OPEN:
        updated, entry = moved(finding, Status.NOTIFIED, now, "notified", f"sent via {channel}")
    else:
        updated, entry = finding, AuditEntry(at=now, action="notified", reason=f"sent via {channel}")
    return updated.model_copy(update={"notified_at": now, "notified_hourly": finding.hourly_cost_usd}), [entry]


def _float(value: Decimal | None) -> float | None:
    return None if value is None else float(value)
