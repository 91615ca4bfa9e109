"""What remediation writes on findings: why it skipped one (once per reason), a resource's other findings
joining its schedule, a schedule called off, an attempt that failed, the result; and its run's report."""

from dataclasses import dataclass, field
from datetime import datetime
from functools import partial
from typing import Any

from guardian import findings as lifecycle
from guardian.findings import AuditEntry, Finding, Status
from guardian.findings_store import write_finding
from guardian.observability import MetricUnit, metrics
from guardian.remediation.safety import Skip
from guardian.rules.base import iso
from guardian.runtime import Guardian

MAX_ATTEMPTS = 3
# What a finding's remediation record keeps when a new note replaces it: when its schedule was called off
# (the grace starts over from then), and the schedule it joined.
_KEPT = ("cancelled", "cancelled_at", "joined_to")


@dataclass
class RemediationReport:
    mode: str
    scheduled: list[str] = field(default_factory=list)
    acted: list[str] = field(default_factory=list)
    would_act: list[str] = field(default_factory=list)
    blocked: dict[str, str] = field(default_factory=dict)  # finding id -> "<code>: <why>"
    failed: dict[str, str] = field(default_factory=dict)
    skipped: dict[str, dict[str, str]] = field(default_factory=dict)  # finding id -> resource_name, reason

    def as_dict(self) -> dict[str, Any]:
        return vars(self)

    def skip(self, finding: Finding, why: Skip) -> None:
        self.blocked[finding.id] = str(why)
        self.skipped[finding.id] = {"resource_name": finding.resource_name, "reason": str(why)}


def join(guardian: Guardian, scheduled: Finding, findings: list[Finding], now: datetime) -> Finding:
    """The resource's other notified findings join its schedule silently: each is marked as joined, and its
    reason is added to the scheduled finding's record (no status moves, so nobody is told again)."""
    plan = dict(scheduled.remediation or {})
    listed = {j["id"] for j in plan.get("joined", [])}
    reason = f"joins the remediation of {scheduled.rule} finding {scheduled.id}: no reminder of its own"
    joining = [f for f in findings if f.status is Status.NOTIFIED and f.id != scheduled.id and f.id not in listed]
    if not joining:
        return scheduled
    for sibling in joining:
        if (sibling.remediation or {}).get("joined_to") != scheduled.id:
            write_finding(
                guardian,
                sibling,
                partial(noted, note={"joined_to": scheduled.id}, now=now, action="remediation joined", reason=reason),
                now,
            )
    added = [{"id": f.id, "rule": f.rule, "summary": f.summary} for f in joining]

    def add_reasons(f: Finding) -> tuple[Finding, list[AuditEntry]]:
        record = dict(f.remediation or {})
        record["joined"] = [*record.get("joined", []), *added]
        entries = [
            AuditEntry(at=now, action="remediation joined", reason=f"{j['rule']}: {j['summary']}") for j in added
        ]
        return f.model_copy(update={"remediation": record}), entries

    write_finding(guardian, scheduled, add_reasons, now)
    return guardian.findings.get(scheduled.id) or scheduled


def joined(
    finding: Finding, audit: list[AuditEntry], scheduled: Finding | None, now: datetime
) -> tuple[Finding, list[AuditEntry]]:
    """A finding that opens (or wakes) on a resource another finding already scheduled for remediation joins
    that schedule at once: its owner's reminder covers the resource, so it is not announced as opened (it
    is marked notified, as its resource's owner was), and remediation adds its reason to the schedule."""
    if scheduled is None or scheduled.id == finding.id or finding.status is not Status.OPEN:
        return finding, audit
    reason = (
        f"{scheduled.rule} finding {scheduled.id} already reminded {finding.owner or 'the team'} that the guardian "
        f"will {(scheduled.remediation or {}).get('action', 'act')}: no separate alert"
    )
    entry = AuditEntry(
        at=now,
        action="remediation joined",
        from_status=Status.OPEN.value,
        to_status=Status.NOTIFIED.value,
        reason=reason,
    )
    update = {
        "status": Status.NOTIFIED,
        "notified_at": scheduled.notified_at or now,
        "reached_at": scheduled.reached_at,
        "delivery_state": scheduled.delivery_state,
        "notified_hourly": finding.hourly_cost_usd,
        "remediation": {"joined_to": scheduled.id},
    }
    return finding.model_copy(update=update), [*audit, entry]


def remediated_with(
    guardian: Guardian, sibling: Finding, primary: Finding, done: dict[str, Any], now: datetime
) -> None:
    shared = {k: done[k] for k in ("action", "restore", "done_at") if k in done} | {"joined_to": primary.id}

    def change(f: Finding) -> tuple[Finding, list[AuditEntry]]:
        if f.status not in (Status.OPEN, Status.NOTIFIED, Status.REMEDIATION_SCHEDULED):
            return f, []
        moved, entry = lifecycle.moved(
            f, Status.REMEDIATED, now, "remediated", f"with {primary.rule} finding {primary.id}: {done['action']}"
        )
        return moved.model_copy(update={"remediation": shared, "remediation_due_at": None}), [entry]

    write_finding(guardian, sibling, change, now)


def failed_attempt(
    guardian: Guardian, finding: Finding, plan: dict[str, Any], error: str, now: datetime, report: RemediationReport
) -> None:
    attempts = int(plan.get("attempts", 0)) + 1
    give_up = attempts >= MAX_ATTEMPTS
    to = Status.NOTIFIED if give_up else Status.REMEDIATION_SCHEDULED

    def failed(f: Finding) -> tuple[Finding, list[AuditEntry]]:
        entry = AuditEntry(
            at=now,
            action="remediation failed",
            from_status=f.status.value,
            to_status=to.value,
            reason=f"attempt {attempts}: {error}" + ("; giving up" if give_up else ""),
        )
        update: dict[str, Any] = {"status": to, "remediation": plan | {"attempts": attempts, "last_error": error}}
        if give_up:
            update["remediation_due_at"] = None
        return f.model_copy(update=update), [entry]

    write_finding(guardian, finding, failed, now)
    metrics.add_metric(name="RemediationFailures", unit=MetricUnit.Count, value=1)
    report.failed[finding.id] = error


def cancel(
    guardian: Guardian, finding: Finding, plan: dict[str, Any], why: Skip, now: datetime, report: RemediationReport
) -> None:
    """Called off: back to notified with the reason; if it is still waste, a new reminder starts over after a
    new grace (counted from now, see safety.grace_start)."""

    def called_off(f: Finding) -> tuple[Finding, list[AuditEntry]]:
        moved, entry = lifecycle.moved(f, Status.NOTIFIED, now, "remediation skipped", str(why))
        note = plan | {"cancelled": str(why), "cancelled_at": iso(now), "skipped": str(why)}
        return moved.model_copy(update={"remediation": note, "remediation_due_at": None}), [entry]

    write_finding(guardian, finding, called_off, now)
    report.skip(finding, why)


def skipped(guardian: Guardian, finding: Finding, why: Skip, now: datetime, report: RemediationReport) -> None:
    """Why not, in the report every run and in the audit trail when it changed."""
    report.skip(finding, why)
    if (finding.remediation or {}).get("skipped") == str(why):
        return
    write_finding(
        guardian, finding, lambda f: noted(f, {"skipped": str(why)}, now, "remediation skipped", str(why)), now
    )


def noted(
    finding: Finding, note: dict[str, Any], now: datetime, action: str, reason: str, keep: bool = True
) -> tuple[Finding, list[AuditEntry]]:
    held = {k: v for k, v in (finding.remediation or {}).items() if k in _KEPT} if keep else {}
    return finding.model_copy(update={"remediation": held | note}), [AuditEntry(at=now, action=action, reason=reason)]
