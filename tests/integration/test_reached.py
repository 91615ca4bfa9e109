"""The clock starts when a person was reached, not when a message was attempted (issue 9, item 1), on the
sandbox stack, whose SNS keeps an email subscription pending until its owner confirms it, as AWS does.

A finding is marked reached (``reached_at``, from which remediation's grace counts) only by a notice
delivered to a person: a Slack post answered 2xx, or an email to a confirmed subscription. An owner's first
email waits for her confirmation, and goes once, when she confirms; an owner nobody can reach is the team's
news, once; a webhook Slack refuses reached nobody and is not retried."""

import json
from collections import Counter

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from guardian import findings as lifecycle
from guardian.findings import Status
from guardian_sandbox import embedded
from tests.integration.test_notify import EMAILS, NOW, TEAM, change, deploy, guardian_of, open_finding

ALICE = EMAILS["alice"]


def release(stack) -> dict:
    """What the notify function's HeldMessages schedule does every 15 minutes."""
    return stack.invoke("NotifyFunction", {"held": True})


def owners_mail(mail: list[dict], owner: str) -> list[dict]:
    return [m for m in mail if m["attributes"].get("owner") == owner]


def test_an_owners_first_email_is_held_until_she_confirms_then_sent_once(sandbox):
    stack = deploy(sandbox, confirmed=False)
    finding = open_finding(stack, "fraud-xgb")
    assert stack.pump_streams() == [{"batchItemFailures": []}]  # held: nothing for the stream to retry
    assert owners_mail(stack.mailbox(), "alice") == []  # nothing published for her while SNS would drop it
    store = guardian_of(stack).findings
    held = store.get(finding.id)
    assert (held.status, held.reached_at, held.delivery_state) == (Status.OPEN, None, "awaiting-confirmation")
    assert held.public(NOW)["delivery_state"] == "awaiting-confirmation"

    assert release(stack)["still_held"] == 1 and stack.mailbox() == []  # not confirmed yet: still waiting
    stack.confirm_subscription(ALICE)
    assert stack.redeliver_last_batch() == {"batchItemFailures": []}  # the stream's copy, now she can be reached
    release(stack)  # and the schedule's: one of them sends it, the other finds it sent
    [mail] = stack.mailbox()
    assert mail["to"] == [ALICE] and mail["subject"] == "Orphaned endpoint fraud-xgb (alice) ~ $5.52/day"
    told = store.get(finding.id)
    assert told.status is Status.NOTIFIED and told.delivery_state == "delivered" and told.reached_at is not None

    stack.redeliver_last_batch()
    release(stack)
    assert stack.mailbox() == [] and store.get(finding.id).reached_at == told.reached_at  # once, and the first
    trail = [entry.action for entry in store.audit(finding.id)]
    assert trail.count("message held") == 1 and trail.count("notified") == 1


def test_an_owner_nobody_can_reach_is_the_teams_news_once_and_nothing_of_hers_is_reached(sandbox):
    stack = deploy(sandbox)  # dave has no address (no OwnerEmails entry, no tag) and no Slack channel
    first = open_finding(stack, "batch-a", owner="dave", sharing="Shared", space="team-notebooks")
    second = open_finding(stack, "batch-b", owner="dave", sharing="Shared", space="team-notebooks", hourly="0.16")
    assert stack.pump_streams() == [{"batchItemFailures": []}]
    [team] = stack.mailbox()
    assert team["subject"] == "dave has no address: 2 findings, $9.36/day" and team["to"] == [TEAM]
    assert "studio-cost-guardian:email=ADDRESS" in team["text"] and "OwnerEmails" in team["text"]
    assert "batch-a" in team["text"] and "remediates nothing of dave's" in team["text"]
    store = guardian_of(stack).findings
    for finding in (first, second):
        now = store.get(finding.id)
        assert (now.status, now.reached_at, now.delivery_state) == (Status.OPEN, None, "unreachable")

    stack.redeliver_last_batch()
    assert release(stack)["still_held"] == 2
    assert stack.mailbox() == []  # told once


def test_the_team_is_not_told_whose_private_space_it_is_unless_the_stack_allows_names(sandbox):
    stack = deploy(sandbox)
    open_finding(stack, "scratch-llm", owner="dave", space="dave-scratch")
    stack.pump_streams()
    [team] = stack.mailbox()
    assert team["subject"] == "An owner of a private space has no address: 1 finding, $5.52/day"
    assert "dave" not in team["subject"] + team["text"] and "scratch-llm" not in team["text"]
    assert "guardian findings" in team["text"]

    named = deploy(sandbox, ALLOW_PRIVATE_NAMES="true")
    open_finding(named, "other-llm", owner="erin", space="erin-nlp")
    named.pump_streams()
    assert [m["subject"] for m in named.mailbox()] == ["erin has no address: 1 finding, $5.52/day"]


def test_once_an_unreachable_owner_has_an_address_and_confirms_her_held_messages_reach_her(sandbox):
    stack = deploy(sandbox, confirmed=False)
    finding = open_finding(stack, "scratch-llm", owner="dave", space="dave-scratch")
    stack.pump_streams()
    stack.mailbox()  # the team's message
    stack.parameters["OWNER_EMAILS"] = json.dumps(EMAILS | {"dave": "dave@example.com"})
    release(stack)  # subscribed now; SNS asks him to confirm
    store = guardian_of(stack).findings
    assert store.get(finding.id).delivery_state == "awaiting-confirmation" and stack.mailbox() == []
    stack.confirm_subscription("dave@example.com")
    release(stack)
    [mail] = stack.mailbox()
    assert mail["to"] == ["dave@example.com"] and "scratch-llm" in mail["subject"]
    assert store.get(finding.id).reached_at is not None


def test_a_held_message_no_longer_news_is_dropped_and_its_finding_says_so(sandbox):
    stack = deploy(sandbox, confirmed=False)
    finding = open_finding(stack, "fraud-xgb")
    stack.pump_streams()
    change(stack, finding.id, lambda f: lifecycle.resolved(f, NOW, "resource is gone"))
    stack.pump_streams()  # never told, so no "resolved" message either
    stack.confirm_subscription(ALICE)
    assert release(stack)["dropped"] == 1 and stack.mailbox() == []
    trail = guardian_of(stack).findings.audit(finding.id)
    assert ("held message dropped", "opened message not sent: the finding is resolved now") in [
        (e.action, e.reason) for e in trail
    ]


def test_a_webhook_slack_refuses_reached_nobody_is_not_retried_and_the_next_notice_can_reach(sandbox, slack):
    stack = deploy(sandbox)
    stack.use_slack(json.dumps({"owners": {"dave": slack.url + "/dave"}}))  # dave: Slack only, no address
    slack.replies = [(404, {})]
    finding = open_finding(stack, "scratch-llm", owner="dave", space="dave-scratch")
    assert stack.pump_streams() == [{"batchItemFailures": []}] and len(slack.posts) == 1
    store = guardian_of(stack).findings
    refused = store.get(finding.id)
    assert refused.status is Status.NOTIFIED  # a message went out...
    assert (refused.reached_at, refused.delivery_state) == (None, "unreachable")  # ...to nobody
    assert stack.mailbox() == []  # he has a channel: not the team's news (the webhook's alarm is)

    doubled = refused.model_copy(
        update={
            "segments": [*refused.segments, lifecycle.CostSegment(start=NOW, hourly=0.46)],
            "version": refused.version + 1,
        }
    )
    store.put(doubled, [])
    stack.pump_streams()  # the webhook works again (Slack answers 200)
    assert len(slack.posts) == 2 and slack.posts[-1]["body"]["text"].startswith("Cost doubled")
    reached = store.get(finding.id)
    assert reached.delivery_state == "delivered" and reached.reached_at is not None


def test_in_daily_digest_mode_a_pending_owners_digest_waits_for_her_confirmation(sandbox):
    stack = deploy(sandbox, confirmed=False, DIGEST_MODE="daily")
    finding = open_finding(stack, "fraud-xgb")
    stack.pump_streams()
    stack.invoke("NotifyFunction", {"digest": True})
    assert owners_mail(stack.mailbox(), "alice") == []
    store = guardian_of(stack).findings
    assert (store.get(finding.id).status, store.get(finding.id).delivery_state) == (
        Status.OPEN,
        "awaiting-confirmation",
    )
    stack.confirm_subscription(ALICE)
    stack.invoke("NotifyFunction", {"digest": True})  # the schedule's retry, or the next day's
    [digest] = owners_mail(stack.mailbox(), "alice")
    assert digest["subject"].startswith("Daily: 1 new") and digest["to"] == [ALICE]
    assert store.get(finding.id).reached_at is not None


def test_in_daily_digest_mode_an_owner_nobody_can_reach_is_the_teams_news_once(sandbox):
    stack = deploy(sandbox, DIGEST_MODE="daily")
    finding = open_finding(stack, "scratch-llm", owner="dave", space="dave-scratch")
    stack.pump_streams()
    for _ in range(2):  # the schedule fires twice
        stack.invoke("NotifyFunction", {"digest": True})
    told = [m for m in stack.mailbox() if "has no address" in m["subject"]]
    assert [m["subject"] for m in told] == ["An owner of a private space has no address: 1 finding, $5.52/day"]
    now = guardian_of(stack).findings.get(finding.id)
    assert (now.reached_at, now.delivery_state) == (None, "unreachable")


# --- the invariant ----------------------------------------------------------------------------------------

CHANNELS = st.fixed_dictionaries(
    {
        "email": st.sampled_from(["none", "pending", "confirmed"]),
        "slack": st.sampled_from(["none", 200, 404]),
        "confirms_later": st.booleans(),  # she clicks the link after the first message
        "redeliveries": st.lists(st.sampled_from(["stream", "schedule"]), max_size=3),  # at-least-once triggers
        "shared": st.booleans(),
    }
)


@settings(deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])
@given(story=CHANNELS)
def test_reached_only_by_a_delivered_notice_and_each_message_once(slack, story):
    """Whatever alice's channels (an address or none, confirmed or not, a Slack webhook that answers 200 or
    404 or none), however often the stream and the schedule hand her notice again, and whenever she confirms:
    her finding is reached exactly when a notice was delivered to her (Slack 2xx, or an email to a confirmed
    subscription); she gets each message once per channel that reaches her; an email is never published for
    her before she confirmed; and the team hears she cannot be reached exactly when nothing can reach her."""
    slack.posts.clear()
    slack.replies = [(404, {})] * 10 if story["slack"] == 404 else []
    with embedded("us-east-1") as sandbox:
        emails = {} if story["email"] == "none" else {"alice": ALICE}
        stack = deploy(sandbox, confirmed=story["email"] == "confirmed", OWNER_EMAILS=json.dumps(emails))
        if story["slack"] != "none":
            stack.use_slack(json.dumps({"owners": {"alice": slack.url + "/alice"}}))
        sharing = "Shared" if story["shared"] else "Private"
        finding = open_finding(stack, "fraud-xgb", sharing=sharing)
        stack.pump_streams()
        mail = stack.mailbox()
        emailed_before_confirming = len(owners_mail(mail, "alice"))
        if story["confirms_later"] and story["email"] == "pending":
            stack.confirm_subscription(ALICE)
        for trigger in ["schedule", *story["redeliveries"], "schedule"]:
            stack.redeliver_last_batch() if trigger == "stream" else release(stack)
        mail += stack.mailbox()
        now = guardian_of(stack).findings.get(finding.id)

    email_reaches = story["email"] == "confirmed" or (story["email"] == "pending" and story["confirms_later"])
    reached = email_reaches or story["slack"] == 200
    assert (now.reached_at is not None) is reached
    if reached:
        assert now.delivery_state == "delivered"
    elif story["email"] == "pending":
        assert now.delivery_state == "awaiting-confirmation"
    else:
        assert now.delivery_state == "unreachable"
    received = Counter(address for m in owners_mail(mail, "alice") for address in m["to"])
    assert received == (Counter({ALICE: 1}) if email_reaches else Counter())
    assert len(owners_mail(mail, "alice")) == int(email_reaches)  # nothing published for her otherwise
    if story["email"] != "confirmed":
        assert emailed_before_confirming == 0
    assert len(slack.posts) == (0 if story["slack"] == "none" else 1)  # a refused webhook is not retried
    no_address = [m for m in mail if "has no address" in (m["subject"] or "")]
    assert len(no_address) == int(story["email"] == "none" and story["slack"] == "none")
