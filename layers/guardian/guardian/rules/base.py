"""What every rule is: a name, the kinds it looks at, thresholds in a pydantic config with defaults,
the IAM actions it needs (declared here, beside the code; template.yaml must grant them), the metrics it
wants fetched in bulk, and a pure ``evaluate`` that says whether one resource is waste, since when, and why.

A rule also carries what the rest of the guardian needs to know about its findings: the word messages
call them by, whether remediation may act on them, and whether they group by space in a message."""

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, ClassVar, Generic, TypeVar

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


ConfigT = TypeVar("ConfigT", bound=RuleConfig)


class Rule(Generic[ConfigT]):
    """One rule. A subclass is ``class IdleEndpoint(Rule[IdleEndpointConfig])`` with ``Config =
    IdleEndpointConfig``, so ``self.config.lookback_hours`` is typed."""

    name: ClassVar[str]  # "orphaned-resource": the finding's rule, and (as key()) its configuration key
    adjective: ClassVar[str]  # what a message calls its findings: "Orphaned endpoint fraud-xgb"
    Config: type[ConfigT]  # its thresholds, with defaults
    kinds: ClassVar[frozenset[Kind]]  # the kinds of resource it looks at
    permissions: ClassVar[tuple[str, ...]] = ()  # IAM actions it needs (the sweep function's grant)
    remediable: ClassVar[bool] = False  # whether remediation may act on its findings (remediation.py)
    # Whether several of its findings in one space read as "N resources billing after <space> stopped".
    groups_by_space: ClassVar[bool] = False

    def __init__(self, config: ConfigT | None = None) -> None:
        self.config: ConfigT = config or self.Config()

    @classmethod
    def key(cls) -> str:
        """The rule's name as a configuration key: orphaned-resource -> orphaned_resource."""
        return cls.name.replace("-", "_")

    def queries(self, resources: list[Resource], now: datetime) -> list[MetricQuery]:
        return []

    def evaluate(self, resource: Resource, context: RuleContext) -> Detection | None:
        raise NotImplementedError


AnyRule = Rule[Any]  # a rule of whichever config, as the registry and the evaluation hold them


def iso(value: datetime | None) -> str | None:
    return value.isoformat().replace("+00:00", "Z") if value else None


def hours(start: datetime, end: datetime) -> float:
    return round((end - start).total_seconds() / 3600, 2)


def version_time(version: str | None) -> datetime | None:
    """The instant an inventory version string starts with (when a derived value was last decided)."""
    if not version:
        return None
    return datetime.fromisoformat(version.split("#", 1)[0].replace("Z", "+00:00"))
