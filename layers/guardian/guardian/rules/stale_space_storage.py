"""stale-space-storage: a space with no app for N days that still holds its EBS volume.

"No app since when" comes from evidence, best first: the last stop of its apps the guardian recorded (an
event, an app's record, or CloudTrail's DeleteApp found by the sweep: guardian.evidence); else when the
guardian's own sweeps first found it without an app (they list every app, even one deleted within the
day, so none ran since). The space's own LastModifiedTime can only move that later (someone changed the
space then). Its creation date is never the answer: AWS forgets a deleted app after about a day, so a
space made long ago may have run an app yesterday. With no evidence at all the condition is unproven and
there is no finding: a finding accuses its owner, with a dollar figure, and one that may be false teaches
people to ignore the rest, for a volume that costs cents a day. Once the guardian has itself watched the
space for N days without an app, the finding comes, saying that the last activity is unknown."""

from dataclasses import dataclass
from datetime import datetime, timedelta

from pydantic import Field

from guardian.kinds import Kind, is_gone
from guardian.resource import Resource
from guardian.rules.base import Detection, Rule, RuleConfig, RuleContext, iso, version_time


class StaleSpaceStorageConfig(RuleConfig):
    days: int = Field(default=30, ge=1)


@dataclass(frozen=True)
class IdleSince:
    at: datetime  # no app since then, at the latest
    evidence: str  # what shows it
    last_activity: datetime | None  # when an app last stopped, if known


def idle_since(space: Resource) -> IdleSince | None:
    """Since when a stopped space has had no app, from the best evidence; None when there is none."""
    if space.activity_at is not None:
        found = IdleSince(space.activity_at, "its last app stopped", space.activity_at)
    elif space.activity_version:  # the guardian settled it stopped without knowing when its apps went
        watched = version_time(space.activity_version)
        if watched is None:
            return None
        found = IdleSince(watched, "no app seen by the guardian since", None)
    else:
        return None
    modified = space.last_modified_at
    if modified is not None and modified > found.at:
        return IdleSince(modified, "the space itself last changed", found.last_activity)
    return found


class StaleSpaceStorage(Rule[StaleSpaceStorageConfig]):
    name = "stale-space-storage"
    adjective = "Stale"
    Config = StaleSpaceStorageConfig
    kinds = frozenset({Kind.SPACE})
    remediable = False  # deleting a space deletes its owner's files

    def evaluate(self, resource: Resource, context: RuleContext) -> Detection | None:
        if is_gone(resource.state) or resource.running is not False:
            return None
        idle = idle_since(resource)
        if idle is None:
            return None  # unproven: no evidence of since when it has had no app
        stale_from = idle.at + timedelta(days=self.config.days)
        if context.now < stale_from:
            return None
        gigabytes = resource.storage_gb or 5
        evidence = {
            "last_app_at": iso(idle.last_activity),  # None: unknown
            "idle_since": iso(idle.at),
            "idle_since_evidence": idle.evidence,
            "created_at": iso(resource.created_at),
            "volume_gb": gigabytes,
            "days": self.config.days,
        }
        # The threshold, not the days so far: the finding stays as written while the space stays idle (since
        # when is its evidence; messages say how long as of when they are read).
        days = f"{self.config.days} days or more"
        what = f"no app for {days}" if idle.last_activity else f"no app seen for {days}"
        unknown = "" if idle.last_activity else " (last activity unknown)"
        return Detection(
            self.name,
            resource,
            stale_from,
            f"{what}{unknown}, {gigabytes} GB volume still billed",
            evidence,
        )
