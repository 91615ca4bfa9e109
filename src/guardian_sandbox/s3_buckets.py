"""S3 in the sandbox as the guardian sees it on AWS: bucket calls in CloudTrail, and the daily size metric.

moto serves S3. This adds what AWS does around it:
- The bucket management calls (CreateBucket, DeleteBucket, PutBucketTagging, DeleteBucketTagging) are
  recorded in the sandbox's CloudTrail (cloudtrail.py) as CloudTrail records them: eventSource
  s3.amazonaws.com, the caller's identity (cloudtrail.calls_by), ``requestParameters`` as S3's records spell
  them (``bucketName``, ``Host``, the XML body's elements), ``responseElements`` null, ``errorCode`` for a
  call refused. They reach LookupEvents and, as "AWS API Call via CloudTrail", the stack's bus.
- A bucket is dated by the sandbox's clock (a scenario's past bucket was made in the past).
- ``BucketSizeBytes`` (AWS/S3, BucketName, StorageType=StandardStorage) as S3 publishes it: one datapoint a
  day, for the day before, stamped at that day's 00:00 UTC, from the day the bucket was made; none for today
  until the day is over. moto's own provider reports today's size, live, at today's midnight: replaced. A
  day's value is what the bucket held when its day was first read after it ended, and stays so.
"""

import datetime as dt
import uuid
from collections.abc import Callable
from typing import Any

import xmltodict  # type: ignore[import-untyped]  # moto's own XML reader
from moto.cloudtrail.models import cloudtrail_backends
from moto.cloudwatch.models import Dimension, MetricDatum
from moto.s3.models import S3Backend, s3_backends
from moto.s3.responses import S3Response
from moto.utilities.utils import get_partition

from guardian_sandbox import cloudtrail

EVENT_SOURCE = "s3.amazonaws.com"
RECORDED = frozenset({"CreateBucket", "DeleteBucket", "PutBucketTagging", "DeleteBucketTagging"})
DAY = dt.timedelta(days=1)
KEPT_DAYS = 15  # S3's storage metrics as GetMetricData reads them here: two weeks is ample for any lookback


def _now() -> dt.datetime:
    return cloudtrail._now().astimezone(dt.UTC)


def _midnight(at: dt.datetime) -> dt.datetime:
    return at.astimezone(dt.UTC).replace(hour=0, minute=0, second=0, microsecond=0)


def _published(backend: S3Backend) -> dict[tuple[str, dt.datetime, dt.datetime], tuple[int, int]]:
    """Per (bucket, its creation time, day): the (bytes, objects) S3 published for that day."""
    kept: dict[tuple[str, dt.datetime, dt.datetime], tuple[int, int]] = backend.__dict__.setdefault(
        "_sandbox_daily_sizes", {}
    )
    return kept


# --- CloudTrail ----------------------------------------------------------------------------------


def _request_parameters(response: S3Response, name: str, action: str, host: str) -> dict[str, Any]:
    parameters: dict[str, Any] = {"bucketName": name, "Host": host}
    body = response.body.decode("utf-8", "replace") if isinstance(response.body, bytes) else (response.body or "")
    document: dict[str, Any] = {}
    if body.strip():
        try:
            document = xmltodict.parse(body, attr_prefix="")
        except Exception:  # a body S3 would refuse: the record says what it can
            document = {}
    if action == "CreateBucket" and "CreateBucketConfiguration" in document:
        parameters["CreateBucketConfiguration"] = document["CreateBucketConfiguration"]
    if action == "PutBucketTagging":
        parameters["tagging"] = ""
        if "Tagging" in document:
            parameters["Tagging"] = document["Tagging"]
    if action == "DeleteBucketTagging":
        parameters["tagging"] = ""
    return parameters


def _record(response: S3Response, request: Any, status: int, body: bytes) -> None:
    action = str(response.data.get("Action") or "")
    name = str(response.data.get("BucketName") or getattr(response, "bucket_name", "") or "")
    if action not in RECORDED or not name:
        return
    account = response.current_account
    bucket = s3_backends[account][get_partition(response.region)].buckets.get(name)
    region = bucket.region_name if bucket is not None else response.region
    at = _now().replace(microsecond=0)
    if action == "CreateBucket" and status < 300 and bucket is not None:
        bucket.creation_date = at  # dated by the sandbox's clock, as everything it makes
    kept = cloudtrail.history(cloudtrail_backends[account][region])
    kept.events = [e for e in kept.events if at - e.at <= cloudtrail.RETENTION]
    access_key = getattr(response, "access_key", None) or "AKIAEXAMPLE"
    identity = cloudtrail._identity(account) | {"accessKeyId": access_key}
    host = str(request.headers.get("Host") or "s3.amazonaws.com")
    record: dict[str, Any] = {
        "eventVersion": "1.09",
        "userIdentity": identity,
        "eventTime": cloudtrail._iso(at),
        "eventSource": EVENT_SOURCE,
        "eventName": action,
        "awsRegion": region,
        "sourceIPAddress": "127.0.0.1",
        "userAgent": str(request.headers.get("User-Agent") or "sandbox"),
        "requestParameters": _request_parameters(response, name, action, host),
        "responseElements": None,
        "requestID": uuid.uuid4().hex[:16].upper(),
        "eventID": str(uuid.uuid4()),
        "readOnly": False,
        "resources": [{"type": "AWS::S3::Bucket", "ARN": f"arn:aws:s3:::{name}"}],
        "eventType": "AwsApiCall",
        "managementEvent": True,
        "recipientAccountId": account,
        "eventCategory": "Management",
    }
    if status >= 300:
        error = xmltodict.parse(body or b"<Error/>").get("Error") or {}
        record["errorCode"] = str(error.get("Code") or "ServiceException")
        record["errorMessage"] = str(error.get("Message") or "")
    kept.add(
        at=at,
        name=action,
        source=EVENT_SOURCE,
        read_only=False,
        access_key=access_key,
        username=cloudtrail._username(identity),
        resources=[{"ResourceType": "AWS::S3::Bucket", "ResourceName": name}],
        record=record,
        # EventBridge has it too only while a trail logs (cloudtrail.trail_logging), as on AWS.
        to_bus=cloudtrail.trail_logging(account, region),
    )


def _recorded(original: Callable[..., Any]) -> Callable[..., Any]:
    def bucket_response(self: S3Response, request: Any, full_url: str, headers: Any) -> Any:
        status, response_headers, body = original(self, request, full_url, headers)
        try:
            _record(self, request, int(status), body)
        except Exception as error:  # the call happened; a record the sandbox cannot make must not hide
            raise AssertionError(f"sandbox CloudTrail could not record an S3 call: {error}") from error
        return status, response_headers, body

    bucket_response._sandbox_cloudtrail = True  # type: ignore[attr-defined]
    return bucket_response


# --- BucketSizeBytes -----------------------------------------------------------------------------


def daily_metrics(account_id: str, region: str) -> list[MetricDatum]:
    """What S3 has published by now for this region's buckets: each finished day since each was made."""
    backend = s3_backends[account_id][get_partition(region)]
    published = _published(backend)
    today = _midnight(_now())
    data: list[MetricDatum] = []
    for name, bucket in list(backend.buckets.items()):
        if bucket.region_name != region:
            continue
        born = bucket.creation_date
        day = max(_midnight(born), today - KEPT_DAYS * DAY)
        while day < today:
            size, count = published.setdefault((name, born, day), _held(bucket))
            stamp = day.replace(tzinfo=None)  # moto's CloudWatch compares naive UTC
            data.append(_datum("BucketSizeBytes", size, name, "StandardStorage", stamp, "Bytes"))
            data.append(_datum("NumberOfObjects", count, name, "AllStorageTypes", stamp, "Count"))
            day += DAY
    return data


def _held(bucket: Any) -> tuple[int, int]:
    """What a bucket holds now: its objects' bytes (current versions) and how many there are."""
    keys = list(bucket.keys.values())
    return sum(int(key.size) for key in keys), len(keys)


def _dimension_order(self: Dimension, other: Dimension) -> bool:
    """CloudWatch matches a metric's dimensions as a set; moto sorts them with a comparison that is no order
    (a query naming them in another order than the datum finds nothing): by (name, value)."""
    return (self.name or "", self.value or "") < (other.name or "", other.value or "")


def _datum(metric: str, value: int, bucket: str, storage: str, at: dt.datetime, unit: str) -> MetricDatum:
    dimensions = [{"Name": "StorageType", "Value": storage}, {"Name": "BucketName", "Value": bucket}]
    return MetricDatum(namespace="AWS/S3", name=metric, value=value, dimensions=dimensions, timestamp=at, unit=unit)


def install() -> None:
    """Record S3's bucket calls in CloudTrail, date buckets by the sandbox's clock, publish daily sizes
    (idempotent)."""
    if not getattr(S3Response.bucket_response, "_sandbox_cloudtrail", False):
        S3Response.bucket_response = _recorded(S3Response.bucket_response)  # type: ignore[method-assign]
    S3Backend.get_cloudwatch_metrics = staticmethod(daily_metrics)  # type: ignore[method-assign]
    Dimension.__lt__ = _dimension_order  # type: ignore[method-assign]
