"""The stack, run locally: template.yaml's table in the sandbox, its functions invoked in-process with
the environment the template gives them, and events routed by the template's own rule patterns."""

import contextlib
import importlib.util
import json
import os
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from types import ModuleType
from typing import Any

from botocore.exceptions import ClientError
from guardian.aws import AwsClients
from guardian.runtime import forget_cached
from moto.events.models import EventPattern

from guardian_sandbox.template import Rule, Template, template

SANDBOX_ACCOUNT = "123456789012"
TABLE_NAME = "studio-cost-guardian"
PARKED_QUEUE = "studio-cost-guardian-parked"


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


class LocalStack:
    def __init__(self, clients: AwsClients, stack_template: Template | None = None, table_name: str = TABLE_NAME):
        self.clients = clients
        self.template = stack_template or template()
        self.table_name = table_name
        self._modules: dict[str, ModuleType] = {}
        self._patterns = [(rule, EventPattern.load(rule.pattern_json)) for rule in self.template.rules()]
        forget_cached()  # functions keep clients across invocations; this stack may be a new sandbox

    def deploy(self) -> "LocalStack":
        """Create the template's table and parking queue in the sandbox (kept if already there)."""
        definition = self.template.table_definition() | {"TableName": self.table_name}
        try:
            self.clients("dynamodb").create_table(**definition)
        except ClientError as error:
            if error.response["Error"]["Code"] != "ResourceInUseException":
                raise
        self.parked_queue_url = self.clients("sqs").create_queue(QueueName=PARKED_QUEUE)["QueueUrl"]
        return self

    def environment(self, function: str) -> dict[str, str]:
        env = self.template.environment(function, {"GuardianTable": self.table_name, "AWS::AccountId": SANDBOX_ACCOUNT})
        env |= {"AWS_REGION": self.clients.region, "AWS_DEFAULT_REGION": self.clients.region}
        if self.clients.endpoint_url:
            env["AWS_ENDPOINT_URL"] = self.clients.endpoint_url
        return env

    def route(self, event: dict[str, Any]) -> list[Rule]:
        """The rules of template.yaml whose pattern matches the event (moto's EventBridge matcher)."""
        return [rule for rule, pattern in self._patterns if pattern.matches_event(event)]

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

    def invoke(self, function: str, event: Any) -> Any:
        handler = self._module(function).handler
        context = LambdaContext(
            function_name=function,
            aws_request_id=str(uuid.uuid4()),
            invoked_function_arn=f"arn:aws:lambda:{self.clients.region}:{SANDBOX_ACCOUNT}:function:{function}",
        )
        with _environment(self.environment(function)):
            return handler(json.loads(json.dumps(event)), context)

    def _module(self, function: str) -> ModuleType:
        if function not in self._modules:
            path = self.template.function_dir(function) / "app.py"
            spec = importlib.util.spec_from_file_location(f"guardian_functions.{function}", path)
            module = importlib.util.module_from_spec(spec)
            spec.loader.exec_module(module)
            self._modules[function] = module
        return self._modules[function]


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
