"""Messages a busy person acts on in ten seconds: the subject names resource, owner and cost; each finding is
one line with what, whose, $/day and why in words, its resource linked to the console once; the evidence is
collapsed (a short "Details" section at the end of an email, a context block in Slack); what to do is what the
recipient can really do (the exemption tag, with the exact add-tags command; a snooze their admin runs); a cut
message says what it left out. Slack gets the same as Block Kit that slack-sdk's models accept, with a
plain-text fallback. And a busy EMR cluster without auto-termination is a risk, not waste."""

import re
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from slack_sdk.models.blocks import Block

from guardian import findings as lifecycle
from guardian import metric_data
from guardian.aws import AwsClients
from guardian.channels import slack_payload
from guardian.cost import Cost
from guardian.digest import _owner_digest, team_digest
from guardian.evaluation import evaluate
from guardian.findings import Finding, Status
from guardian.kinds import Kind
from guardian.messages import LISTED, Context, aggregate, console_link, label, render
from guardian.metric_data import Fetched
from guardian.notices import Notice, NoticeKind
from guardian.resource import Attribution, InstanceGroup, Resource, Source
from guardian.rules import Detection
from guardian.scan import scan_guardian

T0 = datetime(2026, 11, 23, 9, tzinfo=UTC)
NOW = T0 + timedelta(hours=5)
CONTEXT = Context(now=NOW)
EMR_ARN = "arn:aws:elasticmapreduce:us-east-1:123456789012:cluster/j-2AXXXXXXGAPLF"


def finding(
    name: str = "fraud-xgb",
    hourly: str | None = "0.115",
    kind: Kind = Kind.ENDPOINT,
    rule: str = "orphaned-resource",
    owner: str | None = "alice",
    sharing: str = "Private",
    arn: str | None = None,
) -> Finding:
    resource = Resource(
        arn=arn or f"arn:aws:sagemaker:us-east-1:123456789012:{kind.value}/{name}",
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


def listing(text: str) -> list[str]:
    """An email's finding lines: its first paragraph, one "- " line per finding (and "and N more")."""
    return text.split("\n\n")[0].splitlines()


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


def test_one_line_per_finding_says_what_whose_cost_per_day_and_why_in_words():
    group = [finding(), finding("churn-llm", "1.515"), finding("ranker", "0.05")]
    lines = listing(render(notices(*group), CONTEXT).text)
    assert len(lines) == 3  # costliest first
    assert lines[0].startswith(
        "- Orphaned endpoint churn-llm (alice): $36.36/day, still billing since space alice-lab stopped (for 5.0 h) "
    )
    assert [line.split(" (")[0] for line in lines] == [
        "- Orphaned endpoint churn-llm",
        "- Orphaned endpoint fraud-xgb",
        "- Orphaned endpoint ranker",
    ]


def test_the_evidence_is_a_short_details_section_at_the_end_not_eight_lines_per_finding():
    idle = finding("spark-etl", "1.20", Kind.EMR_CLUSTER, "idle-emr-cluster", arn=EMR_ARN)
    idle = idle.model_copy(update={"evidence": {"idle_minutes": 45, "is_idle_points": [["2026-11-23T13:00:00Z", 1]]}})
    text = render(notices(finding(), idle), CONTEXT).text
    _, details, footer = text.rsplit("\n\n", 2)
    assert details.startswith("Details\n") and footer.startswith("-- Studio Cost Guardian")
    assert len(details.splitlines()) == 1 + 2 * 2  # a line per finding, the exempt command per resource
    fraud = next(line for line in details.splitlines() if line.startswith("fraud-xgb"))
    for expected in (
        "since 2026-11-23 09:00 UTC",
        "$0.115/hour, $0.58 so far, $83.95/month if left running",  # 5 h at $0.115
        "domain d-studio",
        "space stopped at: 2026-11-23 09:00 UTC",
    ):
        assert expected in fraud, expected
    assert "idle minutes: 45" in details
    assert "is idle points" not in text and "[[" not in text  # no raw metric dumps


def test_exactly_one_console_link_per_resource_in_the_email_and_in_slack():
    cluster = finding("spark-etl", "1.20", Kind.EMR_CLUSTER, arn=EMR_ARN)
    idle = finding("spark-etl", "1.20", Kind.EMR_CLUSTER, "idle-emr-cluster", arn=EMR_ARN)
    message = render(notices(finding(), cluster, idle), CONTEXT)
    slack = str(message.blocks)
    for item in (finding(), cluster):
        link = console_link(item)
        assert message.text.count(link) == 1 and slack.count(link) == 1, item.resource_name
    assert len(re.findall(r"https://", message.text)) == 2 and len(re.findall(r"https://", slack)) == 2
    assert "Open in console" not in slack  # the name is the link; no second one


def test_keeping_it_is_what_the_recipient_can_really_do_the_tag_with_its_command_or_asking_the_admin():
    cluster = finding("spark-etl", "1.20", Kind.EMR_CLUSTER, arn=EMR_ARN)
    message = render(notices(finding(), cluster), CONTEXT)
    text = message.text
    assert "studio-cost-guardian:exempt=YYYY-MM-DD (exempt through that day) or =true" in text
    assert (
        "aws sagemaker add-tags --region us-east-1 --resource-arn "
        "arn:aws:sagemaker:us-east-1:123456789012:endpoint/fraud-xgb "
        "--tags Key=studio-cost-guardian:exempt,Value=2026-12-07"
    ) in text
    assert (
        "aws emr add-tags --region us-east-1 --resource-id j-2AXXXXXXGAPLF "
        "--tags studio-cost-guardian:exempt=2026-12-07"
    ) in text
    assert "ask your admin to snooze it: guardian snooze FINDING --until 2026-12-07 --reason '...'" in text
    single = render(notices(finding()), CONTEXT).text
    assert f"guardian snooze {finding().id} --until 2026-12-07 --reason '...' --stack studio-cost-guardian" in single
    slack = str(message.blocks)
    assert f"guardian snooze {finding().id} --until 2026-12-07" in slack and "aws emr add-tags" in slack
    tagged = Context(now=NOW, exemption_tag="acme:keep")
    assert "Key=acme:keep,Value=2026-12-07" in render(notices(finding()), tagged).text


def test_a_cut_message_says_how_many_more_and_what_they_waste():
    thirty = [finding(f"endpoint-{n:02d}") for n in range(30)]
    message = render(notices(*thirty), CONTEXT)
    lines = listing(message.text)
    assert len(lines) == LISTED + 1 == 21
    assert lines[-1].startswith("and 10 more ($27.60/day), not listed here: guardian findings --owner alice")
    assert message.subject == "30 resources billing after alice-lab stopped (alice) ~ $82.80/day"
    assert "and 10 more ($27.60/day)" in str(message.blocks)
    valid_block_kit(slack_payload(message)["blocks"])


def test_the_next_step_says_when_remediation_would_act():
    enforcing = Context(now=NOW, remediation_mode="enforce", remediation_grace_hours=24)
    assert "Next: remediation is on; it acts 24 h after this notice" in render(notices(finding()), enforcing).text
    assert (
        "Next: remediation is off; nothing will be changed automatically." in render(notices(finding()), CONTEXT).text
    )
    due = finding().model_copy(
        update={
            "status": Status.REMEDIATION_SCHEDULED,
            "remediation_due_at": NOW + timedelta(hours=2),
            "remediation": {"action": "delete endpoint"},
        }
    )
    reminder = render(notices(due, kind=NoticeKind.REMINDER), enforcing)
    assert reminder.subject.startswith("Remediation soon: Orphaned endpoint fraud-xgb (alice)")
    assert "the guardian will delete endpoint at 2026-11-23 16:00 UTC unless you keep it" in listing(reminder.text)[0]
    unowned = finding("classic-nb", "0.05", Kind.NOTEBOOK_INSTANCE, "unattributed-resource", owner=None)
    never = render(notices(unowned), enforcing).text
    assert "Next: nothing will be changed automatically: the guardian never acts on these." in never


def test_a_group_counts_each_resource_once_and_says_what_they_share():
    cluster = finding("spark-etl", "1.20", Kind.EMR_CLUSTER)
    idle = finding("spark-etl", "1.20", Kind.EMR_CLUSTER, rule="idle-emr-cluster")
    message = render(notices(finding(), cluster, idle), CONTEXT)
    # $0.115 + $1.20 an hour: the cluster is both orphaned and idle, and costs once.
    assert message.subject == "2 resources billing after alice-lab stopped (alice) ~ $31.56/day"
    assert len(listing(message.text)) == 3


def test_an_unknown_price_is_said_not_counted_as_zero():
    alone = render(notices(finding(hourly=None)), CONTEXT)
    assert alone.subject.endswith("(alice) cost unknown")
    assert "(alice): unknown/day" in alone.text and "$0.00" not in alone.text + str(alone.blocks)
    mixed = render(notices(finding(), finding("llm", hourly=None)), CONTEXT)
    assert mixed.subject.endswith("~ $2.76/day + 1 resource of unknown cost")


def test_a_resolution_says_what_it_cost_while_it_lasted():
    told, _ = lifecycle.notified(finding(), T0 + timedelta(hours=1), "email")
    gone, _ = lifecycle.resolved(told, T0 + timedelta(hours=3), "resource is gone")
    message = render(notices(gone, kind=NoticeKind.RESOLVED), CONTEXT)
    assert message.subject == "Resolved: Orphaned endpoint fraud-xgb (alice), ~ $2.76/day no longer wasted"
    assert listing(message.text) == [
        "- Orphaned endpoint fraud-xgb (alice): resolved 2026-11-23 12:00 UTC, resource is gone; "
        "it wasted $0.35 while it lasted"
    ]
    assert "https://" not in message.text  # the resource is gone: no link to it


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


def test_a_long_team_digest_says_how_many_more_it_left_out():
    digest = team_digest([finding(f"e{n:03d}", sharing="Shared") for n in range(200)], [], CONTEXT, names=True)
    assert digest.text.count("\n- ") == LISTED
    assert "and 180 more ($496.80/day)" in digest.text and "and 180 more" in str(digest.blocks)


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


def test_an_owners_daily_digest_of_many_findings_fits_slack_and_says_what_it_left_out():
    new = [finding(f"new-{n:02d}") for n in range(30)]
    gone = []
    for n in range(10):
        told, _ = lifecycle.notified(finding(f"gone-{n}"), T0 + timedelta(hours=1), "email")
        gone.append(lifecycle.resolved(told, T0 + timedelta(hours=3), "resource is gone")[0])
    digest = _owner_digest(new, gone, CONTEXT)
    valid_block_kit(slack_payload(digest)["blocks"])
    assert "and 15 more" in str(digest.blocks) and "and 5 more" in str(digest.blocks)


def test_slack_shows_severity_by_colour_emoji_and_the_evidence_in_a_context_block():
    expensive = render(notices(finding(hourly="7.09")), CONTEXT).blocks
    cheap = render(notices(finding(hourly="0.05")), CONTEXT).blocks
    assert ":red_circle:" in expensive[1]["text"]["text"] and ":large_yellow_circle:" in cheap[1]["text"]["text"]
    assert expensive[2]["type"] == "context" and "since 2026-11-23 09:00 UTC" in str(expensive[2])


def test_text_the_guardian_did_not_write_cannot_break_slack_markup():
    evil = finding().model_copy(update={"summary": "billing <!channel> & <https://evil|click>", "owner": "a<b>"})
    section = render(notices(evil), CONTEXT).blocks[1]["text"]["text"]
    assert "<!channel>" not in section and "&lt;!channel&gt; &amp; &lt;https://evil|click&gt;" in section


def test_a_very_long_name_still_fits_slack_and_sns_limits():
    message = render(notices(finding("n" * 200)), CONTEXT)
    valid_block_kit(slack_payload(message)["blocks"])  # a header holds at most 150 characters
    assert len(message.blocks[0]["text"]["text"]) == 150 and message.blocks[0]["text"]["text"].endswith("...")


# --- EMR: a busy cluster without auto-termination is a risk, not waste ---------------------------------------


def emr_cluster(state: str) -> Resource:
    return Resource(
        arn=EMR_ARN,
        kind=Kind.EMR_CLUSTER,
        name="spark-etl",
        state=state,
        created_at=T0,
        described_at=NOW,
        auto_termination_idle_seconds=None,  # read by the sweep: no policy
        groups={
            "Primary": InstanceGroup(name="Primary", role="MASTER", instance_type="m5.xlarge", instance_count=1),
            "Core": InstanceGroup(name="Core", role="CORE", instance_type="m5.2xlarge", instance_count=2),
        },
        attribution=Attribution(source=Source.AUTO_TAG, owner="alice", domain_id="d-studio"),
    )


def is_idle(monkeypatch: pytest.MonkeyPatch, points: list[tuple[datetime, float]]) -> None:
    """CloudWatch answers IsIdle for the cluster with these points (every other query: no data)."""

    def fetch(cloudwatch, queries):
        return Fetched({q.key: points if q.metric == "IsIdle" else [] for q in queries})

    monkeypatch.setattr(metric_data, "fetch_available", fetch)


def test_a_busy_cluster_without_auto_termination_is_a_risk_with_its_own_title_and_no_waste(monkeypatch):
    guardian = scan_guardian(AwsClients(region="us-east-1"), price_source="bundled")
    is_idle(monkeypatch, [(NOW - timedelta(minutes=5 * n), 0.0) for n in range(12)])  # busy
    [risk] = evaluate(guardian, [emr_cluster("RUNNING")], NOW).findings
    assert risk.rule == "emr-no-auto-termination"
    assert (risk.hourly_cost_usd, risk.waste_usd(NOW), risk.monthly_cost_usd) == (0.0, 0.0, 0.0)
    assert "it costs $" in risk.cost_basis  # what the cluster costs is kept, as evidence
    message = render(notices(risk), CONTEXT)
    assert label(risk) == "EMR cluster without auto-termination: spark-etl"
    assert message.subject == "EMR cluster without auto-termination: spark-etl (alice) no waste yet"
    assert listing(message.text)[0].startswith(
        "- EMR cluster without auto-termination: spark-etl (alice): no waste while it works, "
        "no auto-termination policy: nothing stops it when its work is done"
    )
    assert "Idle" not in message.text and "$0.00" not in message.text
    assert "Next: nothing will be changed automatically: the guardian never acts on these." in message.text


def test_once_the_cluster_idles_the_idle_minutes_are_waste_and_only_they(monkeypatch):
    guardian = scan_guardian(AwsClients(region="us-east-1"), price_source="bundled")
    first_idle = NOW - timedelta(minutes=40)  # 9 idle samples: 40 minutes since the first
    points = [(NOW - timedelta(minutes=5 * n), 1.0 if n <= 8 else 0.0) for n in range(12, -1, -1)]
    is_idle(monkeypatch, points)
    found = {f.rule: f for f in evaluate(guardian, [emr_cluster("WAITING")], NOW).findings}
    assert set(found) == {"emr-no-auto-termination", "idle-emr-cluster"}
    idle, risk = found["idle-emr-cluster"], found["emr-no-auto-termination"]
    hourly = idle.hourly_cost_usd
    assert hourly and hourly > 1  # three m5 nodes and EMR's uplift
    assert idle.condition_since == first_idle
    assert idle.waste_usd(NOW) == round(hourly * 40 / 60, 2)  # the idle minutes, not the cluster's 5 hours
    assert risk.waste_usd(NOW) == 0.0
    message = render(notices(risk, idle), CONTEXT)
    assert message.subject == f"1 resource still billing (alice) ~ ${hourly * 24:,.2f}/day"
    assert listing(message.text)[0].startswith(f"- Idle EMR cluster spark-etl (alice): ${hourly * 24:,.2f}/day, idle")
