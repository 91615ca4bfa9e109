"""Metrics at the cadence of their question: the idle-endpoint rule asks "no Invocations in the last 24 h?",
and an endpoint invoked at some moment cannot be idle until that moment leaves the window. So the sweep keeps,
per variant, the latest hour CloudWatch showed invocations in (its start, and the sum it read), and does not
ask again while that hour is still inside the window: the answer is known. It asks once it has left (the full
window, as before), and every hour for an endpoint that is idle (an invocation must resolve its finding at the
next sweep, as it always did). A busy endpoint is asked about once a lookback instead of once a sweep.

Why not add each new hour to stored sums: GetMetricData is billed per metric requested, whatever the span, so
asking for one new hour costs what asking for 24 does; only not asking saves. Asking for the whole window when
asking at all also makes late data harmless: whatever CloudWatch has by then is read, as the full query read it.

Exact, not approximate: the hour kept starts at or before the invocation it saw (datapoints are hourly sums
from the window's start), so "that hour starts inside the window" implies the full-lookback query would see an
invocation too (tests/unit/test_idle_cadence.py holds the two answers equal over any series and sweep times).
What the memory cannot say it leaves to the query: an endpoint with no hour kept, a variant set that changed,
an endpoint hosting inference components (judged per component, always asked).

Smallest shape: one item per variant that had invocations (PK=INVOKED, SK=<endpoint arn>|<variant>, the
hour's start and its sum as numbers), written only when that hour moves, expiring when it leaves the longest
window. One Query of the partition per sweep reads it all; any failure to read or write it only means asking.
"""

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from guardian.arns import Location
from guardian.metric_data import Datapoints, MetricQuery
from guardian.observability import logger
from guardian.table import INVOKED_PK, epoch, invoked_key

NAMESPACE, METRIC = "AWS/SageMaker", "Invocations"
VARIANT_DIMENSIONS = ("EndpointName", "VariantName")
KEPT_FOR = timedelta(days=14)  # the longest lookback the rule allows: after that, the hour is of no use


@dataclass(frozen=True)
class Invoked:
    """The latest hour of a variant with invocations, as CloudWatch answered: its start, and the sum in it."""

    hour: datetime
    calls: float


Memory = dict[str, Invoked]  # by the rule's query key, <endpoint arn>|<variant>


def rememberable(query: MetricQuery) -> bool:
    """Whether ``query`` is one the memory can answer: an endpoint variant's Invocations."""
    return (query.namespace, query.metric) == (NAMESPACE, METRIC) and tuple(
        name for name, _ in query.dimensions
    ) == VARIANT_DIMENSIONS


def _endpoint(query: MetricQuery) -> str:
    return query.key.rsplit("|", 1)[0]


def known_answers(queries: list[MetricQuery], memory: Mapping[str, Invoked]) -> dict[str, Datapoints]:
    """The queries whose answer the memory already gives: every variant query of an endpoint one of whose
    variants had invocations in an hour that starts inside the query's window. Each is answered with what was
    read then (the hour kept, or nothing for a variant without one): the endpoint is not idle either way."""
    by_endpoint: dict[str, list[MetricQuery]] = {}
    for query in queries:
        if rememberable(query):
            by_endpoint.setdefault(_endpoint(query), []).append(query)
    known: dict[str, Datapoints] = {}
    for group in by_endpoint.values():
        kept = {q.key: memory[q.key] for q in group if q.key in memory and q.start <= memory[q.key].hour < q.end}
        if kept:
            known |= {q.key: [(kept[q.key].hour, kept[q.key].calls)] if q.key in kept else [] for q in group}
    return known


def latest_hours(queries: list[MetricQuery], results: Mapping[str, Datapoints]) -> Memory:
    """The latest hour with invocations of each variant query answered (none: no entry)."""
    latest: Memory = {}
    for query in queries:
        if not rememberable(query):
            continue
        busy = [(at, value) for at, value in results.get(query.key, []) if value > 0]
        if busy:
            at, value = max(busy, key=lambda point: point[0])
            latest[query.key] = Invoked(_utc(at), value)
    return latest


def _utc(at: datetime) -> datetime:
    return at if at.tzinfo else at.replace(tzinfo=UTC)


class InvocationMemory:
    """The kept hours in the table (guardian.table: invoked_key)."""

    def __init__(self, client: Any, table_name: str, at: Location | None = None) -> None:
        self._client = client
        self._table = table_name
        self._at = at  # the account and region whose endpoints it remembers (their ARNs begin alike); None: all

    def recall(self) -> Memory:
        """Every kept hour of the account and region (one paged Query); empty when the table cannot be read
        (then everything is asked)."""
        try:
            condition, values = "PK = :pk", {":pk": {"S": INVOKED_PK}}
            if self._at is not None:
                condition, values = (
                    f"{condition} AND begins_with(SK, :arns)",
                    values | {":arns": {"S": self._at.sagemaker("")}},
                )
            pages = self._client.get_paginator("query").paginate(
                TableName=self._table, KeyConditionExpression=condition, ExpressionAttributeValues=values
            )
            return {
                item["SK"]["S"]: Invoked(datetime.fromtimestamp(int(item["at"]["N"]), UTC), float(item["n"]["N"]))
                for page in pages
                for item in page["Items"]
            }
        except (ClientError, BotoCoreError, KeyError, ValueError) as error:
            logger.warning("kept invocation hours unreadable: every endpoint is asked", extra={"error": str(error)})
            return {}

    def remember(self, memory: Mapping[str, Invoked], latest: Mapping[str, Invoked]) -> int:
        """Keep each hour that moved; returns how many were written. A failed write is logged: that variant
        is asked again next time, which is all it costs."""
        written = 0
        for key, invoked in latest.items():
            if memory.get(key) == invoked:
                continue
            item = invoked_key(key) | {
                "at": {"N": str(epoch(invoked.hour))},
                "n": {"N": repr(invoked.calls)},
                "expires_at": {"N": str(epoch(invoked.hour + KEPT_FOR))},
            }
            try:
                self._client.put_item(TableName=self._table, Item=item)
                written += 1
            except (ClientError, BotoCoreError) as error:
                logger.warning("invocation hour not kept", extra={"key": key, "error": str(error)})
        return written
