"""AWS faults on demand for the sweep's fault tests (test_sweep_faults.py, test_scheduled_checks.py),
injected where botocore raises them: a ``before-call`` hook that raises a ClientError with the service's
real error code (or a ReadTimeoutError: the request never got an answer), and an ``after-call`` hook that
raises a ReadTimeoutError after the call succeeded (it committed, then the answer was lost:
commit-then-timeout). Faults raised here are past botocore's own retries: what the code sees is what
botocore gives up with.

A fault names an operation ("dynamodb.PutItem": the event name's service and operation), which of its
calls fails (counted from 0 while the injector is active), what fails it, and optionally which calls it
picks (a predicate on the call's parameters)."""

import contextlib
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

from botocore.exceptions import ClientError, ReadTimeoutError

from guardian import aws
from guardian.runtime import forget_cached

# A ReadTimeoutError before the call reached the service, or a commit whose answer was lost.
TIMEOUT = "ReadTimeout"
COMMIT_THEN_TIMEOUT = "CommitThenTimeout"

# The error codes each service really answers with when it is throttled or unwell.
THROTTLED = {
    "sagemaker": ["ThrottlingException", "InternalFailure", "ServiceUnavailable"],
    "emr": ["ThrottlingException", "InternalServerError"],
    "resource-groups-tagging-api": ["ThrottledException", "InternalServiceException"],
    "cloudwatch": ["Throttling", "InternalServiceError", "ServiceUnavailable"],
    "dynamodb": [
        "ProvisionedThroughputExceededException",
        "ThrottlingException",
        "RequestLimitExceeded",
        "InternalServerError",
    ],
    "scheduler": ["ThrottlingException", "InternalServerException", "ServiceUnavailable"],
    # notify's (test_event_chaos.py): email, parking and the Slack secret
    "sns": ["Throttling", "InternalError"],
    "sqs": ["RequestThrottled", "InternalError"],
    "secrets-manager": ["ThrottlingException", "InternalServiceError"],
}
STATUS = {
    "InternalFailure": 500,
    "InternalServerError": 500,
    "InternalServiceError": 500,
    "InternalError": 500,
    "RequestThrottled": 403,
}


def error_kinds(operation: str, writes: bool) -> list[str]:
    """What can fail a call of ``operation``: its service's codes, a timeout, and (a write) commit-then-timeout."""
    service = operation.split(".")[0]
    return THROTTLED[service] + [TIMEOUT] + ([COMMIT_THEN_TIMEOUT] if writes else [])


@dataclass(frozen=True)
class Fault:
    operation: str  # "<service id>.<Operation>", as botocore's event names spell them: "sagemaker.ListApps"
    call: int  # which of its calls (0 = the first while the injector is active)
    kind: str  # an error code, TIMEOUT, or COMMIT_THEN_TIMEOUT
    when: Callable[[dict[str, Any]], bool] | None = field(default=None, compare=False)  # which calls count

    def __repr__(self) -> str:
        return f"Fault({self.operation!r}, {self.call}, {self.kind!r}{', when=...' if self.when else ''})"


def client_error(code: str, operation: str) -> ClientError:
    status = STATUS.get(code, 503 if "Unavailable" in code else 400)
    response: Any = {
        "Error": {"Code": code, "Message": f"injected {code}"},
        "ResponseMetadata": {"HTTPStatusCode": status},
    }
    return ClientError(response, operation)


class Injector:
    def __init__(self, faults: list[Fault]) -> None:
        self.faults = list(faults)
        self.calls: Counter[str] = Counter()
        self.injected: list[Fault] = []

    def _matches(self, operation: str, params: dict[str, Any]) -> Fault | None:
        """The fault for this call, if any. Calls are counted per operation, and for a fault with a
        predicate, per the calls it picks."""
        picked = [f for f in self.faults if f.operation == operation and (f.when is None or f.when(params))]
        counters = {fault: f"{operation}#{id(fault.when)}" if fault.when else operation for fault in picked}
        found = next((fault for fault in picked if self.calls[counters[fault]] == fault.call), None)
        for counter in set(counters.values()) | {operation}:
            self.calls[counter] += 1
        return found

    def parameters(self, params: dict[str, Any], context: dict[str, Any], **_: Any) -> None:
        context["api_params"] = params  # before-call sees the serialized request; the predicates want these

    def before(self, event_name: str, context: dict[str, Any], **_: Any) -> None:
        operation = event_name.removeprefix("before-call.")
        fault = self._matches(operation, context.get("api_params", {}))
        if fault is None:
            return
        self.injected.append(fault)
        if fault.kind == COMMIT_THEN_TIMEOUT:
            context["commit_then_timeout"] = True
        elif fault.kind == TIMEOUT:
            raise ReadTimeoutError(endpoint_url=f"https://{operation.split('.')[0]}.us-east-1.amazonaws.com/")
        else:
            raise client_error(fault.kind, operation.split(".")[1])

    def after(self, event_name: str, http_response: Any, context: dict[str, Any], **_: Any) -> None:
        if context.pop("commit_then_timeout", False) and http_response.status_code < 300:
            raise ReadTimeoutError(endpoint_url=f"https://{event_name.split('.')[1]}.us-east-1.amazonaws.com/")


@contextlib.contextmanager
def injected(faults: list[Fault], spare: aws.AwsClients | None = None) -> Iterator[Injector]:
    """While the block runs, every client the guardian makes (the functions' included) carries the faults;
    but the clients of ``spare`` (the sandbox stack's own: its stream reader, its parking of events, a test's
    reads), which are Lambda's and the test's, not the guardian's dependencies."""
    injector = Injector(faults)
    original = aws.AwsClients.__call__
    hooked: dict[int, Any] = {}

    def client(self: aws.AwsClients, service: str, region: str | None = None) -> Any:
        made = original(self, service, region)
        if self is not spare and id(made) not in hooked:
            made.meta.events.register("before-parameter-build", injector.parameters)
            made.meta.events.register("before-call", injector.before)
            made.meta.events.register("after-call", injector.after)
            hooked[id(made)] = made
        return made

    aws.AwsClients.__call__ = client  # type: ignore[method-assign]
    forget_cached()  # the functions make their clients afresh, so each carries the faults
    try:
        yield injector
    finally:
        aws.AwsClients.__call__ = original  # type: ignore[method-assign]
        for made in hooked.values():
            made.meta.events.unregister("before-parameter-build", injector.parameters)
            made.meta.events.unregister("before-call", injector.before)
            made.meta.events.unregister("after-call", injector.after)
        forget_cached()
