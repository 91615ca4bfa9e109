"""The daily digest: instead of immediate alerts (DigestMode=daily), one message per owner a day with
what opened and what resolved; and, for the team (TeamNotifications=digest), one summary of everything
still open, with findings in private spaces counted rather than named.

Each digest goes through the outbox (delivery.py): once a day per channel, however often the schedule
fires. An owner's new findings are marked notified once their digest is delivered, now or by an earlier
run (a run that sent it and failed to mark them leaves the marking to the retry, which does not send it
again); a digest not delivered fails the run, which the schedule retries."""

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from guardian import findings as lifecycle
from guardian.channels import Audience, DeliveryFailed
from guardian.delivery import send_once
from guardian.findings import ACTIVE, AuditEntry, Finding, Status
from guardian.findings_store import write_finding
from guardian.messages import Context, Message, daily, daily_total, dollars, header, label, render, section
from guardian.notices import Notice, NoticeKind
from guardian.runtime import Guardian


@dataclass
class DigestReport:
    sent: list[str] = field(default_factory=list)
    failed: list[str] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return {"sent": self.sent, "failed": self.failed}


def digest(guardian: Guardian, now: datetime, deadline: datetime | None = None) -> DigestReport:
    """``deadline``: when this invocation ends (the outbox's claims expire then at the latest)."""
    settings = guardian.settings
    report = DigestReport()
    since = now - timedelta(days=1)
    active = [f for status in ACTIVE for f in guardian.findings.with_status(status)]
    resolved = list(guardian.findings.with_status(Status.RESOLVED, after=since))
    context = Context.for_stack(settings, now)
    if settings.digest_mode == "daily":
        new = defaultdict(list)
        for finding in active:
            if finding.status is Status.OPEN and finding.owner:
                new[finding.owner].append(finding)
        gone = defaultdict(list)
        for finding in resolved:
            if finding.owner and finding.notified_at:
                gone[finding.owner].append(finding)
        for owner in sorted(set(new) | set(gone)):
            message = _owner_digest(new[owner], gone[owner], context)
            if _send(guardian, Audience(owner), message, now, deadline, report):
                for finding in new[owner]:
                    _mark_told(guardian, finding, now, report)
    if settings.team_notifications == "digest" and (active or resolved):
        message = team_digest(active, resolved, context, settings.allow_private_names)
        _send(guardian, Audience(None), message, now, deadline, report)
    if report.failed:  # the schedule retries; what was delivered is not sent again
        raise DeliveryFailed(f"digests not delivered to: {', '.join(report.failed)}")
    return report


def _owner_digest(new: list[Finding], gone: list[Finding], context: Context) -> Message:
    parts = []
    if new:
        parts.append(render([Notice(NoticeKind.OPENED, f) for f in new], context))
    if gone:
        parts.append(render([Notice(NoticeKind.RESOLVED, f) for f in gone], context))
    per_day, _ = daily_total(new)
    subject = f"Daily: {len(new)} new, {len(gone)} resolved ({(new or gone)[0].owner}) ~ {dollars(per_day)}/day"
    sections = [b for p in parts for b in p.blocks if b["type"] != "header"]
    return Message(
        subject=subject,
        text="\n\n".join(p.text for p in parts),
        blocks=[header(subject), *sections][:50],
        about=new + gone,
    )


def team_digest(active: list[Finding], resolved: list[Finding], context: Context, names: bool) -> Message:
    """Everything still open, by owner; private-space findings counted, not named."""
    lines, private = [], []
    counted = [f for f in active if f.status is not Status.EXEMPT]
    for finding in sorted(counted, key=lambda f: -(f.waste_usd(context.now) or 0)):
        if not names and finding.private:
            private.append(finding)
            continue
        lines.append(
            f"- {label(finding)} ({finding.owner or 'no owner'}): {dollars(daily(finding))}/day, "
            f"{dollars(finding.waste_usd(context.now))} so far"
        )
    if private:
        per_day, _ = daily_total(private)
        lines.append(
            f"- {len({f.resource_arn for f in private})} resources in private spaces: {dollars(per_day)}/day "
            "(their owners have the details)"
        )
    per_day, _ = daily_total(counted)
    subject = f"Studio waste today: {len(counted)} open findings ~ {dollars(per_day)}/day, {len(resolved)} resolved"
    text = subject + "\n\n" + "\n".join(lines)
    blocks = [
        header(subject),
        section("\n".join(lines) or "Nothing open."),
    ]
    return Message(subject=subject, text=text, blocks=blocks, about=counted or resolved)


def _send(
    guardian: Guardian,
    audience: Audience,
    message: Message,
    now: datetime,
    deadline: datetime | None,
    report: DigestReport,
) -> bool:
    """Today's digest for this audience, once per channel however often the schedule fires. True when it
    reached the audience on some channel, by this run or an earlier one."""
    key = f"digest#{now.date().isoformat()}"
    outcome = send_once(guardian, audience, [(key, message)], lambda _: message, now, deadline=deadline)
    report.sent += [f"{channel} to {audience.name}: {subject}" for channel, subject, _ in outcome.sent]
    if outcome.failed:
        report.failed.append(audience.name)
    return key in outcome.delivered


def _mark_told(guardian: Guardian, finding: Finding, now: datetime, report: DigestReport) -> None:
    """A finding the owner's digest told: notified, if it is still open (marking twice changes nothing)."""

    def change(current: Finding) -> tuple[Finding, list[AuditEntry]]:
        return lifecycle.notified(current, now, "digest") if current.status is Status.OPEN else (current, [])

    try:
        write_finding(guardian, finding, change, now)
    except Exception as error:  # the run fails and is retried: the digest is not sent again, the mark is made
        report.failed.append(f"{finding.id} (not marked notified: {type(error).__name__})")
