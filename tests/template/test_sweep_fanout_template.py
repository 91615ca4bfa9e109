"""template.yaml's sweep fan-out: a hub (WatchesMembers) sweeps every account and region through the SweepFanOut
state machine on its hourly schedule; a single-account stack has none of it and its sweep function's own hourly
schedule, as before. The fan-out's bounds and retries are the definition's, and every role around it may do
only its one thing."""

import re
from typing import Any

import pytest

from guardian import members
from guardian.permissions import FUNCTION_PERMISSIONS
from guardian_sandbox.simulation.deployment import Deployment
from guardian_sandbox.template import PROJECT_ROOT, template

FAN_OUT = ("SweepFanOut", "SweepFanOutRole", "SweepFanOutLogGroup", "SweepFanOutSchedule", "SweepFanOutSchedulerRole")
ALARMS = ("SweepFanOutFailedAlarm", "MemberUnreachableAlarm")
REFS = {"SweepFunction.Arn": "arn:aws:lambda:us-east-1:123456789012:function:sweep", "AWS::Partition": "aws"}


def resources() -> dict[str, Any]:
    return template().resources


def definition() -> dict[str, Any]:
    return template().state_machine_definition("SweepFanOut", REFS)


def policy(role: str) -> list[dict[str, Any]]:
    return [s for p in resources()[role]["Properties"]["Policies"] for s in p["PolicyDocument"]["Statement"]]


@pytest.mark.parametrize(
    "parameters, hub",
    [
        ({}, False),
        ({"OrganizationId": "o-abcdefghij"}, True),
        ({"MemberAccounts": "111111111111,222222222222"}, True),
    ],
)
def test_only_a_hub_has_the_fan_out_and_its_sweep_function_schedule_is_then_off(parameters, hub):
    deployment = Deployment(template().document, parameters)
    assert all(deployment.exists(name) is hub for name in FAN_OUT + ALARMS)
    state = resources()["SweepFunction"]["Properties"]["Events"]["Hourly"]["Properties"]["State"]
    assert state == {"Fn::If": ["WatchesMembers", "DISABLED", "ENABLED"]}
    assert deployment.condition("WatchesMembers") is hub  # the single-account stack: the function's schedule, on
    # What a simulated deployment runs on a schedule follows: a hub's sweep function is not run hourly.
    hourly = {(s.function, s.name) for s in deployment.schedules()}
    assert (("SweepFunction", "Hourly") in hourly) is not hub


def test_the_hubs_schedule_starts_the_fan_out_as_the_functions_schedule_invoked_the_sweep():
    hourly = resources()["SweepFunction"]["Properties"]["Events"]["Hourly"]["Properties"]
    schedule = resources()["SweepFanOutSchedule"]["Properties"]
    assert schedule["Target"]["Arn"] == {"Ref": "SweepFanOut"}
    assert schedule["ScheduleExpression"] == hourly["ScheduleExpression"] == {"Ref": "SweepSchedule"}
    assert schedule["FlexibleTimeWindow"] == hourly["FlexibleTimeWindow"]
    assert schedule["Target"]["RetryPolicy"] == hourly["RetryPolicy"]
    assert schedule["Target"]["DeadLetterConfig"] == hourly["DeadLetterConfig"]


def test_the_fan_out_lists_targets_then_sweeps_each_in_a_standard_distributed_map_bounded_by_the_parameters():
    states = definition()["States"]
    assert definition()["StartAt"] == "ListTargets"
    assert states["ListTargets"]["Parameters"]["Payload"] == {"targets": True}
    each = states["SweepEach"]
    assert each["ItemProcessor"]["ProcessorConfig"] == {"Mode": "DISTRIBUTED", "ExecutionType": "STANDARD"}
    assert each["MaxConcurrency"] == int(template().parameter_default("SweepMaxConcurrency")) == 10
    assert each["ToleratedFailurePercentage"] == int(template().parameter_default("SweepToleratedFailurePercentage"))
    assert each["ItemSelector"] == {"account.$": "$$.Map.Item.Value.account", "region.$": "$$.Map.Item.Value.region"}
    assert each["ResultPath"] is None  # children's results are not gathered: no 256 KB limit at any size
    child = each["ItemProcessor"]["States"]["SweepOne"]
    assert child["Parameters"] == {"FunctionName": REFS["SweepFunction.Arn"], "Payload.$": "$"}


@pytest.mark.parametrize("state", ["ListTargets", "SweepOne"])
def test_every_task_retries_lambdas_throttling_and_its_own_failures_with_backoff_and_a_bound(state):
    states = definition()["States"]
    task = states.get(state) or states["SweepEach"]["ItemProcessor"]["States"][state]
    assert task["Resource"] == "arn:aws:states:::lambda:invoke"
    retried = {error for retrier in task["Retry"] for error in retrier["ErrorEquals"]}
    assert {"Lambda.TooManyRequestsException", "Lambda.ServiceException", "States.TaskFailed"} <= retried
    for retrier in task["Retry"]:
        assert 1 <= retrier["MaxAttempts"] <= 6 and retrier["BackoffRate"] > 1 and retrier["IntervalSeconds"] >= 1


def test_the_state_machine_may_invoke_only_the_sweep_and_run_only_its_own_children():
    statements = policy("SweepFanOutRole")
    by_action = {
        action: statement["Resource"]
        for statement in statements
        for action in ([statement["Action"]] if isinstance(statement["Action"], str) else statement["Action"])
    }
    assert by_action["lambda:InvokeFunction"] == {"Fn::GetAtt": ["SweepFunction", "Arn"]}
    name = resources()["SweepFanOut"]["Properties"]["StateMachineName"]["Fn::Sub"]
    assert by_action["states:StartExecution"]["Fn::Sub"].endswith(f":stateMachine:{name}")
    for action in ("states:DescribeExecution", "states:StopExecution"):
        assert by_action[action]["Fn::Sub"].endswith(f":execution:{name}/*")
    unscoped = {action for action, resource in by_action.items() if resource == "*"}
    assert unscoped and all(action.startswith("logs:") for action in unscoped)  # log delivery has no ARN to name
    trust = resources()["SweepFanOutRole"]["Properties"]["AssumeRolePolicyDocument"]["Statement"]
    assert [s["Principal"] for s in trust] == [{"Service": "states.amazonaws.com"}]


def test_the_hubs_schedule_may_start_only_the_fan_out():
    statements = policy("SweepFanOutSchedulerRole")
    assert {(s["Action"], str(s["Resource"])) for s in statements} == {
        ("states:StartExecution", str({"Ref": "SweepFanOut"})),
        ("sqs:SendMessage", str({"Fn::GetAtt": ["ParkedEventsQueue", "Arn"]})),
    }


def test_the_fan_out_logs_to_its_own_log_group_and_its_failures_and_unreachable_members_ring_alarms():
    logging = resources()["SweepFanOut"]["Properties"]["LoggingConfiguration"]
    (destination,) = logging["Destinations"]
    assert destination["CloudWatchLogsLogGroup"]["LogGroupArn"] == {"Fn::GetAtt": ["SweepFanOutLogGroup", "Arn"]}
    failed = resources()["SweepFanOutFailedAlarm"]["Properties"]
    assert (failed["Namespace"], failed["MetricName"]) == ("AWS/States", "ExecutionsFailed")
    assert failed["Dimensions"] == [{"Name": "StateMachineArn", "Value": {"Ref": "SweepFanOut"}}]
    unreachable = resources()["MemberUnreachableAlarm"]["Properties"]
    assert unreachable["MetricName"] == "MemberUnreachable"
    core = (PROJECT_ROOT / "layers/guardian/guardian/members.py").read_text()
    assert re.search(r'add_metric\(name="MemberUnreachable"', core)  # the name the core publishes
    assert members.MEMBER_UNREACHABLE in unreachable["AlarmDescription"]
    for alarm in (failed, unreachable):
        assert alarm["AlarmActions"] == [{"Ref": "AlarmTopic"}] and alarm["TreatMissingData"] == "notBreaching"


def test_the_sweep_may_list_the_organizations_accounts_only_in_an_organization():
    granted = [
        (statement, condition)
        for statement, condition in template().policy_statements("SweepFunction")
        if "organizations:ListAccounts" in statement["Action"]
    ]
    assert [(s["Action"], condition) for s, condition in granted] == [
        (["organizations:ListAccounts"], "HasOrganization")
    ]
    assert "organizations:ListAccounts" in FUNCTION_PERMISSIONS["SweepFunction"]
