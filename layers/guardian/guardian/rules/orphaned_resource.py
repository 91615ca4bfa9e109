"""orphaned-resource: still billing after the space that created it stopped or was deleted, or after its
owner's profile was deleted. The rule no other tool has: stopping a space stops only its own instance."""

from datetime import datetime, timedelta
from typing import Any

from pydantic import Field

from guardian.evidence import only_found
from guardian.kinds import BILLABLE_OUTSIDE_SPACE, is_billing, is_gone
from guardian.resource import Resource
from guardian.rules.base import Detection, Rule, RuleConfig, RuleContext, iso, version_time


class OrphanedResourceConfig(RuleConfig):
    grace_minutes: int = Field(default=30, ge=0, description="a quick restart of the space is not an alarm")


class OrphanedResource(Rule[OrphanedResourceConfig]):
    name = "orphaned-resource"
    adjective = "Orphaned"
    Config = OrphanedResourceConfig
    kinds = BILLABLE_OUTSIDE_SPACE
    remediable = True
    groups_by_space = True

    def evaluate(self, resource: Resource, context: RuleContext) -> Detection | None:
        if not is_billing(resource.kind, resource.state) or resource.serverless or resource.instance_count == 0:
            return None
        found = self._abandoned_since(resource, context)
        if found is None:
            return None
        at, reason, evidence = found
        if at is None:  # a rule that cannot say since when cannot judge (the evaluation logs it)
            raise ValueError(f"no time known for: {reason}")
        since = max(at, resource.created_at or at)
        # A scan has no later look: a stop known only to be before now may be long past the grace, so it is said.
        waived = context.audit and evidence.get(UPPER_BOUND, False)
        if (context.now - since).total_seconds() < self.config.grace_minutes * 60 and not waived:
            return None
        evidence |= {"resource_state": resource.state, "grace_minutes": self.config.grace_minutes}
        return Detection(self.name, resource, since, f"still billing since {reason}", evidence)

    def next_check(self, resource: Resource, context: RuleContext) -> datetime | None:
        """The end of the grace, for a resource billing after its space or owner went (made or started then)."""
        if not is_billing(resource.kind, resource.state) or resource.serverless or resource.instance_count == 0:
            return None
        found = self._abandoned_since(resource, context)
        if found is None or found[0] is None:
            return None
        due = max(found[0], resource.created_at or found[0]) + timedelta(minutes=self.config.grace_minutes)
        return due if due > context.now else None

    @staticmethod
    def _abandoned_since(
        resource: Resource, context: RuleContext
    ) -> tuple[datetime | None, str, dict[str, Any]] | None:
        owner = context.lookup(resource.owner_arn) if resource.owner_arn else None
        if owner is not None and is_gone(owner.state):
            at = owner.deleted_at or version_time(owner.versions.get("state"))
            found = {"owner_deleted_at": iso(at)} | _bound(at, _deletion(owner))
            return at, f"its owner's profile {owner.name} {_deleted(owner)}", found
        if resource.space_arn:
            space = context.lookup(resource.space_arn)
            if space is None:
                return None  # a space the inventory does not know: no judgement
            if is_gone(space.state):
                at = space.deleted_at or version_time(space.versions.get("state"))
                found = {"space": space.name, "space_deleted_at": iso(at)} | _bound(at, _deletion(space))
                return at, f"space {space.name} {_deleted(space)}", found
            if space.running is False:
                at = space.activity_at or version_time(space.activity_version)
                when = _before(space.activity_at, space.activity_version)
                found = {"space": space.name, "space_stopped_at": iso(at)}
                found |= _bound(space.activity_at, space.activity_version)
                return at, f"space {space.name} stopped{when}", found
            return None
        if resource.owner_arn:
            # Made from Studio by a known person, space unknown: orphaned when none of their spaces runs.
            spaces = [s for s in context.spaces_of_owner(resource.owner_arn) if not is_gone(s.state)]
            if spaces and all(s.running is False for s in spaces):
                stopped = [s.activity_at or version_time(s.activity_version) for s in spaces]
                at = None if None in stopped else max(t for t in stopped if t is not None)
                last = max(spaces, key=lambda s: s.activity_at or version_time(s.activity_version) or context.now)
                bound = _bound(last.activity_at, last.activity_version)
                return (
                    at,
                    f"none of {resource.owner}'s {len(spaces)} spaces runs"
                    + (f", the last stopped before {iso(at)}" if bound else ""),
                    {
                        "owner_spaces": sorted(s.name for s in spaces),
                        "last_space_stopped_at": iso(at),
                        "space_inferred": True,
                    }
                    | bound,
                )
        return None


# The evidence's key for a moment known only as an upper bound: when a sweep or scan found it, not when it was.
UPPER_BOUND = "time_is_upper_bound"


def _deletion(record: Resource) -> str | None:
    return record.versions.get("deleted_at") or record.versions.get("state")


def _deleted(record: Resource) -> str:
    return "was deleted" + _before(record.deleted_at, _deletion(record))


def _bound(at: datetime | None, version: str | None) -> dict[str, Any]:
    """The evidence that ``at`` is only an upper bound (guardian.evidence.only_found), or nothing."""
    return {UPPER_BOUND: True} if only_found(at, version) else {}


def _before(at: datetime | None, version: str | None) -> str:
    """' before <time>' when the moment is only when a sweep found it (no evidence of when: guardian.evidence)."""
    if not only_found(at, version):
        return ""
    found = at or version_time(version)
    return f" before {iso(found)}" if found else ""
