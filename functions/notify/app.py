"""Notify: the findings stream in (partial batch response; a record whose retries are spent is parked whole
in the undelivered queue), messages out; or, on schedule, the digest, and the messages held for owners
who can now be reached."""

import os
from collections.abc import Mapping
from datetime import timedelta
from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext

from guardian import clock
from guardian.observability import logger, metrics
from guardian.runtime import from_env


@logger.inject_lambda_context
@metrics.log_metrics
def handler(event: dict[str, Any], context: LambdaContext) -> Mapping[str, Any]:
    guardian, now = from_env(os.environ), clock.now()
    # Each path's modules are imported on its first event, not at cold start: an invocation takes one of them.
    if "Records" in event:
        from guardian.notify import handle_stream

        return handle_stream(guardian, event, now, context)
    deadline = clock.now() + timedelta(milliseconds=context.get_remaining_time_in_millis())
    if event.get("digest"):
        from guardian.digest import digest

        return digest(guardian, now, deadline).as_dict()
    if event.get("held"):
        from guardian.held import release_held

        return release_held(guardian, now, deadline).as_dict()
    raise ValueError(
        "expected DynamoDB stream records, the digest schedule's {\"digest\": true} or the HeldMessages schedule's"
        ' {"held": true}'
    )
