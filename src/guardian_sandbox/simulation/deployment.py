"""template.yaml as deployed with a scenario's parameters: every !Ref to a parameter reads the value given
(CloudFormation's checks on it applied: allowed values, pattern, bounds), the template's Conditions decide
which resources exist, and its schedules (each function's ScheduleV2 events) say what fires by itself."""

import json
import re
from dataclasses import dataclass
from typing import Any

from guardian_sandbox.simulation.schedule_expressions import Schedule, ScheduleExpressionError, parse
from guardian_sandbox.template import Template


class ParameterError(ValueError):
    """A parameter CloudFormation would refuse: the message names it."""


@dataclass(frozen=True)
class RecurringSchedule:
    """A schedule of the template (EventBridge Scheduler): which function it invokes, when, with what."""

    function: str
    name: str  # the event's name in the function's Events (Hourly, Digest, Weekly, Every15Minutes)
    expression: str
    schedule: Schedule
    payload: dict[str, Any] | None  # the schedule's Input; None: the function's scheduled-event sample


class Deployment(Template):
    def __init__(self, document: dict[str, Any], values: dict[str, str]) -> None:
        super().__init__(document)
        self.values = dict(values)
        for name, value in self.values.items():
            self._check(name, value)

    def _check(self, name: str, value: str) -> None:
        declared = self.document.get("Parameters", {})
        if name not in declared:
            raise ParameterError(f"unknown parameter {name!r} (template.yaml has: {', '.join(sorted(declared))})")
        spec = declared[name]
        allowed = [str(v) for v in spec.get("AllowedValues", [])]
        if allowed and value not in allowed:
            raise ParameterError(f"{name}={value!r} is not one of {', '.join(allowed)}")
        pattern = spec.get("AllowedPattern")
        if pattern and not re.fullmatch(pattern, value):
            raise ParameterError(f"{name}={value!r} does not match {pattern}")
        if spec.get("Type") == "Number":
            try:
                number = float(value)
            except ValueError:
                raise ParameterError(f"{name}={value!r} is not a number") from None
            low, high = spec.get("MinValue"), spec.get("MaxValue")
            if (low is not None and number < float(low)) or (high is not None and number > float(high)):
                raise ParameterError(f"{name}={value} is outside {low if low is not None else ''}..{high or ''}")

    def condition(self, name: str) -> bool:
        return self.intrinsics().condition(name)

    def exists(self, logical_id: str) -> bool:
        """Whether the resource is created at all (its Condition, if it has one, holds)."""
        return self.intrinsics().exists(logical_id)

    def schedules(self) -> list[RecurringSchedule]:
        """Every schedule of the functions that exist, with its expression read in its time zone."""
        found = []
        for function, resource in self.functions().items():
            if not self.exists(function):
                continue
            for name, event in (resource["Properties"].get("Events") or {}).items():
                if event["Type"] not in ("ScheduleV2", "Schedule"):
                    continue
                properties = event["Properties"]
                if self.resolve(properties.get("State", "ENABLED"), {}) == "DISABLED":
                    continue  # a hub's sweep function: its fan-out's schedule runs the sweeps instead
                expression = self.resolve(properties["ScheduleExpression"], {})
                timezone = self.resolve(properties.get("ScheduleExpressionTimezone", "UTC"), {})
                try:
                    schedule = parse(expression, timezone)
                except ScheduleExpressionError as error:
                    raise ParameterError(f"{function} {name}: {error}") from error
                given = properties.get("Input")
                found.append(
                    RecurringSchedule(function, name, expression, schedule, json.loads(given) if given else None)
                )
        return found
