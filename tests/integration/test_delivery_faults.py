"""Nothing lost, nothing twice: findings opened, then resolved, go through the sandbox stack's stream (its
retries as template.yaml sets them) to notify, while Slack (429, 500, 503, a reset, a connection closed
without an answer, a hang past the timeout) and AWS (throttling, 5xx, a connection that never got through,
a DynamoDB write committed whose answer was lost) fail on a random schedule; what the stream gives up on
is redelivered from the undelivered queue (`guardian redeliver`), as an operator would once alarmed.
Then every owner got each message exactly once per channel (posts Slack took, publishes in the sandbox's
mailbox), every finding ends notified (then resolved, told so), and each message is in its finding's
audit trail once.

Owners may also confirm their email subscriptions late (SNS holds nothing for a pending one: the guardian
holds the email, and its HeldMessages schedule sends it once they confirm, under the same faults): still
once.

The failures one at a time, too: each of the issue's (a reset not retried, a claim released only for some
errors, a claim in progress taken for done, a finding not marked after its message went out, a queue that
kept only Lambda's batch metadata), and the one duplicate no sender can avoid (SNS took the message, the
answer was lost)."""

import json
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import timedelta
from decimal import Decimal
from types import SimpleNamespace
from typing import Any
from unittest import mock

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from guardian import channels, clock, delivery, notify
from guardian import findings as lifecycle
from guardian.cost import Cost
from guardian.findings import Finding, Status
from guardian.findings_store import DynamoFindings, write_finding
from guardian.kinds import Kind
from guardian.resource import Attribution, Resource, Source
from guardian.rules import Detection
from guardian.table import HELD_PK, delivery_key
from guardian_cli.commands.redeliver import Entry, redeliver
from guardian_sandbox import embedded
from guardian_sandbox.stack import SandboxStack
from guardian_sandbox.template import template
from tests.integration.delivery_fault_injection import AFTER, BEFORE, SLACK_FAULTS, AwsFaults, FaultySlack

OWNERS = ("alice", "bob", "carol")
EMAILS = {owner: f"{owner}@example.com" for owner in OWNERS}
REDELIVERY_ROUNDS = 12  # an operator runs `guardian redeliver` until the queue is empty
LATER = timedelta(minutes=2)  # between redeliveries: past any claim (a sandbox invocation's deadline)


# --- the world: a stack, Slack, findings ----------------------------------------------------------------


@dataclass
class World:
    stack: SandboxStack
    slack: FaultySlack
    findings: dict[str, Finding] = field(default_factory=dict)  # by resource name
    redelivered: list[Entry] = field(default_factory=list)
    mail: list[dict[str, Any]] = field(default_factory=list)

    @property
    def store(self) -> DynamoFindings:
        return DynamoFindings(self.stack.clients("dynamodb"), self.stack.table_name)

    def open(self, name: str, owner: str) -> None:
        resource = Resource(
            arn=f"arn:aws:sagemaker:us-east-1:123456789012:endpoint/{name}",
            kind=Kind.ENDPOINT,
            name=name,
            state="InService",
            attribution=Attribution(
                source=Source.AUTO_TAG, owner=owner, space=f"{owner}-lab", sharing="Private", domain_id="d-studio"
            ),
        )
        now = clock.now()
        detection = Detection("orphaned-resource", resource, now - timedelta(hours=2), "still billing", {})
        finding, audit = lifecycle.opened(
            detection, Cost(Decimal("0.23"), "1 x ml.m5.xlarge"), lifecycle.Exemption(False), now
        )
        self.findings[name] = self.store.put(finding, audit)

    def resolve(self, name: str) -> None:
        now = clock.now()
        holder = SimpleNamespace(findings=self.store)
        current = self.store.get(self.findings[name].id)
        write_finding(holder, current, lambda f: lifecycle.resolved(f, now, "resource is gone"), now)

    def notify(self, payload: dict[str, Any]) -> Any:
        return self.stack.invoke("NotifyFunction", payload)

    def stream_then_redeliver(self) -> None:
        """The stream's delivery with its retries, then `guardian redeliver` until the queue is empty."""
        self.stack.pump_streams()
        for _ in range(REDELIVERY_ROUNDS):
            if not self.queued():
                return
            clock.set_offset(clock.offset() + LATER)
            self.redelivered += redeliver(self.stack.clients, self.stack.undelivered_queue_url, self.notify)
        raise AssertionError(f"still undelivered after {REDELIVERY_ROUNDS} redeliveries: {self.redelivered[-3:]}")

    def release_held_until_sent(self) -> None:
        """The HeldMessages schedule, run after run (a failed run is retried at the next), until nothing is held."""
        for _ in range(REDELIVERY_ROUNDS):
            try:
                self.notify({"held": True})
            except channels.DeliveryFailed:
                clock.set_offset(clock.offset() + LATER)  # past any claim a failed run left
                continue
            if not self.held():
                return
        raise AssertionError(f"still held after {REDELIVERY_ROUNDS} runs: {self.held()}")

    def held(self) -> list[dict[str, Any]]:
        return self.stack.clients("dynamodb").query(
            TableName=self.stack.table_name,
            KeyConditionExpression="PK = :pk",
            ExpressionAttributeValues={":pk": {"S": HELD_PK}},
        )["Items"]

    def queued(self) -> int:
        attributes = self.stack.clients("sqs").get_queue_attributes(
            QueueUrl=self.stack.undelivered_queue_url,
            AttributeNames=["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"],
        )["Attributes"]
        return int(attributes["ApproximateNumberOfMessages"]) + int(attributes["ApproximateNumberOfMessagesNotVisible"])

    def received(self) -> Counter[tuple[str, str, str, str]]:
        """What reached people: (channel, owner, finding name, opened|resolved), counted."""
        got: Counter[tuple[str, str, str, str]] = Counter()
        self.mail += self.stack.mailbox()  # the mailbox gives each message once
        for mail in self.mail:
            owner = mail["attributes"].get("owner", "team")
            for name in self._named(mail["text"]):
                got[("email", owner, name, _kind(mail["subject"]))] += 1
        for post in self.slack.taken:
            owner, text = post["path"].rsplit("/", 1)[-1], post["body"]["text"]
            for name in self._named(text):
                got[("slack", owner, name, _kind(text))] += 1
        return got

    def _named(self, text: str) -> list[str]:
        return [name for name in self.findings if name in text]


def _kind(subject: str) -> str:
    return "resolved" if subject.startswith("Resolved:") else "opened"


@contextmanager
def world(hang_seconds: float = 0.5, confirmed: bool = True) -> Iterator[World]:
    """A fresh sandbox and Slack; Slack's and the outbox's waits recorded rather than slept; a short Slack
    timeout (a hang is a hang past it). ``confirmed``: each owner confirms their email subscription as it
    is made; otherwise it stays pending until the test confirms it."""
    slack = FaultySlack(hang_seconds=hang_seconds)
    no_sleep = SimpleNamespace(sleep=lambda seconds: None)
    clock.set_offset(timedelta(0))
    with (
        embedded("us-east-1") as clients,
        mock.patch("slack_sdk.http_retry.handler.time", no_sleep),
        mock.patch("slack_sdk.http_retry.builtin_handlers.time", no_sleep),
        mock.patch.object(delivery, "pause", lambda attempt: None),
        mock.patch.object(channels, "SLACK_TIMEOUT", 0.2),
    ):
        parameters = {"OWNER_EMAILS": json.dumps(EMAILS)}
        stack = SandboxStack(clients, parameters=parameters, confirm_subscriptions_automatically=confirmed).deploy()
        stack.use_slack(json.dumps({"owners": {owner: f"{slack.url}/{owner}" for owner in OWNERS}}))
        try:
            yield World(stack, slack)
        finally:
            slack.close()
            clock.set_offset(timedelta(0))


def expected(told: dict[str, str], resolved: set[str]) -> Counter[tuple[str, str, str, str]]:
    """Each finding (name -> owner): opened, to its owner, on both channels; and resolved, if it was."""
    return Counter(
        (channel, owner, name, kind)
        for name, owner in told.items()
        for kind in ("opened", *(("resolved",) if name in resolved else ()))
        for channel in ("email", "slack")
    )


def lost_and_duplicated(want: Counter, got: Counter) -> tuple[int, int]:
    lost = sum(1 for key in want if got[key] == 0)
    duplicated = sum(max(got[key] - 1, 0) for key in want) + sum(n for key, n in got.items() if key not in want)
    return lost, duplicated


def assert_told_once(w: World, resolved: set[str] = frozenset()) -> None:
    want = expected({name: f.owner or "" for name, f in w.findings.items()}, set(resolved))
    got = w.received()
    assert got == want, f"lost and duplicated: {lost_and_duplicated(want, got)}; got {got - want}, missing {want - got}"
    for name, finding in w.findings.items():
        now = w.store.get(finding.id)
        assert now.status is (Status.RESOLVED if name in resolved else Status.NOTIFIED), f"{name} is {now.status}"
        assert now.notified_at is not None
        trail = Counter(entry.action for entry in w.store.audit(finding.id))
        assert trail["notified"] == 2, f"{name}: {trail}"  # email and Slack, each marked once
        assert trail["message sent"] == (2 if name in resolved else 0), f"{name}: {trail}"


# --- the template and the records -----------------------------------------------------------------------


def test_notify_counts_the_attempts_the_template_gives_its_stream():
    stream = template().stream_event("NotifyFunction")
    assert 1 + stream["MaximumRetryAttempts"] == notify.STREAM_ATTEMPTS
    assert stream["DestinationConfig"]["OnFailure"]["Destination"] == {"Fn::GetAtt": ["UndeliveredQueue", "Arn"]}
    variables = template().functions()["NotifyFunction"]["Properties"]["Environment"]["Variables"]
    assert variables["UNDELIVERED_QUEUE_URL"] == {"Ref": "UndeliveredQueue"}


def test_delivery_records_keep_powertools_keys_so_what_was_delivered_before_is_not_sent_again():
    from aws_lambda_powertools.utilities.idempotency import DynamoDBPersistenceLayer, IdempotencyConfig

    layer = DynamoDBPersistenceLayer(table_name="t", key_attr="PK", sort_key_attr="SK", static_pk_value="DELIVERY")
    layer.configure(IdempotencyConfig(), key_prefix=delivery.KEY_PREFIX)
    claim = "email#owner:alice#f-1#open#1#opened"
    assert delivery.record_key(claim) == layer._get_hashed_idempotency_key({"delivery": claim})


# --- the failures of the issue, one at a time ------------------------------------------------------------


def test_a_slack_connection_lost_on_every_attempt_is_retried_by_the_stream_and_sent_once():
    """A reset or a connection closed without an answer (RemoteDisconnected) is retried by slack-sdk, and
    when it lasts, the claim is released and the stream's retry sends it: once; the email is not resent."""
    with world() as w:
        w.open("endpoint-01", "alice")
        w.slack.faults = ["disconnect", "reset", "hang", "disconnect"]  # every attempt of the first send
        first, second = w.stack.pump_streams()
        assert len(first["batchItemFailures"]) == 1 and second == {"batchItemFailures": []}
        assert_told_once(w)


def test_any_exception_from_a_channel_releases_the_claim():
    """Not only DeliveryFailed and botocore's errors: whatever a send raises, the claim is released."""
    with world() as w:
        w.open("endpoint-01", "alice")
        real = channels.publish_email
        calls = []

        def flaky(*args: Any, **kwargs: Any) -> None:
            calls.append(1)
            if len(calls) == 1:
                raise RuntimeError("something nobody expected")
            real(*args, **kwargs)

        with mock.patch.object(channels, "publish_email", flaky):
            first, second = w.stack.pump_streams()
        assert len(first["batchItemFailures"]) == 1 and second == {"batchItemFailures": []}
        assert_told_once(w)


def test_a_claim_in_progress_is_a_failure_retried_after_its_expiry_never_a_delivery_done():
    """Slack fails a send whose claim cannot then be released (DynamoDB fails every delete): the claim
    stays in progress. Each stream retry finds it so and fails the record (it is not counted as sent), the
    last parks it; once the claim has expired, the redelivery sends it, once."""
    with world() as w:
        w.open("endpoint-01", "alice")
        w.slack.faults = ["500"] * 4
        faults = AwsFaults({("dynamodb", "DeleteItem"): {n: "5xx" for n in range(1, 4)}}, spare=w.stack.clients)
        with faults.active():
            results = w.stack.pump_streams()
        assert len(results) == notify.STREAM_ATTEMPTS
        assert all(r["batchItemFailures"] for r in results[:-1])  # in progress is never done
        assert len(w.slack.taken) == 0 and len(w.slack.posts) == 4  # no retry sent while it was claimed
        assert w.store.get(w.findings["endpoint-01"].id).status is Status.NOTIFIED  # email's marking
        [parked] = redeliver(w.stack.clients, w.stack.undelivered_queue_url, w.notify)  # before expiry
        assert not parked.delivered and w.slack.taken == []
        clock.set_offset(LATER)
        [entry] = redeliver(w.stack.clients, w.stack.undelivered_queue_url, w.notify)
        assert entry.delivered and entry.kind == "parked"
        assert_told_once(w)


@pytest.mark.parametrize("fault", ["throttle", "5xx", "commit-then-timeout"])
def test_a_finding_is_marked_notified_with_its_delivery_whatever_the_write_did(fault):
    """The delivery record and the finding's marking are one transaction: throttled, it is retried; its
    answer lost after it committed, the retry sees its own record complete. Never sent twice, never
    marked twice, never left open (and so resolved, and told so, later)."""
    with world() as w:
        w.open("endpoint-01", "alice")
        twice = {1: fault, 2: fault} if fault != "commit-then-timeout" else {1: fault}
        schedule = {("dynamodb", "TransactWriteItems"): twice}
        with AwsFaults(schedule, spare=w.stack.clients).active():
            w.stream_then_redeliver()
        assert_told_once(w)
        w.resolve("endpoint-01")
        w.stream_then_redeliver()
        assert_told_once(w, resolved={"endpoint-01"})


def test_a_delivery_recorded_without_its_finding_marked_is_marked_not_sent_again():
    """A record written before the two were one transaction (or by a claim lost while sending): the
    delivery says sent, the finding is still open at the version told: it is marked, nothing is sent."""
    with world() as w:
        w.open("endpoint-01", "alice")
        finding = w.findings["endpoint-01"]
        for channel in ("email", "slack"):
            key = delivery.record_key(f"{channel}#owner:alice#{finding.id}#open#1#opened")
            item = delivery_key(key) | {"status": {"S": "COMPLETED"}, "expires_at": {"N": "9999999999"}}
            w.stack.clients("dynamodb").put_item(TableName=w.stack.table_name, Item=item)
        assert w.stack.pump_streams() == [{"batchItemFailures": []}]
        assert w.received() == Counter() and w.slack.posts == []
        told = w.store.get(finding.id)
        assert told.status is Status.NOTIFIED and told.version == 2


def test_a_digest_sent_whose_findings_were_not_marked_is_not_sent_again_and_its_retry_marks_them():
    with world() as w:
        w.stack.parameters["DIGEST_MODE"] = "daily"
        w.open("endpoint-01", "alice")
        assert w.stack.pump_streams() == [{"batchItemFailures": []}]  # held for the digest
        with AwsFaults({("dynamodb", "TransactWriteItems"): {1: "5xx"}}, spare=w.stack.clients).active():
            with pytest.raises(channels.DeliveryFailed, match="not marked notified"):
                w.notify({"digest": True})
            assert w.store.get(w.findings["endpoint-01"].id).status is Status.OPEN
            w.notify({"digest": True})  # the schedule's retry
        assert w.store.get(w.findings["endpoint-01"].id).status is Status.NOTIFIED
        digests = [m for m in w.stack.mailbox() if m["subject"].startswith("Daily:")]
        assert [m["attributes"]["owner"] for m in digests] == ["alice"]
        assert [p["path"].rsplit("/", 1)[-1] for p in w.slack.taken if "Daily:" in p["body"]["text"]] == ["alice"]


def test_a_batch_lambda_gave_up_on_is_read_again_from_the_stream_and_sent_once():
    """When notify cannot park (its queue unreachable), Lambda's on-failure record is all the queue keeps:
    the batch's shard and sequence numbers. `guardian redeliver` reads those records again from the stream."""
    with world() as w:
        w.open("endpoint-01", "alice")
        w.open("endpoint-02", "bob")
        url = w.stack.undelivered_queue_url
        w.stack.parameters["UNDELIVERED_QUEUE_URL"] = url.replace("undelivered", "no-such-queue")
        w.slack.faults = ["503"] * 4 * 2 * notify.STREAM_ATTEMPTS  # neither alice's Slack nor bob's answers
        results = w.stack.pump_streams()
        assert len(results) == notify.STREAM_ATTEMPTS and results[-1]["batchItemFailures"]
        message = w.stack.clients("sqs").receive_message(QueueUrl=url, VisibilityTimeout=0)["Messages"][0]
        info = json.loads(message["Body"])["DDBStreamBatchInfo"]
        assert info["batchSize"] >= 1 and info["startSequenceNumber"] <= info["endSequenceNumber"]
        w.stack.parameters.pop("UNDELIVERED_QUEUE_URL")
        w.slack.faults = []
        [entry] = redeliver(w.stack.clients, url, w.notify)
        assert entry.kind == "batch" and entry.delivered
        assert_told_once(w)


def test_an_unreadable_slack_secret_does_not_stop_email_and_slack_is_sent_once_it_is_readable():
    with world() as w:
        w.open("endpoint-01", "alice")
        schedule = {("secretsmanager", "GetSecretValue"): {1: "throttle"}}
        with AwsFaults(schedule, spare=w.stack.clients).active():
            first, second = w.stack.pump_streams()
        assert len(first["batchItemFailures"]) == 1 and second == {"batchItemFailures": []}
        assert_told_once(w)


def test_an_answer_lost_after_sns_took_the_message_is_a_duplicate_never_a_loss():
    """The limit of any sender: SNS published, its answer was lost; SNS cannot be asked whether it did, so
    the retry publishes again. Told twice by email (once on Slack), and nothing lost."""
    with world() as w:
        w.open("endpoint-01", "alice")
        with AwsFaults({("sns", "Publish"): {1: "commit-then-timeout"}}, spare=w.stack.clients).active():
            w.stream_then_redeliver()
        got = w.received()
        assert got[("email", "alice", "endpoint-01", "opened")] == 2
        assert got[("slack", "alice", "endpoint-01", "opened")] == 1


# --- random fault schedules -------------------------------------------------------------------------------

# What notify calls, how each call may fail, and about how many calls a run makes (where a fault can land).
AWS_OPERATIONS = {
    ("dynamodb", "PutItem"): (BEFORE + AFTER, 18),  # claims, subscriptions
    ("dynamodb", "GetItem"): (BEFORE + AFTER, 20),  # findings, subscriptions
    ("dynamodb", "TransactWriteItems"): (BEFORE + AFTER, 14),  # deliveries recorded with their findings
    ("dynamodb", "DeleteItem"): (BEFORE + AFTER, 6),  # claims released
    ("dynamodb", "UpdateItem"): (BEFORE + AFTER, 6),  # failed attempts counted
    ("sns", "Publish"): (BEFORE, 6),  # an answer lost after SNS took it is the duplicate shown above
    ("sns", "Subscribe"): (BEFORE + AFTER, 3),
    ("sns", "GetSubscriptionAttributes"): (BEFORE + AFTER, 12),  # whether an owner confirmed, at each message
    ("sqs", "SendMessage"): (BEFORE + AFTER, 3),  # parking (a duplicate parked is redelivered as a no-op)
    ("secretsmanager", "GetSecretValue"): (("throttle", "5xx"), 2),
}


@st.composite
def aws_faults(draw: st.DrawFn) -> dict[tuple[str, str], dict[int, str]]:
    """Single faults anywhere, and outages: one operation failing several calls in a row (long enough, the
    stream's retries are spent and the change is parked, or its claim cannot be released)."""
    schedule: dict[tuple[str, str], dict[int, str]] = {}
    for _ in range(draw(st.integers(0, 8))):
        operation = draw(st.sampled_from(sorted(AWS_OPERATIONS)))
        kinds, calls = AWS_OPERATIONS[operation]
        schedule.setdefault(operation, {})[draw(st.integers(1, calls))] = draw(st.sampled_from(kinds))
    for _ in range(draw(st.integers(0, 2))):
        operation = draw(st.sampled_from(sorted(AWS_OPERATIONS)))
        kinds, calls = AWS_OPERATIONS[operation]
        start, length = draw(st.integers(1, calls)), draw(st.integers(2, 8))
        kind = draw(st.sampled_from([k for k in kinds if k in BEFORE]))
        schedule.setdefault(operation, {}).update(dict.fromkeys(range(start, start + length), kind))
    if draw(st.booleans()):  # releases failing from the first: claims left in progress until they expire
        kind = draw(st.sampled_from(BEFORE))
        schedule.setdefault(("dynamodb", "DeleteItem"), {}).update(
            dict.fromkeys(range(1, draw(st.integers(3, 9))), kind)
        )
    return schedule


def _posts(faults: list[str]) -> list[str | None]:
    return [None if fault == "ok" else fault for fault in faults]


# A post's fault, or none ("ok"); sometimes an outage past the stream's retries (4 posts an attempt, 6 attempts).
sparse_slack = st.lists(st.sampled_from((*SLACK_FAULTS, "ok", "ok")), max_size=12)
slack_outage = st.lists(st.sampled_from(("429", "500", "503", "reset", "disconnect")), min_size=16, max_size=30)
slack_faults = st.one_of(sparse_slack, slack_outage).map(_posts)
stories = st.fixed_dictionaries(
    {
        "owners": st.lists(st.sampled_from(OWNERS), min_size=1, max_size=5),  # one finding each
        "resolve": st.lists(st.booleans(), min_size=5, max_size=5),
        "aws": aws_faults(),
        "slack": slack_faults,
        "slack_later": slack_faults,
        "confirm_late": st.booleans(),  # owners confirm their email subscriptions only after the first messages
    }
)
FIGURES: Counter[str] = Counter()


@pytest.fixture(scope="module", autouse=True)
def figures() -> Iterator[Counter[str]]:
    yield FIGURES
    if FIGURES["runs"]:
        injected = {k.removeprefix("fault "): v for k, v in sorted(FIGURES.items()) if k.startswith("fault ")}
        print(
            f"\ndelivery under faults: {FIGURES['runs']} runs, {sum(injected.values())} faults injected "
            f"({', '.join(f'{k} {v}' for k, v in injected.items())}), {FIGURES['expected']} messages expected, "
            f"{FIGURES['lost']} lost, {FIGURES['duplicated']} duplicated; {FIGURES['parked']} changes redelivered "
            f"from the undelivered queue ({FIGURES['batches']} read again from the stream); in "
            f"{FIGURES['confirmed late']} runs owners confirmed their email subscriptions late"
        )


@settings(deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(story=stories)
def test_under_random_faults_every_owner_is_told_each_message_exactly_once_and_every_finding_ends_notified(story):
    with world(confirmed=not story["confirm_late"]) as w:
        names = {f"endpoint-{n:02d}": owner for n, owner in enumerate(story["owners"], 1)}
        for name, owner in names.items():
            w.open(name, owner)
        resolved = {name for name, yes in zip(names, story["resolve"], strict=False) if yes}
        faults = AwsFaults(story["aws"], spare=w.stack.clients)
        w.slack.faults = list(story["slack"])
        with faults.active():
            w.stream_then_redeliver()  # opened: told, marked notified (by email: held until confirmed)
            if story["confirm_late"]:
                for owner in set(names.values()):
                    w.stack.confirm_subscription(EMAILS[owner])
                w.release_held_until_sent()
            for name in sorted(resolved):
                w.resolve(name)
            w.slack.faults += story["slack_later"]
            w.stream_then_redeliver()  # resolved: told
        want, got = expected(names, resolved), w.received()
        lost, duplicated = lost_and_duplicated(want, got)
        FIGURES.update(
            {
                "runs": 1,
                "expected": sum(want.values()),
                "lost": lost,
                "duplicated": duplicated,
                "parked": sum(e.delivered for e in w.redelivered),
                "batches": sum(e.delivered and e.kind == "batch" for e in w.redelivered),
                "confirmed late": int(story["confirm_late"]),
            }
        )
        FIGURES.update({f"fault {k}": v for k, v in (faults.injected + w.slack.injected).items()})
        assert (lost, duplicated) == (0, 0), f"{lost} lost, {duplicated} duplicated: {got} for {want}"
        assert_told_once(w, resolved)
