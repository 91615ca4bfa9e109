"""orphaned-bucket: an S3 bucket made from Studio whose space was deleted, or whose owner's profile was.

Notify only: a bucket is data, so the guardian says so and never deletes it (``remediable`` is False, and no
remediation action exists for the kind: guardian.kinds.NEVER_REMEDIATED). Its cost is what it stores (the
daily BucketSizeBytes at the S3 Standard price), unknown until S3 has reported its size.

CloudTrail names who made a bucket (an execution role, a source identity), not from which space: the space is
the one its attribution names where one does (a tag), else the owner's spaces: when every one of them is
deleted, the one it was made from is too.
"""

from datetime import datetime, timedelta
from typing import Any

from pydantic import Field

from guardian.kinds import Kind, is_gone
from guardian.resource import Resource
from guardian.rules.base import Detection, Rule, RuleConfig, RuleContext, iso, version_time


class OrphanedBucketConfig(RuleConfig):
    grace_minutes: int = Field(default=30, ge=0, description="a space deleted and made again is not an alarm")


class OrphanedBucket(Rule[OrphanedBucketConfig]):
    name = "orphaned-bucket"
    adjective = "Orphaned"
    title = "Orphaned S3 bucket"
    Config = OrphanedBucketConfig
    kinds = frozenset({Kind.S3_BUCKET})
    remediable = False  # a bucket is someone's data: said, never deleted

    def evaluate(self, resource: Resource, context: RuleContext) -> Detection | None:
        found = self._abandoned(resource, context)
        if found is None:
            return None
        at, reason, evidence = found
        since = max(at, resource.created_at or at)
        if (context.now - since).total_seconds() < self.config.grace_minutes * 60:
            return None
        evidence |= {"size_bytes": resource.size_bytes, "grace_minutes": self.config.grace_minutes}
        evidence |= {"never_deleted": "a bucket is data: the guardian only says so"}
        return Detection(self.name, resource, since, f"still stores data since {reason}", evidence)

    def next_check(self, resource: Resource, context: RuleContext) -> datetime | None:
        found = self._abandoned(resource, context)
        if found is None:
            return None
        due = max(found[0], resource.created_at or found[0]) + timedelta(minutes=self.config.grace_minutes)
        return due if due > context.now else None

    @staticmethod
    def _abandoned(resource: Resource, context: RuleContext) -> tuple[datetime, str, dict[str, Any]] | None:
        """When and why the bucket was left without its space or owner, or None while it has them."""
        if is_gone(resource.state):
            return None
        owner = context.lookup(resource.owner_arn) if resource.owner_arn else None
        if owner is not None and is_gone(owner.state) and (at := _deleted_at(owner)):
            return at, f"its owner's profile {owner.name} was deleted", {"owner_deleted_at": iso(at)}
        if resource.space_arn:
            space = context.lookup(resource.space_arn)
            if space is None or not is_gone(space.state) or not (at := _deleted_at(space)):
                return None
            return at, f"space {space.name} was deleted", {"space": space.name, "space_deleted_at": iso(at)}
        if resource.owner_arn:
            spaces = [s for s in context.spaces_of_owner(resource.owner_arn) if s.kind is Kind.SPACE]
            deleted = [_deleted_at(s) for s in spaces if is_gone(s.state)]
            if not spaces or len(deleted) < len(spaces) or None in deleted:
                return None  # a space of theirs lives (or none is known): it may be the one it was made from
            at = max(t for t in deleted if t is not None)
            names = sorted(s.name for s in spaces)
            reason = (
                f"{resource.owner}'s space {names[0]} was deleted"
                if len(names) == 1
                else (f"all {len(names)} of {resource.owner}'s spaces were deleted")
            )
            return at, reason, {"owner_spaces": names, "last_space_deleted_at": iso(at), "space_inferred": True}
        return None


def _deleted_at(record: Resource) -> datetime | None:
    return record.deleted_at or version_time(record.versions.get("deleted_at") or record.versions.get("state"))
