"""An owner's email: their address, and their subscription to the topic. SNS delivers nothing to an email
subscription until its owner confirmed it (the link in the email SNS sends when it is made), so an email
counts as delivered only to a confirmed subscription; a message for a pending one is held (delivery.py) and
sent once it is confirmed (held.py).

The subscription's ARN is kept in the table (Subscribe, asked for it, returns it even while pending), so its
state is one GetSubscriptionAttributes call, made at each message: someone who unsubscribed is no longer
counted as reached, and is subscribed again (SNS then asks them to confirm once more)."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import TYPE_CHECKING

from botocore.exceptions import ClientError

from guardian.observability import MetricUnit, logger, metrics
from guardian.table import subscription_key

if TYPE_CHECKING:
    from guardian.runtime import Guardian

# Subscribe: the first message to an owner subscribes their address. GetSubscriptionAttributes: whether they
# confirmed it. SNS authorises the latter on the subscription, which IAM policies cannot name: template.yaml
# grants it on "*" (it reads the attributes of a subscription, nothing else).
PERMISSIONS = ("sns:Subscribe", "sns:GetSubscriptionAttributes")


class EmailState(StrEnum):
    NO_ADDRESS = "no-address"
    PENDING = "pending"  # subscribed, not confirmed: SNS delivers nothing to it
    CONFIRMED = "confirmed"


@dataclass(frozen=True)
class OwnerEmail:
    address: str | None
    state: EmailState


def owner_email(guardian: Guardian, owner: str, now: datetime) -> str | None:
    """An owner's address: the OwnerEmails mapping, else the `<prefix>:email` tag on their user profile."""
    mapped = guardian.settings.owner_emails.get(owner)
    if mapped:
        return mapped
    tag = f"{guardian.settings.tag_prefix}:email"
    for profile in guardian.directory(now, everywhere=True).profiles_named(owner):
        if profile.tags.get(tag):
            return profile.tags[tag]
    return None


def fix_hint(tag_prefix: str) -> str:
    """How an admin gives an owner an address."""
    return f"tag the user profile {tag_prefix}:email=ADDRESS, or add them to the stack's OwnerEmails parameter"


def subscription_of(guardian: Guardian, owner: str, now: datetime) -> OwnerEmail:
    """The owner's address and whether SNS delivers to it: subscribed first if it is not (filtered to their
    messages; SNS asks them to confirm). Raises when SNS or the table cannot be asked (the caller retries)."""
    address = owner_email(guardian, owner, now)
    if not address:
        logger.warning(
            "owner has no email address", extra={"owner": owner, "fix": fix_hint(guardian.settings.tag_prefix)}
        )
        metrics.add_metric(name="OwnersWithoutAddress", unit=MetricUnit.Count, value=1)
        return OwnerEmail(None, EmailState.NO_ADDRESS)
    table, key = guardian.settings.table_name, subscription_key(owner, address)
    dynamodb = guardian.clients("dynamodb")
    record = dynamodb.get_item(TableName=table, Key=key, ConsistentRead=True).get("Item") or {}
    arn = record.get("arn", {}).get("S")
    for _ in range(2):  # a subscription deleted since (its owner unsubscribed) is made again, once
        if not arn:
            arn = _subscribe(guardian, owner, address)
            dynamodb.put_item(TableName=table, Item=key | {"type": {"S": "subscription"}, "arn": {"S": arn}})
        try:
            attributes = guardian.clients("sns").get_subscription_attributes(SubscriptionArn=arn)["Attributes"]
        except ClientError as error:
            if error.response.get("Error", {}).get("Code") != "NotFound":
                raise
            logger.warning("owner's subscription is gone: subscribing again", extra={"owner": owner})
            arn = None
            continue
        confirmed = attributes.get("PendingConfirmation") == "false"
        return OwnerEmail(address, EmailState.CONFIRMED if confirmed else EmailState.PENDING)
    return OwnerEmail(address, EmailState.PENDING)


def _subscribe(guardian: Guardian, owner: str, address: str) -> str:
    """Subscribe the address, filtered to the owner's messages: the subscription's ARN, pending or not (for
    the same address and filter policy, SNS returns the subscription there is)."""
    policy = {"owner": [owner], "audience": ["owner"]}
    response = guardian.clients("sns").subscribe(
        TopicArn=guardian.settings.topic_arn,
        Protocol="email",
        Endpoint=address,
        ReturnSubscriptionArn=True,
        Attributes={"FilterPolicy": json.dumps(policy), "FilterPolicyScope": "MessageAttributes"},
    )
    logger.info("owner subscribed", extra={"owner": owner, "email": address})
    return str(response["SubscriptionArn"])
