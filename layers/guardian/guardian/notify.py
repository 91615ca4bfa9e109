"""Telling the right person once. The findings stream is the only trigger: each record of a batch is
read into a notice (notices.py), the batch's notices are grouped per owner (a space that stops with five
endpoints is one message) and handed to the outbox (delivery.py), which sends each once per channel
(channels.py); the finding is then marked notified. A message that fails fails only the records it was
made of (partial batch response), which Lambda retries and finally keeps in the undelivered queue:
nothing is dropped silently.

Privacy: a finding about a private space (or about a known owner's resource whose space is unknown) goes
to its owner only; the team sees such findings counted, not named, unless the stack allows names.
"""

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType, process_partial_response
from aws_lambda_powertools.utilities.batch.types import PartialItemFailureResponse
from aws_lambda_powertools.utilities.data_classes.dynamo_db_stream_event import DynamoDBRecord
from aws_lambda_powertools.utilities.typing import LambdaContext

from guardian import findings as lifecycle
from guardian.channels import OWNER_PERMISSIONS, Audience, DeliveryFailed
from guardian.delivery import PERMISSIONS as DELIVERY_PERMISSIONS
from guardian.delivery import send_once
from guardian.findings import AuditEntry, Finding, Status
from guardian.findings_store import write_finding
from guardian.messages import Context, Message, aggregate, render
from guardian.notices import Notice, NoticeKind, notice_for
from guardian.observability import logger
from guardian.runtime import Guardian
from guardian.settings import Settings

PERMISSIONS = (*DELIVERY_PERMISSIONS, *OWNER_PERMISSIONS)


def handle_stream(
    guardian: Guardian, event: dict[str, Any], now: datetime, lambda_context: LambdaContext | None
) -> PartialItemFailureResponse:
    """The stream batch, delivered; returns the partial batch response (failed records are retried)."""
    if not event.get("Records"):  # Powertools refuses an empty batch; there is nothing to retry
        return {"batchItemFailures": []}
    return process_partial_response(
        event=event, record_handler=notice_in, processor=NoticeBatch(guardian, now), context=lambda_context
    )


def notice_in(record: DynamoDBRecord) -> Notice | None:
    """The record handler: what the change of a finding in this record means (None: no news)."""
    change = record.dynamodb
    if change is None:
        return None
    after = _finding(change.new_image)
    return notice_for(_finding(change.old_image), after) if after else None


def _finding(image: dict[str, Any]) -> Finding | None:
    if image.get("type") != "finding":
        return None
    return Finding.model_validate_json(image["doc"])


class NoticeBatch(BatchProcessor):
    """Powertools' BatchProcessor, plus the one step a batch of notices needs. A message is made of
    notices from several records (one owner's five endpoints are one email), so whether a record got
    through is known only once the batch's messages are sent. `process` runs the record handler on every
    record as Powertools does (a record that cannot be read fails alone), then sends what was read,
    grouped, and marks the records of a message that failed as failures; on the context's exit
    Powertools turns the failures into the partial batch response, as for any batch."""

    def __init__(self, guardian: Guardian, now: datetime) -> None:
        # A batch whose every record failed is reported like any other: Lambda retries those records.
        super().__init__(event_type=EventType.DynamoDBStreams, raise_on_entire_batch_failure=False)
        self.guardian, self.now = guardian, now

    def process(self) -> list[tuple[Any, ...]]:
        # Powertools' entries: ("success", the handler's notice or None, raw record) or ("fail", error, record).
        results = super().process()
        read = [(_sequence(record), notice) for status, notice, record in results if status == "success" and notice]
        report = deliver(self.guardian, read, self.now)
        logger.info("findings stream batch", extra={"records": len(results), **report.as_dict()})
        for index, (status, _, record) in enumerate(results):
            if status == "success" and _sequence(record) in report.failed_records:
                results[index] = self._undelivered(record)
        return results

    def _undelivered(self, record: dict[str, Any]) -> tuple[Any, ...]:
        """A record read, whose notice was in a message that failed: reported failed, so Lambda retries it."""
        # Powertools keeps the raw record among the successes, whatever the list's annotation says.
        self.success_messages.remove(record)  # type: ignore[arg-type]
        error = DeliveryFailed(f"record {_sequence(record)}: its messages were not delivered")
        return self.failure_handler(DynamoDBRecord(record), (DeliveryFailed, error, None))


def _sequence(record: dict[str, Any]) -> str:
    return str(record["dynamodb"]["SequenceNumber"])


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


def deliver(guardian: Guardian, notices: list[tuple[str, Notice]], now: datetime) -> NotifyReport:
    """The notices of a batch (each with its record's sequence number), sent grouped; the report says
    which records' messages failed."""
    settings = guardian.settings
    report = NotifyReport()
    due = [(sequence, notice) for sequence, notice in notices if not _deferred(notice, settings)]
    for pending in _groups(due, settings):
        _send(guardian, pending, now, report)
    return report


def _deferred(notice: Notice, settings: Settings) -> bool:
    """In daily-digest mode only reminders of remediation go out at once; the rest waits for the digest."""
    return settings.digest_mode == "daily" and notice.kind is not NoticeKind.REMINDER


def _groups(notices: list[tuple[str, Notice]], settings: Settings) -> list[_Pending]:
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
    context = Context.for_stack(guardian.settings, now)

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

    def change(current: Finding) -> tuple[Finding, list[AuditEntry]]:
        if news and tells_owner and current.status in (Status.OPEN, Status.NOTIFIED):
            return lifecycle.notified(current, now, how)
        return current, [AuditEntry(at=now, action="message sent", reason=f"{notice.kind.value} via {how}")]

    current = guardian.findings.get(notice.finding.id)
    if current is not None:
        write_finding(guardian, current, change, now)
