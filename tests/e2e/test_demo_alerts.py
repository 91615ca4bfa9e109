"""The demo's alerts, as the alerts issue defines done: stopping a space with two endpoints gives its owner
one grouped message, deleting them one resolve message, and nothing else; a private-space finding never
reaches the team; a duplicate stream batch sends nothing; every Slack payload is valid Block Kit."""

import pytest
from slack_sdk.models.blocks import Block

from guardian_cli.main import main
from guardian_sandbox import demo
from guardian_sandbox.demo import TEAM_EMAIL

PRIVATE_RESOURCES = ("fraud-xgb", "spark-etl", "churn-llm", "bob-code", "llm-train", "sentiment-a", "sentiment-b")


@pytest.fixture(scope="module")
def result():
    from guardian_sandbox import embedded

    with embedded() as clients:
        return demo.run(clients, lambda _line: None)


def test_erin_gets_one_grouped_message_then_one_resolve_message_and_nothing_else(result):
    erins = [m for m in result.messages if "erin@example.com" in m["to"]]
    assert [m["subject"] for m in erins] == [
        "2 resources billing after erin-nlp stopped (erin) ~ $28.73/day",  # $0.461 + $0.736 an hour
        "Resolved: 2 findings (erin), ~ $28.73/day no longer wasted",
    ]
    assert all(m["attributes"]["owner"] == "erin" for m in erins)


def test_a_duplicate_stream_batch_sends_nothing(result):
    assert result.redelivered_messages == 0


def test_private_space_findings_never_reach_the_team(result):
    to_team = [m for m in result.messages if TEAM_EMAIL in m["to"]]
    assert to_team, "the team hears of the unowned notebook and gets its digest"
    for message in to_team:
        for name in PRIVATE_RESOURCES:
            assert name not in message["subject"] + message["text"]
    [digest] = [m for m in to_team if m["subject"].startswith("Studio waste today")]
    assert "5 resources in private spaces" in digest["text"]


def test_every_owner_hears_of_their_own_findings_only(result):
    for message in result.messages:
        if message["attributes"]["audience"] == "owner":
            assert message["to"] == [f"{message['attributes']['owner']}@example.com"]


def test_the_demo_posts_valid_block_kit_to_a_slack_webhook(slack, capsys):
    assert main(["demo", "--slack-webhook", slack.url]) == 0
    out = capsys.readouterr().out
    assert f"(and the same to Slack at {slack.url})" in out and "the duplicate stream batch sent 0" in out
    assert "Subject: 2 resources billing after erin-nlp stopped (erin) ~ $28.73/day" in out
    texts = [payload["text"] for payload in slack.payloads]
    assert sum("(erin)" in text.splitlines()[0] for text in texts) == 2
    for payload in slack.payloads:
        assert payload["text"] and payload["blocks"]
        for block in payload["blocks"]:
            Block.parse(block).validate_json()
