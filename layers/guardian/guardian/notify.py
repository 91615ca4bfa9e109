"""Telling the right person once. The findings stream is the only trigger: each record of a batch is
read into a notice (notices.py), the batch's notices are grouped per owner (a space that stops with five
endpoints is one message) and per team (the team of the finding's account: guardian.routing) and handed to
the outbox (delivery.py), which sends each once per channel (channels.py) and marks the finding notified in
the transaction that records the delivery.

Nothing lost, nothing twice: a record whose message did not get through on every channel (any failure:
Slack, SNS, DynamoDB, a delivery in progress elsewhere) is reported failed in the partial batch response,
and Lambda retries it (what went out is not sent again). Its failed attempts are counted in the delivery
log; on the last one the stream allows (STREAM_ATTEMPTS), the whole record (the finding's images: all that
is needed to tell it again) is parked in the undelivered queue, for `guardian redeliver`, and reported done.
When the function itself fails (a timeout), Lambda's on-failure record of the batch reaches that queue
instead, and `guardian redeliver` reads the batch again from the stream.

Privacy: a finding about a private space (or about a known owner's resource whose space is unknown) goes
to its owner only; the team sees such findings counted, not named, unless the stack allows names.

Reached, not attempted: a finding is marked reached (``reached_at``, from which remediation's grace counts)
only by a message delivered to a person (channels.py). An owner no channel reaches (no address, no Slack) is
unreachable: the team is told at once, one message per owner ("alice has no address: 2 findings,
$9.40/day", naming nobody in a private space unless the stack allows names), and their messages are held;
an owner whose email subscription awaits confirmation has their email held. Held messages go out once the
owner can be reached (held.py, on the notify function's HeldMessages schedule).
"""

import json
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType, process_partial_response
from aws_lambda_powertools.utilities.batch.types import PartialItemFailureResponse
from aws_lambda_powertools.utilities.data_classes.dynamo_db_stream_event import DynamoDBRecord
from aws_lambda_powertools.utilities.typing import LambdaContext

from guardian import clock
from guardian import findings as lifecycle
from guardian.channels import OWNER_PERMISSIONS, Audience, DeliveryFailed
from guardian.delivery import PERMISSIONS as DELIVERY_PERMISSIONS
from guardian.delivery import Delivery, Effect, Outcome, send_once
from guardian.findings import AWAITING_CONFIRMATION, UNREACHABLE, AuditEntry, Finding, Status
from guardian.findings_store import FindingChange, write_finding
from guardian.messages import Context, Message, aggregate, render, unreachable
from guardian.notices import Notice, NoticeKind, notice_for
from guardian.observability import MetricUnit, logger, metrics
from guardian.runtime import Guardian
from guardian.settings import Settings
from guardian.table import delivery_key, epoch

PERMISSIONS = (
    *DELIVERY_PERMISSIONS,
    *OWNER_PERMISSIONS,
    "sqs:SendMessage",  # a record whose retries are spent, parked whole in the undelivered queue
)
# How often Lambda hands a failing record to the function: once, and the stream's MaximumRetryAttempts
# (template.yaml; tests/integration/test_delivery_faults.py holds the two together).
STREAM_ATTEMPTS = 6
ATTEMPTS_MEMORY = timedelta(days=1)  # stream records are kept 24 hours: so are their counts
PARKED_BY = "studio-cost-guardian/notify"  # what marks a parked record in the undelivered queue


def handle_stream(
    guardian: Guardian, event: dict[str, Any], now: datetime, lambda_context: LambdaContext | None
) -> PartialItemFailureResponse:
    """The stream batch, delivered; returns the partial batch response (failed records are retried).
    ``event["redelivered"]``: records sent again by `guardian redeliver`, which keeps what fails (nothing
    is parked again)."""
    if not event.get("Records"):  # Powertools refuses an empty batch; there is nothing to retry
        return {"batchItemFailures": []}
    deadline = None
    if lambda_context is not None:  # claims expire when this invocation ends at the latest
        deadline = clock.now() + timedelta(milliseconds=lambda_context.get_remaining_time_in_millis())
    processor = NoticeBatch(guardian, now, deadline, redelivered=bool(event.get("redelivered")))
    return process_partial_response(event=event, record_handler=notice_in, processor=processor, context=lambda_context)


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
    """Powertools' BatchProcessor, plus the steps a batch of notices needs. A message is made of notices
    from several records (one owner's five endpoints are one email), so whether a record got through is
    known only once the batch's messages are sent. `process` runs the record handler on every record as
    Powertools does (a record that cannot be read fails alone), sends what was read, grouped, then gives
    each record its verdict: done; failed (Lambda retries it); or, failed on its last attempt, parked and
    done. On the context's exit Powertools turns the failures into the partial batch response."""

    def __init__(self, guardian: Guardian, now: datetime, deadline: datetime | None, redelivered: bool) -> None:
        # A batch whose every record failed is reported like any other: Lambda retries those records.
        super().__init__(event_type=EventType.DynamoDBStreams, raise_on_entire_batch_failure=False)
        self.guardian, self.now, self.deadline, self.redelivered = guardian, now, deadline, redelivered

    def process(self) -> list[tuple[Any, ...]]:
        # Powertools' entries: ("success", the handler's notice or None, raw record), or ("fail", error,
        # DynamoDBRecord) with its exception info at the same place in self.exceptions.
        results = super().process()
        errors = iter(self.exceptions)
        verdicts: list[tuple[dict[str, Any], Any, str | None, Any]] = []  # record, notice, why it failed, exc
        for status, value, record in results:
            if status == "success":
                verdicts.append((record, value, None, None))
            else:
                exc_info = next(errors)
                verdicts.append((record.raw_event, None, f"unreadable: {value}", exc_info))
        read = [(_sequence(record), notice) for record, notice, why, _ in verdicts if why is None and notice]
        report = deliver(self.guardian, read, self.now, self.deadline)
        logger.info("findings stream batch", extra={"records": len(results), **report.as_dict()})
        self.success_messages.clear()
        self.fail_messages.clear()
        self.exceptions.clear()
        final = []
        for record, notice, why, exc_info in verdicts:
            why = why or report.failed_records.get(_sequence(record))
            if why is None or self._parked(record, notice, why):
                final.append(self.success_handler(record, notice))
            else:
                error = DeliveryFailed(f"record {_sequence(record)}: {why}")
                final.append(self.failure_handler(DynamoDBRecord(record), exc_info or (DeliveryFailed, error, None)))
        return final

    def _parked(self, record: dict[str, Any], notice: Notice | None, why: str) -> bool:
        """Count a failed attempt; on the last the stream allows, park the whole record. False: not parked
        (attempts left, a redelivery, no queue, or parking failed): the record is reported failed."""
        queue_url = self.guardian.settings.undelivered_queue_url
        if self.redelivered or not queue_url:
            return False
        try:
            attempts = count_attempt(self.guardian, _sequence(record), self.now)
            if attempts < STREAM_ATTEMPTS:
                return False
            body = parked_record(record, notice, why, attempts)
            self.guardian.clients("sqs").send_message(QueueUrl=queue_url, MessageBody=json.dumps(body))
        except Exception as error:  # the stream retries it; if that was the last, Lambda's on-failure record
            logger.error("record not parked", extra={"record": _sequence(record), "error": str(error)})
            return False
        logger.error("record parked for redelivery", extra={"record": _sequence(record), "why": why})
        metrics.add_metric(name="RecordsParked", unit=MetricUnit.Count, value=1)
        return True


def count_attempt(guardian: Guardian, sequence: str, now: datetime) -> int:
    """One more failed attempt at a stream record; how many so far."""
    response = guardian.clients("dynamodb").update_item(
        TableName=guardian.settings.table_name,
        Key=delivery_key(f"attempts#{sequence}"),
        UpdateExpression="ADD attempts :one SET expires_at = :expires",
        ExpressionAttributeValues={":one": {"N": "1"}, ":expires": {"N": str(epoch(now + ATTEMPTS_MEMORY))}},
        ReturnValues="UPDATED_NEW",
    )
    return int(response["Attributes"]["attempts"]["N"])


def parked_record(record: dict[str, Any], notice: Notice | None, why: str, attempts: int) -> dict[str, Any]:
    """What the undelivered queue keeps of a record: all of it (the finding's old and new images), and what
    it was to tell, for whoever reads the queue."""
    told = None
    if notice is not None:
        finding = notice.finding
        told = {"kind": notice.kind.value, "finding": finding.id, "owner": finding.owner, "key": notice.key}
    return {"parkedBy": PARKED_BY, "reason": why, "attempts": attempts, "notice": told, "record": record}


def _sequence(record: dict[str, Any]) -> str:
    return str(record["dynamodb"]["SequenceNumber"])


@dataclass
class NotifyReport:
    sent: list[str] = field(default_factory=list)  # subjects, per audience
    duplicates: int = 0
    failed_records: dict[str, str] = field(default_factory=dict)  # sequence number -> why

    def as_dict(self) -> dict[str, Any]:
        return {"sent": self.sent, "duplicates": self.duplicates, "failed": self.failed_records}


@dataclass(frozen=True)
class _Pending:
    audience: Audience
    kind: NoticeKind
    notices: tuple[Notice, ...]
    records: tuple[str, ...]  # stream sequence numbers these notices came from, one per notice
    aggregated: bool = False


def deliver(
    guardian: Guardian, notices: list[tuple[str, Notice]], now: datetime, deadline: datetime | None = None
) -> NotifyReport:
    """The notices of a batch (each with its record's sequence number), sent grouped; the report says
    which records did not get through, and why."""
    settings = guardian.settings
    report = NotifyReport()
    due = [(sequence, notice) for sequence, notice in notices if not _deferred(notice, settings)]
    channels = Delivery.of(guardian).channels
    for pending in _groups(due, settings, lambda finding: channels.team_of(finding.account, now)):
        try:
            _send(guardian, pending, now, deadline, report)
        except Exception as error:  # whatever it was, these records are retried
            for sequence in pending.records:
                report.failed_records.setdefault(sequence, f"{type(error).__name__}: {error}")
            logger.exception("notices not delivered", extra={"audience": pending.audience.name})
    return report


def _deferred(notice: Notice, settings: Settings) -> bool:
    """In daily-digest mode only reminders of remediation go out at once; the rest waits for the digest."""
    return settings.digest_mode == "daily" and notice.kind is not NoticeKind.REMINDER


def _groups(
    notices: list[tuple[str, Notice]], settings: Settings, team_of: Callable[[Finding], Audience]
) -> list[_Pending]:
    """One message per audience and kind: each owner's, and the team's of the finding's account (its route's,
    guardian.routing, or the default team)."""
    by_audience: dict[tuple[Audience, NoticeKind, bool], list[tuple[str, Notice]]] = defaultdict(list)
    for sequence, notice in notices:
        owner = notice.finding.owner
        if owner:
            by_audience[(Audience(owner), notice.kind, False)].append((sequence, notice))
        if owner and settings.team_notifications != "immediate":
            continue
        named = not notice.private or settings.allow_private_names or not owner
        by_audience[(team_of(notice.finding), notice.kind, not named)].append((sequence, notice))
    return [
        _Pending(audience, kind, tuple(n for _, n in items), tuple(s for s, _ in items), aggregated)
        for (audience, kind, aggregated), items in by_audience.items()
    ]


def _send(
    guardian: Guardian, pending: _Pending, now: datetime, deadline: datetime | None, report: NotifyReport
) -> None:
    # The same state of a finding may come in several records (the stream delivers at least once): one item.
    by_key: dict[str, Notice] = {}
    records: dict[str, list[str]] = defaultdict(list)
    for notice, sequence in zip(pending.notices, pending.records, strict=True):
        by_key.setdefault(notice.key, notice)
        records[notice.key].append(sequence)
    outcome = tell(guardian, pending.audience, by_key, now, deadline, aggregated=pending.aggregated)
    report.duplicates += outcome.duplicates
    report.sent += [f"{channel} to {pending.audience.name}: {subject}" for channel, subject, _ in outcome.sent]
    for key, why in outcome.failed.items():
        for sequence in records[key]:
            report.failed_records.setdefault(sequence, why)


def tell(
    guardian: Guardian,
    audience: Audience,
    by_key: dict[str, Notice],
    now: datetime,
    deadline: datetime | None,
    aggregated: bool = False,
    tell_team: bool = True,
) -> Outcome[Notice]:
    """Notices (by key) to one audience, once each per channel: each finding marked as its messages went
    (reached or not); an owner's messages held while nothing reaches them, and, when no channel does, the
    team told (unless ``tell_team`` is off: it was told when they were first held). Every key that must be
    tried again is in the outcome's ``failed``."""
    context = Context.for_stack(guardian.settings, now)

    def compose(notices: list[Notice]) -> Message:
        return aggregate(notices, context) if aggregated else render(notices, context)

    def settle(channel: str, notice: Notice, reached: bool) -> Effect:
        return Effect(notice.finding.id, _told(notice, audience, channel, now, reached))

    def keep(why: str, notice: Notice) -> tuple[dict[str, Any], Effect]:
        document = {"kind": notice.kind.value, "finding": notice.finding.id, "version": notice.finding.version}
        return document, Effect(notice.finding.id, _held(audience, why, now))

    owner = audience.owner
    outcome = send_once(
        guardian, audience, list(by_key.items()), compose, now, settle, deadline, keep if owner else None
    )
    for channel, key in outcome.recorded_before:
        try:
            _still_told(guardian, by_key[key], audience, channel, now, key in outcome.reached)
        except Exception as error:
            outcome.failed.setdefault(key, f"not marked notified: {type(error).__name__}: {error}")
    if owner and outcome.unreachable and tell_team:
        news = {key: n for key, n in by_key.items() if key in outcome.held and _news_for(n, audience)}
        told = tell_team_unreachable(guardian, owner, news, now, deadline)  # its own log line says what went
        for key, why in told.failed.items():
            outcome.failed.setdefault(key.removeprefix("unreachable#"), why)
    return outcome


def tell_team_unreachable(
    guardian: Guardian, owner: str, news: dict[str, Notice], now: datetime, deadline: datetime | None
) -> Outcome[Notice]:
    """One message to the team: this owner cannot be reached, what of theirs is waiting, and how to fix it
    (once per notice: ``news`` by notice key, each sent under "unreachable#<key>"). Private spaces' owners are
    not named unless the stack allows names. Each finding is marked unreachable with it (unless its owner was
    reached before)."""
    if not news:
        return Outcome()
    settings = guardian.settings
    named = settings.allow_private_names or not any(n.private for n in news.values())
    context = Context.for_stack(settings, now)

    def compose(notices: list[Notice]) -> Message:
        return unreachable(owner if named else None, [n.finding for n in notices], context, settings.tag_prefix)

    def settle(channel: str, notice: Notice, reached: bool) -> Effect:
        told = AuditEntry(at=now, action="team told", reason=f"{owner} cannot be reached: via {channel} to the team")

        def change(current: Finding) -> tuple[Finding, list[AuditEntry]]:
            if current.reached_at is None and current.delivery_state is None:
                current = current.model_copy(update={"delivery_state": UNREACHABLE})
            return current, [told]

        return Effect(notice.finding.id, change)

    channels = Delivery.of(guardian).channels
    by_team: dict[Audience, list[tuple[str, Notice]]] = defaultdict(list)  # each to its account's team
    for key, notice in news.items():
        by_team[channels.team_of(notice.finding.account, now)].append((f"unreachable#{key}", notice))
    outcome = Outcome[Notice]()
    for team, items in by_team.items():
        told = send_once(guardian, team, items, compose, now, settle, deadline)
        outcome.sent += told.sent
        outcome.duplicates += told.duplicates
        outcome.failed |= told.failed
        outcome.error = told.error or outcome.error
    return outcome


def _held(audience: Audience, why: str, now: datetime) -> FindingChange:
    """What holding a message changes in its finding: its delivery state, and an audit entry saying why."""
    if why == AWAITING_CONFIRMATION:
        reason = f"{audience.owner}'s email subscription awaits confirmation: the email goes once it is confirmed"
    else:
        reason = (
            f"no channel reaches {audience.owner} (no email address, no Slack): the team is told; kept until one does"
        )
    return lambda current: lifecycle.held(current, now, why, reason)


def _told(notice: Notice, audience: Audience, channel: str, now: datetime, reached: bool) -> FindingChange:
    """What a message changes in its finding, written with its delivery record: every message is in the
    finding's audit trail; the first that tells whoever must act marks it notified (its owner, or the team
    for what nobody owns), unless it was snoozed, exempted or resolved since; and reached, if it was
    delivered to a person."""
    how = f"{channel} to {audience.name}"

    def change(current: Finding) -> tuple[Finding, list[AuditEntry]]:
        if _news_for(notice, audience) and current.status in (Status.OPEN, Status.NOTIFIED):
            return lifecycle.notified(current, now, how, reached)
        return current, [AuditEntry(at=now, action="message sent", reason=f"{notice.kind.value} via {how}")]

    return change


def _news_for(notice: Notice, audience: Audience) -> bool:
    tells_owner = audience.owner is not None or notice.finding.owner is None
    return tells_owner and notice.kind in (NoticeKind.OPENED, NoticeKind.CHANGED)


def _still_told(
    guardian: Guardian, notice: Notice, audience: Audience, channel: str, now: datetime, reached: bool
) -> None:
    """A delivery recorded before: its finding was marked with it, unless the record was written otherwise
    (before the two were one transaction). Re-derived: still open at the version that was told, it is marked
    now (reached as the record says); not sent again."""
    if not _news_for(notice, audience):
        return
    how = f"{channel} to {audience.name}"

    def change(current: Finding) -> tuple[Finding, list[AuditEntry]]:
        if current.status is Status.OPEN and current.version == notice.finding.version:
            return lifecycle.notified(current, now, how, reached)
        return current, []

    current = guardian.findings.get(notice.finding.id)
    if current is not None and current.status is Status.OPEN:
        write_finding(guardian, current, change, now)
