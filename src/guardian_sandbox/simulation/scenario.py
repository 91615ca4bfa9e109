"""A scenario: where the simulated clock starts, the stack's parameters, how long it runs, and the steps
that happen on the way (YAML or JSON). Read whole and checked before anything runs: a mistake is one
message naming the step (its number and its `at`), never a traceback halfway through a simulated week.

    start: 2026-11-02T08:00:00Z
    parameters: {RemediationMode: enforce}
    until: +3d
    slack: {team: true, owners: [alice]}
    confirm_subscriptions: auto
    steps:
      - {at: +0m, aws: sagemaker.list_domains, as: domains}
      - {at: +1h, aws: sagemaker.delete_app, args: {DomainId: '${domains.Domains[0].DomainId}', ...},
         identity: {role: StudioExecutionRole, source_identity: alice}}
      - {at: +2h, event: {...}}
      - {at: +2h, metric: {Namespace: AWS/SageMaker, MetricName: Invocations, Value: 40}, every: +1h}
      - {at: +5h, confirm_subscription: alice@example.com}
      - {at: +6h, slack_status: 404}
      - {at: +7h, snooze: {resource: churn-llm, until: +7d, reason: demo on Friday}}
"""

import json
import re
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from functools import cache
from pathlib import Path
from typing import Any, Literal

import botocore.session
import jmespath  # type: ignore[import-untyped]  # botocore's own dependency; it ships no stubs
import yaml
from botocore import xform_name
from jmespath.exceptions import JMESPathError  # type: ignore[import-untyped]
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

_OFFSET = re.compile(r"^\+((?:\d+(?:\.\d+)?[smhd])+)$")
_OFFSET_PART = re.compile(r"(\d+(?:\.\d+)?)([smhd])")
_UNITS = {"s": "seconds", "m": "minutes", "h": "hours", "d": "days"}
_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
# ${NAME} or ${NAME.<JMESPath>}: a value from the response a step kept `as: NAME`.
PLACEHOLDER = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)(?:\.([^}]+))?\}")
ACTIONS = ("aws", "event", "metric", "confirm_subscription", "slack_status", "snooze")

When = str | datetime | date  # "+2h" from the start, or a moment (YAML reads an unquoted ISO time as one)


class ScenarioError(Exception):
    """A scenario that cannot be run as written: printed as one line (exit status 2)."""


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True)


class Identity(_Strict):
    """Who makes an aws step's call: a Studio user's session of an execution role (CloudTrail records it)."""

    role: str = Field(min_length=1)
    source_identity: str | None = None


class Snooze(_Strict):
    """What `guardian snooze` does, for a resource's active findings (or only its finding of ``rule``)."""

    resource: str = Field(min_length=1)
    rule: str | None = None
    until: When
    reason: str = "snoozed by the scenario"


class SlackSetup(_Strict):
    """The simulation's Slack webhook receiver as the team's channel and these owners' channels."""

    team: bool = False
    owners: list[str] = Field(default_factory=list)


class Step(_Strict):
    at: When
    aws: str | None = None
    as_: str | None = Field(default=None, alias="as")
    args: dict[str, Any] = Field(default_factory=dict)
    identity: Identity | None = None
    event: dict[str, Any] | None = None
    metric: dict[str, Any] | None = None
    every: str | None = None
    confirm_subscription: str | None = None
    slack_status: int | None = Field(default=None, ge=100, le=599)
    snooze: Snooze | None = None

    @field_validator("aws")
    @classmethod
    def _service_method(cls, value: str | None) -> str | None:
        if value is None:
            return None
        service, _, method = value.partition(".")
        if not method or not re.fullmatch(r"[a-z0-9-]+", service) or not re.fullmatch(r"[a-z0-9_]+", method):
            raise ValueError(f"{value!r} is not service.method (e.g. sagemaker.create_endpoint)")
        if service not in _services():
            raise ValueError(f"{service!r} is not an AWS service boto3 knows")
        if method not in _operations(service):
            raise ValueError(f"{service} has no method {method!r}")
        return value

    @field_validator("as_")
    @classmethod
    def _name(cls, value: str | None) -> str | None:
        if value is not None and not _NAME.match(value):
            raise ValueError(f"as: {value!r} is not a name (letters, digits, _)")
        return value

    @model_validator(mode="after")
    def _one_action(self) -> "Step":
        given = [name for name in ACTIONS if getattr(self, name) is not None]
        if len(given) != 1:
            raise ValueError(
                f"a step does exactly one of {', '.join(ACTIONS)} (this one: {', '.join(given) or 'none'})"
            )
        if self.aws is None and (self.as_ is not None or self.args or self.identity is not None):
            raise ValueError("as, args and identity go with an aws step")
        if self.every is not None:
            if self.metric is None:
                raise ValueError("every goes with a metric step")
            if not _OFFSET.match(self.every) or offset(self.every) <= timedelta(0):
                raise ValueError(f"every: {self.every!r} is not a period such as +1h")
        for placeholder in PLACEHOLDER.finditer(json.dumps(self.payload(), default=str)):
            if placeholder.group(2):
                try:
                    jmespath.compile(placeholder.group(2))
                except JMESPathError as error:
                    raise ValueError(f"{placeholder.group(0)}: not a JMESPath expression ({error})") from None
        return self

    @property
    def action(self) -> str:
        return next(name for name in ACTIONS if getattr(self, name) is not None)

    def payload(self) -> Any:
        """What placeholders may appear in: the step's args, event, metric or address."""
        return {"args": self.args, "event": self.event, "metric": self.metric, "to": self.confirm_subscription}

    def kept_names_used(self) -> set[str]:
        return {m.group(1) for m in PLACEHOLDER.finditer(json.dumps(self.payload(), default=str))}


@dataclass(frozen=True)
class Scenario:
    start: datetime
    until: datetime
    parameters: dict[str, str]
    steps: list[tuple[datetime, Step]]  # each step at its moment, in order
    slack: SlackSetup | None = None
    confirm_subscriptions: Literal["auto", "manual"] = "manual"
    labels: tuple[str, ...] = ()  # "step 3 (at +1h)": how errors name each step

    def moment(self, when: When) -> datetime:
        return moment(when, self.start)

    def with_parameters(self, overrides: dict[str, str]) -> "Scenario":
        return Scenario(
            self.start,
            self.until,
            self.parameters | overrides,
            self.steps,
            self.slack,
            self.confirm_subscriptions,
            self.labels,
        )


class _Head(_Strict):
    start: datetime
    until: When
    parameters: dict[str, str | int | float | bool] = Field(default_factory=dict)
    slack: SlackSetup | None = None
    confirm_subscriptions: Literal["auto", "manual"] = "manual"
    steps: list[Any] = Field(default_factory=list)

    @field_validator("start")
    @classmethod
    def _utc(cls, value: datetime) -> datetime:
        return value if value.tzinfo else value.replace(tzinfo=UTC)


def offset(text: str) -> timedelta:
    """+90s, +30m, +2h, +3d (units may follow each other: +1d2h)."""
    matched = _OFFSET.match(text.strip())
    if not matched:
        raise ValueError(f"{text!r} is not an offset such as +90s, +30m, +2h or +3d")
    return sum(
        (timedelta(**{_UNITS[unit]: float(number)}) for number, unit in _OFFSET_PART.findall(matched.group(1))),
        timedelta(0),
    )


def moment(when: When, start: datetime) -> datetime:
    """An offset from ``start``, or a moment (UTC unless it says otherwise; a date is its midnight, UTC)."""
    if isinstance(when, datetime):
        return when if when.tzinfo else when.replace(tzinfo=UTC)
    if isinstance(when, date):
        return datetime.combine(when, time.min, tzinfo=UTC)
    text = str(when).strip()
    if text.startswith("+"):
        return start + offset(text)
    try:
        parsed = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise ValueError(f"{text!r} is neither an offset such as +2h nor an ISO time") from None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def load(path: Path) -> Scenario:
    try:
        text = path.read_text()
    except OSError as error:
        raise ScenarioError(f"{path}: {error.strerror or error}") from error
    try:
        document = json.loads(text) if path.suffix == ".json" else yaml.safe_load(text)
    except (ValueError, yaml.YAMLError) as error:
        raise ScenarioError(f"{path}: not {'JSON' if path.suffix == '.json' else 'YAML'}: {_one_line(error)}") from None
    return parse(document)


def parse(document: Any) -> Scenario:
    if not isinstance(document, dict):
        raise ScenarioError("a scenario is a mapping with start, until and steps")
    # Keys starting with x- are the author's own (YAML anchors for the steps to refer to, say): not read.
    document = {key: value for key, value in document.items() if not str(key).startswith("x-")}
    try:
        head = _Head.model_validate(document)
    except ValidationError as error:
        raise ScenarioError(f"scenario: {_problems(error)}") from None
    try:
        until = moment(head.until, head.start)
    except ValueError as error:
        raise ScenarioError(f"scenario: until: {error}") from None
    if until <= head.start:
        raise ScenarioError("scenario: until is not after start")
    steps: list[tuple[datetime, Step]] = []
    labels: list[str] = []
    kept: set[str] = set()
    previous = head.start
    for number, raw in enumerate(head.steps, 1):
        label = f"step {number}" + (f" (at {_shown(raw.get('at'))})" if isinstance(raw, dict) and "at" in raw else "")
        try:
            step = Step.model_validate(raw)
            at = moment(step.at, head.start)
        except ValidationError as error:
            raise ScenarioError(f"{label}: {_problems(error)}") from None
        except ValueError as error:
            raise ScenarioError(f"{label}: at: {error}") from None
        if at < previous:
            raise ScenarioError(f"{label}: steps go forward in time; this one is before the step above it")
        if at > until:
            raise ScenarioError(f"{label}: after until ({until:%Y-%m-%dT%H:%M:%SZ})")
        unknown = step.kept_names_used() - kept
        if unknown:
            raise ScenarioError(f"{label}: no earlier step keeps a response as {', '.join(sorted(unknown))}")
        if step.slack_status is not None and not (head.slack and (head.slack.team or head.slack.owners)):
            raise ScenarioError(f"{label}: slack_status, but the scenario sets up no Slack (slack: {{team: true}})")
        if step.snooze is not None:
            try:
                moment(step.snooze.until, head.start)
            except ValueError as error:
                raise ScenarioError(f"{label}: snooze.until: {error}") from None
        if step.as_:
            kept.add(step.as_)
        steps.append((at, step))
        labels.append(label)
        previous = at
    parameters = {name: _parameter_text(value) for name, value in head.parameters.items()}
    return Scenario(head.start, until, parameters, steps, head.slack, head.confirm_subscriptions, tuple(labels))


def substitute(value: Any, kept: dict[str, Any]) -> Any:
    """Placeholders replaced by values from the kept responses. A string that is one placeholder becomes
    the value itself, its type kept (a number, a list); inside a longer string the value is written in."""
    if isinstance(value, str):
        whole = PLACEHOLDER.fullmatch(value)
        if whole:
            return _lookup(whole, kept)
        return PLACEHOLDER.sub(lambda m: _written(_lookup(m, kept)), value)
    if isinstance(value, dict):
        return {key: substitute(item, kept) for key, item in value.items()}
    if isinstance(value, list):
        return [substitute(item, kept) for item in value]
    return value


def _lookup(placeholder: re.Match[str], kept: dict[str, Any]) -> Any:
    name, expression = placeholder.group(1), placeholder.group(2)
    if name not in kept:
        raise ScenarioError(f"{placeholder.group(0)}: no response kept as {name}")
    found = jmespath.search(expression, kept[name]) if expression else kept[name]
    if found is None:
        raise ScenarioError(f"{placeholder.group(0)}: finds nothing in the response kept as {name}")
    return found


def _written(value: Any) -> str:
    if isinstance(value, str):
        return value
    if isinstance(value, datetime):
        return value.isoformat()
    return json.dumps(value, default=str)


def _parameter_text(value: str | int | float | bool) -> str:
    """As CloudFormation takes every parameter: a string (YAML's true is "true")."""
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def _shown(at: Any) -> str:
    return at.strftime("%Y-%m-%dT%H:%M:%SZ") if isinstance(at, datetime) else str(at)


def _problems(error: ValidationError) -> str:
    problems = []
    for problem in error.errors():
        where = ".".join(str(part) for part in problem["loc"])
        message = problem["msg"].removeprefix("Value error, ")
        problems.append(f"{where}: {message}" if where else message)
    return "; ".join(problems)


def _one_line(error: Exception) -> str:
    return " ".join(str(error).split())


@cache
def _services() -> frozenset[str]:
    return frozenset(botocore.session.get_session().get_available_services())


@cache
def _operations(service: str) -> frozenset[str]:
    model = botocore.session.get_session().get_service_model(service)
    return frozenset(xform_name(name) for name in model.operation_names)
