"""The sandbox's Step Functions walker (guardian_sandbox.state_machine) runs the Amazon States Language as Step
Functions does for the subset template.yaml uses (paths, retries, catches, a Distributed Map's tolerance, billed
transitions), and refuses anything else before it runs a step, rather than skipping it."""

from typing import Any

import pytest
from botocore.exceptions import ClientError
from hypothesis import given
from hypothesis import strategies as st

from guardian_sandbox.state_machine import StateMachine, Unsupported

FUNCTION = "arn:aws:lambda:us-east-1:123456789012:function:f"
INVOKE = "arn:aws:states:::lambda:invoke"


def task(**fields: Any) -> dict[str, Any]:
    return {"Type": "Task", "Resource": INVOKE, "Parameters": {"FunctionName": FUNCTION, "Payload.$": "$"}} | fields


def machine(*states: tuple[str, dict[str, Any]]) -> dict[str, Any]:
    return {"StartAt": states[0][0], "States": dict(states)}


def echo(_: str, payload: Any) -> Any:
    return payload


def test_paths_select_shape_and_place_results():
    definition = machine(
        (
            "One",
            task(
                InputPath="$.job",
                ResultSelector={"answer.$": "$.Payload.value"},
                ResultPath="$.result",
                OutputPath="$.result",
                End=True,
            ),
        )
    )
    execution = StateMachine(definition, echo).run({"job": {"value": 42}})
    assert (execution.status, execution.output, execution.transitions) == ("SUCCEEDED", {"answer": 42}, 1)


def test_a_retry_is_a_billed_transition_and_a_spent_retrier_lets_the_catch_decide():
    failures = iter([ClientError({"Error": {"Code": "Throttling"}}, "X")] * 3)

    def flaky(_: str, payload: Any) -> Any:
        raise next(failures)

    definition = machine(
        (
            "One",
            task(
                Retry=[{"ErrorEquals": ["States.TaskFailed"], "MaxAttempts": 2, "IntervalSeconds": 3}],
                Catch=[{"ErrorEquals": ["States.ALL"], "ResultPath": "$.error", "Next": "Caught"}],
                Next="Never",
            ),
        ),
        ("Never", {"Type": "Fail", "Error": "Never"}),
        ("Caught", {"Type": "Pass", "End": True}),
    )
    execution = StateMachine(definition, flaky).run({"x": 1})
    assert execution.status == "SUCCEEDED"
    assert execution.output == {"x": 1, "error": {"Error": "ClientError", "Cause": execution.output["error"]["Cause"]}}
    assert execution.transitions == 1 + 2 + 1  # the task, its two retries, the catch's Pass
    assert execution.retry_delays == [3, 6]  # backoff rate 2 by default


def test_an_uncaught_error_fails_the_execution_with_its_name():
    definition = machine(("Boom", {"Type": "Fail", "Error": "Custom.Error", "Cause": "why"}))
    execution = StateMachine(definition, echo).run()
    assert (execution.status, execution.error, execution.cause) == ("FAILED", "Custom.Error", "why")


def distributed(tolerance: float) -> dict[str, Any]:
    return machine(
        (
            "Each",
            {
                "Type": "Map",
                "ItemsPath": "$.items",
                "ItemSelector": {"n.$": "$$.Map.Item.Value"},
                "MaxConcurrency": 2,
                "ToleratedFailurePercentage": tolerance,
                "ItemProcessor": {
                    "ProcessorConfig": {"Mode": "DISTRIBUTED", "ExecutionType": "STANDARD"},
                    "StartAt": "One",
                    "States": {"One": task(End=True)},
                },
                "ResultPath": None,
                "End": True,
            },
        )
    )


@given(items=st.integers(1, 12), failing=st.sets(st.integers(0, 11)), tolerance=st.sampled_from([0, 10, 25, 50]))
def test_a_distributed_map_fails_only_past_its_tolerance_and_stops_starting_children_once_past_it(
    items, failing, tolerance
):
    failing = {n for n in failing if n < items}

    def fails_some(_: str, payload: Any) -> Any:
        if payload["n"] in failing:
            raise RuntimeError("no")
        return payload

    execution = StateMachine(distributed(tolerance), fails_some).run({"items": list(range(items))})
    (run,) = execution.map_runs
    assert run.waves == -(-items // 2)
    if 100 * len(failing) / items <= tolerance:
        assert execution.status == "SUCCEEDED" and (run.succeeded, run.failed) == (items - len(failing), len(failing))
        assert [call.payload["n"] for call in execution.invocations] == list(range(items))
    else:
        assert (execution.status, execution.error) == ("FAILED", "States.ExceedToleratedFailureThreshold")
        last = execution.invocations[-1].payload["n"]
        assert last in failing and 100 * run.failed / items > tolerance  # nothing started after the threshold
    assert execution.transitions == 1 + len(execution.invocations)


@pytest.mark.parametrize(
    "definition, refused",
    [
        (machine(("Pick", {"Type": "Choice", "Choices": [], "Default": "X"})), "type Choice"),
        (machine(("Nap", {"Type": "Wait", "Seconds": 1, "End": True})), "type Wait"),
        (machine(("One", task(TimeoutSeconds=60, End=True))), "TimeoutSeconds"),
        (
            machine(("One", task(Parameters={"FunctionName": FUNCTION, "Payload.$": "States.Format('{}', $.x)"}))),
            "intrinsic",
        ),
        (
            machine(("One", task(Retry=[{"ErrorEquals": ["States.ALL"], "MaxDelaySeconds": 5, "Foo": 1}], End=True))),
            "Retry",
        ),
        (
            machine(
                (
                    "Each",
                    distributed(0)["States"]["Each"] | {"ItemReader": {"Resource": "arn:aws:states:::s3:getObject"}},
                )
            ),
            "ItemReader",
        ),
    ],
)
def test_what_the_walker_does_not_implement_is_refused_before_anything_runs(definition, refused):
    calls: list[Any] = []
    with pytest.raises(Unsupported, match=refused):
        StateMachine(definition, lambda arn, payload: calls.append(payload)).run({})
    assert calls == []


def test_a_path_into_nothing_is_a_runtime_error_not_a_crash():
    definition = machine(("One", task(ResultSelector={"x.$": "$.Payload.missing"}, End=True)))
    execution = StateMachine(definition, echo).run({"present": 1})
    assert (execution.status, execution.error) == ("FAILED", "States.Runtime")
    with pytest.raises(Unsupported, match="JSONPath"):
        StateMachine(machine(("One", task(InputPath="$.a[0]", End=True))), echo).run({"a": [1]})
