"""What every rule is: a name, the kinds it looks at, thresholds in a pydantic config with defaults,
the IAM actions it needs (declared here, beside the code; template.yaml must grant them), the metrics it
wants fetched in bulk, and a pure ``evaluate`` that says whether one resource is waste, since when, and why.

A rule also carries what the rest of the guardian needs to know about its findings: the word messages
call them by (or a title of their own), whether remediation may act on them, whether they group by space in
a message, and whether they are waste or a risk that wastes nothing yet."""

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


class Unjudged(Exception):
    """Raised by ``evaluate`` when what the rule needs is not known (no variant known to ask metrics of): not
    waste, and no proof there is none, so a finding it holds stays as it is. The message says what is missing."""


@dataclass
class RuleContext:
    now: datetime
    lookup: Callable[[str], Resource | None]  # a record by ARN: a space, a user profile
    spaces_of_owner: Callable[[str], list[Resource]]
    metrics: dict[str, Datapoints] = field(default_factory=dict)
    # A one-off audit (`guardian scan`): no later look will come, so what is known only to have happened
    # before now ("stopped before <time>") is judged now rather than a grace later.
    audit: bool = False


ConfigT = TypeVar("ConfigT", bound=RuleConfig)


class Rule(Generic[ConfigT]):
    """One rule. A subclass is ``class IdleEndpoint(Rule[IdleEndpointConfig])`` with ``Config =
    IdleEndpointConfig``, so ``self.config.lookback_hours`` is typed."""

    name: ClassVar[str]  # "orphaned-resource": the finding's rule, and (as key()) its configuration key
    adjective: ClassVar[str]  # what a message calls its findings: "Orphaned endpoint fraud-xgb"
    Config: type[ConfigT]  # its thresholds, with defaults
    kinds: ClassVar[frozenset[Kind]]  # the kinds of resource it looks at
    permissions: ClassVar[tuple[str, ...]] = ()  # IAM actions it needs (the sweep function's grant)
    remediable: ClassVar[bool] = False  # whether remediation may act on its findings (guardian.remediation)
    # Whether several of its findings in one space read as "N resources billing after <space> stopped".
    groups_by_space: ClassVar[bool] = False
    # A risk, not waste: its findings waste nothing ($0/h) while the resource does its work; another rule
    # counts the waste when there is some (emr-no-auto-termination, and idle-emr-cluster once it idles).
    risk: ClassVar[bool] = False
    # A finding title of its own, where "<adjective> <kind> <name>" would not say it ("EMR cluster without
    # auto-termination"); empty: the adjective and the kind.
    title: ClassVar[str] = ""

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

    def next_check(self, resource: Resource, context: RuleContext) -> datetime | None:
        """When this rule's verdict on the resource next changes by time alone (a grace or a limit ending),
        if that is after now: the event path schedules the resource's check for then (guardian.judging).
        None where only an event, new metric data (a window waits for its data) or the sweep can change it."""
        return None


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
