"""Lambda's clock on the sandbox, modelled from the calls made: moto answers in microseconds, AWS does not.

An invocation's remaining time is its limit less, for each call made since it started, an assumed latency:
AWS_CALL_SECONDS for a SageMaker, EMR, tagging, CloudWatch, CloudTrail or Scheduler call (an assumption, a
round figure for a regional control-plane call that is read-only and small; the bench prints it), and
TABLE_CALL_SECONDS for a DynamoDB call (DynamoDB documents single-digit millisecond latency). The guardian's
own computing is not counted (it is small beside the calls, and the emulator's own time would swamp it).
"""

from collections.abc import Callable
from dataclasses import dataclass, field

from guardian_sandbox.calls import CallRecorder
from guardian_sandbox.stack import LambdaContext

AWS_CALL_SECONDS = 0.1
TABLE_CALL_SECONDS = 0.01
LAMBDA_LIMIT_SECONDS = 900.0  # the sweep function's Timeout (template.yaml), Lambda's maximum


@dataclass(frozen=True)
class ModelledContext(LambdaContext):
    """A Lambda context whose remaining time is what ``remaining_seconds`` says."""

    remaining_seconds: Callable[[], float] = field(default=lambda: LAMBDA_LIMIT_SECONDS)

    def get_remaining_time_in_millis(self) -> int:
        return max(0, int(self.remaining_seconds() * 1000))


def seconds_of(calls: list[tuple[str, str]]) -> float:
    """The modelled AWS time of ``calls`` ((service, operation), as a CallRecorder holds them)."""
    return sum(TABLE_CALL_SECONDS if service == "dynamodb" else AWS_CALL_SECONDS for service, _ in calls)


def invocation(recorder: CallRecorder, function: str, limit: float = LAMBDA_LIMIT_SECONDS) -> ModelledContext:
    """A context for one invocation starting now: ``limit`` seconds less the modelled time of the calls
    ``recorder`` hears from here on."""
    start = len(recorder.calls)
    return ModelledContext(
        function_name=function,
        aws_request_id=f"modelled-{start}",
        remaining_seconds=lambda: limit - seconds_of(recorder.calls[start:]),
    )
