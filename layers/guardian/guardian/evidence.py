"""When did something the events missed end? The evidence the sweep dates a missed stop or deletion by.

A sweep that finds a resource gone with no event that said so (no longer listed, or listed as deleted:
a space's app gone, so the space stopped; an endpoint gone) knows only that it went before now. Dated at
the sweep's time, an orphan's waste would count from the sweep, not from the stop, and its alert would come
that much later. The time comes instead, best first, from:

1. the resource's own timestamps: one listed in a gone state says when it was last modified (LastModifiedTime
   of a Deleting endpoint or space is the call that deleted it); an EMR cluster, no longer listed, says when
   it ended (DescribeCluster's EndDateTime, kept for two months), which is the only evidence of a cluster
   that terminated itself (auto-termination, its steps done, a failure): no call ended it;
2. CloudTrail's event history: the call that ended it (DeleteApp, DeleteEndpoint, ...), found with
   LookupEvents by event name and read with the event path's own translators (guardian.events), so a call
   names the resource exactly as its delivered event would have; the newest such call since the record was
   last seen alive (an app of the same name deleted yesterday ended an earlier life, not this one);
3. nothing: the sweep's own time, an upper bound, and said so (:func:`only_found`: "stopped before <time>").

The same DeleteApp history dates a stopped space none of whose apps says when it went (AWS forgets a deleted
app after about a day): :meth:`Evidence.last_app_stop`, the last activity the stale-space rule counts from.
And the call that created a resource says who made it (:meth:`Evidence.creation`: its CreateEndpoint,
RunJobFlow...): the caller's role and source identity, read by the same translators, so a read-only scan of
an account the guardian never watched attributes a resource exactly as its live event would have.

Bounded and soft. LookupEvents is limited to 2 requests a second per account and region, and one sweep
makes at most MAX_CALLS of them, paced: one paged lookup per event name (newest first, 50 a page) serves
every resource of that kind the sweep finds gone, paged only as far back as the oldest one needs. A scan, a
one-off, may make SCAN_MAX_CALLS (a minute at that pace) and reports each call as it goes. An error
(throttled, denied, CloudTrail unreachable) ends the lookups of this sweep and leaves the sweep's time; it
never fails the sweep. CloudTrail shows a call some minutes after it is made: a stop just before a sweep
may have no evidence yet, and is dated at the sweep.
"""

import json
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from guardian.arns import canonical, location_of, resource_path
from guardian.aws import AwsClients
from guardian.aws_fields import dig
from guardian.kinds import Kind, is_gone
from guardian.observability import MetricUnit, logger, metrics
from guardian.resource import Observation, Resource, Via, provenance_of

PERMISSIONS = ("cloudtrail:LookupEvents", "elasticmapreduce:DescribeCluster")

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
    Kind.PARTNER_APP: "DeletePartnerApp",
    Kind.INFERENCE_COMPONENT: "DeleteInferenceComponent",
    Kind.S3_BUCKET: "DeleteBucket",
}
# The call, as CloudTrail names it, that creates a billable resource: its caller is the resource's creator.
CREATED_BY: dict[Kind, str] = {
    Kind.ENDPOINT: "CreateEndpoint",
    Kind.EMR_CLUSTER: "RunJobFlow",
    Kind.HYPERPOD_CLUSTER: "CreateCluster",
    Kind.MLFLOW_TRACKING_SERVER: "CreateMlflowTrackingServer",
    Kind.NOTEBOOK_INSTANCE: "CreateNotebookInstance",
    Kind.PARTNER_APP: "CreatePartnerApp",
}
MAX_CALLS = 10  # LookupEvents calls per sweep: 500 events, five seconds at the service's rate
SCAN_MAX_CALLS = 120  # per scan (a one-off): 6,000 events, a minute at the service's rate
PACE_SECONDS = 0.5  # LookupEvents allows 2 requests a second per account and region
PAGE_SIZE = 50  # the most LookupEvents returns per call
LOOKBACK = timedelta(days=90)  # how long CloudTrail's event history keeps a call
SLACK = timedelta(minutes=1)  # CloudTrail stamps to the second; clocks drift
# A resource's own creation time and its Create call's may differ by the time the service took to answer.
CREATED_SLACK = timedelta(minutes=5)
SWEEP_SOURCE = "sweep:"  # how a sweep's observations name their source (guardian.reconcile)
# The guardian's own writes (guardian.recording): when it tagged a resource, or read its endpoint config.
GUARDIANS_OWN = ("guardian-tag:", "describe:")


@dataclass
class _Lookup:
    """One event name's history, paged newest first as far as the sweep has needed it."""

    event_name: str
    token: str | None = None
    done: bool = False  # paged to the end of the window
    reached: datetime | None = None  # the oldest call seen: everything newer has been read
    ends: dict[str, datetime] = field(default_factory=dict)  # canonical ARN -> the newest call that ended it
    names: dict[tuple[Kind, str], datetime] = field(default_factory=dict)  # by name, for ARNs built from ids
    spaces: dict[str, datetime] = field(default_factory=dict)  # a space's canonical ARN -> its newest DeleteApp
    # What a Create call said of the resource it made (its creator), by canonical ARN and, for ARNs built from
    # ids, by name: every such call read, of every life of a name.
    created: dict[str, list[Observation]] = field(default_factory=dict)
    created_names: dict[tuple[Kind, str], list[Observation]] = field(default_factory=dict)


class Evidence:
    """What one sweep learns of when things ended. Made once per sweep: it holds the sweep's budget of
    LookupEvents calls and what they returned."""

    def __init__(
        self,
        clients: AwsClients,
        now: datetime,
        max_calls: int | None = None,
        progress: Callable[[int, int], None] | None = None,
    ) -> None:
        """``progress`` hears (calls made, calls allowed) after each LookupEvents call."""
        self.clients = clients
        self.now = now
        self.max_calls = MAX_CALLS if max_calls is None else max_calls
        self.progress = progress
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
            at, how = self._described_end(existing, alive), "its own end time"
        if at is None:
            at, how = self.ended_at(existing, alive), "CloudTrail"
        if at is None:
            at, how = observation.observed_at, "none: the sweep's time"
        logger.info(
            "sweep dated a missed end",
            extra={"arn": existing.arn, "ended_at": at.isoformat(), "evidence": how, "last_seen": _iso(alive)},
        )
        return observation.model_copy(update={"fields": observation.fields | {"deleted_at": at}})

    def last_app_stop(self, space: Resource) -> datetime | None:
        """When an app of ``space`` was last deleted: the newest DeleteApp naming the space in CloudTrail's
        history (the same paged lookup that dates missed app ends), or None when none is found in the budget.
        What the sweep dates a stopped space by when none of the apps it holds says when they went."""
        lookup = self._lookups.setdefault(ENDED_BY[Kind.APP], _Lookup(ENDED_BY[Kind.APP]))
        while True:
            at = lookup.spaces.get(canonical(space.arn))
            if at is not None:  # pages come newest first: everything newer has been read
                return at if at <= self.now + SLACK else None
            if lookup.done or not self._next_page(lookup):
                return None

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

    def creation(self, resource: Resource) -> Observation | None:
        """What the call that created ``resource`` (this life of it) told: the observation its event would have
        made, with the caller as ``creator``. None when the kind has no such call, the resource is older than
        CloudTrail's history, or the call is not found within the budget."""
        event_name = CREATED_BY.get(resource.kind)
        born = resource.created_at
        if event_name is None or (born is not None and born < self.now - LOOKBACK):
            return None
        earliest = (born or self.now - LOOKBACK) - CREATED_SLACK
        lookup = self._lookups.setdefault(event_name, _Lookup(event_name))
        while True:
            found = self._created(lookup, resource, earliest)
            if found is not None:
                return found
            if lookup.done or (lookup.reached is not None and lookup.reached < earliest):
                return None
            if not self._next_page(lookup):
                return None

    def made(self, event_name: str) -> list[Observation]:
        """Every call ``event_name`` in the history that names who made what (as far as the budget reads), as
        the observations its event would have made: what no list call says is the guardian's (the buckets made
        from Studio), for a scan, which heard no event."""
        lookup = self._lookups.setdefault(event_name, _Lookup(event_name))
        while not lookup.done and self._next_page(lookup):
            pass
        return [call for calls in lookup.created.values() for call in calls]

    @staticmethod
    def _created(lookup: _Lookup, resource: Resource, earliest: datetime) -> Observation | None:
        """The newest Create call read so far that made this life of ``resource`` (not a namesake's before it)."""
        calls = lookup.created.get(canonical(resource.arn), [])
        if not calls and resource.kind is Kind.HYPERPOD_CLUSTER and resource.name:
            calls = lookup.created_names.get((resource.kind, resource.name), [])
        latest = resource.created_at + CREATED_SLACK if resource.created_at else None
        fitting = [c for c in calls if c.observed_at >= earliest and (latest is None or c.observed_at <= latest)]
        return max(fitting, key=lambda c: c.observed_at, default=None)

    def _own_timestamp(self, observation: Observation, alive: datetime | None) -> datetime | None:
        """A resource listed in a gone state was last modified by the call that ended it."""
        return self._plausible(observation.fields.get("last_modified_at"), alive)

    def _described_end(self, resource: Resource, alive: datetime | None) -> datetime | None:
        """When an EMR cluster ended, as it says itself (one DescribeCluster; an error is no evidence)."""
        if resource.kind is not Kind.EMR_CLUSTER:
            return None
        try:
            cluster = self.clients("emr").describe_cluster(ClusterId=resource_path(resource.arn)[-1])["Cluster"]
        except (ClientError, BotoCoreError) as error:
            logger.info("cluster's end time unavailable", extra={"arn": resource.arn, "error": str(error)})
            return None
        return self._plausible(dig(cluster, "Status", "Timeline", "EndDateTime"), alive)

    def _plausible(self, moment: object, alive: datetime | None) -> datetime | None:
        """``moment`` if it is a time between when the resource was last seen alive and now."""
        if not isinstance(moment, datetime):
            return None
        moment = moment if moment.tzinfo else moment.replace(tzinfo=UTC)
        if (alive is not None and moment < alive - SLACK) or moment > self.now + SLACK:
            return None
        return moment

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
        finally:
            if self.progress is not None:
                self.progress(self.calls, self.max_calls)
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
        # The event models are imported here, when the history is read: most handlers that import this never do.
        from guardian.events import CLOUDTRAIL_DETAIL_TYPE, CLOUDTRAIL_SOURCES, translate

        eventbridge_sources = {event_source: source for source, event_source in CLOUDTRAIL_SOURCES.items()}
        try:
            detail = json.loads(event["CloudTrailEvent"])
            translation = translate(
                {
                    "version": "0",
                    "id": event.get("EventId") or detail["eventID"],
                    "detail-type": CLOUDTRAIL_DETAIL_TYPE,
                    "source": eventbridge_sources.get(detail.get("eventSource"), ""),
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
            if "creator" in observation.fields:
                lookup.created.setdefault(canonical(observation.arn), []).append(observation)
                created_name = observation.fields.get("name")
                if isinstance(created_name, str):
                    lookup.created_names.setdefault((observation.kind, created_name), []).append(observation)
            if not is_gone(observation.fields.get("state")):
                continue
            at = observation.fields.get("deleted_at") or observation.observed_at
            key = canonical(observation.arn)
            lookup.ends[key] = max(lookup.ends.get(key, at), at)
            name = observation.fields.get("name")
            if isinstance(name, str):
                lookup.names[(observation.kind, name)] = max(lookup.names.get((observation.kind, name), at), at)
            space_name, domain_id = observation.fields.get("studio_space"), observation.fields.get("domain_id")
            if observation.kind is Kind.APP and isinstance(space_name, str) and isinstance(domain_id, str):
                space = canonical(location_of(observation.arn).space(domain_id, space_name))
                lookup.spaces[space] = max(lookup.spaces.get(space, at), at)


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
    """When anything was last observed of a record not yet known gone: it was alive then. Only what AWS said
    of the resource counts (its events, the sweep's list and describe), not the guardian's own doings, stamped
    when it did them: its ownership tags, an endpoint's config described. Those may come after the resource
    ended (its creation's event retried or delivered late, replayed; AddTags and a config outlive it): taken
    for a sign of life, they made the call that really ended it look like an earlier life's, and the end was
    dated at the sweep, its orphan check due a grace later (tests/integration/test_event_chaos.py)."""
    stamps = [
        seen.at
        for seen in map(provenance_of, record.versions.values())
        if seen and seen.via is not Via.TAG and not seen.source_id.startswith(GUARDIANS_OWN)
    ]
    if not stamps:
        return record.described_at or record.created_at or record.first_seen_at
    return max(stamps)


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value else None
