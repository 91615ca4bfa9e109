"""The event path's describe of one resource: an event that says a resource changed but not how (a HyperPod
resize, an EMR group named by its id, an auto-termination policy removed, an endpoint in service with no
count) is followed at once by the describe the sweep would make of it, so what it costs is right within a
minute of the event rather than at the next sweep.

Bounded: at most MAX_PER_EVENT describes per event. A describe that fails, or one over the bound, leaves
the record marked so the next sweep describes it whatever its list summary says (its fingerprint no longer
matches); the event's own facts are recorded either way.
"""

from datetime import datetime

from botocore.exceptions import BotoCoreError, ClientError

from guardian.collectors import COLLECTORS, Collector, said
from guardian.kinds import is_final
from guardian.observability import MetricUnit, logger, metrics
from guardian.recording import record
from guardian.resource import Observation, Resource, Via
from guardian.runtime import Guardian

MAX_PER_EVENT = 1
# A fingerprint no list summary has: the next sweep sees the summary as changed, and describes the resource.
UNDESCRIBED = "describe-pending"

# The kinds an event may ask to describe (each collector that can name one resource to its describe).
DESCRIBABLE: dict[str, Collector] = {c.kind.value: c for c in COLLECTORS if c.describe_permissions}
PERMISSIONS = tuple(sorted({action for c in DESCRIBABLE.values() for action in c.describe_permissions}))


def describe_changed(guardian: Guardian, resources: list[Resource], now: datetime) -> list[Resource]:
    """Describe the resources an event changed but did not say how (at most MAX_PER_EVENT; the rest are left
    for the next sweep); returns their records as described."""
    described: list[Resource] = []
    wanted = list({r.arn: r for r in resources}.values())
    for resource in wanted[:MAX_PER_EVENT]:
        after = describe_now(guardian, resource, now)
        if after is not None:
            described.append(after)
    for resource in wanted[MAX_PER_EVENT:]:
        leave_for_the_sweep(guardian, resource, now, "over the bound of describes per event")
    return described


def describe_now(guardian: Guardian, resource: Resource, now: datetime) -> Resource | None:
    """Describe one resource and record what it says (as the sweep's describe: the authoritative word);
    None if it is not described (gone for good, a kind not described, or the call failed)."""
    collector = DESCRIBABLE.get(resource.kind.value)
    if collector is None or is_final(resource.state):
        return None
    try:
        described, groups = collector.describe_one(guardian.clients, resource)
    except (ClientError, BotoCoreError, KeyError, NotImplementedError) as error:
        reason = error.response["Error"]["Code"] if isinstance(error, ClientError) else type(error).__name__
        leave_for_the_sweep(guardian, resource, now, reason)
        return None
    observation = Observation(
        arn=resource.arn,
        kind=resource.kind,
        observed_at=now,
        source_id=f"describe:{now.isoformat()}",
        origin=f"describe ({collector.kind.value}, after an event)",
        via=Via.DESCRIBE,
        fields=said(collector, described) | {"described_at": now},
        groups=groups,
        complete_maps=groups is not None,
    )
    after = record(guardian, observation, now).resource
    metrics.add_metric(name="EventDescribes", unit=MetricUnit.Count, value=1)
    return after


def leave_for_the_sweep(guardian: Guardian, resource: Resource, now: datetime, reason: str) -> None:
    """Not described now: marked so the next sweep describes it (its fingerprint matches no summary)."""
    logger.warning("resource not described after its event", extra={"arn": resource.arn, "reason": reason})
    metrics.add_metric(name="EventDescribesLeft", unit=MetricUnit.Count, value=1)
    tags_print = (resource.fingerprint or "").partition("|")[2]
    marked = Observation(
        arn=resource.arn,
        kind=resource.kind,
        observed_at=now,
        source_id=f"describe-pending:{now.isoformat()}",
        origin=f"describe pending ({reason})",
        fields={"fingerprint": f"{UNDESCRIBED}|{tags_print}"},
    )
    record(guardian, marked, now, follow_up=False)
