"""`guardian redeliver`: the finding changes kept in the undelivered queue, sent again through the notify
function; what it then delivers leaves the queue, what still fails stays there (and is listed).

The queue holds two kinds of message. A record notify parked whole on its last attempt ({"parkedBy": ...,
"record": the stream record, with the finding's images}) is sent as it is. Lambda's on-failure record of a
batch whose invocation failed ({"DDBStreamBatchInfo": ...}) names the batch only: its records are read
again from the table's stream, which keeps them 24 hours. Nothing is sent twice: the outbox skips what
was delivered, and a delivery still claimed elsewhere fails until its claim expires (run it again later).
Records go to notify marked "redelivered": it parks nothing again and reports what failed.

On a deployed stack (no --endpoint-url) the queue and the function are the stack's outputs
(UndeliveredQueueUrl, NotifyFunctionName); the credentials need sqs:ReceiveMessage, DeleteMessage and
ChangeMessageVisibility, lambda:InvokeFunction, cloudformation:DescribeStacks and, for Lambda's records,
dynamodb:GetShardIterator and GetRecords. On a sandbox the function runs in-process, as the stack's other
commands do.
"""

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from botocore.exceptions import ClientError

from guardian.aws import AwsClients
from guardian_cli.account import Endpoint, account
from guardian_cli.errors import InputError

VISIBILITY_SECONDS = 300  # a message being redelivered (or left failing) is not received twice in one run
EMPTY_PAGES = 20  # an open shard may answer an empty page before the records asked for
Invoke = Callable[[dict[str, Any]], Any]


@dataclass
class Entry:
    """One message of the queue, and what became of it."""

    message_id: str
    kind: str = "unknown"  # parked (by notify), batch (Lambda's on-failure record), record (a bare record)
    about: list[str] = field(default_factory=list)  # what it was to tell, or which records
    records: int = 0
    failed: list[str] = field(default_factory=list)  # sequence numbers notify failed again
    error: str | None = None

    @property
    def delivered(self) -> bool:
        return self.error is None and not self.failed

    def as_dict(self) -> dict[str, Any]:
        return {
            "message": self.message_id,
            "kind": self.kind,
            "about": self.about,
            "records": self.records,
            "delivered": self.delivered,
            "failed": self.failed,
            "error": self.error,
        }


def run(endpoint: Endpoint, stack: str, fmt: str) -> int:
    with account(endpoint, embedded_default=False) as clients:
        if endpoint.url:
            from guardian_sandbox.stack import SandboxStack

            sandbox = SandboxStack(clients).deploy()
            queue_url = sandbox.undelivered_queue_url

            def invoke(payload: dict[str, Any]) -> Any:
                return sandbox.invoke("NotifyFunction", payload)

        else:
            outputs = stack_outputs(clients, stack)
            queue_url, function = outputs["UndeliveredQueueUrl"], outputs["NotifyFunctionName"]

            def invoke(payload: dict[str, Any]) -> Any:
                return invoke_deployed(clients, function, payload)

        entries = redeliver(clients, queue_url, invoke)
    print_entries(entries, fmt)
    return 0 if all(entry.delivered for entry in entries) else 1


def redeliver(clients: AwsClients, queue_url: str, invoke: Invoke) -> list[Entry]:
    """Every message of the queue, sent again; those delivered are deleted, the others stay (visible again
    once the run is over: a later run takes them up)."""
    sqs, entries, kept = clients("sqs"), list[Entry](), list[str]()
    seen: set[str] = set()
    while True:
        messages = sqs.receive_message(
            QueueUrl=queue_url, MaxNumberOfMessages=10, VisibilityTimeout=VISIBILITY_SECONDS
        ).get("Messages", [])
        fresh = [m for m in messages if m["MessageId"] not in seen]
        if not fresh:
            break
        for message in fresh:
            seen.add(message["MessageId"])
            entry = redeliver_one(clients, message, invoke)
            if entry.delivered:
                sqs.delete_message(QueueUrl=queue_url, ReceiptHandle=message["ReceiptHandle"])
            else:
                kept.append(message["ReceiptHandle"])
            entries.append(entry)
    for receipt in kept:
        sqs.change_message_visibility(QueueUrl=queue_url, ReceiptHandle=receipt, VisibilityTimeout=0)
    return entries


def redeliver_one(clients: AwsClients, message: dict[str, Any], invoke: Invoke) -> Entry:
    entry = Entry(message["MessageId"])
    try:
        body = json.loads(message["Body"])
        records = records_of(body, clients, entry)
    except (ValueError, KeyError, TypeError, ClientError) as error:
        entry.error = f"cannot read what it kept: {type(error).__name__}: {error}"
        return entry
    entry.records = len(records)
    if not records:
        return entry  # a batch with no finding in it: nothing to tell
    try:
        result = invoke({"Records": records, "redelivered": True})
    except Exception as error:  # the function's failure: the message stays
        entry.error = f"notify failed: {type(error).__name__}: {error}"
        return entry
    entry.failed = sorted(str(f["itemIdentifier"]) for f in result.get("batchItemFailures", []))
    return entry


def records_of(body: Any, clients: AwsClients, entry: Entry) -> list[dict[str, Any]]:
    """The stream records a queue message stands for."""
    if isinstance(body, dict) and "record" in body and "parkedBy" in body:
        entry.kind = "parked"
        notice = body.get("notice") or {}
        entry.about = [f"{notice.get('kind', '?')} {notice.get('finding', '?')} ({notice.get('owner') or '-'})"]
        if body.get("reason"):
            entry.about.append(f"after {body.get('attempts')} attempts: {body['reason']}")
        return [body["record"]]
    if isinstance(body, dict) and "DDBStreamBatchInfo" in body:
        info = body["DDBStreamBatchInfo"]
        entry.kind = "batch"
        entry.about = [f"{info['shardId']} {info['startSequenceNumber']}..{info['endSequenceNumber']}"]
        return read_stream(clients, info)
    if isinstance(body, dict) and "dynamodb" in body and "eventID" in body:
        entry.kind = "record"
        entry.about = [str(body["dynamodb"].get("SequenceNumber"))]
        return [body]
    raise ValueError("neither a record notify parked nor Lambda's on-failure record of a stream batch")


def read_stream(clients: AwsClients, info: dict[str, Any]) -> list[dict[str, Any]]:
    """The finding changes of a batch Lambda's on-failure record names, read again from the stream, in the
    shape Lambda hands them to the function."""
    streams, arn = clients("dynamodbstreams"), info["streamArn"]
    iterator = streams.get_shard_iterator(
        StreamArn=arn,
        ShardId=info["shardId"],
        ShardIteratorType="AT_SEQUENCE_NUMBER",
        SequenceNumber=info["startSequenceNumber"],
    )["ShardIterator"]
    end, records, empty = int(info["endSequenceNumber"]), list[dict[str, Any]](), 0
    while iterator and empty < EMPTY_PAGES:
        page = streams.get_records(ShardIterator=iterator, Limit=1000)
        empty = 0 if page["Records"] else empty + 1
        for record in page["Records"]:
            if int(record["dynamodb"]["SequenceNumber"]) > end:
                return records
            if record["dynamodb"].get("NewImage", {}).get("type", {}).get("S") == "finding":
                records.append(as_lambda_delivers(record, arn))
        iterator = page.get("NextShardIterator")
    return records


def as_lambda_delivers(record: dict[str, Any], stream_arn: str) -> dict[str, Any]:
    """A GetRecords record as Lambda hands it to a function: epoch-second times, the stream's ARN."""
    change = dict(record["dynamodb"])
    if isinstance(change.get("ApproximateCreationDateTime"), datetime):
        change["ApproximateCreationDateTime"] = change["ApproximateCreationDateTime"].timestamp()
    shaped: dict[str, Any] = json.loads(
        json.dumps(record | {"dynamodb": change, "eventSourceARN": stream_arn}, default=str)
    )
    return shaped


def stack_outputs(clients: AwsClients, stack: str) -> dict[str, str]:
    try:
        described = clients("cloudformation").describe_stacks(StackName=stack)["Stacks"][0]
    except ClientError as error:
        raise InputError(f"stack {stack!r}: {error.response['Error']['Message']} (use --stack)") from error
    outputs = {o["OutputKey"]: str(o["OutputValue"]) for o in described.get("Outputs", [])}
    missing = {"UndeliveredQueueUrl", "NotifyFunctionName"} - set(outputs)
    if missing:
        raise InputError(f"stack {stack!r} has no output {', '.join(sorted(missing))} (deploy this version)")
    return outputs


def invoke_deployed(clients: AwsClients, function: str, payload: dict[str, Any]) -> Any:
    response = clients("lambda").invoke(FunctionName=function, Payload=json.dumps(payload).encode())
    result = json.loads(response["Payload"].read() or b"null")
    if response.get("FunctionError"):
        raise RuntimeError(f"{function}: {result.get('errorType')}: {result.get('errorMessage')}")
    return result


def print_entries(entries: list[Entry], fmt: str) -> None:
    if fmt == "json":
        print(json.dumps([entry.as_dict() for entry in entries], indent=2))
        return
    for number, entry in enumerate(entries, 1):
        head = f"#{number} {entry.kind} {'; '.join(entry.about)}"
        if entry.error:
            print(f"{head}: KEPT: {entry.error}")
        elif entry.failed:
            print(f"{head}: KEPT: records {', '.join(entry.failed)} still not delivered (see notify's logs)")
        else:
            print(f"{head}: delivered ({entry.records} records)")
    kept = sum(not entry.delivered for entry in entries)
    print(f"{len(entries)} kept changes, {len(entries) - kept} delivered, {kept} left in the queue")
