"""stale-space-storage: a space with no app for N days that still holds its EBS volume."""

from datetime import timedelta

from pydantic import Field

from guardian.kinds import Kind, is_gone
from guardian.resource import Resource
from guardian.rules.base import Detection, Rule, RuleConfig, RuleContext, iso, version_time


class StaleSpaceStorageConfig(RuleConfig):
    days: int = Field(default=30, ge=1)


class StaleSpaceStorage(Rule[StaleSpaceStorageConfig]):
    name = "stale-space-storage"
    adjective = "Stale"
    Config = StaleSpaceStorageConfig
    kinds = frozenset({Kind.SPACE})
    remediable = False  # deleting a space deletes its owner's files

    def evaluate(self, resource: Resource, context: RuleContext) -> Detection | None:
        if is_gone(resource.state) or resource.running is not False:
            return None
        last_used = resource.activity_at or resource.created_at or version_time(resource.activity_version)
        if last_used is None:
            return None
        stale_from = last_used + timedelta(days=self.config.days)
        if context.now < stale_from:
            return None
        gigabytes = resource.storage_gb or 5
        evidence = {
            "last_app_at": iso(resource.activity_at),
            "created_at": iso(resource.created_at),
            "volume_gb": gigabytes,
            "days": self.config.days,
        }
        days_idle = (context.now - last_used).days
        return Detection(
            self.name,
            resource,
            stale_from,
            f"no app for {days_idle} days, {gigabytes} GB volume still billed",
            evidence,
        )
