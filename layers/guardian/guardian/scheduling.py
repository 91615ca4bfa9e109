"""Evaluations at a moment: when a space stops, the event path schedules the orphan check for the
instant its grace ends (a one-time EventBridge Scheduler schedule that deletes itself after it fires),
so the finding opens within a minute of it rather than at the next hourly sweep."""

import hashlib
import json
from datetime import datetime, timedelta
from typing import Any

from botocore.exceptions import ClientError

from guardian.observability import logger
from guardian.runtime import Guardian

PERMISSIONS = ("scheduler:CreateSchedule", "iam:PassRole")
EARLIEST = timedelta(minutes=1)  # a moment already past is evaluated as soon as Scheduler can
# Scheduler's default is 185 retries over a day, then the run is dropped unseen: retry briefly, then park.
RETRY_POLICY = {"MaximumRetryAttempts": 2, "MaximumEventAgeInSeconds": 3600}


def schedule_evaluation(guardian: Guardian, at: datetime, scope: dict[str, Any], key: str, now: datetime) -> str | None:
    """Schedule ``{"evaluate": scope}`` for the sweep function at ``at``; idempotent per ``key``.
    Returns the schedule's name, or None where the stack does not schedule (no target configured)."""
    settings = guardian.settings
    if not (settings.schedule_group and settings.evaluate_target_arn and settings.scheduler_role_arn):
        return None
    at = max(at, now + EARLIEST)
    name = "evaluate-" + hashlib.sha256(key.encode()).hexdigest()[:32]
    try:
        guardian.clients("scheduler").create_schedule(
            Name=name,
            GroupName=settings.schedule_group,
            ScheduleExpression=f"at({at:%Y-%m-%dT%H:%M:%S})",
            ScheduleExpressionTimezone="UTC",
            FlexibleTimeWindow={"Mode": "OFF"},
            ActionAfterCompletion="DELETE",
            Target={
                "Arn": settings.evaluate_target_arn,
                "RoleArn": settings.scheduler_role_arn,
                "Input": json.dumps({"evaluate": scope | {"at": at.isoformat()}}),
                "RetryPolicy": RETRY_POLICY,
                **(
                    {"DeadLetterConfig": {"Arn": dead_letter}}
                    if (dead_letter := settings.evaluation_dead_letter_arn)
                    else {}
                ),
            },
        )
    except ClientError as error:
        if error.response["Error"]["Code"] != "ConflictException":  # scheduled already: a duplicate event
            logger.warning("evaluation not scheduled", extra={"scope": scope, "error": str(error)})
            return None
    logger.info("evaluation scheduled", extra={"at": at.isoformat(), "scope": scope, "schedule": name})
    return name
