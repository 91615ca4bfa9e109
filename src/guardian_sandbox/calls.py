"""Counting the AWS calls the guardian makes: for the permission tests and the benchmark.

Every client the core uses comes from :class:`guardian.aws.AwsClients`; while a recorder is active,
each client handed out reports its calls (service, operation) before they are sent.
"""

import contextlib
from collections import Counter
from collections.abc import Iterator
from typing import Any

from guardian import aws
from guardian.runtime import forget_cached

# boto3 service names whose IAM prefix differs.
IAM_PREFIX = {"emr": "elasticmapreduce", "resourcegroupstaggingapi": "tag"}
# Calls authorised as other actions: a DynamoDB transaction is authorised per item it writes.
AUTHORISED_AS = {"dynamodb:TransactWriteItems": "dynamodb:PutItem", "s3:ListBuckets": "s3:ListAllMyBuckets"}
# Calls that need a further permission no call shows: a schedule hands its target role to Scheduler.
ALSO_NEEDS = {"scheduler:CreateSchedule": "iam:PassRole"}


class CallRecorder:
    def __init__(self) -> None:
        self.calls: list[tuple[str, str]] = []

    def _record(self, service: str) -> Any:
        def hook(model: Any, **_: Any) -> None:
            self.calls.append((service, model.name))

        return hook

    @property
    def counts(self) -> Counter:
        return Counter(f"{service}:{operation}" for service, operation in self.calls)

    def iam_actions(self, exclude_services: tuple[str, ...] = ()) -> set[str]:
        actions = set()
        for service, operation in self.calls:
            if service in exclude_services:
                continue
            action = f"{IAM_PREFIX.get(service, service)}:{operation}"
            actions.add(AUTHORISED_AS.get(action, action))
            if action in ALSO_NEEDS:
                actions.add(ALSO_NEEDS[action])
        return actions

    def total(self, service: str | None = None) -> int:
        return sum(1 for s, _ in self.calls if service is None or s == service)


@contextlib.contextmanager
def recording() -> Iterator[CallRecorder]:
    recorder = CallRecorder()
    original = aws.AwsClients.__call__

    hooked: dict[int, tuple[Any, Any]] = {}

    def recorded_client(self: aws.AwsClients, service: str, region: str | None = None) -> Any:
        client = original(self, service, region)
        if id(client) not in hooked:
            hook = recorder._record(service)
            client.meta.events.register("before-call", hook)
            hooked[id(client)] = (client, hook)
        return client

    aws.AwsClients.__call__ = recorded_client  # type: ignore[method-assign]
    forget_cached()  # functions make their clients afresh, so none escapes the recording
    try:
        yield recorder
    finally:
        aws.AwsClients.__call__ = original  # type: ignore[method-assign]
        for client, hook in hooked.values():
            client.meta.events.unregister("before-call", hook)
