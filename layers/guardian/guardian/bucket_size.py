"""An S3 bucket's size, from S3's daily storage metric read in bulk (guardian.metric_data's batches).

S3 publishes ``BucketSizeBytes`` (namespace AWS/S3, dimensions BucketName and StorageType=StandardStorage)
once a day, for the day before, stamped at that day's 00:00 UTC. The newest datapoint of the last few days
is the bucket's size. A bucket with none yet (made today, or empty) has a size nobody knows: its cost is
unknown, never $0 (guardian.cost), and a later datapoint says what it is.
"""

import math
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from guardian.aws import AwsClients
from guardian.kinds import Kind
from guardian.metric_data import PERMISSIONS as METRIC_PERMISSIONS
from guardian.metric_data import MetricQuery, fetch_available
from guardian.resource import Observation, Resource, Via

NAMESPACE = "AWS/S3"
METRIC = "BucketSizeBytes"
STORAGE_TYPE = "StandardStorage"
PERIOD = 86_400  # S3's storage metrics are daily
# How far back a datapoint still says the size: S3's daily datapoint arrives hours into the next day, and one
# missed day (S3 sometimes skips) must not make a known size unknown.
LOOKBACK = timedelta(days=3)
PERMISSIONS = METRIC_PERMISSIONS
ORIGIN = f"cloudwatch:{METRIC}"


@dataclass
class Measured:
    """What the sweep learnt: an observation of each bucket whose size changed, and the calls that failed."""

    observations: list[Observation] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)


def query(bucket: Resource, now: datetime) -> MetricQuery:
    """The bucket's daily size over the lookback; every bucket's has the same window, so they batch together."""
    today = now.replace(hour=0, minute=0, second=0, microsecond=0)
    return MetricQuery(
        key=bucket.arn,
        namespace=NAMESPACE,
        metric=METRIC,
        dimensions=(("BucketName", bucket.name), ("StorageType", STORAGE_TYPE)),
        stat="Average",
        period=PERIOD,
        start=today - LOOKBACK,
        end=today + timedelta(days=1),
    )


def measure(clients: AwsClients, buckets: list[Resource], now: datetime, source_id: str) -> Measured:
    """The size of each bucket from its newest datapoint, as an observation where it differs from the record's.
    A failed call fails only its batch: those buckets keep the size they had (missing data is not zero)."""
    if not buckets:
        return Measured()
    fetched = fetch_available(clients("cloudwatch"), [query(bucket, now) for bucket in buckets])
    measured = Measured(errors=list(fetched.errors))
    for bucket in buckets:
        points = [(at, value) for at, value in fetched.results.get(bucket.arn, []) if _plausible(value)]
        if not points:
            continue
        day, value = points[-1]
        size = int(value)
        if size == bucket.size_bytes:
            continue
        measured.observations.append(
            Observation(
                arn=bucket.arn,
                kind=Kind.S3_BUCKET,
                observed_at=now,
                source_id=f"{source_id}:{METRIC}:{day:%Y-%m-%d}",
                origin=ORIGIN,
                via=Via.DESCRIBE,
                fields={"size_bytes": size},
            )
        )
    return measured


def _plausible(value: float) -> bool:
    return isinstance(value, int | float) and math.isfinite(value) and value >= 0
