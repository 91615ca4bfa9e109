"""The outbox: sending a message once on each of an audience's channels (channels.py says how each
channel sends). Each (channel, audience, item) is claimed in the delivery log (Powertools idempotency
records in the table) before it is sent, recorded once sent, released if sending failed: at-least-once
triggers never repeat a message, and a retry sends only what did not go (an email that went out is not
sent again because Slack failed).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Generic, TypeVar

from aws_lambda_powertools.utilities.idempotency import DynamoDBPersistenceLayer, IdempotencyConfig
from aws_lambda_powertools.utilities.idempotency.exceptions import IdempotencyItemAlreadyExistsError
from botocore.exceptions import BotoCoreError, ClientError

from guardian.channels import PERMISSIONS as CHANNEL_PERMISSIONS
from guardian.channels import Audience, Channels, DeliveryFailed
from guardian.messages import Message
from guardian.observability import MetricUnit, logger, metrics
from guardian.table import DELIVERY_PK

if TYPE_CHECKING:
    from guardian.runtime import Guardian

PERMISSIONS = (
    "dynamodb:UpdateItem",  # the delivery log completes and releases its records
    "dynamodb:DeleteItem",
    *CHANNEL_PERMISSIONS,
)
Item = TypeVar("Item")
DELIVERY_MEMORY = timedelta(days=90)  # how long a delivered (channel, audience, item) is remembered
CLAIM_MILLIS = 60_000  # a delivery in progress that never finished is retried after this


@dataclass
class Outcome(Generic[Item]):
    sent: list[tuple[str, str, list[Item]]] = field(default_factory=list)  # channel, subject, what it told
    duplicates: int = 0
    error: Exception | None = None


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
    delivery, outcome = Delivery.of(guardian), Outcome[Item]()
    for channel in delivery.channels.to(audience, now):
        addressed = [(f"{channel.name}#{audience.name}#{key}", item) for key, item in items]
        fresh = [(claim, item) for claim, item in addressed if delivery.outbox.claim(claim)]
        outcome.duplicates += len(addressed) - len(fresh)
        if not fresh:
            continue
        message = compose([item for _, item in fresh])
        try:
            channel.send(message)
        except (DeliveryFailed, ClientError, BotoCoreError) as error:
            for claim, _ in fresh:
                delivery.outbox.release(claim, error)
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
        for claim, _ in fresh:
            delivery.outbox.delivered(claim, now)
        outcome.sent.append((channel.name, message.subject, [item for _, item in fresh]))
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


class Outbox:
    """The delivery log: one Powertools idempotency record per claim ("<channel>#<audience>#<item key>")
    under the table's DELIVERY partition, remembered for DELIVERY_MEMORY."""

    def __init__(self, guardian: Guardian) -> None:
        self._log = DynamoDBPersistenceLayer(
            table_name=guardian.settings.table_name,
            key_attr="PK",
            sort_key_attr="SK",
            static_pk_value=DELIVERY_PK,
            expiry_attr="expires_at",
            boto3_client=guardian.clients("dynamodb"),
        )
        remembered = IdempotencyConfig(expires_after_seconds=int(DELIVERY_MEMORY.total_seconds()))
        self._log.configure(remembered, key_prefix="notify")

    def claim(self, claim: str) -> bool:
        """True: this invocation sends it. False: it was sent already (or is being sent right now)."""
        try:
            self._log.save_inprogress(data=_record(claim), remaining_time_in_millis=CLAIM_MILLIS)
        except IdempotencyItemAlreadyExistsError:
            return False
        return True

    def delivered(self, claim: str, now: datetime) -> None:
        self._log.save_success(data=_record(claim), result={"at": now.isoformat()})

    def release(self, claim: str, error: Exception) -> None:
        """Sending failed: forget the claim, so the retry sends it."""
        self._log.delete_record(data=_record(claim), exception=error)


def _record(claim: str) -> dict[str, str]:
    # The idempotency key hashes exactly this document: changing it would resend what was delivered.
    return {"delivery": claim}


@dataclass(frozen=True)
class Delivery:
    """What a sending function keeps warm between invocations: the outbox and the channels (whose Slack
    secret is cached)."""

    outbox: Outbox
    channels: Channels

    @classmethod
    def of(cls, guardian: Guardian) -> Delivery:
        """Made on the first message and kept on the guardian."""
        if guardian.delivery is None:
            guardian.delivery = cls(Outbox(guardian), Channels(guardian))
        return guardian.delivery
