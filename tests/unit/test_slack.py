"""Slack incoming webhooks as Slack behaves: 429 with Retry-After is waited out, 5xx retried with backoff,
a refused webhook (404, 403, 410) raises the alarm metric and is not retried, and a Slack that never
recovers fails the delivery (so the stream record is retried, then kept)."""

import json

import pytest

from guardian.channels import SLACK_ATTEMPTS, Audience, DeliveryFailed, SlackRoutes, post_to_slack
from guardian.messages import Message

MESSAGE = Message(
    subject="Orphaned endpoint fraud-xgb (alice) ~ $5.52/day",
    text="Orphaned endpoint fraud-xgb in space alice-lab",
    blocks=[{"type": "section", "text": {"type": "mrkdwn", "text": "*Orphaned endpoint fraud-xgb*"}}],
)


@pytest.fixture
def waits() -> list[float]:
    return []


def test_a_message_is_posted_once_with_blocks_and_a_fallback(slack, waits):
    assert post_to_slack(slack.url, MESSAGE, sleep=waits.append) is True
    [payload] = slack.payloads
    assert payload["blocks"] == MESSAGE.blocks and payload["text"].startswith(MESSAGE.subject)
    assert waits == []


def test_429_waits_as_long_as_slack_says(slack, waits):
    slack.replies = [(429, {"Retry-After": "7"})]
    assert post_to_slack(slack.url, MESSAGE, sleep=waits.append) is True
    assert waits == [7.0] and len(slack.posts) == 2


def test_5xx_is_retried_with_backoff(slack, waits):
    slack.replies = [(500, {}), (503, {})]
    assert post_to_slack(slack.url, MESSAGE, sleep=waits.append) is True
    assert waits == [0.5, 1.0] and len(slack.posts) == 3


def test_a_refused_webhook_is_an_alarm_not_a_retry(slack, waits, captured):
    slack.replies = [(404, {})]
    assert post_to_slack(slack.url, MESSAGE, sleep=waits.append) is False
    assert len(slack.posts) == 1 and waits == []
    from guardian.observability import metrics

    metrics.flush_metrics()
    lines = [json.loads(line) for line in captured.readouterr().out.splitlines() if line.startswith("{")]
    assert any(line.get("message") == "slack webhook refused" and line["status"] == 404 for line in lines)
    assert any(line.get("SlackWebhookRejected") == [1.0] for line in lines)


def test_a_slack_that_never_recovers_fails_the_delivery(slack, waits):
    slack.replies = [(502, {})] * SLACK_ATTEMPTS
    with pytest.raises(DeliveryFailed):
        post_to_slack(slack.url, MESSAGE, sleep=waits.append)
    assert len(slack.posts) == SLACK_ATTEMPTS


def test_an_unreachable_slack_fails_the_delivery(waits):
    with pytest.raises(DeliveryFailed):
        post_to_slack("http://127.0.0.1:9/services/x", MESSAGE, sleep=waits.append)
    assert len(waits) == SLACK_ATTEMPTS - 1


@pytest.mark.parametrize(
    ("secret", "team", "alice"),
    [
        ("https://hooks.slack.com/services/T/B/team", "https://hooks.slack.com/services/T/B/team", None),
        (
            '{"team": "https://hooks.slack.com/t", "owners": {"alice": "https://hooks.slack.com/a"}}',
            "https://hooks.slack.com/t",
            "https://hooks.slack.com/a",
        ),
        ('{"owners": {"alice": "https://hooks.slack.com/a"}}', None, "https://hooks.slack.com/a"),
        ("", None, None),
    ],
)
def test_the_secret_routes_the_team_channel_and_per_owner_channels(secret, team, alice):
    routes = SlackRoutes.parse(secret)
    assert routes.url(Audience(None)) == team
    assert routes.url(Audience("alice")) == alice
    assert routes.url(Audience("bob")) is None  # an owner without a channel of their own gets email only
