"""Telling the right person once. The findings stream is the only trigger: each batch of changed findings
becomes notices (notices.py), grouped per owner (a space that stops with five endpoints is one message),
and sent once per channel (delivery.py), and the finding marked notified. A delivery that fails fails
only its records (partial batch response), which Lambda retries and finally keeps in the undelivered
queue: nothing is dropped silently.

Privacy: a finding about a private space (or about a known owner's resource whose space is unknown) goes
to its owner only; the team sees such findings counted, not named, unless the stack allows names.
"""

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType, process_partial_response

from guardian import findings as lifecycle
from guardian.channels import Audience, DeliveryFailed
from guardian.delivery import OWNER_PERMISSIONS, send_once
from guardian.delivery import PERMISSIONS as DELIVERY_PERMISSIONS
from guardian.evaluation import write_finding
from guardian.findings import AuditEntry, Finding, Status
from guardian.messages import Context, Message, aggregate, render
from guardian.notices import Notice, NoticeKind, notice_for
from guardian.observability import logger
from guardian.runtime import Guardian

PERMISSIONS = (*DELIVERY_PERMISSIONS, *OWNER_PERMISSIONS)


@dataclass
class NotifyReport:
    sent: list[str] = field(default_factory=list)  # subjects, per audience
    duplicates: int = 0
    failed_records: set[str] = field(default_factory=set)

    def as_dict(self) -> dict[str, Any]:
        return {"sent": self.sent, "duplicates": self.duplicates, "failed": sorted(self.failed_records)}


@dataclass(frozen=True)
class _Pending:
    audience: Audience
    kind: NoticeKind
    notices: tuple[Notice, ...]
    records: tuple[str, ...]  # stream sequence numbers these notices came from
    aggregated: bool = False


def handle_stream(guardian: Guardian, event: dict[str, Any], now: datetime, lambda_context: Any) -> dict[str, Any]:
    """The stream batch, delivered; returns the partial batch response (failed records are retried)."""
    if not event.get("Records"):
        return {"batchItemFailures": []}
    # A batch whose every record failed is reported like any other: Lambda retries those records.
    processor = BatchProcessor(event_type=EventType.DynamoDBStreams, raise_on_entire_batch_failure=False)
    changes = [(r["dynamodb"]["SequenceNumber"], *_images(r)) for r in event.get("Records", [])]
    report = deliver(guardian, changes, now)
    logger.info("findings stream batch", extra={"records": len(changes), **report.as_dict()})

    def record_handler(record) -> None:
        if record.dynamodb.sequence_number in report.failed_records:
            raise DeliveryFailed(f"record {record.dynamodb.sequence_number}: its messages were not delivered")

    return process_partial_response(
        event=event, record_handler=record_handler, processor=processor, context=lambda_context
    )


def _images(record: dict[str, Any]) -> tuple[Finding | None, Finding | None]:
    change = record.get("dynamodb", {})

    def finding(image: dict[str, Any] | None) -> Finding | None:
        if not image or image.get("type", {}).get("S") != "finding":
            return None
        return Finding.model_validate_json(image["doc"]["S"])

    return finding(change.get("OldImage")), finding(change.get("NewImage"))


def deliver(
    guardian: Guardian, changes: list[tuple[str, Finding | None, Finding | None]], now: datetime
) -> NotifyReport:
    settings = guardian.settings
    report = NotifyReport()
    notices: list[tuple[str, Notice]] = []
    for sequence, before, after in changes:
        notice = notice_for(before, after) if after else None
        if notice and not _deferred(notice, settings):
            notices.append((sequence, notice))
    for pending in _groups(notices, settings):
        _send(guardian, pending, now, report)
    return report


def _deferred(notice: Notice, settings) -> bool:
    """In daily-digest mode only reminders of remediation go out at once; the rest waits for the digest."""
    return settings.digest_mode == "daily" and notice.kind is not NoticeKind.REMINDER


def _groups(notices: list[tuple[str, Notice]], settings) -> list[_Pending]:
    by_audience: dict[tuple[Audience, NoticeKind, bool], list[tuple[str, Notice]]] = defaultdict(list)
    for sequence, notice in notices:
        owner = notice.finding.owner
        if owner:
            by_audience[(Audience(owner), notice.kind, False)].append((sequence, notice))
        if owner and settings.team_notifications != "immediate":
            continue
        named = not notice.private or settings.allow_private_names or not owner
        by_audience[(Audience(None), notice.kind, not named)].append((sequence, notice))
    return [
        _Pending(audience, kind, tuple(n for _, n in items), tuple(s for s, _ in items), aggregated)
        for (audience, kind, aggregated), items in by_audience.items()
    ]


def _send(guardian: Guardian, pending: _Pending, now: datetime, report: NotifyReport) -> None:
    context = message_context(guardian, now)

    def compose(notices: list[Notice]) -> Message:
        return aggregate(notices, context) if pending.aggregated else render(notices, context)

    outcome = send_once(guardian, pending.audience, [(n.key, n) for n in pending.notices], compose, now)
    report.duplicates += outcome.duplicates
    for channel, subject, notices in outcome.sent:
        report.sent.append(f"{channel} to {pending.audience.name}: {subject}")
        for notice in notices:
            _record_sent(guardian, notice, pending.audience, channel, now)
    if outcome.error is not None:
        report.failed_records.update(pending.records)


def _record_sent(guardian: Guardian, notice: Notice, audience: Audience, channel: str, now: datetime) -> None:
    """Every message in the finding's audit trail; the first that tells whoever must act marks it notified
    (its owner, or the team for what nobody owns), unless it was snoozed, exempted or resolved since."""
    how = f"{channel} to {audience.name}"
    tells_owner = audience.owner is not None or notice.finding.owner is None
    news = notice.kind in (NoticeKind.OPENED, NoticeKind.CHANGED)

    def change(current: Finding):
        if news and tells_owner and current.status in (Status.OPEN, Status.NOTIFIED):
            return lifecycle.notified(current, now, how)
        return current, [AuditEntry(at=now, action="message sent", reason=f"{notice.kind.value} via {how}")]

    current = guardian.findings.get(notice.finding.id)
    if current is not None:
        write_finding(guardian, current, change, now)


def message_context(guardian: Guardian, now: datetime) -> Context:
    settings = guardian.settings
    return Context(
        now=now,
        remediation_mode=settings.remediation_mode,
        remediation_grace_hours=settings.remediation_grace_hours,
        exemption_tag=settings.exemption_tag,
        stack=settings.stack_name,
    )
