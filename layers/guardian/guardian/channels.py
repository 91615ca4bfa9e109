"""Where messages go, and how they get there: email through the SNS topic (with the attributes
subscribers filter on; an owner's address is subscribed first, filtered to their messages) and Slack
incoming webhooks (URLs from Secrets Manager). Slack's 429 honours Retry-After and 5xx is retried with
backoff; a webhook Slack refuses (404, 403, 410) is an alarm (the SlackWebhookRejected metric), never a
crash loop. Whether a message was already sent is not a channel's concern: the outbox (delivery.py)
decides what to send, a channel only sends it."""

from __future__ import annotations

import json
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any, cast

from aws_lambda_powertools.utilities.parameters import SecretsProvider

from guardian.findings import SEVERITIES, Finding
from guardian.messages import Message, cut
from guardian.observability import MetricUnit, logger, metrics
from guardian.table import subscription_key

if TYPE_CHECKING:
    from guardian.runtime import Guardian

PERMISSIONS = (
    "sns:Publish",
    "secretsmanager:GetSecretValue",  # the Slack webhooks
    "kms:GenerateDataKey",  # the topic is encrypted with the stack's key
    "kms:Decrypt",
)
OWNER_PERMISSIONS = ("sns:Subscribe",)  # messages to owners subscribe their address first
SLACK_ATTEMPTS = 4
SNS_SUBJECT_LIMIT = 100
SLACK_SECRET_MAX_AGE = 300  # seconds: a rotated webhook is picked up without a redeploy


class DeliveryFailed(Exception):
    """A transient failure: the stream record is retried, then parked in the dead-letter queue."""


@dataclass(frozen=True)
class Audience:
    """Who a message is for: one owner (their email subscription, their Slack channel) or the team."""

    owner: str | None  # None: the team channel

    @property
    def name(self) -> str:
        return f"owner:{self.owner}" if self.owner else "team"


@dataclass(frozen=True)
class Channel:
    """One way to reach an audience. `send` raises DeliveryFailed (or a botocore error) when the message
    did not go and should be retried."""

    name: str
    send: Callable[[Message], object]


class Channels:
    """The channels a guardian sends on, kept warm between invocations (the Slack secret is cached)."""

    def __init__(self, guardian: Guardian) -> None:
        self._guardian = guardian
        self._secrets = SecretsProvider(boto3_client=guardian.clients("secretsmanager"))

    def to(self, audience: Audience, now: datetime) -> list[Channel]:
        """Email through the topic (the owner subscribed first, filtered to their messages), and Slack where
        the audience has a webhook. A webhook Slack refuses counts as sent: its alarm is raised, never a retry."""
        guardian, found = self._guardian, []
        topic_arn = guardian.settings.topic_arn
        if topic_arn:

            def email(message: Message) -> None:
                if audience.owner:
                    ensure_subscription(guardian, audience.owner, now)
                attributes = sns_attributes(message.about, audience)
                publish_email(guardian.clients("sns"), topic_arn, message, attributes)

            found.append(Channel("email", email))
        url = self.slack_routes().url(audience)
        if url:
            found.append(Channel("slack", lambda message: post_to_slack(url, message)))
        return found

    def slack_routes(self) -> SlackRoutes:
        name = self._guardian.settings.slack_webhook_secret
        if not name:
            return SlackRoutes(None, {})
        try:
            secret = self._secrets.get(name, max_age=SLACK_SECRET_MAX_AGE)
            return SlackRoutes.parse(cast("str | None", secret))  # untransformed: the SecretString
        except Exception as error:  # an unreadable secret must not stop email: the alarm says it is broken
            logger.error("slack webhook secret unreadable", extra={"secret": name, "error": str(error)})
            metrics.add_metric(name="SlackWebhookRejected", unit=MetricUnit.Count, value=1)
            return SlackRoutes(None, {})


# Email: the topic, and each owner's filtered subscription to it.


def sns_attributes(findings: list[Finding], audience: Audience) -> dict[str, dict[str, str]]:
    """What subscribers filter on: {"owner": ["alice"]}, {"audience": ["team"]}, {"severity": ["high"]}."""
    attributes = {"audience": "owner" if audience.owner else "team"}
    owners = {f.owner for f in findings}
    attributes["owner"] = audience.owner or (owners.pop() if len(owners) == 1 else None) or "unattributed"
    if findings:
        rules, domains = {f.rule for f in findings}, {f.domain_id for f in findings}
        attributes |= {
            "rule": rules.pop() if len(rules) == 1 else "several",
            "severity": max((f.severity for f in findings), key=SEVERITIES.index),
            "domain": (domains.pop() if len(domains) == 1 else "several") or "none",
        }
    return {key: {"DataType": "String", "StringValue": value} for key, value in attributes.items()}


def publish_email(sns: Any, topic_arn: str, message: Message, attributes: dict[str, dict[str, str]]) -> None:
    subject = cut(message.subject, SNS_SUBJECT_LIMIT)
    sns.publish(
        TopicArn=topic_arn,
        Subject=subject.encode("ascii", "replace").decode(),
        Message=message.text,
        MessageAttributes=attributes,
    )


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
    key = subscription_key(owner, email)
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


# Slack: incoming webhooks, one for the team and optionally one per owner.


def slack_payload(message: Message) -> dict[str, Any]:
    return {"text": message.subject + "\n" + message.text[:2500], "blocks": message.blocks}


def post_to_slack(url: str, message: Message, sleep: Callable[[float], None] = time.sleep) -> bool:
    """Post once, retrying what Slack says to retry. False: the webhook was refused (alarm raised)."""
    body = json.dumps(slack_payload(message)).encode()
    for attempt in range(SLACK_ATTEMPTS):
        request = urllib.request.Request(url, data=body, headers={"Content-Type": "application/json"}, method="POST")
        try:
            with urllib.request.urlopen(request, timeout=5):
                return True
        except urllib.error.HTTPError as error:
            if error.code == 429:
                wait = float(error.headers.get("Retry-After") or 1)
            elif error.code >= 500:
                wait = 0.5 * 2**attempt
            else:
                logger.error("slack webhook refused", extra={"status": error.code, "reason": error.reason})
                metrics.add_metric(name="SlackWebhookRejected", unit=MetricUnit.Count, value=1)
                return False
        except (urllib.error.URLError, TimeoutError) as error:
            wait = 0.5 * 2**attempt
            logger.warning("slack unreachable", extra={"error": str(error)})
        if attempt + 1 < SLACK_ATTEMPTS:
            sleep(min(wait, 30))
    raise DeliveryFailed(f"Slack did not accept the message after {SLACK_ATTEMPTS} attempts")


@dataclass(frozen=True)
class SlackRoutes:
    """Webhook URLs: one for the team channel and, optionally, one per owner. The secret holds either
    a URL, or {"team": URL, "owners": {"alice": URL}}."""

    team: str | None
    owners: dict[str, str]

    @classmethod
    def parse(cls, secret: str | None) -> SlackRoutes:
        if not secret:
            return cls(None, {})
        secret = secret.strip()
        if secret.startswith("{"):
            document = json.loads(secret)
            return cls(document.get("team"), dict(document.get("owners") or {}))
        return cls(secret, {})

    def url(self, audience: Audience) -> str | None:
        return self.owners.get(audience.owner) if audience.owner else self.team
