"""Recording one observation: the core function both paths (events and the sweep) call.

merge -> attribute -> conditional write; then what follows from the change: a space's activity
when one of its apps changed, its members' attribution when the space changed, an endpoint's config,
and the guardian's ownership tags on a resource that lacks them.
"""

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from botocore.exceptions import ClientError

from guardian.arns import kind_of, location_of, resource_path
from guardian.aws_fields import digest
from guardian.derive import derive, space_activity, with_activity
from guardian.inventory import UNREAD, Applied, FollowedBy, Unread, apply, rewrite
from guardian.kinds import TAGGABLE, Kind, is_billing, is_gone
from guardian.observability import MetricUnit, logger, metrics
from guardian.resolution import resolve_findings_of
from guardian.resource import Observation, Resource, Via
from guardian.rules.base import version_time
from guardian.runtime import Guardian
from guardian.scheduling import ensure_check
from guardian.tagging import ADD_TAGS_PERMISSIONS, add_tags

# Tags the guardian writes are newer than anything else observed at the same instant (the sweep's).
TAGGED_AFTER_EVERYTHING = 99

# What recording needs beyond the table: endpoint configs, and writing ownership tags.
PERMISSIONS = ("sagemaker:DescribeEndpointConfig", *ADD_TAGS_PERMISSIONS)


@dataclass(frozen=True)
class Outcome:
    """What recording an observation did, for reports (`guardian replay`) and logs."""

    resource: Resource
    changed: bool
    tagged: tuple[str, ...] = ()
    first_sighting: bool = False  # the guardian held no record of it before (guardian.judging)

    def as_dict(self) -> dict[str, Any]:
        return {
            "arn": self.resource.arn,
            "kind": self.resource.kind.value,
            "changed": self.changed,
            "state": self.resource.state,
            "owner": self.resource.owner,
            "attribution": self.resource.attribution.source.value,
            "tagged": list(self.tagged),
        }


def record(
    guardian: Guardian,
    observation: Observation,
    now: datetime,
    follow_up: bool = True,
    held: Resource | None | Unread = UNREAD,
) -> Outcome:
    """Record one observation: one conditional write of its record, with what the merged record calls for
    folded in (its endpoint config described, the ownership tags written). ``follow_up`` updates related
    records at once (the event path); the sweep, which records everything, does that in one pass at its end
    instead. ``held``: the record as the caller already holds it (the sweep's query), not read again."""
    resolved = _resolve_by_name(guardian, observation)
    if resolved.arn != observation.arn:
        held = UNREAD  # found by name: not the record the caller held
    tagged: dict[str, str] = {}

    def followed_by(merged: Resource) -> list[Observation]:
        more = [described] if (described := _endpoint_config_described(guardian, merged, now)) else []
        if tags := _ownership_tags(guardian, merged, now):
            tagged.update(tags.tags or {})
            more.append(tags)
        return more

    applied = _apply(guardian, resolved, now, held=held, followed_by=followed_by)
    if follow_up:
        _follow_up(guardian, applied, resolved, now)
    return Outcome(
        applied.after, changed=applied.changed, tagged=tuple(sorted(tagged)), first_sighting=applied.before is None
    )


def _follow_up(guardian: Guardian, applied: Applied, observation: Observation, now: datetime) -> None:
    after = applied.after
    if applied.changed and after.kind in (Kind.USER_PROFILE, Kind.DOMAIN, Kind.SPACE):
        guardian.forget_directory()
    if after.kind is Kind.APP and after.space_arn:
        refresh_space(guardian, after.space_arn, observation, now)
    if after.kind is Kind.SPACE and applied.changed:
        rederive(guardian, [m.arn for m in guardian.inventory.by_space(after.arn) if m.arn != after.arn], now)
    # What follows from a resource being gone follows from the record as stored, not from whether this
    # write changed it: a retry after a write that committed and then timed out must still do it.
    if is_gone(after.state):
        resolve_findings_of(guardian, after, now)
        ensure_orphan_check(guardian, after, now)
    if after.kind is Kind.USER_PROFILE and applied.changed:
        # What names this person (by ARN, or by name before the profile was known) is re-attributed.
        owned = guardian.inventory.by_owner(after.arn) + guardian.inventory.by_owner(after.name)
        rederive(guardian, [m.arn for m in owned if m.arn != after.arn], now)


def _apply(
    guardian: Guardian,
    observation: Observation,
    now: datetime,
    held: Resource | None | Unread = UNREAD,
    followed_by: FollowedBy | None = None,
) -> Applied:
    directory = guardian.directory(now)
    tags = guardian.ownership_tags
    return apply(
        guardian.inventory,
        observation,
        derive=lambda r: derive(r, directory, tags),
        held=held,
        followed_by=followed_by,
    )


def rederive(guardian: Guardian, arns: list[str], now: datetime) -> int:
    """Recompute owners of records whose evidence elsewhere changed; returns how many changed."""
    directory = guardian.directory(now)
    tags = guardian.ownership_tags
    changed = 0
    for arn in arns:
        result = rewrite(guardian.inventory, arn, lambda r: derive(r, directory, tags))
        changed += bool(result and result.changed)
    return changed


def refresh_space(guardian: Guardian, space_arn: str, cause: Observation, now: datetime) -> None:
    """Recompute whether a space runs from the apps the inventory holds for it; when it stops, arrange
    for what it leaves running to be judged the moment the orphan grace ends."""
    activity = space_activity(guardian.inventory.by_space(space_arn))
    if activity is None:
        return
    if guardian.inventory.get(space_arn) is None:
        if kind_of(space_arn) is not Kind.SPACE:
            return  # not a space ARN (the parsers reject these; this keeps the stub's fields sound)
        # An app of a space the inventory has not met: start the space's record from what is known.
        domain_id, name = resource_path(space_arn)[:2]
        stub = Observation(
            arn=space_arn,
            kind=Kind.SPACE,
            observed_at=cause.observed_at,
            source_id=cause.source_id,
            origin=f"{cause.origin} (space of app)",
            via=cause.via,
            fields={"name": name, "domain_id": domain_id},
        )
        _apply(guardian, stub, now)
    result = rewrite(guardian.inventory, space_arn, lambda space: with_activity(space, activity))
    if result:
        ensure_orphan_check(guardian, result.after, now)


def orphan_check(resource: Resource) -> tuple[dict[str, str], datetime, str] | None:
    """The orphan check a record as stored calls for: (scope, since when, key), or None. A stopped space's
    is keyed by the app state that stopped it, a deleted space's or profile's by its deletion; since when
    is what the orphaned-resource rule counts the grace from."""
    if resource.kind not in (Kind.SPACE, Kind.USER_PROFILE):
        return None
    scope = {"space_arn": resource.arn} if resource.kind is Kind.SPACE else {"owner_arn": resource.arn}
    if is_gone(resource.state):
        since = resource.deleted_at or version_time(resource.versions.get("state"))
        return (scope, since, f"{resource.arn}|gone") if since else None
    if resource.kind is Kind.SPACE and resource.running is False and resource.activity_version:
        since = resource.activity_at or version_time(resource.activity_version)
        return (scope, since, f"{resource.arn}|{resource.activity_version}") if since else None
    return None


def ensure_orphan_check(guardian: Guardian, resource: Resource, now: datetime, upcoming_only: bool = False) -> None:
    """Judge what a stopped or deleted space (or a deleted profile) left running the moment the orphan grace
    ends: the check is recorded, then scheduled (guardian.scheduling), unless it is already. ``upcoming_only``:
    only a check whose moment is still to come (the sweep's own evaluation judges the rest)."""
    check = orphan_check(resource)
    if check is None:
        return
    scope, since, key = check
    due = since + timedelta(minutes=guardian.rules.orphaned_resource.grace_minutes)
    if upcoming_only and due <= now:
        return
    ensure_check(guardian, due, scope, key, now)


def _resolve_by_name(guardian: Guardian, observation: Observation) -> Observation:
    """HyperPod calls may name a cluster whose ARN carries an id: find it by name in the inventory."""
    if observation.kind is not Kind.HYPERPOD_CLUSTER or guardian.inventory.get(observation.arn):
        return observation
    name = observation.fields.get("name") or resource_path(observation.arn)[-1]
    known = [
        r
        for r in guardian.inventory.by_name(observation.kind, name, location_of(observation.arn))
        if not is_gone(r.state)
    ]
    if len(known) == 1:
        return observation.model_copy(update={"arn": known[0].arn})
    return observation


def _endpoint_config_described(guardian: Guardian, endpoint: Resource, now: datetime) -> Observation | None:
    """Instance types live in the endpoint config, which no event carries: read it once per config."""
    config = endpoint.endpoint_config_name
    # Described even for a deleted endpoint (its config outlives it): the record must not depend on
    # whether the deletion happened to be delivered before the update.
    if endpoint.kind is not Kind.ENDPOINT or not config or endpoint.config_described == config:
        return None
    try:
        described = guardian.clients("sagemaker").describe_endpoint_config(EndpointConfigName=config)
    except ClientError as error:
        logger.warning(
            "endpoint config unreadable",
            extra={"arn": endpoint.arn, "config": config, "error": error.response["Error"]["Code"]},
        )
        return None
    return Observation(
        arn=endpoint.arn,
        kind=Kind.ENDPOINT,
        observed_at=now,
        source_id=f"describe:{config}",
        origin="DescribeEndpointConfig",
        via=Via.DESCRIBE,
        fields={"config_described": config},
        groups=variant_groups(described["ProductionVariants"], with_counts=False),
    )


def variant_groups(variants: list[dict[str, Any]], with_counts: bool) -> dict[str, dict[str, Any]]:
    """Production variants (DescribeEndpointConfig or DescribeEndpoint) as instance groups."""
    groups: dict[str, dict[str, Any]] = {}
    for variant in variants:
        group: dict[str, Any] = {}
        if "InstanceType" in variant:
            group["instance_type"] = variant["InstanceType"]
        if "ServerlessConfig" in variant or "CurrentServerlessConfig" in variant:
            group |= {"serverless": True, "instance_type": "serverless"}
        elif "InstanceType" in variant:
            group["serverless"] = False
        count = variant.get("CurrentInstanceCount")
        if count is None and group.get("serverless"):
            count = 0  # serverless variants run no instances of their own
        if with_counts and count is not None:  # a count the response does not give is not known
            group["instance_count"] = int(count)
        groups[variant["VariantName"]] = group
    return groups


def tag_if_missing(guardian: Guardian, resource: Resource, now: datetime) -> tuple[dict[str, str], Resource]:
    """Write the guardian's ownership tags onto a live, taggable resource that lacks them; returns the
    tags written and the record as it now stands (``resource`` being the record as stored)."""
    written = _ownership_tags(guardian, resource, now)
    if written is None:
        return {}, resource
    return written.tags or {}, _apply(guardian, written, now, held=resource).after


def _ownership_tags(guardian: Guardian, resource: Resource, now: datetime) -> Observation | None:
    """Write the guardian's ownership tags onto a live, taggable resource that lacks them; returns the
    observation of what was written (for the record's write), or None."""
    if not guardian.write_tags or resource.kind not in TAGGABLE or not is_billing(resource.kind, resource.state):
        return None
    missing = guardian.ownership_tags.missing_on(resource)
    if not missing:
        return None
    try:
        add_tags(guardian.clients, resource, missing)
    except ClientError as error:
        # Tagging is a convenience for cost allocation: a resource that refuses it is still recorded.
        logger.warning(
            "ownership tags not written", extra={"arn": resource.arn, "error": error.response["Error"]["Code"]}
        )
        metrics.add_metric(name="TagWriteFailures", unit=MetricUnit.Count, value=1)
        return None
    fields: dict[str, Any] = {"guardian_tagged_at": now}  # remediation trusts this record, not the tag
    if resource.fingerprint:
        # The next sweep will list these tags too: expect them, so it does not count them as a change.
        summary_print = resource.fingerprint.partition("|")[0]
        fields["fingerprint"] = f"{summary_print}|{digest(resource.tags | missing)}"
    written = Observation(
        arn=resource.arn,
        kind=resource.kind,
        observed_at=now,
        source_id=f"guardian-tag:{now.isoformat()}",
        origin="guardian:AddTags",
        via=Via.TAG,
        fields=fields,
        tags=missing,
        rank=TAGGED_AFTER_EVERYTHING,
    )
    logger.info(
        "ownership tags written",
        extra={"arn": resource.arn, "tags": missing, "source": resource.attribution.source.value},
    )
    metrics.add_metric(name="TagsWritten", unit=MetricUnit.Count, value=1)
    return written
