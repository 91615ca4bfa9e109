"""Messages a person reads in ten seconds: the subject names resource, owner and cost; the body says what,
whose, since when, cost per hour, waste so far, the monthly projection, why, what to do and what happens
next; Slack gets the same as Block Kit that slack-sdk's models accept, with a plain-text fallback."""

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from slack_sdk.models.blocks import Block

from guardian import findings as lifecycle
from guardian.channels import slack_payload
from guardian.cost import Cost
from guardian.digest import team_digest
from guardian.findings import Finding, Status
from guardian.kinds import Kind
from guardian.messages import Context, aggregate, render
from guardian.notices import Notice, NoticeKind
from guardian.resource import Attribution, Resource, Source
from guardian.rules import Detection

T0 = datetime(2026, 11, 23, 9, tzinfo=UTC)
NOW = T0 + timedelta(hours=5)
CONTEXT = Context(now=NOW)


def finding(
    name: str = "fraud-xgb",
    hourly: str | None = "0.115",
    kind: Kind = Kind.ENDPOINT,
    rule: str = "orphaned-resource",
    owner: str | None = "alice",
    sharing: str = "Private",
) -> Finding:
    resource = Resource(
        arn=f"arn:aws:sagemaker:us-east-1:123456789012:{kind.value}/{name}",
        kind=kind,
        name=name,
        state="InService",
        attribution=Attribution(
            source=Source.AUTO_TAG, owner=owner, space="alice-lab", sharing=sharing, domain_id="d-studio"
        ),
    )
    detection = Detection(
        rule, resource, T0, "still billing since space alice-lab stopped", {"space_stopped_at": "2026-11-23T09:00:00Z"}
    )
    cost = Cost(None if hourly is None else Decimal(hourly), "1 x ml.m5.large hosting @ $0.115/h")
    opened, _ = lifecycle.opened(detection, cost, lifecycle.Exemption(False), T0)
    return opened


def notices(*findings: Finding, kind: NoticeKind = NoticeKind.OPENED) -> list[Notice]:
    return [Notice(kind, f) for f in findings]


def valid_block_kit(blocks: list[dict]) -> None:
    """Every block parses as slack-sdk's model of its type and passes its validation (lengths, counts)."""
    assert 0 < len(blocks) <= 50
    for block in blocks:
        model = Block.parse(block)
        assert model is not None, f"not a Block Kit block: {block}"
        model.validate_json()
        assert model.to_dict() == block, "a field Block Kit does not know would be dropped by Slack"


def test_the_subject_names_resource_owner_and_cost_per_day():
    message = render(notices(finding()), CONTEXT)
    assert message.subject == "Orphaned endpoint fraud-xgb (alice) ~ $2.76/day"


def test_the_body_says_what_whose_since_cost_why_and_what_to_do():
    text = render(notices(finding()), CONTEXT).text
    for expected in (
        "Orphaned endpoint fraud-xgb in space alice-lab",
        "Whose: alice (domain d-studio)",
        "Since: 2026-11-23 09:00 UTC (5.0 h ago)",
        "Cost: $0.115/hour, $0.58 so far, $83.95/month if left running",  # 5 h at $0.115
        "Why: still billing since space alice-lab stopped. space stopped at: 2026-11-23T09:00:00Z",
        "Next: remediation is off; nothing will be changed automatically.",
        "https://us-east-1.console.aws.amazon.com/sagemaker/home?region=us-east-1#/endpoints/fraud-xgb",
        "guardian snooze f-",
        "studio-cost-guardian:exempt=true",
    ):
        assert expected in text, expected


def test_the_body_says_when_remediation_would_act():
    enforcing = Context(now=NOW, remediation_mode="enforce", remediation_grace_hours=24)
    assert "remediation is on; it acts 24 h after this notice" in render(notices(finding()), enforcing).text
    due = finding().model_copy(
        update={
            "status": Status.REMEDIATION_SCHEDULED,
            "remediation_due_at": NOW + timedelta(hours=2),
            "remediation": {"action": "delete endpoint"},
        }
    )
    reminder = render(notices(due, kind=NoticeKind.REMINDER), enforcing)
    assert reminder.subject.startswith("Remediation soon: Orphaned endpoint fraud-xgb (alice)")
    assert "the guardian will delete endpoint at 2026-11-23 16:00 UTC unless you snooze it" in reminder.text


def test_a_group_counts_each_resource_once_and_says_what_they_share():
    cluster = finding("spark-etl", "1.20", Kind.EMR_CLUSTER)
    idle = finding("spark-etl", "1.20", Kind.EMR_CLUSTER, rule="idle-emr-cluster")
    message = render(notices(finding(), cluster, idle), CONTEXT)
    # $0.115 + $1.20 an hour: the cluster is both orphaned and idle, and costs once.
    assert message.subject == "2 resources billing after alice-lab stopped (alice) ~ $31.56/day"
    assert message.text.count("Whose: alice") == 3


def test_an_unknown_price_is_said_not_counted_as_zero():
    assert render(notices(finding(hourly=None)), CONTEXT).subject.endswith("(alice) cost unknown")
    mixed = render(notices(finding(), finding("llm", hourly=None)), CONTEXT)
    assert mixed.subject.endswith("~ $2.76/day + unknown")


def test_a_resolution_says_what_it_cost_while_it_lasted():
    told, _ = lifecycle.notified(finding(), T0 + timedelta(hours=1), "email")
    gone, _ = lifecycle.resolved(told, T0 + timedelta(hours=3), "resource is gone")
    message = render(notices(gone, kind=NoticeKind.RESOLVED), CONTEXT)
    assert message.subject == "Resolved: Orphaned endpoint fraud-xgb (alice), ~ $2.76/day no longer wasted"
    assert "Resolved 2026-11-23 12:00 UTC: resource is gone. It cost $0.35 while it lasted." in message.text


def test_the_team_sees_private_findings_counted_not_named():
    message = aggregate(notices(finding(), finding("other")), CONTEXT)
    assert message.subject == "2 findings in private spaces opened, ~ $5.52/day"
    assert "fraud-xgb" not in message.text + str(message.blocks) and "alice" not in message.text + str(message.blocks)


def test_the_team_digest_names_shared_and_unowned_findings_and_counts_private_ones():
    shared = finding("team-batch", "0.204", sharing="Shared", owner="carol")
    unowned = finding("classic-nb", "0.05", Kind.NOTEBOOK_INSTANCE, "unattributed-resource", owner=None)
    private = finding("fraud-xgb")
    hidden = team_digest([shared, unowned, private], [], CONTEXT, names=False)
    assert "team-batch (carol)" in hidden.text and "classic-nb (no owner)" in hidden.text
    assert "fraud-xgb" not in hidden.text and "1 resources in private spaces: $2.76/day" in hidden.text
    assert "fraud-xgb (alice)" in team_digest([shared, unowned, private], [], CONTEXT, names=True).text


@pytest.mark.parametrize("count", [1, 2, 30])
@pytest.mark.parametrize("kind", list(NoticeKind))
def test_slack_payloads_are_valid_block_kit_with_a_plain_text_fallback(count, kind):
    group = [finding(f"endpoint-{n:02d}-" + "x" * 40) for n in range(count)]
    message = render(notices(*group, kind=kind), CONTEXT)
    payload = slack_payload(message)
    valid_block_kit(payload["blocks"])
    assert payload["text"].startswith(message.subject)


def test_team_and_digest_messages_are_valid_block_kit():
    group = notices(finding(), finding("other"))
    valid_block_kit(slack_payload(aggregate(group, CONTEXT))["blocks"])
    digest = team_digest([finding(f"e{n}", sharing="Shared") for n in range(200)], [], CONTEXT, names=True)
    valid_block_kit(slack_payload(digest)["blocks"])


def test_slack_shows_severity_by_colour_emoji():
    expensive = render(notices(finding(hourly="7.09")), CONTEXT).blocks
    cheap = render(notices(finding(hourly="0.05")), CONTEXT).blocks
    assert ":red_circle:" in expensive[1]["text"]["text"] and ":large_yellow_circle:" in cheap[1]["text"]["text"]


def test_a_very_long_name_still_fits_slack_and_sns_limits():
    message = render(notices(finding("n" * 200)), CONTEXT)
    valid_block_kit(slack_payload(message)["blocks"])  # a header holds at most 150 characters
    assert len(message.blocks[0]["text"]["text"]) == 150 and message.blocks[0]["text"]["text"].endswith("...")
