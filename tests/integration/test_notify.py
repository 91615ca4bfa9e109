"""Alerts end to end in the sandbox: findings written to the table reach the notify function through the
table's stream (filtered by the template's FilterCriteria), become messages on the topic (with the
attributes owners' subscriptions filter on) and in Slack, once per finding state, grouped per owner,
private findings kept from the team; failed deliveries are retried record by record, then kept."""

import json
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from types import SimpleNamespace

import pytest
from slack_sdk.models.blocks import Block

from guardian import findings as lifecycle
from guardian.cost import Cost
from guardian.findings import Finding, Status
from guardian.findings_store import write_finding
from guardian.kinds import Kind
from guardian.resource import Attribution, Resource, Source
from guardian.rules import Detection
from guardian.runtime import from_env
from guardian_cli.commands.redeliver import redeliver
from guardian_sandbox.stack import SandboxStack

NOW = datetime.now(UTC).replace(microsecond=0)
EMAILS = {"alice": "alice@example.com", "bob": "bob@example.com", "carol": "carol@example.com"}
TEAM = "platform-team@example.com"


@pytest.fixture(autouse=True)
def _slack_waits_not_slept(monkeypatch):
    """slack-sdk's retry handlers wait (backoff, Retry-After); tests/unit/test_slack.py checks how long."""
    no_sleep = SimpleNamespace(sleep=lambda seconds: None)
    monkeypatch.setattr("slack_sdk.http_retry.handler.time", no_sleep)
    monkeypatch.setattr("slack_sdk.http_retry.builtin_handlers.time", no_sleep)


def deploy(sandbox, confirmed: bool = True, **parameters: str) -> SandboxStack:
    """The stack, its owners' email subscriptions confirmed as they are made (``confirmed``), or left pending."""
    environment = {"OWNER_EMAILS": json.dumps(EMAILS), **parameters}
    stack = SandboxStack(sandbox, parameters=environment, confirm_subscriptions_automatically=confirmed).deploy()
    stack.subscribe_team(TEAM)
    return stack


def open_finding(
    stack: SandboxStack,
    name: str,
    owner: str | None = "alice",
    sharing: str | None = "Private",
    hourly: str = "0.23",
    rule: str = "orphaned-resource",
    space: str = "alice-lab",
) -> Finding:
    """What the sweep writes when a rule detects: an open finding, in the table."""
    resource = Resource(
        arn=f"arn:aws:sagemaker:us-east-1:123456789012:endpoint/{name}",
        kind=Kind.ENDPOINT,
        name=name,
        state="InService",
        attribution=Attribution(
            source=Source.AUTO_TAG, owner=owner, space=space, sharing=sharing, domain_id="d-studio"
        ),
    )
    detection = Detection(rule, resource, NOW - timedelta(hours=2), f"still billing since space {space} stopped", {})
    finding, audit = lifecycle.opened(
        detection, Cost(Decimal(hourly), "1 x ml.m5.xlarge"), lifecycle.Exemption(False), NOW
    )
    return guardian_of(stack).findings.put(finding, audit)


def guardian_of(stack: SandboxStack):
    return from_env(stack.environment("NotifyFunction"), clients=stack.clients)


def change(stack: SandboxStack, finding_id: str, how) -> Finding:
    guardian = guardian_of(stack)
    write_finding(guardian, guardian.findings.get(finding_id), how, NOW)
    return guardian.findings.get(finding_id)


def subjects(mail: list[dict]) -> list[str]:
    return sorted(m["subject"] for m in mail)


def test_findings_opened_together_for_one_owner_are_one_message_to_that_owner(sandbox):
    stack = deploy(sandbox)
    first, second = open_finding(stack, "fraud-xgb"), open_finding(stack, "sentiment", hourly="0.46")
    open_finding(stack, "churn-llm", owner="bob", sharing="Private", space="bob-code")
    assert stack.pump_streams() == [{"batchItemFailures": []}]
    mail = {m["attributes"]["owner"]: m for m in stack.mailbox()}
    assert sorted(mail) == ["alice", "bob"]
    alice = mail["alice"]
    assert alice["subject"] == "2 resources billing after alice-lab stopped (alice) ~ $16.56/day"
    assert alice["to"] == ["alice@example.com"]  # her subscription's filter lets only hers through
    assert alice["attributes"] == {
        "audience": "owner",
        "owner": "alice",
        "rule": "orphaned-resource",
        "severity": "medium",
        "domain": "d-studio",
    }
    assert "fraud-xgb" in alice["text"] and "sentiment" in alice["text"] and "churn-llm" not in alice["text"]
    store = guardian_of(stack).findings
    assert {store.get(f.id).status for f in (first, second)} == {Status.NOTIFIED}
    assert stack.pump_streams() == [] or stack.mailbox() == []  # being marked notified is not news


def test_each_owner_gets_one_filtered_email_subscription(sandbox):
    stack = deploy(sandbox)
    open_finding(stack, "fraud-xgb")
    stack.pump_streams()
    open_finding(stack, "another")
    stack.pump_streams()
    sns = stack.clients("sns")
    subscriptions = sns.list_subscriptions_by_topic(TopicArn=stack.topic_arn)["Subscriptions"]
    alices = [s for s in subscriptions if s["Endpoint"] == "alice@example.com"]
    assert len(alices) == 1 and alices[0]["Protocol"] == "email"
    attributes = sns.get_subscription_attributes(SubscriptionArn=alices[0]["SubscriptionArn"])["Attributes"]
    assert json.loads(attributes["FilterPolicy"]) == {"owner": ["alice"], "audience": ["owner"]}


def test_a_duplicate_stream_batch_sends_nothing(sandbox):
    stack = deploy(sandbox)
    open_finding(stack, "fraud-xgb")
    stack.pump_streams()
    assert len(stack.mailbox()) == 1
    assert stack.redeliver_last_batch() == {"batchItemFailures": []}
    assert stack.mailbox() == []


def test_resolution_is_one_message_to_the_owner_who_was_told(sandbox):
    stack = deploy(sandbox)
    finding = open_finding(stack, "fraud-xgb")
    stack.pump_streams()
    stack.mailbox()
    change(stack, finding.id, lambda f: lifecycle.resolved(f, NOW, "resource is gone"))
    stack.pump_streams()
    [resolved] = stack.mailbox()
    assert resolved["subject"] == "Resolved: Orphaned endpoint fraud-xgb (alice), ~ $5.52/day no longer wasted"
    assert resolved["to"] == ["alice@example.com"]
    trail = [(e.action, e.reason) for e in guardian_of(stack).findings.audit(finding.id)]
    assert ("notified", "sent via email to owner:alice") in trail  # every message is in the audit trail
    assert ("message sent", "resolved via email to owner:alice") in trail


def test_a_doubled_cost_is_told_again_and_a_snooze_is_not(sandbox):
    stack = deploy(sandbox)
    finding = open_finding(stack, "fraud-xgb")
    stack.pump_streams()
    stack.mailbox()
    told = guardian_of(stack).findings.get(finding.id)
    doubled = told.model_copy(update={"segments": [*told.segments, lifecycle.CostSegment(start=NOW, hourly=0.46)]})
    guardian_of(stack).findings.put(doubled.model_copy(update={"version": told.version + 1}), [])
    stack.pump_streams()
    [again] = stack.mailbox()
    assert again["subject"].startswith("Cost doubled: Orphaned endpoint fraud-xgb (alice)")
    change(stack, finding.id, lambda f: lifecycle.snoozed(f, NOW + timedelta(days=3), "demo", "alice", NOW))
    stack.pump_streams()
    assert stack.mailbox() == []


def test_scheduled_remediation_sends_a_reminder(sandbox):
    stack = deploy(sandbox, REMEDIATION_MODE="enforce")
    finding = open_finding(stack, "fraud-xgb")
    stack.pump_streams()
    stack.mailbox()

    def schedule(f: Finding):
        moved, entry = lifecycle.moved(f, Status.REMEDIATION_SCHEDULED, NOW, "remediation scheduled", "grace over")
        due = {"remediation_due_at": NOW + timedelta(hours=1), "remediation": {"action": "delete endpoint"}}
        return moved.model_copy(update=due), [entry]

    change(stack, finding.id, schedule)
    stack.pump_streams()
    [reminder] = stack.mailbox()
    assert reminder["subject"].startswith("Remediation soon: Orphaned endpoint fraud-xgb (alice)")
    assert "the guardian will delete endpoint at" in reminder["text"]


def test_a_private_space_finding_never_reaches_the_team(sandbox):
    stack = deploy(sandbox, TEAM_NOTIFICATIONS="immediate")
    open_finding(stack, "fraud-xgb", owner="alice", sharing="Private")
    open_finding(stack, "team-batch", owner="carol", sharing="Shared", space="team-notebooks")
    open_finding(stack, "classic-nb", owner=None, sharing=None, rule="unattributed-resource", space="")
    stack.pump_streams()
    mail = stack.mailbox()
    to_team = [m for m in mail if TEAM in m["to"]]
    team_text = " ".join(m["subject"] + m["text"] for m in to_team)
    assert "fraud-xgb" not in team_text and "alice" not in team_text
    assert "team-batch" in team_text and "classic-nb" in team_text
    assert "1 findings in private spaces opened, ~ $5.52/day" in subjects(to_team)
    [alices] = [m for m in mail if "fraud-xgb" in m["text"]]
    assert alices["to"] == ["alice@example.com"]


def test_the_team_sees_private_names_when_the_stack_allows_it(sandbox):
    stack = deploy(sandbox, TEAM_NOTIFICATIONS="immediate", ALLOW_PRIVATE_NAMES="true")
    open_finding(stack, "fraud-xgb")
    stack.pump_streams()
    to_team = [m for m in stack.mailbox() if TEAM in m["to"]]
    assert [m["subject"] for m in to_team] == ["Orphaned endpoint fraud-xgb (alice) ~ $5.52/day"]


def test_a_failed_delivery_is_retried_then_kept_and_sent_once_when_replayed(sandbox):
    """Retried as often as the stream allows; on the last attempt the whole record (the finding's images,
    what it was to tell) is parked in the undelivered queue; `guardian redeliver` sends it, once."""
    stack = deploy(sandbox, TOPIC_ARN="arn:aws:sns:us-east-1:123456789012:deleted-topic")
    finding = open_finding(stack, "fraud-xgb")
    results = stack.pump_streams()
    assert len(results) == 6 and all(len(r["batchItemFailures"]) == 1 for r in results[:-1])
    assert results[-1] == {"batchItemFailures": []}  # the last attempt parked it: Lambda has nothing to keep
    sqs = stack.clients("sqs")
    [kept] = sqs.receive_message(QueueUrl=stack.undelivered_queue_url, VisibilityTimeout=0).get("Messages", [])
    parked = json.loads(kept["Body"])
    assert parked["notice"] == {
        "kind": "opened",
        "finding": finding.id,
        "owner": "alice",
        "key": f"{finding.id}#open#1#opened",
    }
    assert parked["attempts"] == 6 and "Topic does not exist" in parked["reason"]
    assert json.loads(parked["record"]["dynamodb"]["NewImage"]["doc"]["S"])["id"] == finding.id
    assert guardian_of(stack).findings.get(finding.id).status is Status.OPEN
    stack.parameters.pop("TOPIC_ARN")  # the topic is back
    [entry] = redeliver(stack.clients, stack.undelivered_queue_url, notify_of(stack))
    assert entry.delivered and entry.kind == "parked"
    assert len(stack.mailbox()) == 1
    assert guardian_of(stack).findings.get(finding.id).status is Status.NOTIFIED
    assert redeliver(stack.clients, stack.undelivered_queue_url, notify_of(stack)) == []  # it left the queue
    assert stack.invoke("NotifyFunction", {"Records": [parked["record"]]}) == {"batchItemFailures": []}
    assert stack.mailbox() == []


def notify_of(stack: SandboxStack):
    return lambda payload: stack.invoke("NotifyFunction", payload)


def test_only_the_records_whose_messages_failed_are_retried_and_email_is_not_sent_twice(sandbox, slack):
    stack = deploy(sandbox)
    stack.use_slack(json.dumps({"owners": {"alice": slack.url + "/alice", "bob": slack.url + "/bob"}}))
    slack.replies = [(500, {})] * 4  # the first post (alice's or bob's) fails all its attempts
    open_finding(stack, "fraud-xgb", owner="alice")
    open_finding(stack, "churn-llm", owner="bob", space="bob-code")
    first, second = stack.pump_streams()
    assert len(first["batchItemFailures"]) == 1 and second == {"batchItemFailures": []}
    assert sorted(post["path"].rsplit("/", 1)[-1] for post in slack.posts[4:]) == ["alice", "bob"]
    assert sorted(m["attributes"]["owner"] for m in stack.mailbox()) == ["alice", "bob"]  # once each


def test_a_record_that_cannot_be_read_fails_alone_and_the_rest_of_its_batch_is_sent(sandbox):
    stack = deploy(sandbox)
    open_finding(stack, "fraud-xgb")
    [record] = stack.stream_batch()
    broken = json.loads(json.dumps(record))
    broken["dynamodb"]["SequenceNumber"] = "9" + record["dynamodb"]["SequenceNumber"]
    broken["dynamodb"]["NewImage"]["doc"] = {"S": "{not a finding"}
    result = stack.invoke("NotifyFunction", {"Records": [record, broken]})
    assert result == {"batchItemFailures": [{"itemIdentifier": broken["dynamodb"]["SequenceNumber"]}]}
    assert [m["attributes"]["owner"] for m in stack.mailbox()] == ["alice"]


def test_slack_gets_block_kit_on_the_owners_channel_and_the_teams(sandbox, slack):
    stack = deploy(sandbox)
    stack.use_slack(json.dumps({"team": slack.url + "/team", "owners": {"alice": slack.url + "/alice"}}))
    open_finding(stack, "fraud-xgb", owner="alice")
    open_finding(stack, "classic-nb", owner=None, sharing=None, rule="unattributed-resource", space="")
    stack.pump_streams()
    by_channel = {post["path"].rsplit("/", 1)[-1]: post["body"] for post in slack.posts}
    assert sorted(by_channel) == ["alice", "team"]
    assert by_channel["alice"]["text"].startswith("Orphaned endpoint fraud-xgb (alice) ~ $5.52/day")
    for payload in by_channel.values():
        for block in payload["blocks"]:
            Block.parse(block).validate_json()


def test_a_refused_slack_webhook_does_not_stop_email_or_loop(sandbox, slack):
    stack = deploy(sandbox)
    stack.use_slack(slack.url)
    slack.replies = [(404, {})]
    open_finding(stack, "classic-nb", owner=None, sharing=None, rule="unattributed-resource", space="")
    assert stack.pump_streams() == [{"batchItemFailures": []}]
    assert len(slack.posts) == 1 and len(stack.mailbox()) == 1


def test_daily_digest_mode_holds_messages_for_one_digest_per_owner_a_day(sandbox):
    stack = deploy(sandbox, DIGEST_MODE="daily")
    first = open_finding(stack, "fraud-xgb")
    open_finding(stack, "sentiment", hourly="0.46")
    stack.pump_streams()
    assert stack.mailbox() == []
    report = stack.invoke("NotifyFunction", {"digest": True})
    owner_mail = [m for m in stack.mailbox() if m["attributes"]["audience"] == "owner"]
    assert [m["subject"] for m in owner_mail] == ["Daily: 2 new, 0 resolved (alice) ~ $16.56/day"]
    assert guardian_of(stack).findings.get(first.id).status is Status.NOTIFIED
    assert len(report["sent"]) == 2  # alice's, and the team's summary
    stack.invoke("NotifyFunction", {"digest": True})  # the schedule fires twice: nothing twice
    assert stack.mailbox() == []


@pytest.mark.parametrize("event", [{}, {"detail-type": "Scheduled Event"}])
def test_notify_refuses_what_is_neither_a_stream_batch_nor_the_digest(sandbox, event):
    stack = deploy(sandbox)
    with pytest.raises(ValueError, match="expected DynamoDB stream records"):
        stack.invoke("NotifyFunction", event)
