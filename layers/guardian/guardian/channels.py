"""Where messages go, and how they get there: email through the SNS topic (with the attributes
subscribers filter on; an owner's address is subscribed first, filtered to their messages) and Slack
incoming webhooks (URLs from Secrets Manager), posted by slack-sdk's WebhookClient with its retry handlers:
a 429 waits as long as Retry-After says, a 5xx and a lost connection (reset, refused, timed out) are
retried with backoff; a webhook Slack refuses (404, 403, 410) is an alarm (the SlackWebhookRejected
metric), never a crash loop. A send raises when the message did not go (DeliveryFailed, or whatever the
client raised): the outbox then has it retried. Whether a message was already sent is not a channel's
concern: the outbox (delivery.py) decides what to send, a channel only sends it.

A send also says whether the message reached a person, since grace before any action counts from then:
Slack's 2xx does; a refused webhook took it to nobody. An owner's email reaches them only through a
confirmed subscription (subscriptions.py): while theirs is pending, their email channel is *held* (nothing
is published; the outbox keeps the message until they confirm). A team message on the topic counts as
delivered when SNS takes it: the team's subscription is the stack's own (TeamEmail), confirmed when it was
deployed, and the guardian cannot tell it from the other subscribers."""

from __future__ import annotations

import functools
import json
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from http.client import HTTPException
from typing import TYPE_CHECKING, Any, cast
from urllib.error import URLError

from guardian.findings import AWAITING_CONFIRMATION, SEVERITIES, Finding
from guardian.messages import Message, cut
from guardian.observability import MetricUnit, logger, metrics
from guardian.routing import PERMISSIONS as ROUTING_PERMISSIONS
from guardian.routing import Router, TeamRoute, team_subscribed
from guardian.subscriptions import PERMISSIONS as SUBSCRIPTION_PERMISSIONS
from guardian.subscriptions import EmailState, subscription_of

# slack-sdk (with asyncio) and Powertools' parameters (with boto3) are imported when Slack is used, not with
# the module: a stack without a Slack webhook never pays their import at a cold start.
if TYPE_CHECKING:
    from aws_lambda_powertools.utilities.parameters import SecretsProvider
    from slack_sdk.http_retry import RetryHandler

    from guardian.runtime import Guardian

PERMISSIONS = (
    "sns:Publish",
    "secretsmanager:GetSecretValue",  # the Slack webhooks (the default team's, and each routed team's)
    "kms:GenerateDataKey",  # the topic is encrypted with the stack's key
    "kms:Decrypt",
    *ROUTING_PERMISSIONS,  # an account's OU, where a route names one
)
OWNER_PERMISSIONS = SUBSCRIPTION_PERMISSIONS  # messages to owners subscribe their address, then ask if confirmed
SLACK_ATTEMPTS = 4  # a post and its retries, whatever Slack answered (429, 5xx) or the connection did
SLACK_TIMEOUT = 10  # seconds for one post: a Slack that hangs is a lost connection, retried
SNS_SUBJECT_LIMIT = 100
SLACK_SECRET_MAX_AGE = 300  # seconds: a rotated webhook is picked up without a redeploy


class DeliveryFailed(Exception):
    """A transient failure: the stream record is retried, then parked whole in the undelivered queue."""


@dataclass(frozen=True)
class Audience:
    """Who a message is for: one owner (their email subscription, their Slack channel) or a team: the default
    team, or one the stack's AccountRoutes name (guardian.routing)."""

    owner: str | None  # None: a team channel
    team: str | None = None  # a routed team; None (and no owner): the default team

    @property
    def name(self) -> str:
        if self.owner:
            return f"owner:{self.owner}"
        return f"team:{self.team}" if self.team else "team"


@dataclass(frozen=True)
class Channel:
    """One way to reach an audience. `send` raises (DeliveryFailed, a botocore error, anything) when the
    message did not go and should be retried; it returns whether the message reached a person. A channel
    ``held`` (why: AWAITING_CONFIRMATION) sends nothing yet: the outbox keeps its messages."""

    name: str
    send: Callable[[Message], bool]
    held: str | None = None


class Channels:
    """The channels a guardian sends on, kept warm between invocations (the Slack secret is cached)."""

    def __init__(self, guardian: Guardian) -> None:
        self._guardian = guardian
        self._secrets: SecretsProvider | None = None
        self.router = Router(guardian.settings.account_routes, lambda: guardian.clients("organizations"))

    def team_of(self, account: str | None, now: datetime) -> Audience:
        """The team that hears about an account: its route's (its own, or its OU's), else the default team."""
        route = self.router.route(account, now)
        return Audience(None, route.team if route else None)

    def to(self, audience: Audience, now: datetime) -> list[Channel]:
        """Email through the topic (an owner's address subscribed first, filtered to their messages; held
        while unconfirmed; none without an address), and Slack where the audience has a webhook. A webhook
        Slack refuses counts as sent, to nobody: its alarm is raised, never a retry. No channel at all: the
        audience cannot be reached. A routed team has its own channels (``_routed``), never the default's."""
        guardian, found = self._guardian, []
        if audience.team and not audience.owner:
            route = self.router.routes.team(audience.team)
            if route is not None:
                return self._routed(route)
            audience = Audience(None)  # a team no route names (any more): the default team's channels
        topic_arn = guardian.settings.topic_arn
        if topic_arn:
            email = self._email(audience, topic_arn, now)
            if email:
                found.append(email)
        slack = _slack(guardian.settings.slack_webhook_secret, lambda: self.slack_routes().url(audience))
        return found + ([slack] if slack else [])

    def _email(self, audience: Audience, topic_arn: str, now: datetime) -> Channel | None:
        guardian = self._guardian

        def publish(message: Message) -> bool:
            attributes = sns_attributes(message.about, audience)
            publish_email(guardian.clients("sns"), topic_arn, message, attributes)
            return True  # to a confirmed subscription of the owner's, or to the team's

        if not audience.owner:
            return Channel("email", publish)
        try:
            subscription = subscription_of(guardian, audience.owner, now)
        except Exception as error:  # Slack still goes; email fails, so the delivery is retried
            logger.error("owner's subscription unknown", extra={"owner": audience.owner, "error": str(error)})
            return Channel("email", _unavailable(f"{audience.owner}'s email subscription is unknown: {error}"))
        if subscription.state is EmailState.NO_ADDRESS:
            return None
        if subscription.state is EmailState.PENDING:
            return Channel("email", _unavailable("held until the subscription is confirmed"), AWAITING_CONFIRMATION)
        return Channel("email", publish)

    def _routed(self, route: TeamRoute) -> list[Channel]:
        """A routed team's channels: its address, subscribed by the guardian on the team's first message (reached
        once the team confirmed it; until then the message is published to nobody in the team, and counts as
        sent), and its own Slack webhook (the secret's URL, or its "team" URL)."""
        guardian, found = self._guardian, []
        topic_arn = guardian.settings.topic_arn
        if route.email and topic_arn:

            def publish(message: Message) -> bool:
                confirmed = team_subscribed(guardian, route)
                attributes = sns_attributes(message.about, Audience(None, route.team))
                publish_email(guardian.clients("sns"), topic_arn, message, attributes)
                return confirmed

            found.append(Channel("email", publish))
        secret = route.slack_webhook_secret_arn
        slack = _slack(secret, lambda: self._slack_secret(secret).team) if secret else None
        return found + ([slack] if slack else [])

    def slack_routes(self) -> SlackRoutes:
        """The webhooks the secret names (none without a secret); raises when the secret cannot be read."""
        name = self._guardian.settings.slack_webhook_secret
        if not name:
            return SlackRoutes(None, {})
        return self._slack_secret(name)

    def _slack_secret(self, name: str) -> SlackRoutes:
        """A webhook secret, through one SecretsProvider cache (each secret kept SLACK_SECRET_MAX_AGE)."""
        if self._secrets is None:
            from aws_lambda_powertools.utilities.parameters import SecretsProvider

            self._secrets = SecretsProvider(boto3_client=self._guardian.clients("secretsmanager"))
        secret = self._secrets.get(name, max_age=SLACK_SECRET_MAX_AGE)
        return SlackRoutes.parse(cast("str | None", secret))  # untransformed: the SecretString


def _slack(secret: str | None, webhook: Callable[[], str | None]) -> Channel | None:
    """Slack through the webhook the secret holds (none: no channel). An unreadable secret raises the alarm, and
    the delivery is retried, then parked; the email still goes."""
    try:
        url = webhook()
    except Exception as error:  # whatever kept the secret from being read
        logger.error("slack webhook secret unreadable", extra={"secret": secret, "error": str(error)})
        metrics.add_metric(name="SlackWebhookRejected", unit=MetricUnit.Count, value=1)
        return Channel("slack", _unavailable(f"the Slack webhook secret is unreadable: {error}"))
    if not url:
        return None
    return Channel("slack", lambda message: post_to_slack(url, message))


def _unavailable(reason: str) -> Callable[[Message], bool]:
    def send(message: Message) -> bool:
        raise DeliveryFailed(reason)

    return send


# Email: the topic, and each owner's filtered subscription to it.


def sns_attributes(findings: list[Finding], audience: Audience) -> dict[str, dict[str, str]]:
    """What subscribers filter on: {"owner": ["alice"]}, {"audience": ["team"]} (a routed team's:
    ["team:vision"]), {"severity": ["high"]}. A team message has no owner attribute: whose findings it counts is
    for their eyes (private spaces)."""
    attributes = {"audience": "owner" if audience.owner else audience.name}
    if audience.owner:
        attributes["owner"] = audience.owner
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


# Slack: incoming webhooks, one for the team and optionally one per owner.


def slack_payload(message: Message) -> dict[str, Any]:
    return {"text": message.subject + "\n" + message.text[:2500], "blocks": message.blocks}


def post_to_slack(url: str, message: Message) -> bool:
    """Post once, Slack's retries included. True: Slack took it (2xx), a person can read it; False: the
    webhook was refused (alarm raised, no retry; it reached nobody); raises DeliveryFailed when Slack did not
    take it after SLACK_ATTEMPTS (retry the delivery)."""
    from slack_sdk.errors import SlackRequestError
    from slack_sdk.webhook import WebhookClient

    client = WebhookClient(url, timeout=SLACK_TIMEOUT, retry_handlers=slack_retry_handlers())
    try:
        response = client.send_dict(slack_payload(message))
    except SlackRequestError as error:  # not a webhook URL: no retry will make it one
        return _refused(None, str(error))
    except Exception as error:  # reset, refused, timed out: after the retries
        logger.warning("slack unreachable", extra={"error": f"{type(error).__name__}: {error}"})
        raise DeliveryFailed(f"Slack unreachable after {SLACK_ATTEMPTS} attempts: {type(error).__name__}") from error
    status = response.status_code
    if 200 <= status < 300:
        return True
    if status == 429 or status >= 500:
        raise DeliveryFailed(f"Slack did not accept the message after {SLACK_ATTEMPTS} attempts (HTTP {status})")
    return _refused(status, str(response.body)[:200])


def _refused(status: int | None, reason: str) -> bool:
    logger.error("slack webhook refused", extra={"status": status, "reason": reason})
    metrics.add_metric(name="SlackWebhookRejected", unit=MetricUnit.Count, value=1)
    return False


@functools.cache
def any_server_error_retry_handler() -> type[RetryHandler]:
    """slack-sdk's server-error handler, widened; built on first use (slack-sdk is imported only to post)."""
    from slack_sdk.http_retry import HttpRequest, HttpResponse, RetryState
    from slack_sdk.http_retry.builtin_handlers import ServerErrorRetryHandler

    class AnyServerErrorRetryHandler(ServerErrorRetryHandler):
        """slack-sdk's handler retries 500 and 503; a webhook's 502 and 504 pass as well."""

        def _can_retry(
            self,
            *,
            state: RetryState,
            request: HttpRequest,
            response: HttpResponse | None = None,
            error: Exception | None = None,
        ) -> bool:
            return response is not None and response.status_code >= 500

    return AnyServerErrorRetryHandler


def slack_retry_handlers() -> list[RetryHandler]:
    """slack-sdk's handlers, sharing SLACK_ATTEMPTS - 1 retries: a connection lost (reset, refused, timed out,
    a broken answer), 429 (waits Retry-After), 5xx (backoff with jitter)."""
    from slack_sdk.http_retry import ConnectionErrorRetryHandler, RateLimitErrorRetryHandler

    retries = SLACK_ATTEMPTS - 1
    lost: list[type[Exception]] = [URLError, ConnectionError, TimeoutError, HTTPException]
    return [
        ConnectionErrorRetryHandler(max_retry_count=retries, error_types=lost),
        RateLimitErrorRetryHandler(max_retry_count=retries),
        any_server_error_retry_handler()(max_retry_count=retries),
    ]


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
