"""Step Functions in the sandbox: a state machine definition read from template.yaml, walked state by state, its
Lambda tasks invoked in-process (SandboxStack.invoke). What the fan-out does is the definition's; this module
knows only the Amazon States Language, and only the subset the definition uses:

- Task on ``arn:aws:states:::lambda:invoke`` (Parameters with FunctionName and Payload) or on a function's ARN,
  with InputPath, Parameters, ResultSelector, ResultPath, OutputPath, Retry and Catch;
- Map, INLINE or DISTRIBUTED (each item a child execution, its transitions counted), with ItemsPath,
  ItemSelector, MaxConcurrency, ToleratedFailurePercentage / ToleratedFailureCount, ResultPath;
- Pass, Succeed, Fail; JSONPath as ``$``, ``$.a.b`` and the context's ``$$.Map.Item.Value`` / ``.Index``.

Anything else (a Choice, a Wait, an intrinsic function, an ItemReader, a task timeout) raises Unsupported: a
definition this walker cannot run honestly is refused, never half-run. Items run one after another (the sandbox
is one process); MaxConcurrency is recorded, with how many waves a real run would take.

Transitions are counted as Step Functions bills them: every state entered, every retry, and in a Distributed
Map every state of every child execution."""

import json
import math
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from botocore.exceptions import ClientError

LAMBDA_INVOKE = ":states:::lambda:invoke"
_STATE_FIELDS = {
    "Task": {
        "Type",
        "Comment",
        "Resource",
        "InputPath",
        "Parameters",
        "ResultSelector",
        "ResultPath",
        "OutputPath",
        "Retry",
        "Catch",
        "Next",
        "End",
    },
    "Map": {
        "Type",
        "Comment",
        "InputPath",
        "ItemsPath",
        "ItemSelector",
        "Parameters",
        "ItemProcessor",
        "Iterator",
        "MaxConcurrency",
        "ToleratedFailurePercentage",
        "ToleratedFailureCount",
        "ResultSelector",
        "ResultPath",
        "OutputPath",
        "Retry",
        "Catch",
        "Next",
        "End",
        "Label",
    },
    "Pass": {"Type", "Comment", "InputPath", "Parameters", "Result", "ResultPath", "OutputPath", "Next", "End"},
    "Succeed": {"Type", "Comment", "InputPath", "OutputPath"},
    "Fail": {"Type", "Comment", "Error", "Cause"},
}
_RETRIER_FIELDS = {"ErrorEquals", "IntervalSeconds", "MaxAttempts", "BackoffRate", "MaxDelaySeconds", "JitterStrategy"}

# A Lambda function, by ARN, called with a payload: its result, or it raises (its error, as Lambda reports it).
Invoker = Callable[[str, Any], Any]


class Unsupported(Exception):
    """The definition uses what this walker does not implement."""


class StatesError(Exception):
    """An error as Step Functions names it: a function's error type, Lambda.TooManyRequestsException, States.*."""

    def __init__(self, error: str, cause: str = "") -> None:
        super().__init__(f"{error}: {cause}")
        self.error, self.cause = error, cause


@dataclass
class Invocation:
    function_arn: str
    payload: Any
    error: str | None = None  # None: it returned


@dataclass
class MapRun:
    state: str
    mode: str  # INLINE or DISTRIBUTED
    items: int
    succeeded: int = 0
    failed: int = 0
    max_concurrency: int = 0  # 0: as many as there are items
    tolerated_failure_percentage: float = 0
    tolerated_failure_count: int = 0

    @property
    def waves(self) -> int:
        """How many rounds of children a real run takes at its MaxConcurrency (the wall time, in sweeps)."""
        return math.ceil(self.items / self.max_concurrency) if self.max_concurrency and self.items else 1


@dataclass
class Execution:
    status: str = "RUNNING"  # SUCCEEDED or FAILED once run
    output: Any = None
    error: str | None = None
    cause: str | None = None
    transitions: int = 0  # billed state transitions, children's included
    invocations: list[Invocation] = field(default_factory=list)
    map_runs: list[MapRun] = field(default_factory=list)
    retry_delays: list[float] = field(default_factory=list)  # what a real run would have waited, in seconds


class StateMachine:
    def __init__(self, definition: dict[str, Any], invoke: Invoker) -> None:
        self.definition = definition
        self._invoke = invoke
        _check(definition)

    def run(self, execution_input: Any = None) -> Execution:
        execution = Execution()
        try:
            execution.output = self._machine(self.definition, execution_input or {}, execution, {})
            execution.status = "SUCCEEDED"
        except StatesError as failure:
            execution.status, execution.error, execution.cause = "FAILED", failure.error, failure.cause
        return execution

    def _machine(self, machine: dict[str, Any], data: Any, execution: Execution, context: dict[str, Any]) -> Any:
        name = machine["StartAt"]
        while True:
            state = machine["States"][name]
            execution.transitions += 1
            data, following = self._state(name, state, data, execution, context)
            if following is None:
                return data
            name = following

    def _state(
        self, name: str, state: dict[str, Any], data: Any, execution: Execution, context: dict[str, Any]
    ) -> tuple[Any, str | None]:
        kind = state["Type"]
        if kind == "Succeed":
            return _path(state.get("OutputPath", "$"), _path(state.get("InputPath", "$"), data, context), context), None
        if kind == "Fail":
            raise StatesError(state.get("Error", "States.Fail"), state.get("Cause", ""))
        effective = _path(state.get("InputPath", "$"), data, context)
        try:
            if kind == "Pass":
                result = _template(state["Parameters"], effective, context) if "Parameters" in state else effective
                result = state.get("Result", result)
            else:
                result = self._with_retries(name, state, effective, execution, context)
        except StatesError as failure:
            catcher = _matching(state.get("Catch", []), failure.error)
            if catcher is None:
                raise
            error_output = {"Error": failure.error, "Cause": failure.cause}
            return _result_path(catcher.get("ResultPath", "$"), data, error_output), catcher["Next"]
        output = _path(state.get("OutputPath", "$"), _result_path(state.get("ResultPath", "$"), data, result), context)
        return output, None if state.get("End") else state["Next"]

    def _with_retries(
        self, name: str, state: dict[str, Any], effective: Any, execution: Execution, context: dict[str, Any]
    ) -> Any:
        attempts: dict[int, int] = {}
        while True:
            try:
                if state["Type"] == "Map":
                    result: Any = self._map(name, state, effective, execution, context)
                else:
                    result = self._task(state, effective, execution, context)
                if "ResultSelector" in state:
                    result = _template(state["ResultSelector"], result, context)
                return result
            except StatesError as failure:
                retriers = state.get("Retry", [])
                index = next((i for i, r in enumerate(retriers) if _matches(r["ErrorEquals"], failure.error)), None)
                if index is None:
                    raise
                retrier = retriers[index]
                attempts[index] = attempts.get(index, 0) + 1
                if attempts[index] > retrier.get("MaxAttempts", 3):
                    raise
                delay = retrier.get("IntervalSeconds", 1) * retrier.get("BackoffRate", 2.0) ** (attempts[index] - 1)
                execution.retry_delays.append(min(delay, retrier.get("MaxDelaySeconds", delay)))
                execution.transitions += 1  # a retry is billed as a transition

    def _task(self, state: dict[str, Any], effective: Any, execution: Execution, context: dict[str, Any]) -> Any:
        resource = state["Resource"]
        parameters = _template(state["Parameters"], effective, context) if "Parameters" in state else effective
        if resource.endswith(LAMBDA_INVOKE):
            if not isinstance(parameters, dict) or "FunctionName" not in parameters:
                raise Unsupported("a lambda:invoke task without Parameters.FunctionName")
            if set(parameters) - {"FunctionName", "Payload"}:
                raise Unsupported(f"lambda:invoke parameters {sorted(set(parameters) - {'FunctionName', 'Payload'})}")
            payload = self._call(parameters["FunctionName"], parameters.get("Payload", effective), execution)
            return {"Payload": payload, "StatusCode": 200, "ExecutedVersion": "$LATEST"}
        if ":lambda:" in resource and ":function:" in resource:
            return self._call(resource, parameters, execution)
        raise Unsupported(f"task resource {resource}")

    def _call(self, function_arn: str, payload: Any, execution: Execution) -> Any:
        invocation = Invocation(function_arn, json.loads(json.dumps(payload)))
        execution.invocations.append(invocation)
        try:
            return self._invoke(function_arn, invocation.payload)
        except StatesError as failure:
            invocation.error = failure.error
            raise
        except Exception as error:  # a function's unhandled error: Step Functions names it by its type
            invocation.error = _error_name(error)
            raise StatesError(invocation.error, str(error)) from error

    def _map(
        self, name: str, state: dict[str, Any], effective: Any, execution: Execution, context: dict[str, Any]
    ) -> list[Any]:
        processor = state.get("ItemProcessor") or state.get("Iterator")
        if processor is None:
            raise Unsupported(f"Map {name} without an ItemProcessor")
        config = processor.get("ProcessorConfig", {"Mode": "INLINE"})
        mode = config.get("Mode", "INLINE")
        if mode == "DISTRIBUTED" and config.get("ExecutionType", "STANDARD") != "STANDARD":
            raise Unsupported("EXPRESS child executions (billed by duration, not transitions)")
        items = _path(state.get("ItemsPath", "$"), effective, context)
        if not isinstance(items, list):
            raise StatesError("States.Runtime", f"Map {name}'s ItemsPath is not an array")
        run = MapRun(
            name,
            mode,
            len(items),
            max_concurrency=int(state.get("MaxConcurrency", 0)),
            tolerated_failure_percentage=float(state.get("ToleratedFailurePercentage", 0)),
            tolerated_failure_count=int(state.get("ToleratedFailureCount", 0)),
        )
        execution.map_runs.append(run)
        selector = state.get("ItemSelector", state.get("Parameters"))
        results: list[Any] = []
        for index, value in enumerate(items):
            item_context = context | {"Map": {"Item": {"Index": index, "Value": value}}}
            item = _template(selector, effective, item_context) if selector is not None else value
            try:
                results.append(self._machine(processor, item, execution, {}))
                run.succeeded += 1
            except StatesError as failure:
                run.failed += 1
                if mode != "DISTRIBUTED":
                    raise  # an inline iteration's failure is the Map's
                results.append({"Error": failure.error, "Cause": failure.cause})
                too_many = run.failed > run.tolerated_failure_count and (
                    100 * run.failed / len(items) > run.tolerated_failure_percentage
                )
                if too_many:  # the Map Run stops starting children once past its tolerance
                    raise StatesError(
                        "States.ExceedToleratedFailureThreshold",
                        f"{run.failed} of {len(items)} items failed (tolerated: {run.tolerated_failure_percentage}%)",
                    ) from failure
        return results


def _check(machine: dict[str, Any]) -> None:
    """Refuse, before running anything, a definition that uses what this walker does not implement."""
    unknown_top = set(machine) - {"Comment", "StartAt", "States", "ProcessorConfig", "TimeoutSeconds"}
    if unknown_top or "TimeoutSeconds" in machine:
        raise Unsupported(f"state machine fields {sorted(unknown_top | ({'TimeoutSeconds'} & set(machine)))}")
    for name, state in machine["States"].items():
        kind = state.get("Type")
        if kind not in _STATE_FIELDS:
            raise Unsupported(f"state {name}: type {kind}")
        if extra := set(state) - _STATE_FIELDS[kind]:
            raise Unsupported(f"state {name}: {sorted(extra)}")
        for retrier in state.get("Retry", []):
            if extra := set(retrier) - _RETRIER_FIELDS:
                raise Unsupported(f"state {name}'s Retry: {sorted(extra)}")
        for block in ("Parameters", "ItemSelector", "ResultSelector"):
            _check_template(name, state.get(block))
        processor = state.get("ItemProcessor") or state.get("Iterator")
        if processor is not None:
            config = set(processor.get("ProcessorConfig", {})) - {"Mode", "ExecutionType"}
            if config:
                raise Unsupported(f"Map {name}'s ProcessorConfig {sorted(config)}")
            _check(processor)


def _check_template(name: str, template: Any) -> None:
    if isinstance(template, dict):
        for key, value in template.items():
            if key.endswith(".$") and isinstance(value, str) and value.startswith("States."):
                raise Unsupported(f"state {name}: intrinsic function {value.split('(')[0]}")
            _check_template(name, value)
    elif isinstance(template, list):
        for value in template:
            _check_template(name, value)


def _template(template: Any, data: Any, context: dict[str, Any]) -> Any:
    """Parameters, ItemSelector, ResultSelector: keys ending .$ take a path's value."""
    if isinstance(template, dict):
        return {
            (key[:-2] if key.endswith(".$") else key): (
                _path(value, data, context) if key.endswith(".$") else _template(value, data, context)
            )
            for key, value in template.items()
        }
    if isinstance(template, list):
        return [_template(value, data, context) for value in template]
    return template


def _path(path: str | None, data: Any, context: dict[str, Any]) -> Any:
    if path is None:
        return {}
    root, rest = (context, path[2:]) if path.startswith("$$") else (data, path[1:])
    if not path.startswith("$") or any(c in rest for c in "[]*()?@"):
        raise Unsupported(f"JSONPath {path}")
    value = root
    for key in filter(None, rest.split(".")):
        if not isinstance(value, dict) or key not in value:
            raise StatesError("States.Runtime", f"the path {path} names nothing in the input")
        value = value[key]
    return value


def _result_path(path: str | None, data: Any, result: Any) -> Any:
    if path is None:
        return data
    if path == "$":
        return result
    if not path.startswith("$.") or any(c in path for c in "[]*()?@"):
        raise Unsupported(f"ResultPath {path}")
    output = json.loads(json.dumps(data)) if isinstance(data, dict) else {}
    keys = path[2:].split(".")
    target = output
    for key in keys[:-1]:
        target = target.setdefault(key, {})
    target[keys[-1]] = result
    return output


def _matches(error_equals: list[str], error: str) -> bool:
    if "States.ALL" in error_equals or error in error_equals:
        return True
    # States.TaskFailed stands for any error a task fails with, but a timeout.
    return "States.TaskFailed" in error_equals and error != "States.Timeout" and not error.startswith("States.")


def _matching(catchers: list[dict[str, Any]], error: str) -> dict[str, Any] | None:
    return next((c for c in catchers if _matches(c["ErrorEquals"], error)), None)


def _error_name(error: Exception) -> str:
    """What Step Functions calls a function's unhandled error: Lambda's errorType, the exception's class name."""
    if isinstance(error, ClientError):
        return "ClientError"
    return type(error).__name__
