"""Checks at a moment: when a space stops, the orphan check is due the instant its grace ends. A one-time
EventBridge Scheduler schedule (which deletes itself after it fires) runs it then, so the finding opens
within a minute of it rather than at the next hourly sweep.

Nothing depends on the schedule alone. A check is first recorded in the table (an open check, by when it
is due), then scheduled, and its record says so. The sweep reads the open checks: one whose time has come
was judged by the sweep's own evaluation of everything, and is done; one still to come whose schedule could
not be made (Scheduler refused, timed out, or the run ended first) is scheduled again. A check is ensured
from what the table holds (a stopped space, say), never from whether a write changed something, so a write
that committed and then timed out still gets its check on retry.
"""

import hashlib
import json
import time
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError, HTTPClientError
from botocore.exceptions import ConnectionError as ConnectionFailed
from pydantic import BaseModel

from guardian.observability import MetricUnit, logger, metrics
from guardian.runtime import Guardian
from guardian.settings import Settings
from guardian.table import CHECKS_OPEN, check_key, epoch

PERMISSIONS = ("scheduler:CreateSchedule", "iam:PassRole")
EARLIEST = timedelta(minutes=1)  # a moment already past is evaluated as soon as Scheduler can
# Scheduler's default is 185 retries over a day, then the run is dropped unseen: retry briefly, then park.
RETRY_POLICY = {"MaximumRetryAttempts": 2, "MaximumEventAgeInSeconds": 3600}
# botocore retries throttling, 5xx and timeouts already (standard mode); a few more tries, a moment apart,
# for what still looks transient: after that the check stays open in the table for the sweep.
ATTEMPTS = 3
PAUSE_SECONDS = 0.2
TRANSIENT_CODES = frozenset(
    {
        "ThrottlingException",
        "TooManyRequestsException",
        "InternalServerException",
        "InternalServerError",
        "ServiceUnavailable",
        "ServiceUnavailableException",
        "RequestTimeout",
        "RequestTimeoutException",
    }
)
CHECK_RETENTION = timedelta(days=30)  # a check's record outlives its moment this long (TTL)


class CheckState(StrEnum):
    OPEN = "open"  # recorded, not (known to be) scheduled: the sweep schedules it, or runs it when due
    SCHEDULED = "scheduled"  # Scheduler has it; the sweep still settles it should the run never come
    DONE = "done"  # judged: by its schedule, or by a sweep after its moment


class Check(BaseModel):
    """An evaluation of ``scope`` ({"space_arn": ...}, {"owner_arn": ...} or {"resource_arn": ...}) due at
    ``due_at``."""

    name: str  # the schedule's name, derived from the key
    key: str  # what makes it one check: "<space arn>|<activity version>", "<arn>|gone"
    scope: dict[str, str]
    due_at: datetime
    state: CheckState = CheckState.OPEN
    recorded_at: datetime
    settled_at: datetime | None = None
    settled_by: str | None = None  # "schedule" or "sweep"


def schedule_name(key: str) -> str:
    return "evaluate-" + hashlib.sha256(key.encode()).hexdigest()[:32]


def configured(settings: Settings) -> bool:
    """Whether this stack schedules checks (a read-only scan, say, does not)."""
    return bool(settings.schedule_group and settings.evaluate_target_arn and settings.scheduler_role_arn)


def _pause(attempt: int) -> None:
    time.sleep(PAUSE_SECONDS * attempt)


def _transient(error: Exception) -> bool:
    if isinstance(error, ClientError):
        return error.response.get("Error", {}).get("Code") in TRANSIENT_CODES
    return isinstance(error, (ConnectionFailed, HTTPClientError))


def schedule_evaluation(guardian: Guardian, at: datetime, scope: dict[str, Any], key: str, now: datetime) -> str | None:
    """Schedule ``{"evaluate": scope}`` for the sweep function at ``at``; idempotent per ``key``.
    Returns the schedule's name, or None where the stack does not schedule (no target configured) or
    Scheduler would not take it (logged and counted: the caller keeps the check open)."""
    settings = guardian.settings
    if not configured(settings):
        return None
    at = max(at, now + EARLIEST)
    name = schedule_name(key)
    request = {
        "Name": name,
        "GroupName": settings.schedule_group,
        "ScheduleExpression": f"at({at:%Y-%m-%dT%H:%M:%S})",
        "ScheduleExpressionTimezone": "UTC",
        "FlexibleTimeWindow": {"Mode": "OFF"},
        "ActionAfterCompletion": "DELETE",
        "Target": {
            "Arn": settings.evaluate_target_arn,
            "RoleArn": settings.scheduler_role_arn,
            "Input": json.dumps({"evaluate": scope | {"at": at.isoformat(), "check": name}}),
            "RetryPolicy": RETRY_POLICY,
            **(
                {"DeadLetterConfig": {"Arn": dead_letter}}
                if (dead_letter := settings.evaluation_dead_letter_arn)
                else {}
            ),
        },
    }
    for attempt in range(1, ATTEMPTS + 1):
        try:
            guardian.clients("scheduler").create_schedule(**request)
            break
        except ClientError as error:
            if error.response["Error"]["Code"] == "ConflictException":
                break  # scheduled already: a duplicate event, or an earlier try that timed out after it took
            failure: Exception = error
        except BotoCoreError as error:  # a timeout or a broken connection: it may have taken, or not
            failure = error
        if attempt == ATTEMPTS or not _transient(failure):
            logger.warning("evaluation not scheduled", extra={"scope": scope, "key": key, "error": str(failure)})
            metrics.add_metric(name="EvaluationsNotScheduled", unit=MetricUnit.Count, value=1)
            return None
        _pause(attempt)
    logger.info("evaluation scheduled", extra={"at": at.isoformat(), "scope": scope, "schedule": name})
    return name


class Checks:
    """The checks in the table (see guardian.table: check_key, CHECKS_OPEN)."""

    def __init__(self, client: Any, table_name: str) -> None:
        self._client = client
        self._table = table_name

    @classmethod
    def of(cls, guardian: Guardian) -> "Checks":
        return cls(guardian.clients("dynamodb"), guardian.settings.table_name)

    def get(self, name: str) -> Check | None:
        item = self._client.get_item(TableName=self._table, Key=check_key(name), ConsistentRead=True).get("Item")
        return Check.model_validate_json(item["doc"]["S"]) if item else None

    def put(self, check: Check) -> None:
        """Store ``check``; a check already done stays done (a late "scheduled" does not reopen it)."""
        item: dict[str, Any] = check_key(check.name) | {
            "type": {"S": "check"},
            "state": {"S": check.state.value},
            "doc": {"S": check.model_dump_json()},
            "expires_at": {"N": str(epoch(check.due_at + CHECK_RETENTION))},
        }
        request: dict[str, Any] = {"TableName": self._table, "Item": item}
        if check.state is not CheckState.DONE:
            item |= {"GSI1PK": {"S": CHECKS_OPEN}, "GSI1SK": {"S": f"{check.due_at.isoformat()}#{check.name}"}}
            request |= {
                "ConditionExpression": "attribute_not_exists(PK) OR #state <> :done",
                "ExpressionAttributeNames": {"#state": "state"},
                "ExpressionAttributeValues": {":done": {"S": CheckState.DONE.value}},
            }
        try:
            self._client.put_item(**request)
        except ClientError as error:
            if error.response["Error"]["Code"] != "ConditionalCheckFailedException":
                raise

    def open(self) -> list[Check]:
        """Every check not yet done, soonest due first."""
        pages = self._client.get_paginator("query").paginate(
            TableName=self._table,
            IndexName="GSI1",
            KeyConditionExpression="GSI1PK = :pk",
            ExpressionAttributeValues={":pk": {"S": CHECKS_OPEN}},
        )
        return [Check.model_validate_json(item["doc"]["S"]) for page in pages for item in page["Items"]]


def ensure_check(guardian: Guardian, at: datetime, scope: dict[str, str], key: str, now: datetime) -> Check | None:
    """The check of ``scope`` at ``at``, recorded and scheduled unless it is already; idempotent per ``key``.
    None where the stack does not schedule. A failure to record raises (the caller's retry, or the next
    sweep, ensures it again); a failure to schedule leaves it open for the sweep."""
    if not configured(guardian.settings):
        return None
    checks = Checks.of(guardian)
    name = schedule_name(key)
    held = checks.get(name)
    if held is not None and held.state is not CheckState.OPEN:
        return held
    check = held or Check(name=name, key=key, scope=scope, due_at=at, recorded_at=now)
    if held is None:
        checks.put(check)  # first: should the schedule never be made, the sweep still finds it
    return _schedule(guardian, checks, check, now)


def _schedule(guardian: Guardian, checks: Checks, check: Check, now: datetime) -> Check:
    if schedule_evaluation(guardian, check.due_at, check.scope, check.key, now) is None:
        return check
    scheduled = check.model_copy(update={"state": CheckState.SCHEDULED})
    checks.put(scheduled)
    return scheduled


def check_done(guardian: Guardian, name: str, now: datetime, by: str) -> None:
    """A check judged (its scheduled evaluation ran): settled, so no sweep schedules it again."""
    if not configured(guardian.settings):
        return
    checks = Checks.of(guardian)
    try:
        held = checks.get(name)
        if held is not None and held.state is not CheckState.DONE:
            checks.put(held.model_copy(update={"state": CheckState.DONE, "settled_at": now, "settled_by": by}))
    except (ClientError, BotoCoreError) as error:  # judged all the same: the next sweep settles it
        logger.warning("check not marked done", extra={"check": name, "error": str(error)})
        metrics.add_metric(name="CheckErrors", unit=MetricUnit.Count, value=1)


def settle_checks(guardian: Guardian, now: datetime) -> dict[str, int]:
    """The sweep's part, after it evaluated everything as of ``now``: each open check whose moment has
    come was judged by that evaluation and is done; each still to come that Scheduler does not have is
    scheduled again. One check's failure is logged and counted; it stays open for the next sweep."""
    settled = {"open": 0, "done": 0, "scheduled": 0, "errors": 0}
    if not configured(guardian.settings):
        return settled
    checks = Checks.of(guardian)
    try:
        pending = checks.open()
    except (ClientError, BotoCoreError) as error:
        logger.warning("open checks unreadable", extra={"error": str(error)})
        metrics.add_metric(name="CheckErrors", unit=MetricUnit.Count, value=1)
        settled["errors"] += 1
        return settled
    where = guardian.scope()
    for check in pending:
        if where is not None and not any(where.holds(arn) for arn in check.scope.values()):
            continue  # another account's or region's: its own sweep judges it
        settled["open"] += 1
        try:
            if check.due_at <= now:
                done = {"state": CheckState.DONE, "settled_at": now, "settled_by": "sweep"}
                checks.put(check.model_copy(update=done))
                settled["done"] += 1
            elif check.state is CheckState.OPEN:
                settled["scheduled"] += _schedule(guardian, checks, check, now).state is CheckState.SCHEDULED
        except Exception as error:  # one check must not keep the others from being settled
            logger.warning("check not settled", extra={"check": check.name, "scope": check.scope, "error": str(error)})
            metrics.add_metric(name="CheckErrors", unit=MetricUnit.Count, value=1)
            settled["errors"] += 1
    if settled["done"] or settled["scheduled"]:
        logger.info("checks settled", extra=settled)
    return settled
