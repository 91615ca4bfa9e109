"""CloudWatch metrics in bulk: GetMetricData in batches of up to 500 queries, never one call per resource.

Rules say what they need as :class:`MetricQuery` (a key of their choosing, the metric, its dimensions,
the window); :func:`fetch` answers every query with its datapoints, oldest first.
"""

from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime
from typing import Any

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


def fetch(cloudwatch: Any, queries: list[MetricQuery]) -> dict[str, Datapoints]:
    results: dict[str, Datapoints] = {query.key: [] for query in queries}
    windows: dict[tuple[datetime, datetime], list[MetricQuery]] = defaultdict(list)
    for query in queries:
        windows[(query.start, query.end)].append(query)
    for (start, end), batch in windows.items():
        for offset in range(0, len(batch), MAX_QUERIES_PER_CALL):
            chunk = batch[offset : offset + MAX_QUERIES_PER_CALL]
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
    for points in results.values():
        points.sort(key=lambda point: point[0])
    return results
