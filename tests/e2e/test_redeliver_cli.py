"""`guardian redeliver` as an operator runs it against a sandbox: what the undelivered queue kept is sent,
once, and leaves the queue; what still fails stays, with a failing status."""

import json
from datetime import UTC, datetime, timedelta
from decimal import Decimal

from guardian import findings as lifecycle
from guardian.aws import AwsClients
from guardian.cost import Cost
from guardian.findings_store import DynamoFindings
from guardian.kinds import Kind
from guardian.resource import Attribution, Resource, Source
from guardian.rules import Detection
from guardian_cli.main import main
from guardian_sandbox.stack import SandboxStack

DELETED_TOPIC = "arn:aws:sns:us-east-1:123456789012:deleted-topic"


def open_finding(stack: SandboxStack, name: str) -> None:
    now = datetime.now(UTC)
    resource = Resource(
        arn=f"arn:aws:sagemaker:us-east-1:123456789012:endpoint/{name}",
        kind=Kind.ENDPOINT,
        name=name,
        state="InService",
        attribution=Attribution(source=Source.AUTO_TAG, owner="alice", space="alice-lab", sharing="Private"),
    )
    detection = Detection("orphaned-resource", resource, now - timedelta(hours=2), "still billing", {})
    finding, audit = lifecycle.opened(
        detection, Cost(Decimal("0.23"), "1 x ml.m5.xlarge"), lifecycle.Exemption(False), now
    )
    DynamoFindings(stack.clients("dynamodb"), stack.table_name).put(finding, audit)


def run(capsys, *argv: str) -> tuple[int, str]:
    capsys.readouterr()  # what the functions printed before (their metrics) is not the command's
    status = main(list(argv))
    return status, capsys.readouterr().out


def test_redeliver_sends_what_the_queue_kept_once_and_empties_it(sandbox_url, capsys):
    clients = AwsClients(region="us-east-1", endpoint_url=sandbox_url)
    broken = SandboxStack(clients, parameters={"TOPIC_ARN": DELETED_TOPIC}).deploy()
    open_finding(broken, "fraud-xgb")
    assert broken.pump_streams()[-1] == {"batchItemFailures": []}  # parked on its last attempt

    status, out = run(capsys, "redeliver", "--endpoint-url", sandbox_url, "--format", "json")
    [entry] = json.loads(out)
    assert status == 0 and entry["kind"] == "parked" and entry["delivered"] and entry["records"] == 1
    assert entry["about"][0].startswith("opened f-") and "(alice)" in entry["about"][0]
    # alice has no address (the stack has no OwnerEmails): the team is told, without her name (a private space)
    [mail] = SandboxStack(clients).deploy().mailbox()
    assert mail["subject"] == "An owner of a private space has no address: 1 finding, $5.52/day"

    status, out = run(capsys, "redeliver", "--endpoint-url", sandbox_url)
    assert status == 0 and out.strip() == "0 kept changes, 0 delivered, 0 left in the queue"


def test_what_still_fails_stays_in_the_queue_with_a_failing_status(sandbox_url, capsys):
    clients = AwsClients(region="us-east-1", endpoint_url=sandbox_url)
    stack = SandboxStack(clients).deploy()
    sqs = clients("sqs")
    sqs.send_message(QueueUrl=stack.undelivered_queue_url, MessageBody=json.dumps({"something": "else"}))
    status, out = run(capsys, "redeliver", "--endpoint-url", sandbox_url)
    assert status == 1 and "KEPT: cannot read what it kept" in out
    assert out.splitlines()[-1] == "1 kept changes, 0 delivered, 1 left in the queue"
    kept = sqs.receive_message(QueueUrl=stack.undelivered_queue_url, VisibilityTimeout=0).get("Messages", [])
    assert len(kept) == 1  # visible again for the next run
