"""The outbox: each message sent once on each of an audience's channels (channels.py says how a channel
sends), with exactly-once effect against at-least-once triggers and any failure on the way.

Each (channel, audience, item) is a delivery, with one record in the delivery log:

1. claim: a conditional write of the record, in progress, with this send's token and an expiry (the
   invocation's deadline: once it has passed, whoever claimed is gone). It succeeds when there is no record,
   when the record is a claim whose expiry has passed, or when the record itself expired (TTL).
2. send one message made of the items claimed.
3. record: the record completed (on condition that the claim is still this send's), in one DynamoDB
   transaction with what the delivery changes (notify: the finding marked notified, and its audit entry).
   A retry after a commit whose answer was lost finds the record completed with its own token: done.

Whatever fails, anywhere (any exception), the item is reported failed so that its trigger retries it: a
claim whose send failed is released (a delete on condition that it is still ours; if that fails too, the
claim expires); a claim found in progress is a delivery under way or abandoned, retried after its expiry,
never counted as done; a delivery recorded already is not sent again, and what it changed was written with
it. A retry sends only what did not go: an email that went out is not sent again because Slack failed.

What a channel says of a message sent is kept with its record: whether it reached a person (channels.py:
Slack's 2xx, an email to a confirmed subscription; a refused webhook took it to nobody), so the transaction
that records it marks the finding reached, or not, and a retry that finds it delivered knows which.

An owner nobody can reach yet is not a failure to retry: their items are *held*, one record each in the
table (PK HELD), written in one transaction with what holding changes (the finding's delivery state and
its audit entry), and nothing is claimed or sent. An owner with no channel at all (no address, no Slack) is
unreachable; an email channel whose subscription awaits confirmation is held while the others send. The
notify function sends held items once their owner can be reached (held.py), through this same outbox and
under the same keys: an item delivered before is not sent again, whichever path gets there first.

Two windows no sender can close, both ending in a duplicate rather than a loss: a message sent whose record
cannot be written (DynamoDB failing all of RECORD_ATTEMPTS tries) stays claimed, and once the claim expires
a retry sends it again; and a send whose answer was lost after the channel took it (SNS, Slack) is sent
again, since the channel cannot be asked whether it did.

The records are Powertools idempotency's (PK DELIVERY, SK notify#<md5 of {"delivery": ...}>, status,
expires_at, in_progress_expiration in milliseconds), so what was delivered before this module wrote them
itself is still known; a claim adds its token. Powertools' persistence layer is not used: it releases
unconditionally and cannot write the record in a transaction with the finding.
"""

from __future__ import annotations

import hashlib
import json
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from enum import Enum
from typing import TYPE_CHECKING, Any, Generic, TypeVar

from botocore.exceptions import ClientError

from guardian import clock
from guardian.channels import PERMISSIONS as CHANNEL_PERMISSIONS
from guardian.channels import Audience, Channel, Channels, DeliveryFailed
from guardian.findings import UNREACHABLE
from guardian.findings_store import FindingChange, finding_writes
from guardian.messages import Message
from guardian.observability import MetricUnit, logger, metrics
from guardian.table import HELD_PK, delivery_key, epoch, held_key

if TYPE_CHECKING:
    from guardian.runtime import Guardian

PERMISSIONS = (
    "dynamodb:UpdateItem",  # a delivery recorded (alone, or in a transaction with its finding)
    "dynamodb:DeleteItem",  # a claim released; a held item sent
    *CHANNEL_PERMISSIONS,
)
Item = TypeVar("Item")
DELIVERY_MEMORY = timedelta(days=90)  # how long a delivered (channel, audience, item) is remembered
# A claim expires at the claimant's deadline (its Lambda invocation's end); without one, after Lambda's longest.
LONGEST_INVOCATION = timedelta(minutes=15)
# Writing the record of a message sent is the one step whose failure can end in a duplicate: it is tried
# longest (each attempt with botocore's own retries; about 13 seconds of backoff in all).
RECORD_ATTEMPTS = 10
# A sent message's record is retried past RECORD_ATTEMPTS while its claim holds (until this margin before the
# claim expires): once the claim is gone, another attempt may send the message again.
RECORD_MARGIN = timedelta(seconds=10)
RELEASE_ATTEMPTS = 3  # releasing a claim: if it still fails, the claim expires
BACKOFF_SECONDS, BACKOFF_CAP = 0.05, 2.0  # doubled at each attempt, up to the cap
KEY_PREFIX = "notify"  # Powertools' function name in the record's key: changing it would resend what was sent
IN_PROGRESS, COMPLETED = "INPROGRESS", "COMPLETED"


class Claim(Enum):
    TAKEN = "taken"  # this send has it
    DONE = "done"  # delivered before
    BUSY = "busy"  # another send's claim, not expired: retry after its expiry


@dataclass(frozen=True)
class Effect:
    """What a delivery changes, written in the transaction that records it: a finding, by a lifecycle step."""

    finding_id: str
    change: FindingChange


# What a delivery changes, given the channel it went on, the item, and whether it reached a person: None for
# nothing (a digest, a report).
Settle = Callable[[str, Item, bool], Effect | None]
# What to keep of an item held for its owner (why: AWAITING_CONFIRMATION or UNREACHABLE): the held record's
# document (what held.py needs to send it) and what holding changes. Without one, a held item is only
# reported held: its caller tells it again some other way (the digest, the next day).
Keep = Callable[[str, Item], tuple[dict[str, Any], Effect | None]]


@dataclass
class Outcome(Generic[Item]):
    sent: list[tuple[str, str, list[Item]]] = field(default_factory=list)  # channel, subject, what it told
    duplicates: int = 0  # deliveries recorded before: not sent again
    recorded_before: list[tuple[str, str]] = field(default_factory=list)  # their channel and item key
    delivered: set[str] = field(default_factory=set)  # item keys delivered (now or before) on some channel
    reached: set[str] = field(default_factory=set)  # item keys that reached a person (now or before) on some channel
    held: dict[str, str] = field(default_factory=dict)  # item key -> why it waits for its owner (on some channel)
    unreachable: bool = False  # the audience has no channel at all
    failed: dict[str, str] = field(default_factory=dict)  # item key -> why: retry the trigger
    error: Exception | None = None  # the last failure, if any


def send_once(
    guardian: Guardian,
    audience: Audience,
    items: list[tuple[str, Item]],
    compose: Callable[[list[Item]], Message],
    now: datetime,
    settle: Settle[Item] | None = None,
    deadline: datetime | None = None,
    keep: Keep[Item] | None = None,
) -> Outcome[Item]:
    """On each channel, one message about the items not delivered there before (``items``: (key, item),
    keys unique). ``settle`` says what each delivery changes (written with its record); ``deadline`` is when
    this invocation ends (its claims expire then); ``keep``, what to keep of items held for their owner.
    Every item that did not get through on some channel is in ``failed``: the caller must have it retried.
    Items held are in ``held`` (not failed: they wait for their owner, not for a retry)."""
    outcome = Outcome[Item]()
    try:
        delivery = Delivery.of(guardian)
        channels = delivery.channels.to(audience, now)
    except Exception as error:  # no channel to try is a failure of every item, not a crash
        _failed(outcome, [key for key, _ in items], error, "channels unavailable", audience)
        return outcome
    outbox, token = delivery.outbox, uuid.uuid4().hex
    expiry = deadline or clock.now() + LONGEST_INVOCATION
    if not channels:
        outcome.unreachable = True
        _hold(outbox, audience, None, UNREACHABLE, items, keep, now, outcome)
    for channel in channels:
        if channel.held:
            _hold(outbox, audience, channel, channel.held, items, keep, now, outcome)
            continue
        fresh: list[tuple[str, str, Item]] = []  # claim, key, item
        for key, item in items:
            claim = f"{channel.name}#{audience.name}#{key}"
            try:
                state, until, reached_before = outbox.claim(claim, token, expiry)
            except Exception as error:  # it may have been written all the same: take back what may be ours
                outbox.release(claim, token)
                _failed(outcome, [key], error, "claim failed", audience, channel.name)
                continue
            if state is Claim.TAKEN:
                fresh.append((claim, key, item))
            elif state is Claim.DONE:
                outcome.duplicates += 1
                outcome.recorded_before.append((channel.name, key))
                outcome.delivered.add(key)
                if reached_before:
                    outcome.reached.add(key)
            else:
                busy = DeliveryFailed(f"{claim} is being sent (claimed until {until}): retried after that")
                _failed(outcome, [key], busy, "delivery in progress", audience, channel.name)
        if not fresh:
            continue
        try:
            message = compose([item for _, _, item in fresh])
            reached = channel.send(message)
        except Exception as error:
            for claim, _, _ in fresh:
                outbox.release(claim, token)
            _failed(outcome, [key for _, key, _ in fresh], error, "delivery failed", audience, channel.name)
            metrics.add_metric(name="DeliveryFailures", unit=MetricUnit.Count, value=1)
            continue
        metrics.add_metric(name="MessagesSent", unit=MetricUnit.Count, value=1)
        logger.info(
            "message sent",
            extra={
                "channel": channel.name,
                "audience": audience.name,
                "subject": message.subject,
                "findings": [f.id for f in message.about],
                "reached": reached,
            },
        )
        outcome.sent.append((channel.name, message.subject, [item for _, _, item in fresh]))
        for claim, key, item in fresh:
            effect = settle(channel.name, item, reached) if settle else None
            try:
                outbox.record(claim, token, now, effect, reached, until=expiry - RECORD_MARGIN)
            except Exception as error:  # sent, not recorded: the claim stays until it expires
                _failed(outcome, [key], error, "sent but not recorded", audience, channel.name)
                metrics.add_metric(name="DeliveriesNotRecorded", unit=MetricUnit.Count, value=1)
            else:
                outcome.delivered.add(key)
                if reached:
                    outcome.reached.add(key)
    return outcome


def _hold(
    outbox: Outbox,
    audience: Audience,
    channel: Channel | None,
    why: str,
    items: list[tuple[str, Item]],
    keep: Keep[Item] | None,
    now: datetime,
    outcome: Outcome[Item],
) -> None:
    """Keep each item for its owner, unless it was delivered on this channel before (a redelivered trigger)."""
    held = []
    for key, item in items:
        try:
            reached = outbox.completed(f"{channel.name}#{audience.name}#{key}") if channel else None
            if channel and reached is not None:
                outcome.duplicates += 1
                outcome.recorded_before.append((channel.name, key))
                outcome.delivered.add(key)
                if reached:
                    outcome.reached.add(key)
                continue
            if keep is not None:
                document, effect = keep(why, item)
                outbox.hold(audience, key, why, document, effect, now)
        except Exception as error:
            _failed(outcome, [key], error, "not held", audience, channel.name if channel else "")
            continue
        outcome.held[key] = why
        held.append(key)
    if held:
        logger.info("messages held", extra={"audience": audience.name, "why": why, "items": held})


def _failed(
    outcome: Outcome[Any], keys: list[str], error: Exception, what: str, audience: Audience, channel: str = ""
) -> None:
    for key in keys:
        outcome.failed[key] = f"{what}: {type(error).__name__}: {error}"
    outcome.error = error
    logger.error(
        what,
        extra={
            "channel": channel,
            "audience": audience.name,
            "items": keys,
            "error": f"{type(error).__name__}: {error}",
        },
    )


class Outbox:
    """The delivery log: one record per claim ("<channel>#<audience>#<item key>") under the table's DELIVERY
    partition, remembered for DELIVERY_MEMORY."""

    def __init__(self, guardian: Guardian) -> None:
        self._guardian = guardian
        self._table = guardian.settings.table_name

    @property
    def _client(self) -> Any:
        return self._guardian.clients("dynamodb")

    def claim(self, claim: str, token: str, expiry: datetime) -> tuple[Claim, datetime | None, bool]:
        """Take the delivery for this send until ``expiry``: TAKEN; or DONE (delivered before, and whether it
        reached a person); or BUSY (another send's claim, with its expiry)."""
        now = clock.now()
        item = _key(claim) | {
            "status": {"S": IN_PROGRESS},
            "claim": {"S": token},
            "delivery": {"S": claim},
            "expires_at": {"N": str(epoch(now + DELIVERY_MEMORY))},
            "in_progress_expiration": {"N": str(_millis(expiry))},
        }
        try:
            self._client.put_item(
                TableName=self._table,
                Item=item,
                ConditionExpression=(
                    "attribute_not_exists(PK) OR expires_at < :now"
                    " OR (#status = :in_progress AND in_progress_expiration < :now_ms)"
                ),
                ExpressionAttributeNames={"#status": "status"},
                ExpressionAttributeValues={
                    ":now": {"N": str(epoch(now))},
                    ":now_ms": {"N": str(_millis(now))},
                    ":in_progress": {"S": IN_PROGRESS},
                },
                ReturnValuesOnConditionCheckFailure="ALL_OLD",
            )
        except ClientError as error:
            if _code(error) != "ConditionalCheckFailedException":
                raise
            held = error.response.get("Item") or {}
            if held.get("status", {}).get("S") == COMPLETED:
                return Claim.DONE, None, _reached(held)
            until = held.get("in_progress_expiration", {}).get("N")
            return Claim.BUSY, _from_millis(until) if until else None, False
        return Claim.TAKEN, None, False

    def completed(self, claim: str) -> bool | None:
        """Whether this delivery was recorded complete: None if not; else whether it reached a person."""
        item = self._client.get_item(TableName=self._table, Key=_key(claim), ConsistentRead=True).get("Item") or {}
        return _reached(item) if item.get("status", {}).get("S") == COMPLETED else None

    def hold(
        self, audience: Audience, key: str, why: str, document: dict[str, Any], effect: Effect | None, now: datetime
    ) -> None:
        """Keep an item for its owner (``why`` they cannot be reached yet), with what holding changes, in one
        transaction; kept already for the same reason, nothing is written again."""
        held = held_key(audience.name, key)
        for attempt in range(RECORD_ATTEMPTS):
            current = self._client.get_item(TableName=self._table, Key=held, ConsistentRead=True).get("Item")
            if current and current.get("why", {}).get("S") == why:
                return
            item = held | {
                "type": {"S": "held"},
                "audience": {"S": audience.name},
                "owner": {"S": audience.owner or ""},
                "item": {"S": key},
                "why": {"S": why},
                "doc": {"S": json.dumps(document)},
                "held_at": {"S": now.isoformat()},
            }
            if current:  # the reason changed (an address was found; the subscription awaits confirmation)
                condition = {"ConditionExpression": "why = :was", "ExpressionAttributeValues": {":was": current["why"]}}
            else:
                condition = {"ConditionExpression": "attribute_not_exists(PK)"}
            put = {"Put": {"TableName": self._table, "Item": item, **condition}}
            try:
                writes = self._writes(effect, now)
                if writes:
                    self._client.transact_write_items(TransactItems=[put, *writes])
                else:
                    self._client.put_item(**put["Put"])
                return
            except ClientError as error:
                if _code(error) not in ("ConditionalCheckFailedException", "TransactionCanceledException"):
                    raise
            if attempt + 1 < RECORD_ATTEMPTS:  # held meanwhile, or the finding changed: look again
                pause(attempt)
        raise DeliveryFailed(f"{held['SK']['S']}: kept changing while it was held")

    def held(self) -> list[dict[str, Any]]:
        """Every item held for an owner: audience, owner, item (its key), why, doc (what keep returned)."""
        pages = self._client.get_paginator("query").paginate(
            TableName=self._table,
            KeyConditionExpression="PK = :pk",
            ExpressionAttributeValues={":pk": {"S": HELD_PK}},
            ConsistentRead=True,
        )
        return [
            {
                "audience": item["audience"]["S"],
                "owner": item["owner"]["S"],
                "item": item["item"]["S"],
                "why": item["why"]["S"],
                "doc": json.loads(item["doc"]["S"]),
            }
            for page in pages
            for item in page["Items"]
        ]

    def unhold(self, audience: str, key: str) -> None:
        """The item was delivered (or is no longer news): forget it."""
        self._client.delete_item(TableName=self._table, Key=held_key(audience, key))

    def release(self, claim: str, token: str) -> None:
        """The send failed: forget the claim if it is still ours, so a retry sends it. Never raises: a claim
        that cannot be released expires."""
        for attempt in range(RELEASE_ATTEMPTS):
            try:
                self._client.delete_item(
                    TableName=self._table,
                    Key=_key(claim),
                    ConditionExpression="claim = :token AND #status = :in_progress",
                    ExpressionAttributeNames={"#status": "status"},
                    ExpressionAttributeValues={":token": {"S": token}, ":in_progress": {"S": IN_PROGRESS}},
                )
                return
            except ClientError as error:
                if _code(error) == "ConditionalCheckFailedException":
                    return  # not ours (any more), or released by an attempt whose answer was lost
                failure: Exception = error
            except Exception as error:
                failure = error
            if attempt + 1 < RELEASE_ATTEMPTS:
                pause(attempt)
        logger.warning("claim not released: it expires", extra={"delivery": claim, "error": str(failure)})

    def record(
        self,
        claim: str,
        token: str,
        now: datetime,
        effect: Effect | None,
        reached: bool = True,
        until: datetime | None = None,
    ) -> None:
        """The message went out (``reached``: to a person): complete the record, with what the delivery changes,
        in one transaction. A failed attempt is retried RECORD_ATTEMPTS times, and after that for as long as the
        claim holds (``until``): a message sent and not recorded would be sent again once its claim expires."""
        attempt = 0
        while True:
            spent = attempt + 1 >= RECORD_ATTEMPTS and not (until and clock.now() < until)
            try:
                if self._complete(claim, token, now, effect, reached):
                    return
                if spent:  # the finding changed meanwhile, each time: its change was made again on what it is now
                    raise DeliveryFailed(f"{claim}: its finding kept changing while the delivery was recorded")
            except Exception as error:
                if spent:
                    logger.error("message sent but not recorded", extra={"delivery": claim, "error": str(error)})
                    raise
                pause(min(attempt, RECORD_ATTEMPTS))
            attempt += 1

    def _complete(self, claim: str, token: str, now: datetime, effect: Effect | None, reached: bool) -> bool:
        """True when the record is complete (by this call or by an earlier one whose answer was lost); False
        when the finding changed under the transaction."""
        update = {
            "TableName": self._table,
            "Key": _key(claim),
            "UpdateExpression": "SET #status = :completed, #data = :data REMOVE in_progress_expiration",
            "ConditionExpression": "claim = :token AND #status = :in_progress",
            "ExpressionAttributeNames": {"#status": "status", "#data": "data"},
            "ExpressionAttributeValues": {
                ":completed": {"S": COMPLETED},
                ":in_progress": {"S": IN_PROGRESS},
                ":token": {"S": token},
                ":data": {"S": json.dumps({"at": now.isoformat(), "reached": reached})},
            },
        }
        writes = self._writes(effect, now)
        try:
            if writes:
                self._client.transact_write_items(TransactItems=[{"Update": update}, *writes])
            else:
                self._client.update_item(**update, ReturnValuesOnConditionCheckFailure="ALL_OLD")
            return True
        except ClientError as error:
            if _code(error) == "ConditionalCheckFailedException":  # the update alone: the record as it is
                held = error.response.get("Item") or {}
            elif _code(error) == "TransactionCanceledException":  # the record, or the finding, is not as it was
                held = self._client.get_item(TableName=self._table, Key=_key(claim), ConsistentRead=True)
                held = held.get("Item") or {}
            else:
                raise
        ours = held.get("claim", {}).get("S") == token
        status = held.get("status", {}).get("S")
        if ours and status == COMPLETED:
            return True  # an earlier attempt committed
        if ours and status == IN_PROGRESS and writes:
            return False  # the finding's condition failed: it changed
        # The claim expired and was taken (or released) while this send was under way: the message went out,
        # and whoever holds the delivery now may send it again. Nothing left to record here.
        logger.error("claim lost while sending", extra={"delivery": claim, "held": status})
        metrics.add_metric(name="DeliveryClaimsLost", unit=MetricUnit.Count, value=1)
        return True

    def _writes(self, effect: Effect | None, now: datetime) -> list[dict[str, Any]]:
        if effect is None:
            return []
        current = self._guardian.findings.get(effect.finding_id)
        if current is None:
            return []
        updated, audit = effect.change(current)
        if not audit and updated == current:
            return []
        _, writes = finding_writes(self._table, updated.model_copy(update={"updated_at": now}), audit, current)
        return writes


def pause(attempt: int) -> None:
    time.sleep(min(BACKOFF_SECONDS * 2**attempt, BACKOFF_CAP))


def record_key(claim: str) -> str:
    """The record's sort key, as Powertools idempotency hashes {"delivery": claim} under KEY_PREFIX."""
    digest = hashlib.md5(json.dumps({"delivery": claim}, sort_keys=True).encode(), usedforsecurity=False)
    return f"{KEY_PREFIX}#{digest.hexdigest()}"


def _key(claim: str) -> dict[str, dict[str, str]]:
    return delivery_key(record_key(claim))


def _reached(record: dict[str, Any]) -> bool:
    """Whether a completed delivery reached a person: as its record says; a record written before records said
    so is taken as not (nothing is acted on for it)."""
    try:
        return bool(json.loads(record.get("data", {}).get("S") or "{}").get("reached", False))
    except ValueError:
        return False


def _code(error: ClientError) -> str:
    return str(error.response.get("Error", {}).get("Code", ""))


def _millis(moment: datetime) -> int:
    return int(moment.timestamp() * 1000)


def _from_millis(value: str) -> datetime:
    return datetime.fromtimestamp(int(value) / 1000, clock.now().tzinfo)


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
