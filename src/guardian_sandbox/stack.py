"""The stack, run locally: template.yaml's table in the sandbox, its functions invoked in-process with
the environment the template gives them, and events routed by the template's own rule patterns."""

import contextlib
import importlib.util
import json
import os
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from types import ModuleType
from typing import Any, cast

from botocore.exceptions import ClientError
from moto.events.models import EventPattern
from moto.events.utils import EventMessageType

from guardian.aws import AwsClients
from guardian.runtime import forget_cached
from guardian.settings import Settings
from guardian_sandbox import cloudtrail, sns_email
from guardian_sandbox.state_machine import Execution, Invoker, StateMachine
from guardian_sandbox.template import Rule, Template, template

SANDBOX_ACCOUNT = "123456789012"
STACK_NAME = "studio-cost-guardian"
TABLE_NAME = STACK_NAME
PARKED_QUEUE = f"{STACK_NAME}-parked"
UNDELIVERED_QUEUE = f"{STACK_NAME}-undelivered"
MAILBOX_QUEUE = f"{STACK_NAME}-mailbox"  # subscribed to the topic: what email subscribers would get
SCHEDULE_GROUP = f"{STACK_NAME}-evaluations"
SLACK_SECRET = f"{STACK_NAME}/slack-webhook"
REPORTS_BUCKET = f"{STACK_NAME}-reports-{SANDBOX_ACCOUNT}"
# What the sandbox cannot offer, replaced: no Price List API in moto, so the bundled prices.
SANDBOX_OVERRIDES = {"PRICE_SOURCE": "bundled", "AWS_ACCOUNT_ID_ENDPOINT_MODE": "disabled"}


@dataclass(frozen=True)
class LambdaContext:
    """What Powertools reads from a Lambda context."""

    function_name: str
    aws_request_id: str
    memory_limit_in_mb: int = 512
    invoked_function_arn: str = ""
    function_version: str = "$LATEST"
    log_group_name: str = ""
    log_stream_name: str = ""

    def get_remaining_time_in_millis(self) -> int:
        return 60_000


@dataclass(frozen=True)
class Delivery:
    rule: Rule
    result: Any = None
    error: Exception | None = None


class SandboxStack:
    def __init__(
        self,
        clients: AwsClients,
        stack_template: Template | None = None,
        table_name: str = TABLE_NAME,
        parameters: dict[str, str] | None = None,
        confirm_subscriptions_automatically: bool | None = None,
    ):
        """``parameters``: environment the stack's parameters would set (REMEDIATION_MODE=enforce, say).
        ``confirm_subscriptions_automatically``: True, every email subscription is confirmed as it is made, as if
        its owner clicked SNS's link at once; False, it stays pending, as on AWS, until
        :meth:`confirm_subscription`; None (the default), as the sandbox has it (False in a new one; a stack
        deployed again on a served sandbox, as the CLI's commands do, keeps the mode)."""
        self.clients = clients
        self._confirm_automatically = confirm_subscriptions_automatically
        self.parameters = dict(parameters or {})
        self.template = stack_template or template()
        self.table_name = table_name
        self._modules: dict[str, ModuleType] = {}
        self._patterns = [(rule, EventPattern.load(rule.pattern_json)) for rule in self.template.rules()]
        self._stream = self.template.stream_event("NotifyFunction")
        self._stream_positions: dict[str, str] = {}
        self._shard_of: dict[str, str] = {}  # each stream record's shard, for Lambda's on-failure records
        self.last_stream_batch: list[dict[str, Any]] = []
        forget_cached()  # functions keep clients across invocations; this stack may be a new sandbox

    def deploy(self, trail: bool = True) -> "SandboxStack":
        """Create the template's table and parking queue in the sandbox (kept if already there). ``trail``: the
        account also gets a logging multi-region trail, as a real account where the stack runs has (without
        one, no "AWS API Call via CloudTrail" event reaches the bus; the services' own events still do)."""
        if trail:
            cloudtrail.ensure_trail(self.clients)
        definition = self.template.table_definition() | {"TableName": self.table_name}
        _unless_there(self.clients("dynamodb").create_table, "ResourceInUseException", **definition)
        self.parked_queue_url = self.clients("sqs").create_queue(QueueName=PARKED_QUEUE)["QueueUrl"]
        self.undelivered_queue_url = self.clients("sqs").create_queue(QueueName=UNDELIVERED_QUEUE)["QueueUrl"]
        _unless_there(self.clients("scheduler").create_schedule_group, "ConflictException", Name=SCHEDULE_GROUP)
        sns, sqs = self.clients("sns"), self.clients("sqs")
        self.topic_arn = sns.create_topic(Name=f"{STACK_NAME}-alerts")["TopicArn"]
        self.mailbox_url = sqs.create_queue(QueueName=MAILBOX_QUEUE)["QueueUrl"]
        mailbox_arn = sqs.get_queue_attributes(QueueUrl=self.mailbox_url, AttributeNames=["QueueArn"])["Attributes"][
            "QueueArn"
        ]
        sns.subscribe(TopicArn=self.topic_arn, Protocol="sqs", Endpoint=mailbox_arn)
        if self._confirm_automatically is not None:
            sns_email.set_confirm_automatically(self.clients, self._confirm_automatically)
        _unless_there(self.clients("s3").create_bucket, "BucketAlreadyOwnedByYou", Bucket=REPORTS_BUCKET)
        return self

    @property
    def confirm_subscriptions_automatically(self) -> bool | None:
        return self._confirm_automatically

    @confirm_subscriptions_automatically.setter
    def confirm_subscriptions_automatically(self, value: bool) -> None:
        self._confirm_automatically = value
        if hasattr(self, "topic_arn"):  # deployed: the sandbox is told now
            sns_email.set_confirm_automatically(self.clients, value)

    def confirm_subscription(self, address: str) -> None:
        """What the person at ``address`` does with SNS's confirmation emails: follows each link (ConfirmSubscription
        with its token), confirming every pending email subscription of theirs."""
        sns = self.clients("sns")
        for topic_arn, token in sns_email.pending_tokens(self.clients, address):
            sns.confirm_subscription(TopicArn=topic_arn, Token=token)

    def use_slack(self, webhook_url: str) -> None:
        """Store a Slack webhook as the stack would (Secrets Manager) and hand its ARN to the functions."""
        secrets = self.clients("secretsmanager")
        try:
            arn = secrets.create_secret(Name=SLACK_SECRET, SecretString=webhook_url)["ARN"]
        except ClientError as error:
            if error.response["Error"]["Code"] != "ResourceExistsException":
                raise
            arn = secrets.put_secret_value(SecretId=SLACK_SECRET, SecretString=webhook_url)["ARN"]
        self.parameters["SLACK_WEBHOOK_SECRET"] = arn

    def subscribe_team(self, address: str) -> None:
        """What the TeamEmail parameter makes: an email subscription with the template's filter policy, confirmed
        (whoever deployed the stack followed the link)."""
        properties = self.template.resources["TeamSubscription"]["Properties"]
        self.clients("sns").subscribe(
            TopicArn=self.topic_arn,
            Protocol="email",
            Endpoint=address,
            Attributes={
                "FilterPolicy": json.dumps(properties["FilterPolicy"]),
                "FilterPolicyScope": properties["FilterPolicyScope"],
            },
        )
        self.confirm_subscription(address)

    def mailbox(self) -> list[dict[str, Any]]:
        """Messages published to the topic since last asked: subject, text, attributes, and the email
        addresses it reached when it was published: the confirmed subscriptions whose filter policy let it
        through (SNS's own matching, as moto has it; a pending subscription receives nothing)."""
        sqs = self.clients("sqs")
        bodies: list[dict[str, Any]] = []
        while True:
            batch = sqs.receive_message(QueueUrl=self.mailbox_url, MaxNumberOfMessages=10).get("Messages", [])
            if not batch:
                break
            for message in batch:
                bodies.append(json.loads(message["Body"]))
                sqs.delete_message(QueueUrl=self.mailbox_url, ReceiptHandle=message["ReceiptHandle"])
        reached = sns_email.recipients(self.clients, [body["MessageId"] for body in bodies]) if bodies else {}
        return [
            {
                "subject": body.get("Subject"),
                "text": body["Message"],
                "attributes": {k: v["Value"] for k, v in body.get("MessageAttributes", {}).items()},
                "to": reached.get(body["MessageId"], []),
            }
            for body in bodies
        ]

    def pump_streams(self) -> list[Any]:
        """What Lambda's DynamoDB event source mapping does: new stream records, filtered by the template's
        FilterCriteria, to the notify function in a batch; failed records retried as often as the template
        says, then Lambda's on-failure record (which names the batch, not its content) sent to the
        undelivered queue."""
        records = self.stream_batch()
        self.last_stream_batch = records or self.last_stream_batch
        results = []
        attempts = 0
        for _ in range(1 + self._stream["MaximumRetryAttempts"]):
            if not records:
                break
            result = self.invoke("NotifyFunction", {"Records": records})
            results.append(result)
            attempts += 1
            failed = {f["itemIdentifier"] for f in result.get("batchItemFailures", [])}
            records = [r for r in records if r["dynamodb"]["SequenceNumber"] in failed]
        if records:
            body = json.dumps(self._on_failure_record(records, attempts))
            self.clients("sqs").send_message(QueueUrl=self.undelivered_queue_url, MessageBody=body)
        return results

    def _on_failure_record(self, records: list[dict[str, Any]], attempts: int) -> dict[str, Any]:
        """What Lambda sends a stream's on-failure destination when a batch's retries are spent: metadata only."""
        sequences = sorted((r["dynamodb"]["SequenceNumber"] for r in records), key=int)
        arrivals = sorted(r["dynamodb"].get("ApproximateCreationDateTime", 0) for r in records)
        return {
            "requestContext": {
                "requestId": str(uuid.uuid4()),
                "functionArn": f"arn:aws:lambda:{self.clients.region}:{SANDBOX_ACCOUNT}:function:NotifyFunction",
                "condition": "RetryAttemptsExhausted",
                "approximateInvokeCount": attempts,
            },
            "responseContext": {"statusCode": 200, "executedVersion": "$LATEST", "functionError": ""},
            "version": "1.0",
            "timestamp": datetime.now(UTC).isoformat(),
            "DDBStreamBatchInfo": {
                "shardId": self._shard_of[sequences[0]],
                "startSequenceNumber": sequences[0],
                "endSequenceNumber": sequences[-1],
                "approximateArrivalOfFirstRecord": datetime.fromtimestamp(arrivals[0], UTC).isoformat(),
                "approximateArrivalOfLastRecord": datetime.fromtimestamp(arrivals[-1], UTC).isoformat(),
                "batchSize": len(records),
                "streamArn": records[0]["eventSourceARN"],
            },
        }

    def stream_batch(self) -> list[dict[str, Any]]:
        """The stream's new records that pass the template's FilterCriteria for the notify function: as Lambda
        does, a record passes if any filter matches it, and what passes none is dropped, never delivered."""
        patterns = [EventPattern.load(f["Pattern"]) for f in self._stream["FilterCriteria"]["Filters"]]
        return [r for r in self._new_stream_records() if any(_matches(p, r) for p in patterns)]

    def redeliver_last_batch(self) -> Any:
        """Streams deliver at least once: the last batch, handed to the notify function again."""
        return self.invoke("NotifyFunction", {"Records": self.last_stream_batch})

    def _new_stream_records(self) -> list[dict[str, Any]]:
        streams = self.clients("dynamodbstreams")
        stream_arn = self.clients("dynamodb").describe_table(TableName=self.table_name)["Table"]["LatestStreamArn"]
        records = []
        for shard in streams.describe_stream(StreamArn=stream_arn)["StreamDescription"]["Shards"]:
            shard_id = shard["ShardId"]
            after = self._stream_positions.get(shard_id)
            iterator = streams.get_shard_iterator(
                StreamArn=stream_arn,
                ShardId=shard_id,
                **(
                    {"ShardIteratorType": "AFTER_SEQUENCE_NUMBER", "SequenceNumber": after}
                    if after
                    else {"ShardIteratorType": "TRIM_HORIZON"}
                ),
            )["ShardIterator"]
            while iterator:
                page = streams.get_records(ShardIterator=iterator, Limit=1000)
                records += [_as_lambda_delivers(r, stream_arn) for r in page["Records"]]
                self._shard_of |= {r["dynamodb"]["SequenceNumber"]: shard_id for r in page["Records"]}
                if not page["Records"]:
                    break
                iterator = page.get("NextShardIterator")
            if records:
                self._stream_positions[shard_id] = records[-1]["dynamodb"]["SequenceNumber"]
        return records

    def fire_due_schedules(self, now: datetime) -> list[tuple[dict[str, Any], Any]]:
        """What EventBridge Scheduler would do by ``now``: invoke each due one-time schedule's target with
        its input, then delete the schedule (ActionAfterCompletion=DELETE). Returns (input, result) pairs."""
        scheduler = self.clients("scheduler")
        targets = {self.environment("SweepFunction")["EVALUATE_TARGET_ARN"]: "SweepFunction"}
        fan_out = self.state_machine_arn() if "SweepFanOut" in self.template.resources else None
        due = []
        for page in scheduler.get_paginator("list_schedules").paginate(GroupName=SCHEDULE_GROUP):
            for summary in page["Schedules"]:
                schedule = scheduler.get_schedule(Name=summary["Name"], GroupName=SCHEDULE_GROUP)
                at = datetime.fromisoformat(schedule["ScheduleExpression"][3:-1]).replace(tzinfo=UTC)
                if at <= now:
                    due.append((at, summary["Name"], schedule["Target"]))
        fired = []
        for _, name, target in sorted(due, key=lambda d: (d[0], d[1])):  # in time order, as Scheduler fires them
            payload = json.loads(target.get("Input") or "{}")
            if target["Arn"] == fan_out:  # a schedule that starts the fan-out runs template.yaml's state machine
                result: Any = self.run_sweep_fanout(payload)
            else:
                result = self.invoke(targets[target["Arn"]], payload)
            scheduler.delete_schedule(Name=name, GroupName=SCHEDULE_GROUP)
            fired.append((payload, result))
        return fired

    def function_arn(self, function: str) -> str:
        """A function's ARN as the stack would make it (its FunctionName where the template names it)."""
        name = self.template.functions()[function]["Properties"].get("FunctionName")
        resolved = self.template.resolve(name, self._refs()) if name else function
        return f"arn:aws:lambda:{self.clients.region}:{SANDBOX_ACCOUNT}:function:{resolved}"

    def invoke_by_arn(self, function_arn: str, payload: Any) -> Any:
        """What Lambda does with an invocation of one of the stack's functions by ARN (a state machine's task)."""
        by_arn = {self.function_arn(function): function for function in self.template.functions()}
        if function_arn not in by_arn:
            raise KeyError(f"no function {function_arn} in the stack")
        return self.invoke(by_arn[function_arn], payload)

    def state_machine(self, name: str = "SweepFanOut", invoke: Invoker | None = None) -> StateMachine:
        """template.yaml's state machine, its Lambda tasks invoking the stack's functions in-process (``invoke``:
        another way to, around them: a fault injected, say)."""
        refs = self._refs() | {f"{function}.Arn": self.function_arn(function) for function in self.template.functions()}
        return StateMachine(self.template.state_machine_definition(name, refs), invoke or self.invoke_by_arn)

    def run_sweep_fanout(self, execution_input: Any = None, invoke: Invoker | None = None) -> Execution:
        """One execution of the hub's sweep fan-out (SweepFanOut), as its hourly schedule starts it."""
        return self.state_machine("SweepFanOut", invoke).run(execution_input)

    def sweep_hourly(self) -> Any:
        """What the hourly schedule starts: in a hub (WatchesMembers), an execution of the fan-out
        (SweepFanOutSchedule); otherwise the sweep function (its own Hourly schedule, off in a hub)."""
        if Settings.from_env(self.environment("SweepFunction")).watches_members:
            return self.run_sweep_fanout()
        return self.invoke("SweepFunction", {})

    def state_machine_arn(self, name: str = "SweepFanOut") -> str:
        machine = self.template.resolve(self.template.resources[name]["Properties"]["StateMachineName"], self._refs())
        return f"arn:aws:states:{self.clients.region}:{SANDBOX_ACCOUNT}:stateMachine:{machine}"

    def _refs(self) -> dict[str, str]:
        return {
            "AWS::AccountId": SANDBOX_ACCOUNT,
            "AWS::Region": self.clients.region,
            "AWS::Partition": "aws",
            "AWS::StackName": STACK_NAME,
        }

    def environment(self, function: str) -> dict[str, str]:
        refs = {
            "GuardianTable": self.table_name,
            "AlertsTopic": getattr(self, "topic_arn", ""),
            "ReportsBucket": REPORTS_BUCKET,
            "EvaluationSchedules": SCHEDULE_GROUP,
            "SchedulerRole.Arn": f"arn:aws:iam::{SANDBOX_ACCOUNT}:role/{STACK_NAME}-scheduler",
            "FailedRunsQueue.Arn": f"arn:aws:sqs:{self.clients.region}:{SANDBOX_ACCOUNT}:{STACK_NAME}-failed-runs",
            "UndeliveredQueue": getattr(self, "undelivered_queue_url", ""),
            "AWS::AccountId": SANDBOX_ACCOUNT,
            "AWS::Region": self.clients.region,
            "AWS::Partition": "aws",
            "AWS::StackName": STACK_NAME,
        }
        env = self.template.environment(function, refs) | SANDBOX_OVERRIDES | self.parameters
        env |= {"AWS_REGION": self.clients.region, "AWS_DEFAULT_REGION": self.clients.region}
        if self.clients.endpoint_url:
            env["AWS_ENDPOINT_URL"] = self.clients.endpoint_url
        return env

    def route(self, event: dict[str, Any]) -> list[Rule]:
        """The rules of template.yaml whose pattern matches the event (moto's EventBridge matcher)."""
        return [rule for rule, pattern in self._patterns if _matches(pattern, event)]

    def deliver(self, event: dict[str, Any]) -> list[Delivery]:
        """Invoke every function whose rule matches, as EventBridge would; errors are returned, not raised."""
        deliveries = []
        for rule in self.route(event):
            try:
                deliveries.append(Delivery(rule, self.invoke(rule.function, event)))
            except Exception as error:  # a function's failure is the delivery's outcome, reported
                self.park(rule.function, event, error)
                deliveries.append(Delivery(rule, error=error))
        return deliveries

    def park(self, function: str, event: Any, error: Exception) -> None:
        """What Lambda's on-failure destination does after the retries: the event, kept for replay."""
        record = {
            "version": "1.0",
            "requestContext": {
                "functionArn": f"arn:aws:lambda:{self.clients.region}:{SANDBOX_ACCOUNT}:function:{function}",
                "condition": "RetriesExhausted",
                "approximateInvokeCount": 3,
            },
            "requestPayload": event,
            "responseContext": {"statusCode": 200, "functionError": "Unhandled"},
            "responsePayload": {"errorType": type(error).__name__, "errorMessage": str(error)},
        }
        self.clients("sqs").send_message(QueueUrl=self.parked_queue_url, MessageBody=json.dumps(record))

    def parked(self) -> list[dict[str, Any]]:
        """The parked events, without consuming them."""
        attributes = self.clients("sqs").get_queue_attributes(
            QueueUrl=self.parked_queue_url, AttributeNames=["ApproximateNumberOfMessages"]
        )
        count = int(attributes["Attributes"]["ApproximateNumberOfMessages"])
        messages = self.clients("sqs").receive_message(
            QueueUrl=self.parked_queue_url, MaxNumberOfMessages=min(max(count, 1), 10), VisibilityTimeout=0
        )
        return [json.loads(m["Body"]) for m in messages.get("Messages", [])]

    def invoke(self, function: str, event: Any, context: Any = None) -> Any:
        """``context``: a Lambda context of the caller's (the bench's, say, with its modelled time left)."""
        handler = self._module(function).handler
        context = context or LambdaContext(
            function_name=function,
            aws_request_id=str(uuid.uuid4()),
            invoked_function_arn=f"arn:aws:lambda:{self.clients.region}:{SANDBOX_ACCOUNT}:function:{function}",
        )
        with _environment(self.environment(function)), cloudtrail.calls_by(function_identity(function)):
            return handler(json.loads(json.dumps(event)), context)

    def _module(self, function: str) -> ModuleType:
        if function not in self._modules:
            path = self.template.function_dir(function) / "app.py"
            spec = importlib.util.spec_from_file_location(f"guardian_functions.{function}", path)
            if spec is None or spec.loader is None:
                raise ImportError(f"no module in {path}")
            module = importlib.util.module_from_spec(spec)
            spec.loader.exec_module(module)
            self._modules[function] = module
        return self._modules[function]


def function_identity(function: str, account: str = SANDBOX_ACCOUNT) -> dict[str, Any]:
    """A guardian function's session of its execution role, as CloudTrail records Lambda's calls."""
    role = f"{STACK_NAME}-{function}Role"
    return {
        "type": "AssumedRole",
        "principalId": f"AROASANDBOX{function.upper()[:12]}:{STACK_NAME}-{function}",
        "arn": f"arn:aws:sts::{account}:assumed-role/{role}/{STACK_NAME}-{function}",
        "accountId": account,
        "sessionContext": {
            "sessionIssuer": {
                "type": "Role",
                "principalId": f"AROASANDBOX{function.upper()[:12]}",
                "arn": f"arn:aws:iam::{account}:role/{role}",
                "accountId": account,
                "userName": role,
            },
            "attributes": {"mfaAuthenticated": "false"},
        },
    }


def _matches(pattern: EventPattern, event: dict[str, Any]) -> bool:
    """moto's EventBridge matcher, which takes any JSON object (a stream record too), not only an event."""
    return pattern.matches_event(cast(EventMessageType, event))


def _unless_there(create: Any, already: str, **request: Any) -> None:
    """Create something the stack has, unless an earlier deploy made it (a served sandbox keeps state)."""
    try:
        create(**request)
    except ClientError as error:
        if error.response["Error"]["Code"] != already:
            raise


def _as_lambda_delivers(record: dict[str, Any], stream_arn: str) -> dict[str, Any]:
    """A GetRecords record in the shape Lambda hands a function: epoch-second times, the stream's ARN."""
    change = dict(record["dynamodb"])
    if isinstance(change.get("ApproximateCreationDateTime"), datetime):
        change["ApproximateCreationDateTime"] = change["ApproximateCreationDateTime"].timestamp()
    return json.loads(json.dumps(record | {"dynamodb": change, "eventSourceARN": stream_arn}, default=str))


@contextlib.contextmanager
def _environment(values: dict[str, str]) -> Iterator[None]:
    saved = {key: os.environ.get(key) for key in values}
    os.environ.update(values)
    try:
        yield
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value
