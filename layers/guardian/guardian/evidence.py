"""When did something the events missed end? The evidence the sweep dates a missed stop or deletion by.

A sweep that finds a resource gone with no event that said so (no longer listed, or listed as deleted:
a space's app gone, so the space stopped; an endpoint gone) knows only that it went before now. Dated at
the sweep's time, an orphan's waste would count from the sweep, not from the stop, and its alert would come
that much later. The time comes instead, best first, from:

1. the resource's own timestamps: one listed in a gone state says when it was last modified (LastModifiedTime
   of a Deleting endpoint or space is the call that deleted it);
2. CloudTrail's event history: the call that ended it (DeleteApp, DeleteEndpoint, ...), found with
   LookupEvents by event name and read with the event path's own translators (guardian.events), so a call
   names the resource exactly as its delivered event would have; the newest such call since the record was
   last seen alive (an app of the same name deleted yesterday ended an earlier life, not this one);
3. nothing: the sweep's own time, an upper bound, and said so (:func:`only_found`: "stopped before <time>").

Bounded and soft. LookupEvents is limited to 2 requests a second per account and region, and one sweep
makes at most MAX_CALLS of them, paced: one paged lookup per event name (newest first, 50 a page) serves
every resource of that kind the sweep finds gone, paged only as far back as the oldest one needs. An error
(throttled, denied, CloudTrail unreachable) ends the lookups of this sweep and leaves the sweep's time; it
never fails the sweep. CloudTrail shows a call some minutes after it is made: a stop just before a sweep
may have no evidence yet, and is dated at the sweep.
"""

import json
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from guardian.arns import canonical
from guardian.aws import AwsClients
from guardian.events import CLOUDTRAIL_DETAIL_TYPE, CLOUDTRAIL_SOURCES, translate
from guardian.kinds import Kind, is_gone
from guardian.observability import MetricUnit, logger, metrics
from guardian.resource import Observation, Resource

PERMISSIONS = ("cloudtrail:LookupEvents",)

# The call, as CloudTrail names it, that ends a resource of each kind.
ENDED_BY: dict[Kind, str] = {
    Kind.USER_PROFILE: "DeleteUserProfile",
    Kind.SPACE: "DeleteSpace",
    Kind.APP: "DeleteApp",
    Kind.ENDPOINT: "DeleteEndpoint",
    Kind.HYPERPOD_CLUSTER: "DeleteCluster",
    Kind.MLFLOW_TRACKING_SERVER: "DeleteMlflowTrackingServer",
    Kind.NOTEBOOK_INSTANCE: "DeleteNotebookInstance",
    Kind.EMR_CLUSTER: "TerminateJobFlows",
}
MAX_CALLS = 10  # LookupEvents calls per sweep: 500 events, five seconds at the service's rate
PACE_SECONDS = 0.5  # LookupEvents allows 2 requests a second per account and region
PAGE_SIZE = 50  # the most LookupEvents returns per call
LOOKBACK = timedelta(days=90)  # how long CloudTrail's event history keeps a call
SLACK = timedelta(minutes=1)  # CloudTrail stamps to the second; clocks drift
SWEEP_SOURCE = "sweep:"  # how a sweep's observations name their source (guardian.reconcile)
_EVENTBRIDGE_SOURCES = {event_source: source for source, event_source in CLOUDTRAIL_SOURCES.items()}


@dataclass
class _Lookup:
    """One event name's history, paged newest first as far as the sweep has needed it."""

    event_name: str
    token: str | None = None
    done: bool = False  # paged to the end of the window
    reached: datetime | None = None  # the oldest call seen: everything newer has been read
    ends: dict[str, datetime] = field(default_factory=dict)  # canonical ARN -> the newest call that ended it
    names: dict[tuple[Kind, str], datetime] = field(default_factory=dict)  # by name, for ARNs built from ids


class Evidence:
    """What one sweep learns of when things ended. Made once per sweep: it holds the sweep's budget of
    LookupEvents calls and what they returned."""

    def __init__(self, clients: AwsClients, now: datetime, max_calls: int | None = None) -> None:
        self.clients = clients
        self.now = now
        self.max_calls = MAX_CALLS if max_calls is None else max_calls
        self.calls = 0
        self.failed: str | None = None
        self._lookups: dict[str, _Lookup] = {}
        self._last_call: float | None = None

    def dated(self, observation: Observation, existing: Resource | None) -> Observation:
        """The sweep's observation that ``existing`` is gone, with ``deleted_at`` set to when it went, as the
        evidence says; with none, to the sweep's time (which :func:`only_found` recognises). Any other
        observation, or one of a resource already known gone, is returned as it is."""
        if existing is None or is_gone(existing.state) or not is_gone(observation.fields.get("state")):
            return observation
        alive = _last_seen(existing)
        if existing.deleted_at is not None and (alive is None or existing.deleted_at > alive):
            return observation  # a deletion the record already holds, of this life
        at, how = self._own_timestamp(observation, alive), "its own timestamp"
        if at is None:
            at, how = self.ended_at(existing, alive), "CloudTrail"
        if at is None:
            at, how = observation.observed_at, "none: the sweep's time"
        logger.info(
            "sweep dated a missed end",
            extra={"arn": existing.arn, "ended_at": at.isoformat(), "evidence": how, "last_seen": _iso(alive)},
        )
        return observation.model_copy(update={"fields": observation.fields | {"deleted_at": at}})

    def ended_at(self, resource: Resource, since: datetime | None) -> datetime | None:
        """When the call that ended ``resource`` was made: the newest in CloudTrail's history after ``since``
        (when it was last known alive), or None when there is none (or none found within the budget)."""
        event_name = ENDED_BY.get(resource.kind)
        if event_name is None:
            return None
        earliest = (since or self.now - LOOKBACK) - SLACK
        lookup = self._lookups.setdefault(event_name, _Lookup(event_name))
        while True:
            at = lookup.ends.get(canonical(resource.arn))
            if at is None and resource.kind is Kind.HYPERPOD_CLUSTER and resource.name:
                at = lookup.names.get((resource.kind, resource.name))
            if at is not None:  # the newest call that ended it: an older life's if before ``since``
                return at if earliest <= at <= self.now + SLACK else None
            if lookup.done or (lookup.reached is not None and lookup.reached < earliest):
                return None
            if not self._next_page(lookup):
                return None

    def _own_timestamp(self, observation: Observation, alive: datetime | None) -> datetime | None:
        """A resource listed in a gone state was last modified by the call that ended it."""
        modified = observation.fields.get("last_modified_at")
        if not isinstance(modified, datetime):
            return None
        modified = modified if modified.tzinfo else modified.replace(tzinfo=UTC)
        if (alive is not None and modified < alive - SLACK) or modified > self.now + SLACK:
            return None
        return modified

    def _next_page(self, lookup: _Lookup) -> bool:
        """Read one more page of ``lookup``; False when none may be read (budget spent, an error)."""
        if self.failed is not None:
            return False
        if self.calls >= self.max_calls:
            self.failed = f"the sweep's {self.max_calls} LookupEvents calls are spent"
            logger.warning("sweep stopped looking up missed ends", extra={"reason": self.failed})
            return False
        self._pace()
        request: dict[str, Any] = {
            "LookupAttributes": [{"AttributeKey": "EventName", "AttributeValue": lookup.event_name}],
            "StartTime": self.now - LOOKBACK,
            "EndTime": self.now,
            "MaxResults": PAGE_SIZE,
        }
        if lookup.token:
            request["NextToken"] = lookup.token
        self.calls += 1
        metrics.add_metric(name="CloudTrailLookups", unit=MetricUnit.Count, value=1)
        try:
            page = self.clients("cloudtrail").lookup_events(**request)
        except (ClientError, BotoCoreError) as error:
            self.failed = f"LookupEvents: {error}"
            logger.warning("sweep cannot look up missed ends: dated at the sweep", extra={"reason": self.failed})
            return False
        for event in page.get("Events", []):
            self._read(lookup, event)
        lookup.token = page.get("NextToken")
        lookup.done = not lookup.token
        return True

    def _pace(self) -> None:
        if self._last_call is not None:
            wait = PACE_SECONDS - (time.monotonic() - self._last_call)
            if wait > 0:
                time.sleep(wait)
        self._last_call = time.monotonic()

    @staticmethod
    def _read(lookup: _Lookup, event: dict[str, Any]) -> None:
        """One call from the history: what it ended, and when, as the event path would have read it."""
        stamp = event.get("EventTime")
        if isinstance(stamp, datetime):
            stamp = stamp if stamp.tzinfo else stamp.replace(tzinfo=UTC)
            lookup.reached = stamp if lookup.reached is None else min(lookup.reached, stamp)
        try:
            detail = json.loads(event["CloudTrailEvent"])
            translation = translate(
                {
                    "version": "0",
                    "id": event.get("EventId") or detail["eventID"],
                    "detail-type": CLOUDTRAIL_DETAIL_TYPE,
                    "source": _EVENTBRIDGE_SOURCES.get(detail.get("eventSource"), ""),
                    "account": detail.get("recipientAccountId") or detail["userIdentity"]["accountId"],
                    "time": detail["eventTime"],
                    "region": detail["awsRegion"],
                    "resources": [],
                    "detail": detail,
                }
            )
        except Exception as error:  # one record nobody foresaw is no evidence, and stops nothing
            logger.debug("a CloudTrail record the sweep cannot read", extra={"error": str(error)[:200]})
            return
        for observation in translation.observations:
            if not is_gone(observation.fields.get("state")):
                continue
            at = observation.fields.get("deleted_at") or observation.observed_at
            key = canonical(observation.arn)
            lookup.ends[key] = max(lookup.ends.get(key, at), at)
            name = observation.fields.get("name")
            if isinstance(name, str):
                lookup.names[(observation.kind, name)] = max(lookup.names.get((observation.kind, name), at), at)


def only_found(at: datetime | None, version: str | None) -> bool:
    """Whether a moment (``at``, decided by the observation of ``version``) is only when a sweep found the
    change, with no evidence of when it happened: the truth is earlier ("stopped before <time>")."""
    if not version:
        return False
    stamp, _, rest = version.partition("#")
    if not rest.partition("#")[2].startswith(SWEEP_SOURCE):
        return False
    found = datetime.fromisoformat(stamp.replace("Z", "+00:00"))
    return at is None or abs(at - found) < timedelta(seconds=1)


def _last_seen(record: Resource) -> datetime | None:
    """When anything was last observed of a record not yet known gone: it was alive then."""
    stamps = [v.partition("#")[0] for v in record.versions.values() if v]
    if not stamps:
        return record.described_at or record.created_at or record.first_seen_at
    return datetime.fromisoformat(max(stamps).replace("Z", "+00:00"))


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value else None
