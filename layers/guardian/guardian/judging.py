"""Findings on the event path: an event that changed a resource has that resource's rules judged at once,
not at the next sweep (an EMR cluster in service with no auto-termination policy; a policy added, which
ends that finding; a resize, which moves a finding's cost). A rule whose verdict waits for a grace or a
limit to end (a resource nobody owns yet, one made after its space stopped, an app before its limit) has
the resource's check scheduled for that moment (guardian.scheduling), as a stopped space's orphan check is.
Only metric windows wait for their data: the metric rules judge on what CloudWatch has now, as the sweep
would, and the sweep judges them again each hour.

A resource no evidence names yet is judged only once the guardian has had the grace it gives itself to
find its owner (unattributed_resource.grace_minutes, from when it first knew of the resource) and a sweep,
which looks for owners first, has seen it: a finding sent to the team before its owner is known cannot be
unsent. Its check is scheduled for the end of that grace; the sweep judges it otherwise.

Judging is the event's follow-up, not the event: a failure here is logged and counted, and the sweep
judges everything within the hour.
"""

from datetime import datetime, timedelta

from guardian.arns import location_of
from guardian.evaluation import EvaluationReport, evaluate
from guardian.kinds import BILLABLE_OUTSIDE_SPACE, Kind, is_gone
from guardian.observability import MetricUnit, logger, metrics
from guardian.resource import Resource, Source
from guardian.rules import RuleContext
from guardian.runtime import Guardian
from guardian.scheduling import ensure_check

# What an event may make a rule match. Profiles and domains are owners: judged through what they hold.
JUDGED_KINDS = BILLABLE_OUTSIDE_SPACE | {Kind.APP, Kind.SPACE, Kind.S3_BUCKET}


def judge(
    guardian: Guardian, resources: list[Resource], now: datetime, first_seen: frozenset[str] = frozenset()
) -> EvaluationReport | None:
    """Evaluate the rules of the resources an event changed (a space with what it holds), and schedule the
    check of each whose verdict changes at a moment still to come. ``first_seen``: the ARNs this event first
    told of. None if nothing was judged or the evaluation failed (logged)."""
    try:
        scope = _scope(guardian, resources)
        unclaimed = {arn: r for arn, r in scope.items() if _owner_still_sought(guardian, r, now, arn in first_seen)}
        judged = {arn: r for arn, r in scope.items() if arn not in unclaimed}
        report = evaluate(guardian, list(judged.values()), now, complete=False) if judged else None
        schedule_next_checks(guardian, judged, now)
        for resource in unclaimed.values():
            _check_when_sought(guardian, resource, now)
        return report
    except Exception:  # the event is recorded; its findings follow at the next sweep at the latest
        logger.exception("rules not judged on the event path", extra={"arns": [r.arn for r in resources][:20]})
        metrics.add_metric(name="EventJudgementErrors", unit=MetricUnit.Count, value=1)
        return None


def _sought_until(guardian: Guardian, resource: Resource) -> datetime | None:
    """Until when the guardian gives itself to find the owner of a resource no evidence names yet: the
    unattributed grace, from when it first knew of it (an old resource first seen now has its grace too)."""
    if resource.attribution.source is not Source.UNATTRIBUTED or resource.kind not in BILLABLE_OUTSIDE_SPACE:
        return None
    seen = resource.first_seen_at or resource.created_at
    return seen + timedelta(minutes=guardian.rules.unattributed_resource.grace_minutes) if seen else None


def _owner_still_sought(guardian: Guardian, resource: Resource, now: datetime, first_sighting: bool) -> bool:
    """A finding names its owner, and one sent to the team before the owner is known cannot be unsent (a
    private space's resource would be named to them). What no evidence names yet is judged once the grace to
    find its owner is over (its check), and once a sweep, which looks for owners first, has described it;
    never on the event that first told of it (the call that names its maker may be the next event:
    EventBridge reorders, and a new stack hears of old resources before its first sweep)."""
    until = _sought_until(guardian, resource)
    return until is not None and (until > now or first_sighting or resource.described_at is None)


def _check_when_sought(guardian: Guardian, resource: Resource, now: datetime) -> None:
    """The check at the end of the grace; past it, the next sweep judges (after it looks for owners)."""
    until = _sought_until(guardian, resource)
    if until is None or until <= now:
        return
    try:
        key = f"{resource.arn}|owner-sought|{until:%Y-%m-%dT%H:%M:%S}"
        ensure_check(guardian, until, {"resource_arn": resource.arn}, key, now)
    except Exception:  # the sweep judges it within the hour
        logger.exception("check not scheduled", extra={"arn": resource.arn})
        metrics.add_metric(name="CheckErrors", unit=MetricUnit.Count, value=1)


def _scope(guardian: Guardian, resources: list[Resource]) -> dict[str, Resource]:
    """What the changed resources' rules judge: each of them, and where an owner's settings decide about what
    it holds (the idle shutdown a space, a profile or a domain gives its apps), those too."""
    scope: dict[str, Resource] = {}
    for resource in resources:
        if is_gone(resource.state):
            members: list[Resource] = []  # what a deletion leaves is the orphan check's (guardian.recording)
        elif resource.kind is Kind.SPACE:
            members = guardian.inventory.by_space(resource.arn)
        elif resource.kind is Kind.USER_PROFILE:
            members = guardian.inventory.by_owner(resource.arn)
        elif resource.kind is Kind.DOMAIN:
            apps = guardian.inventory.by_kind(Kind.APP, location_of(resource.arn))
            members = [a for a in apps if a.domain_id == resource.domain_id]
        else:
            members = []
        members = [m for m in members if not is_gone(m.state)]
        scope |= {r.arn: r for r in [resource, *members] if r.kind in JUDGED_KINDS}
    return scope


def schedule_next_checks(guardian: Guardian, scope: dict[str, Resource], now: datetime) -> int:
    """For each resource and rule whose verdict changes by time alone after now, the resource's check at that
    moment (recorded, then scheduled; idempotent per resource, rule and moment); returns how many."""

    def lookup(arn: str) -> Resource | None:
        return scope.get(arn) or guardian.inventory.get(arn)

    def spaces_of_owner(owner_arn: str) -> list[Resource]:
        return [r for r in guardian.inventory.by_owner(owner_arn) if r.kind is Kind.SPACE]

    context = RuleContext(now=now, lookup=lookup, spaces_of_owner=spaces_of_owner)
    ensured = 0
    for rule in guardian.rules.rules():
        for resource in scope.values():
            if resource.kind not in rule.kinds or is_gone(resource.state):
                continue
            try:
                due = rule.next_check(resource, context)
                if due is None or due <= now:
                    continue
                key = f"{resource.arn}|{rule.name}|{due:%Y-%m-%dT%H:%M:%S}"
                ensured += ensure_check(guardian, due, {"resource_arn": resource.arn}, key, now) is not None
            except Exception:  # one check must not keep the others from being scheduled; the sweep judges it
                logger.exception("check not scheduled", extra={"rule": rule.name, "arn": resource.arn})
                metrics.add_metric(name="CheckErrors", unit=MetricUnit.Count, value=1)
    return ensured
