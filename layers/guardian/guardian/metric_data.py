"""CloudWatch metrics in bulk: GetMetricData in batches of up to 500 queries, never one call per resource.

Rules say what they need as :class:`MetricQuery` (a key of their choosing, the metric, its dimensions,
the window); :func:`fetch` answers every query with its datapoints, oldest first; :func:`fetch_available` answers
what it can and says which queries it could not answer, so one failed call touches only the rules that
needed those metrics.
"""

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

MAX_QUERIES_PER_CALL = 500
PERMISSIONS = ("cloudwatch:GetMetricData",)


@dataclass(frozen=True)
class MetricQuery:
    key: str
    namespace: str
    metric: str
    dimensions: tuple[tuple[str, str], ...]
    stat: str
    period: int
    start: datetime
    end: datetime


Datapoints = list[tuple[datetime, float]]


@dataclass
class Fetched:
    """What :func:`fetch_available` got: datapoints per query key, and the keys it could not get."""

    results: dict[str, Datapoints]
    failed: set[str] = field(default_factory=set)
    errors: list[str] = field(default_factory=list)


def fetch(cloudwatch: Any, queries: list[MetricQuery]) -> dict[str, Datapoints]:
    """Every query answered, or the first failure raised."""
    fetched = _fetch(cloudwatch, queries, isolate=False)
    return fetched.results


def fetch_available(cloudwatch: Any, queries: list[MetricQuery]) -> Fetched:
    """Every query answered that can be: a call that fails (throttled, say) fails only the queries of its
    batch, whose keys are in ``failed`` (and whose datapoints are empty: missing data is not zero)."""
    return _fetch(cloudwatch, queries, isolate=True)


def _fetch(cloudwatch: Any, queries: list[MetricQuery], isolate: bool) -> Fetched:
    fetched = Fetched({query.key: [] for query in queries})
    windows: dict[tuple[datetime, datetime], list[MetricQuery]] = defaultdict(list)
    for query in queries:
        windows[(query.start, query.end)].append(query)
    for (start, end), batch in windows.items():
        for offset in range(0, len(batch), MAX_QUERIES_PER_CALL):
            chunk = batch[offset : offset + MAX_QUERIES_PER_CALL]
            try:
                _fetch_chunk(cloudwatch, start, end, chunk, fetched.results)
            except (ClientError, BotoCoreError) as error:
                if not isolate:
                    raise
                fetched.errors.append(f"GetMetricData {start:%Y-%m-%dT%H:%M}..{end:%H:%M}: {error}")
                for query in chunk:
                    fetched.failed.add(query.key)
                    fetched.results[query.key] = []
    for points in fetched.results.values():
        points.sort(key=lambda point: point[0])
    return fetched


def _fetch_chunk(
    cloudwatch: Any, start: datetime, end: datetime, chunk: list[MetricQuery], results: dict[str, Datapoints]
) -> None:
    by_id = {f"q{i}": query for i, query in enumerate(chunk)}
    request = {
        "StartTime": start,
        "EndTime": end,
        "ScanBy": "TimestampAscending",
        "MetricDataQueries": [
            {
                "Id": query_id,
                "ReturnData": True,
                "MetricStat": {
                    "Metric": {
                        "Namespace": query.namespace,
                        "MetricName": query.metric,
                        "Dimensions": [{"Name": n, "Value": v} for n, v in query.dimensions],
                    },
                    "Period": query.period,
                    "Stat": query.stat,
                },
            }
            for query_id, query in by_id.items()
        ],
    }
    for page in cloudwatch.get_paginator("get_metric_data").paginate(**request):
        for result in page["MetricDataResults"]:
            points = results[by_id[result["Id"]].key]
            points.extend(zip(result.get("Timestamps", []), result.get("Values", []), strict=False))
