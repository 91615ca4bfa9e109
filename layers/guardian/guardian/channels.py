"""Where messages go: the SNS topic (email, with attributes subscribers filter on) and Slack incoming
webhooks (URL from Secrets Manager). Slack's 429 honours Retry-After and 5xx is retried with backoff; a
webhook Slack refuses (404, 403, 410) is an alarm (the SlackWebhookRejected metric), never a crash loop."""

import json
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from guardian.findings import SEVERITIES, Finding
from guardian.messages import Message, cut
from guardian.observability import MetricUnit, logger, metrics

SLACK_ATTEMPTS = 4
SNS_SUBJECT_LIMIT = 100


class DeliveryFailed(Exception):
    """A transient failure: the stream record is retried, then parked in the dead-letter queue."""


@dataclass(frozen=True)
class Audience:
    """Who a message is for: one owner (their email subscription, their Slack channel) or the team."""

    owner: str | None  # None: the team channel

    @property
    def name(self) -> str:
        return f"owner:{self.owner}" if self.owner else "team"


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
    def parse(cls, secret: str | None) -> "SlackRoutes":
        if not secret:
            return cls(None, {})
        secret = secret.strip()
        if secret.startswith("{"):
            document = json.loads(secret)
            return cls(document.get("team"), dict(document.get("owners") or {}))
        return cls(secret, {})

    def url(self, audience: Audience) -> str | None:
        return self.owners.get(audience.owner) if audience.owner else self.team
