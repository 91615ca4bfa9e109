"""Messages held for owners nobody could reach, sent once someone can: on the notify function's
HeldMessages schedule (template.yaml, every 15 minutes), each owner with held messages is looked at again,
which costs one query of the held partition when nothing is held, and, per owner held, a look at their
channels (one GetSubscriptionAttributes for an email subscription). So an owner's first email goes out
within 15 minutes of their confirming the subscription, and their messages within 15 minutes of their
getting an address or a Slack channel (and the directory's 5 minutes, for an address tagged on a profile).

Sent through the outbox under the keys they were held with: whatever was delivered before, by the stream
or by an earlier run, is not sent again, so a message is delivered once, however often it was held or its
stream record redelivered. A held message that is no longer news (its finding resolved, or moved on to a
later notice) is dropped, and its finding's audit trail says so. An owner still unreachable stays held;
the team was told when their messages were first held."""

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from guardian.channels import Audience, DeliveryFailed
from guardian.delivery import Delivery
from guardian.findings import AuditEntry, Finding, Status
from guardian.findings_store import write_finding
from guardian.notices import Notice, NoticeKind
from guardian.notify import tell
from guardian.observability import logger
from guardian.runtime import Guardian

# What a held notice still says, by its kind: the finding's statuses in which it is still news.
STILL_NEWS = {
    NoticeKind.OPENED: (Status.OPEN, Status.NOTIFIED),
    NoticeKind.CHANGED: (Status.OPEN, Status.NOTIFIED),
    NoticeKind.REMINDER: (Status.REMEDIATION_SCHEDULED,),
    NoticeKind.RESOLVED: (Status.RESOLVED,),
}


@dataclass
class HeldReport:
    sent: list[str] = field(default_factory=list)  # channel to audience: subject
    still_held: int = 0
    dropped: int = 0
    failed: list[str] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return {"sent": self.sent, "still_held": self.still_held, "dropped": self.dropped, "failed": self.failed}


def release_held(guardian: Guardian, now: datetime, deadline: datetime | None = None) -> HeldReport:
    """Send what each owner's held messages say, where the owner can now be reached. Raises once every owner
    was tried if some delivery failed (the schedule's run is retried, then kept; held messages stay held)."""
    report = HeldReport()
    outbox = Delivery.of(guardian).outbox
    by_owner: dict[tuple[str, str], list[dict[str, Any]]] = defaultdict(list)
    for entry in outbox.held():
        by_owner[(entry["audience"], entry["owner"])].append(entry)
    for (audience, owner), entries in sorted(by_owner.items()):
        try:
            _release(guardian, audience, owner, entries, now, deadline, report)
        except Exception as error:  # one owner's failure is not the others'
            logger.exception("held messages not sent", extra={"audience": audience})
            report.failed.append(f"{audience}: {type(error).__name__}: {error}")
    if report.sent or report.dropped:
        logger.info("held messages", extra=report.as_dict())
    if report.failed:
        raise DeliveryFailed(f"held messages not sent: {'; '.join(report.failed)}")
    return report


def _release(
    guardian: Guardian,
    audience: str,
    owner: str,
    held: list[dict[str, Any]],
    now: datetime,
    deadline: datetime | None,
    report: HeldReport,
) -> None:
    outbox = Delivery.of(guardian).outbox
    latest: dict[str, tuple[int, str, Notice]] = {}  # finding id -> (version, held key, notice): one per finding
    for entry in held:
        key, document = entry["item"], entry["doc"]
        kind, finding = NoticeKind(document["kind"]), guardian.findings.get(document["finding"])
        if finding is None or finding.status not in STILL_NEWS[kind]:
            _drop(guardian, finding, key, kind, now)
            outbox.unhold(audience, key)
            report.dropped += 1
            continue
        version = int(document.get("version", 0))
        if finding.id in latest and latest[finding.id][0] >= version:
            outbox.unhold(audience, key)  # a later notice about it is held: that one is the news
            report.dropped += 1
            continue
        if finding.id in latest:
            outbox.unhold(audience, latest[finding.id][1])
            report.dropped += 1
        latest[finding.id] = (version, key, Notice(kind, finding))
    # One message per kind, as the stream sends them: held "opened" notices told as a reminder would say
    # remediation is coming for what nothing scheduled, and a reminder told as "opened" would be lost.
    by_kind: dict[NoticeKind, dict[str, Notice]] = defaultdict(dict)
    for _, key, notice in latest.values():
        by_kind[notice.kind][key] = notice
    for by_key in (by_kind[kind] for kind in NoticeKind if kind in by_kind):  # opened before its reminder
        outcome = tell(guardian, Audience(owner or None), by_key, now, deadline, tell_team=False)
        report.sent += [f"{channel} to {audience}: {subject}" for channel, subject, _ in outcome.sent]
        for key in by_key:
            if key in outcome.failed:
                report.failed.append(f"{audience} {key}: {outcome.failed[key]}")
            elif key in outcome.held:
                report.still_held += 1
            else:
                outbox.unhold(audience, key)


def _drop(guardian: Guardian, finding: Finding | None, key: str, kind: NoticeKind, now: datetime) -> None:
    """A held message no longer news: said in its finding's audit trail, so it is not silently gone."""
    logger.info("held message dropped", extra={"item": key, "status": finding.status.value if finding else None})
    if finding is None:
        return
    entry = AuditEntry(
        at=now,
        action="held message dropped",
        reason=f"{kind.value} message not sent: the finding is {finding.status.value} now",
    )
    write_finding(guardian, finding, lambda current: (current, [entry]), now)
