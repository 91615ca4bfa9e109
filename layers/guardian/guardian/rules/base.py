"""What every rule is: a name, the kinds it looks at, thresholds in a pydantic config with defaults,
the IAM actions it needs (declared here, beside the code; template.yaml must grant them), the metrics it
wants fetched in bulk, and a pure ``evaluate`` that says whether one resource is waste, since when, and why."""

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, ClassVar

from pydantic import BaseModel, ConfigDict

from guardian.kinds import Kind
from guardian.metric_data import Datapoints, MetricQuery
from guardian.resource import Resource


class RuleConfig(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


@dataclass(frozen=True)
class Detection:
    rule: str
    resource: Resource
    since: datetime  # when the wasteful condition began: waste accrues from here
    summary: str  # one line a person reads: what, and why the guardian thinks so
    evidence: dict[str, Any] = field(default_factory=dict)


@dataclass
class RuleContext:
    now: datetime
    lookup: Callable[[str], Resource | None]  # a record by ARN: a space, a user profile
    spaces_of_owner: Callable[[str], list[Resource]]
    metrics: dict[str, Datapoints] = field(default_factory=dict)


class Rule:
    name: ClassVar[str]
    Config: ClassVar[type[RuleConfig]]
    kinds: ClassVar[frozenset[Kind]]
    permissions: ClassVar[tuple[str, ...]] = ()

    def __init__(self, config: RuleConfig | None = None) -> None:
        self.config = config or self.Config()

    @classmethod
    def key(cls) -> str:
        """The rule's name as a configuration key: orphaned-resource -> orphaned_resource."""
        return cls.name.replace("-", "_")

    def queries(self, resources: list[Resource], now: datetime) -> list[MetricQuery]:
        return []

    def evaluate(self, resource: Resource, context: RuleContext) -> Detection | None:
        raise NotImplementedError


def iso(value: datetime | None) -> str | None:
    return value.isoformat().replace("+00:00", "Z") if value else None


def hours(start: datetime, end: datetime) -> float:
    return round((end - start).total_seconds() / 3600, 2)


def version_time(version: str | None) -> datetime | None:
    """The instant an inventory version string starts with (when a derived value was last decided)."""
    if not version:
        return None
    return datetime.fromisoformat(version.split("#", 1)[0].replace("Z", "+00:00"))
