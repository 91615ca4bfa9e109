"""Sending a message once on each of an audience's channels: email through the topic (an owner's address
subscribed first, filtered to their messages) and Slack (webhooks from Secrets Manager). Each (channel,
audience, item) is claimed in the delivery log (Powertools idempotency records in the table) before it
is sent, recorded once sent, released if sending failed: at-least-once triggers never repeat a message,
and a retry sends only what did not go (an email that went out is not sent again because Slack failed).
"""

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Generic, TypeVar

from aws_lambda_powertools.utilities.idempotency import DynamoDBPersistenceLayer, IdempotencyConfig
from aws_lambda_powertools.utilities.idempotency.exceptions import IdempotencyItemAlreadyExistsError
from aws_lambda_powertools.utilities.parameters import SecretsProvider
from botocore.exceptions import BotoCoreError, ClientError

from guardian.channels import Audience, DeliveryFailed, SlackRoutes, post_to_slack, publish_email, sns_attributes
from guardian.messages import Message
from guardian.observability import MetricUnit, logger, metrics
from guardian.runtime import Guardian

PERMISSIONS = (
    "sns:Publish",
    "dynamodb:UpdateItem",  # the delivery log completes and releases its records
    "dynamodb:DeleteItem",
    "secretsmanager:GetSecretValue",
    "kms:GenerateDataKey",  # the topic is encrypted with the stack's key
    "kms:Decrypt",
)
OWNER_PERMISSIONS = ("sns:Subscribe",)  # messages to owners subscribe their address first
Item = TypeVar("Item")
DELIVERY_MEMORY = timedelta(days=90)  # how long a delivered (channel, audience, item) is remembered
CLAIM_MILLIS = 60_000  # a delivery in progress that never finished is retried after this


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
        logger.warning(
            "owner has no email address",
            extra={"owner": owner, "fix": f"tag the user profile {guardian.settings.tag_prefix}:email, or OwnerEmails"},
        )
        metrics.add_metric(name="OwnersWithoutAddress", unit=MetricUnit.Count, value=1)
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
