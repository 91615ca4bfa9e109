"""Telling the right person once. The findings stream is the only trigger: each batch of changed findings
becomes notices (notices.py), grouped per owner (a space that stops with five endpoints is one message),
deduplicated per (finding, state, version, audience) with Powertools' idempotency store, sent by email (SNS)
and Slack, and the finding marked notified. A delivery that fails fails only its records (partial batch
response), which Lambda retries and finally parks in the dead-letter queue: nothing is dropped silently.

Privacy: a finding about a private space (or about a known owner's resource whose space is unknown) goes
to its owner only; the team sees such findings counted, not named, unless the stack allows names.
"""

import json
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Generic, TypeVar

from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType, process_partial_response
from aws_lambda_powertools.utilities.idempotency import DynamoDBPersistenceLayer, IdempotencyConfig
from aws_lambda_powertools.utilities.idempotency.exceptions import IdempotencyItemAlreadyExistsError
from aws_lambda_powertools.utilities.parameters import SecretsProvider
from botocore.exceptions import BotoCoreError, ClientError

from guardian import findings as lifecycle
from guardian.channels import (
    SNS_PERMISSIONS,
    Audience,
    DeliveryFailed,
    SlackRoutes,
    post_to_slack,
    publish_email,
    sns_attributes,
)
from guardian.evaluation import write_finding
from guardian.findings import Finding, Status
from guardian.messages import Context, Message, aggregate, render
from guardian.notices import Notice, NoticeKind, notice_for
from guardian.observability import MetricUnit, logger, metrics
from guardian.runtime import Guardian

PERMISSIONS = (
    *SNS_PERMISSIONS,
    "dynamodb:UpdateItem",  # the delivery log (Powertools idempotency) completes and releases its records
    "dynamodb:DeleteItem",
    "secretsmanager:GetSecretValue",
    "kms:GenerateDataKey",  # the topic is encrypted with the stack's key
    "kms:Decrypt",
)
Item = TypeVar("Item")
DELIVERY_MEMORY = timedelta(days=90)  # how long a delivered (finding, state, version) is remembered
CLAIM_MILLIS = 60_000  # a delivery in progress that never finished is retried after this


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
        tells_owner = pending.audience.owner or not notices[0].finding.owner
        if pending.kind in (NoticeKind.OPENED, NoticeKind.CHANGED) and tells_owner:
            for notice in notices:
                _mark_notified(guardian, notice.finding, now, channel)
    if outcome.error is not None:
        report.failed_records.update(pending.records)


@dataclass
class Outcome(Generic[Item]):
    sent: list[tuple[str, str, list[Item]]] = field(default_factory=list)  # channel, subject, what it told
    duplicates: int = 0
    error: Exception | None = None


@dataclass(frozen=True)
class Channel:
    name: str
    send: Callable[[Message], Any]


def send_once(
    guardian: Guardian,
    audience: Audience,
    items: list[tuple[str, Item]],
    compose: Callable[[list[Item]], Message],
    now: datetime,
) -> Outcome[Item]:
    """On each channel, one message about the items never delivered there before: each (channel, audience,
    item key) is claimed in the delivery log first, recorded once sent, released if sending failed (so the
    retry sends it, and only it: an email that went out is not sent again because Slack failed)."""
    log, outcome = delivery(guardian).log, Outcome()
    for channel in channels(guardian, audience, now):
        claims, fresh = [], []
        for key, item in items:
            claim = {"delivery": f"{channel.name}#{audience.name}#{key}"}
            try:
                log.save_inprogress(data=claim, remaining_time_in_millis=CLAIM_MILLIS)
            except IdempotencyItemAlreadyExistsError:
                outcome.duplicates += 1
                continue
            claims.append(claim)
            fresh.append(item)
        if not fresh:
            continue
        message = compose(fresh)
        try:
            channel.send(message)
        except (DeliveryFailed, ClientError, BotoCoreError) as error:
            for claim in claims:
                log.delete_record(data=claim, exception=error)
            logger.error(
                "delivery failed",
                extra={
                    "channel": channel.name,
                    "audience": audience.name,
                    "subject": message.subject,
                    "error": str(error),
                },
            )
            metrics.add_metric(name="DeliveryFailures", unit=MetricUnit.Count, value=1)
            outcome.error = error
            continue
        for claim in claims:
            log.save_success(data=claim, result={"at": now.isoformat()})
        outcome.sent.append((channel.name, message.subject, fresh))
        metrics.add_metric(name="MessagesSent", unit=MetricUnit.Count, value=1)
        logger.info(
            "message sent",
            extra={
                "channel": channel.name,
                "audience": audience.name,
                "subject": message.subject,
                "findings": [f.id for f in message.about],
            },
        )
    return outcome


def channels(guardian: Guardian, audience: Audience, now: datetime) -> list[Channel]:
    """Email through the topic (the owner subscribed first, filtered to their messages), and Slack where
    the audience has a webhook. A webhook Slack refuses counts as sent: its alarm is raised, never a retry."""
    settings = guardian.settings
    found = []
    if settings.topic_arn:

        def email(message: Message) -> None:
            if audience.owner:
                ensure_subscription(guardian, audience.owner, now)
            attributes = sns_attributes(message.about, audience)
            publish_email(guardian.clients("sns"), settings.topic_arn, message, attributes)

        found.append(Channel("email", email))
    url = slack_routes(guardian).url(audience)
    if url:
        found.append(Channel("slack", lambda message: post_to_slack(url, message)))
    return found


def _mark_notified(guardian: Guardian, finding: Finding, now: datetime, channel: str) -> None:
    def change(current: Finding):
        if current.status not in (Status.OPEN, Status.NOTIFIED):
            return current, []  # snoozed, exempted or resolved since: leave it
        return lifecycle.notified(current, now, channel)

    current = guardian.findings.get(finding.id)
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


@dataclass(frozen=True)
class Delivery:
    """What notify keeps warm between invocations: the delivery log and the secrets cache."""

    log: DynamoDBPersistenceLayer
    secrets: SecretsProvider


def delivery(guardian: Guardian) -> Delivery:
    if guardian.delivery is None:
        log = DynamoDBPersistenceLayer(
            table_name=guardian.settings.table_name,
            key_attr="PK",
            sort_key_attr="SK",
            static_pk_value="DELIVERY",
            expiry_attr="expires_at",
            boto3_client=guardian.clients("dynamodb"),
        )
        remembered = IdempotencyConfig(expires_after_seconds=int(DELIVERY_MEMORY.total_seconds()))
        log.configure(remembered, key_prefix="notify")
        guardian.delivery = Delivery(log, SecretsProvider(boto3_client=guardian.clients("secretsmanager")))
    return guardian.delivery


def slack_routes(guardian: Guardian) -> SlackRoutes:
    name = guardian.settings.slack_webhook_secret
    if not name:
        return SlackRoutes(None, {})
    try:  # cached for five minutes: a rotated webhook is picked up without a redeploy
        return SlackRoutes.parse(delivery(guardian).secrets.get(name, max_age=300))
    except Exception as error:  # an unreadable secret must not stop email: the alarm says it is broken
        logger.error("slack webhook secret unreadable", extra={"secret": name, "error": str(error)})
        metrics.add_metric(name="SlackWebhookRejected", unit=MetricUnit.Count, value=1)
        return SlackRoutes(None, {})


def owner_email(guardian: Guardian, owner: str, now: datetime) -> str | None:
    """An owner's address: the OwnerEmails mapping, else the `<prefix>:email` tag on their user profile."""
    mapped = guardian.settings.owner_emails.get(owner)
    if mapped:
        return mapped
    tag = f"{guardian.settings.tag_prefix}:email"
    for profile in guardian.directory(now).profiles_named(owner):
        if profile.tags.get(tag):
            return profile.tags[tag]
    return None


def ensure_subscription(guardian: Guardian, owner: str, now: datetime) -> str | None:
    """Subscribe an owner's address to the topic, filtered to their messages (once; SNS asks them to confirm)."""
    email = owner_email(guardian, owner, now)
    if not email:
        return None
    client = guardian.clients("dynamodb")
    key = {"PK": {"S": f"SUBSCRIPTION#{owner}"}, "SK": {"S": email}}
    if client.get_item(TableName=guardian.settings.table_name, Key=key).get("Item"):
        return email
    policy = {"owner": [owner], "audience": ["owner"]}
    guardian.clients("sns").subscribe(
        TopicArn=guardian.settings.topic_arn,
        Protocol="email",
        Endpoint=email,
        ReturnSubscriptionArn=True,
        Attributes={"FilterPolicy": json.dumps(policy), "FilterPolicyScope": "MessageAttributes"},
    )
    client.put_item(TableName=guardian.settings.table_name, Item=key | {"type": {"S": "subscription"}})
    logger.info("owner subscribed", extra={"owner": owner, "email": email})
    return email
