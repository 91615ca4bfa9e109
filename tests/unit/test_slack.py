"""Slack incoming webhooks as Slack behaves, through slack-sdk's WebhookClient and its retry handlers: 429
with Retry-After is waited out, 5xx retried with backoff, a lost connection (reset, closed without an
answer, hung) retried too; a refused webhook (404, 403, 410) raises the alarm metric and is not retried,
and a Slack that never recovers fails the delivery (so the stream record is retried, then kept)."""

import json
from types import SimpleNamespace

import pytest
from slack_sdk.http_retry import ConnectionErrorRetryHandler, RateLimitErrorRetryHandler

from guardian import channels
from guardian.channels import (
    SLACK_ATTEMPTS,
    Audience,
    DeliveryFailed,
    SlackRoutes,
    any_server_error_retry_handler,
    post_to_slack,
    slack_retry_handlers,
)
from guardian.messages import Message
from tests.integration.delivery_fault_injection import FaultySlack

MESSAGE = Message(
    subject="Orphaned endpoint fraud-xgb (alice) ~ $5.52/day",
    text="Orphaned endpoint fraud-xgb in space alice-lab",
    blocks=[{"type": "section", "text": {"type": "mrkdwn", "text": "*Orphaned endpoint fraud-xgb*"}}],
)


@pytest.fixture
def waits(monkeypatch: pytest.MonkeyPatch) -> list[float]:
    """What slack-sdk's retry handlers sleep, recorded instead of slept."""
    slept: list[float] = []
    fake_time = SimpleNamespace(sleep=slept.append)
    monkeypatch.setattr("slack_sdk.http_retry.handler.time", fake_time)
    monkeypatch.setattr("slack_sdk.http_retry.builtin_handlers.time", fake_time)
    return slept


@pytest.fixture
def faulty(monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setattr(channels, "SLACK_TIMEOUT", 0.3)
    receiver = FaultySlack(hang_seconds=1.0)
    yield receiver
    receiver.close()


def test_the_retries_are_slack_sdks_handlers():
    handlers = slack_retry_handlers()
    assert [type(h) for h in handlers] == [
        ConnectionErrorRetryHandler,
        RateLimitErrorRetryHandler,
        any_server_error_retry_handler(),
    ]
    assert all(h.max_retry_count == SLACK_ATTEMPTS - 1 for h in handlers)


def test_a_message_is_posted_once_with_blocks_and_a_fallback(slack, waits):
    assert post_to_slack(slack.url, MESSAGE) is True
    [payload] = slack.payloads
    assert payload["blocks"] == MESSAGE.blocks and payload["text"].startswith(MESSAGE.subject)
    assert waits == []


def test_429_waits_as_long_as_slack_says(slack, waits):
    slack.replies = [(429, {"Retry-After": "7"})]
    assert post_to_slack(slack.url, MESSAGE) is True
    [wait] = waits
    assert 7 <= wait < 8 and len(slack.posts) == 2  # Retry-After, and slack-sdk's jitter under a second


def test_5xx_is_retried_with_backoff(slack, waits):
    slack.replies = [(500, {}), (503, {})]
    assert post_to_slack(slack.url, MESSAGE) is True
    first, second = waits
    assert 0.5 <= first < 1.5 and 1.0 <= second < 2.0 and len(slack.posts) == 3  # backoff, with jitter


@pytest.mark.parametrize("status", [404, 410, 403])
def test_a_refused_webhook_is_an_alarm_not_a_retry(slack, waits, captured, status):
    slack.replies = [(status, {})]
    assert post_to_slack(slack.url, MESSAGE) is False
    assert len(slack.posts) == 1 and waits == []
    from guardian.observability import metrics

    metrics.flush_metrics()
    lines = [json.loads(line) for line in captured.readouterr().out.splitlines() if line.startswith("{")]
    assert any(line.get("message") == "slack webhook refused" and line["status"] == status for line in lines)
    assert any(line.get("SlackWebhookRejected") == [1.0] for line in lines)


@pytest.mark.parametrize("status", [502, 500, 429])
def test_a_slack_that_never_recovers_fails_the_delivery(slack, waits, status):
    slack.replies = [(status, {"Retry-After": "1"})] * SLACK_ATTEMPTS
    with pytest.raises(DeliveryFailed):
        post_to_slack(slack.url, MESSAGE)
    assert len(slack.posts) == SLACK_ATTEMPTS


def test_an_unreachable_slack_fails_the_delivery(waits):
    with pytest.raises(DeliveryFailed):
        post_to_slack("http://127.0.0.1:9/services/x", MESSAGE)
    assert len(waits) == SLACK_ATTEMPTS - 1


def test_a_webhook_that_is_no_url_is_refused_not_retried(waits):
    assert post_to_slack("ftp://hooks.slack.com/services/x", MESSAGE) is False
    assert waits == []


@pytest.mark.parametrize("fault", ["disconnect", "reset", "hang"])
def test_a_lost_connection_is_retried(faulty, waits, fault):
    """The issue's RemoteDisconnected (a connection closed without an answer), a TCP reset, and a Slack
    that does not answer in time: retried, and the message is taken once."""
    faulty.faults = [fault]
    assert post_to_slack(faulty.url, MESSAGE) is True
    assert [p["fault"] for p in faulty.posts] == [fault, None] and len(faulty.taken) == 1
    assert len(waits) == 1


def test_a_connection_lost_on_every_attempt_fails_the_delivery(faulty, waits):
    faulty.faults = ["disconnect", "reset", "disconnect", "reset"]
    with pytest.raises(DeliveryFailed, match="unreachable"):
        post_to_slack(faulty.url, MESSAGE)
    assert len(faulty.posts) == SLACK_ATTEMPTS and faulty.taken == []


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
