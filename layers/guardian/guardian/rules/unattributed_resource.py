"""unattributed-resource: a billable resource no source can attribute to anyone. Somebody pays for it and
nobody answers for it; the evidence lists what was tried."""

from datetime import datetime, timedelta

from pydantic import Field

from guardian.kinds import BILLABLE_OUTSIDE_SPACE, is_billing
from guardian.resource import Resource, Source
from guardian.rules.base import Detection, Rule, RuleConfig, RuleContext


class UnattributedResourceConfig(RuleConfig):
    grace_minutes: int = Field(default=60, ge=0, description="time for events and the sweep to find the owner")


class UnattributedResource(Rule[UnattributedResourceConfig]):
    name = "unattributed-resource"
    adjective = "Unowned"
    Config = UnattributedResourceConfig
    kinds = BILLABLE_OUTSIDE_SPACE
    remediable = False  # nobody was told: there is nobody to tell

    def evaluate(self, resource: Resource, context: RuleContext) -> Detection | None:
        if resource.attribution.source is not Source.UNATTRIBUTED or not is_billing(resource.kind, resource.state):
            return None
        if resource.serverless or resource.instance_count == 0:
            return None
        since = resource.created_at or resource.first_seen_at
        if since is None or (context.now - since).total_seconds() < self.config.grace_minutes * 60:
            return None
        creator = resource.creator.principal_arn if resource.creator else None
        evidence = {"tried": list(resource.attribution.notes), "created_by": creator}
        return Detection(self.name, resource, since, "billing, and no evidence names an owner", evidence)

    def next_check(self, resource: Resource, context: RuleContext) -> datetime | None:
        """The end of the grace given events and the sweep to find an owner, for a resource nobody owns yet."""
        if resource.attribution.source is not Source.UNATTRIBUTED or not is_billing(resource.kind, resource.state):
            return None
        since = resource.created_at or resource.first_seen_at
        if resource.serverless or resource.instance_count == 0 or since is None:
            return None
        due = since + timedelta(minutes=self.config.grace_minutes)
        return due if due > context.now else None
