"""Every function visible when it fails, read from template.yaml: a place where each failed invocation is
kept (on-failure destination, dead-letter queue, or the stream's destination) and an alarm on each such
place that names the function and its logs (the function's own alarm: no Errors alarm per function is
needed, each billed a month), a retry policy and a dead-letter queue on every rule target and schedule,
every queue encrypted, and an alarm on the depth of every dead-letter queue. Alarms go to the stack's alarm
topic (the team's email subscribes to it) and say where to look."""

import re
from datetime import UTC, datetime
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

import guardian
from guardian.observability import ROLLED_UP
from guardian.scheduling import schedule_evaluation
from guardian_sandbox.template import template

TOPIC = {"Ref": "AlarmTopic"}
# Invoked by a poller (synchronously, in batches): their failures are kept by the event source's own
# destination, not by the function's asynchronous-invocation config.
POLLED = {"DynamoDB", "Kinesis", "SQS", "MSK", "MQ", "SelfManagedKafka", "DocumentDB"}
STREAMS = {"DynamoDB", "Kinesis"}
# SAM event types that become an EventBridge rule target or an EventBridge Scheduler schedule.
RULES_AND_SCHEDULES = {"Schedule", "ScheduleV2", "EventBridgeRule", "CloudWatchEvent"}


def resources(kind: str) -> dict[str, dict[str, Any]]:
    return {name: resource for name, resource in template().resources.items() if resource["Type"] == kind}


def referenced(value: Any) -> set[str]:
    """The logical ids a value names through Ref, Fn::GetAtt or Fn::Sub (attributes stripped)."""
    if isinstance(value, list):
        return set().union(*map(referenced, value)) if value else set()
    if not isinstance(value, dict):
        return set()
    if "Ref" in value:
        return {value["Ref"]}
    if "Fn::GetAtt" in value:
        target = value["Fn::GetAtt"]
        return {(target if isinstance(target, str) else target[0]).split(".")[0]}
    if "Fn::Sub" in value:
        text, variables = (value["Fn::Sub"], {}) if isinstance(value["Fn::Sub"], str) else value["Fn::Sub"]
        named = {name.split(".")[0] for name in re.findall(r"\$\{([^}!]+)\}", text)} - set(variables)
        return named | referenced(list(variables.values()))
    return set().union(*map(referenced, value.values())) if value else set()


def queue(value: Any) -> str:
    """The SQS queue of this template that a destination or dead-letter ARN names."""
    names = referenced(value) & set(resources("AWS::SQS::Queue"))
    assert len(names) == 1, f"{value} names no queue of the template"
    return names.pop()


def function_properties(function: str) -> dict[str, Any]:
    return template().document.get("Globals", {}).get("Function", {}) | template().functions()[function]["Properties"]


def events(function: str) -> dict[str, dict[str, Any]]:
    return function_properties(function).get("Events") or {}


def async_failure_queues(function: str) -> set[str]:
    """Where Lambda keeps the function's asynchronous invocations that failed after their retries."""
    properties = function_properties(function)
    kept = set()
    on_failure = (properties.get("EventInvokeConfig") or {}).get("DestinationConfig", {}).get("OnFailure")
    if on_failure:
        assert on_failure["Type"] == "SQS", f"{function}: failures go to {on_failure['Type']}, not a queue"
        kept.add(queue(on_failure["Destination"]))
    dead_letter = properties.get("DeadLetterQueue")
    if dead_letter:
        assert dead_letter["Type"] == "SQS", f"{function}: dead letters go to {dead_letter['Type']}, not a queue"
        kept.add(queue(dead_letter["TargetArn"]))
    return kept


def stream_failure_queues(function: str) -> set[str]:
    """Where the function's stream event sources keep the batches that failed after their retries."""
    kept = set()
    for event in events(function).values():
        on_failure = event["Properties"].get("DestinationConfig", {}).get("OnFailure")
        if event["Type"] in STREAMS and on_failure:
            kept.add(queue(on_failure["Destination"]))
    return kept


def rule_and_schedule_targets() -> list[tuple[str, dict[str, Any], str | None]]:
    """(where, target, condition) for every rule target and schedule: SAM events and plain resources."""
    targets = []
    for kind in ("AWS::Serverless::Function", "AWS::Serverless::StateMachine"):
        for name, resource in resources(kind).items():
            for event_name, event in (resource["Properties"].get("Events") or {}).items():
                if event["Type"] in RULES_AND_SCHEDULES:
                    targets.append((f"{name}.{event_name}", event["Properties"], resource.get("Condition")))
    for name, rule in resources("AWS::Events::Rule").items():
        for target in rule["Properties"].get("Targets", []):
            targets.append((f"{name}.{target.get('Id')}", target, rule.get("Condition")))
    for name, schedule in resources("AWS::Scheduler::Schedule").items():
        targets.append((name, schedule["Properties"]["Target"], schedule.get("Condition")))
    return targets


def dead_letter_queues() -> dict[str, set[str]]:
    """Every queue something parks failures in, with who parks there."""
    parked: dict[str, set[str]] = {}
    for function in template().functions():
        for name in async_failure_queues(function) | stream_failure_queues(function):
            parked.setdefault(name, set()).add(function)
    for where, target, _ in rule_and_schedule_targets():
        if "DeadLetterConfig" in target:
            parked.setdefault(queue(target["DeadLetterConfig"]["Arn"]), set()).add(where)
    for name, resource in resources("AWS::SQS::Queue").items():
        redrive = resource["Properties"].get("RedrivePolicy")
        if redrive:
            parked.setdefault(queue(redrive["deadLetterTargetArn"]), set()).add(name)
    return parked


def log_group(function: str) -> str:
    """The log group the function writes to (its LoggingConfig names one of the template's)."""
    [name] = referenced(function_properties(function)["LoggingConfig"]["LogGroup"])
    return name


def alarms(namespace: str, metric: str, dimension: str, logical_id: str) -> dict[str, dict[str, Any]]:
    """The alarms on ``namespace``/``metric`` whose ``dimension`` names ``logical_id``."""
    found = {}
    for name, alarm in resources("AWS::CloudWatch::Alarm").items():
        properties = alarm["Properties"]
        if properties.get("Namespace") != namespace or properties.get("MetricName") != metric:
            continue
        dimensions = properties.get("Dimensions", [])
        if any(d["Name"] == dimension and logical_id in referenced(d["Value"]) for d in dimensions):
            found[name] = alarm
    return found


def assert_alarms_the_team(name: str, alarm: dict[str, Any], condition: str | None) -> None:
    properties = alarm["Properties"]
    assert properties["AlarmActions"] == [TOPIC], f"{name} does not go to the stack's topic"
    assert properties["ComparisonOperator"] == "GreaterThanThreshold" and properties["Threshold"] == 0, name
    assert properties["EvaluationPeriods"] == 1, f"{name} waits for more than one period"
    assert properties["TreatMissingData"] == "notBreaching", name
    # Deployable under every parameter value: the alarm exists exactly when what it watches exists.
    assert alarm.get("Condition") == condition, f"{name} has condition {alarm.get('Condition')}, not {condition}"


FUNCTIONS = sorted(template().functions())


# --- functions ------------------------------------------------------------------------------------------


@pytest.mark.parametrize("function", FUNCTIONS)
def test_every_function_has_an_alarm_on_where_its_failures_are_kept_that_names_it_and_its_logs(function):
    """Every invocation that still fails after its retries is kept in a queue (asynchronous: the on-failure
    destination; a stream: the event source's), and that queue's depth alarm is the function's alarm: it fires
    within its period of the failure and says which function failed and where its logs are."""
    kept = async_failure_queues(function) | stream_failure_queues(function)
    assert kept, f"{function} keeps no failed invocation anywhere"
    for queue_name in kept:
        found = alarms("AWS/SQS", "ApproximateNumberOfMessagesVisible", "QueueName", queue_name)
        assert found, f"{function}'s failures are kept in {queue_name}, on which no alarm is"
        for name, alarm in found.items():
            described = referenced(alarm["Properties"]["AlarmDescription"])
            assert {function, log_group(function)} <= described, f"{name} does not name {function} and its logs"
            assert alarm["Properties"]["Period"] <= 300, f"{name} hears of {function}'s failure late"


def state_machine_invocations() -> list[tuple[str, str, str | None]]:
    """(state machine, function, condition) for every function a state machine of the template invokes."""
    found = []
    for kind in ("AWS::StepFunctions::StateMachine", "AWS::Serverless::StateMachine"):
        for name, machine in resources(kind).items():
            invoked = referenced(machine["Properties"]) & set(template().functions())
            found += [(name, function, machine.get("Condition")) for function in sorted(invoked)]
    return found


@pytest.mark.parametrize("machine, function, condition", state_machine_invocations())
def test_every_function_a_state_machine_invokes_has_an_errors_alarm_whenever_the_machine_exists(
    machine, function, condition
):
    """A state machine invokes synchronously: no on-failure destination keeps a failed child, and a Map that
    tolerates failures does not fail, so only the function's Errors metric sees each one."""
    found = alarms("AWS/Lambda", "Errors", "FunctionName", function)
    assert found, f"{machine} invokes {function}, whose failures it may tolerate unheard: no Errors alarm"
    for name, alarm in found.items():
        assert_alarms_the_team(name, alarm, condition)
        assert {function, log_group(function)} <= referenced(alarm["Properties"]["AlarmDescription"]), name


@pytest.mark.parametrize("function", FUNCTIONS)
def test_every_function_keeps_the_invocations_that_failed(function):
    kinds = {event["Type"] for event in events(function).values()}
    if not kinds or kinds - POLLED:  # invoked asynchronously (a rule, a schedule, the code's own schedules)
        assert async_failure_queues(function), f"{function} has no on-failure destination or dead-letter queue"
    for name, event in events(function).items():
        if event["Type"] in STREAMS:
            properties = event["Properties"]
            assert properties["MaximumRetryAttempts"] >= 1, f"{function}.{name} is not retried"
            assert "OnFailure" in properties.get("DestinationConfig", {}), f"{function}.{name} keeps no failed batch"
            assert properties["DestinationConfig"]["OnFailure"]["Type"] == "SQS", f"{function}.{name}"
        if event["Type"] == "SQS":
            source = queue(event["Properties"]["Queue"])
            assert "RedrivePolicy" in template().resources[source]["Properties"], f"{source} has no redrive"
    condition = template().functions()[function].get("Condition")
    for name in async_failure_queues(function) | stream_failure_queues(function):
        # A queue that may not exist cannot be a destination; one that exists without the function is fine.
        assert template().resources[name].get("Condition") in (None, condition), f"{function} -> {name}"


# --- rules and schedules --------------------------------------------------------------------------------


def test_there_are_rules_and_schedules_to_check():
    wheres = {where for where, _, _ in rule_and_schedule_targets()}
    assert {"IngestFunction.SageMakerApiCalls", "SweepFunction.Hourly", "ReportFunction.Weekly"} <= wheres
    assert {"NotifyFunction.Digest"} <= wheres


@pytest.mark.parametrize(
    "where, target, condition", [pytest.param(*each, id=each[0]) for each in rule_and_schedule_targets()]
)
def test_every_rule_target_and_schedule_retries_then_parks_what_it_cannot_deliver(where, target, condition):
    retry = target.get("RetryPolicy")
    assert retry, f"{where} has no retry policy"
    assert retry["MaximumRetryAttempts"] >= 1 and retry["MaximumEventAgeInSeconds"] >= 60, where
    assert "DeadLetterConfig" in target, f"{where} has no dead-letter queue"
    parked = queue(target["DeadLetterConfig"]["Arn"])
    assert template().resources[parked].get("Condition") in (None, condition), f"{where} -> {parked}"


def test_the_one_time_evaluation_schedules_retry_then_park_what_they_cannot_deliver():
    """The schedules the code creates (guardian/scheduling.py), with the role they run as."""
    created = []
    scheduler = SimpleNamespace(create_schedule=lambda **request: created.append(request))
    guardian = SimpleNamespace(
        settings=SimpleNamespace(
            schedule_group="group",
            evaluate_target_arn="arn:aws:lambda:us-east-1:123456789012:function:stack-sweep",
            scheduler_role_arn="arn:aws:iam::123456789012:role/scheduler",
            evaluation_dead_letter_arn="arn:aws:sqs:us-east-1:123456789012:stack-failed-runs",
        ),
        clients=lambda service: scheduler,
    )
    now = datetime(2026, 1, 5, 12, tzinfo=UTC)
    assert schedule_evaluation(guardian, now, {"space": "s"}, "key", now)
    [request] = created
    # Scheduler's default is 185 retries over 24 hours, then the run is dropped unseen.
    assert request["Target"]["RetryPolicy"]["MaximumRetryAttempts"] >= 1
    assert request["Target"]["DeadLetterConfig"]["Arn"] == guardian.settings.evaluation_dead_letter_arn
    # Scheduler sends dead letters with the schedule's role: the role needs sqs:SendMessage on the queue.
    role = template().resources["SchedulerRole"]["Properties"]
    sends = [
        statement
        for policy in role["Policies"]
        for statement in policy["PolicyDocument"]["Statement"]
        if "sqs:SendMessage" in statement["Action"]
    ]
    assert sends, "SchedulerRole may not send to the one-time schedules' dead-letter queue"


# --- queues ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize("name", sorted(resources("AWS::SQS::Queue")))
def test_every_queue_is_encrypted(name):
    properties = template().resources[name]["Properties"]
    encrypted = properties.get("KmsMasterKeyId") or properties.get("SqsManagedSseEnabled") is True
    assert encrypted, f"{name} is not encrypted"


def test_the_dead_letter_queues_are_known():
    assert {"ParkedEventsQueue", "UndeliveredQueue", "FailedRunsQueue"} <= set(dead_letter_queues())


@pytest.mark.parametrize("name", sorted(dead_letter_queues()))
def test_every_dead_letter_queue_has_a_depth_alarm_that_names_it(name):
    found = alarms("AWS/SQS", "ApproximateNumberOfMessagesVisible", "QueueName", name)
    assert found, f"no alarm on the depth of {name} (where {sorted(dead_letter_queues()[name])} park failures)"
    for alarm_name, alarm in found.items():
        assert_alarms_the_team(alarm_name, alarm, template().resources[name].get("Condition"))
        assert alarm["Properties"]["Statistic"] == "Maximum"
        assert name in referenced(alarm["Properties"]["AlarmDescription"]), f"{alarm_name} does not name {name}"
    retention = template().resources[name]["Properties"].get("MessageRetentionPeriod", 345600)
    assert retention == 1209600, f"{name} keeps failures for less than the 14 days SQS allows"


# --- the weekly report ----------------------------------------------------------------------------------


def test_a_failed_weekly_report_is_retried_then_kept_and_the_team_is_told():
    report = function_properties("ReportFunction")
    assert report["EventInvokeConfig"]["MaximumRetryAttempts"] >= 1  # the function's failures
    assert events("ReportFunction")["Weekly"]["Properties"]["RetryPolicy"]["MaximumRetryAttempts"] >= 1  # delivery
    kept = async_failure_queues("ReportFunction")
    assert kept
    for name in kept:
        [depth] = alarms("AWS/SQS", "ApproximateNumberOfMessagesVisible", "QueueName", name).values()
        assert "weekly report" in str(depth["Properties"]["AlarmDescription"])
        assert {"ReportFunction", "ReportLogGroup"} <= referenced(depth["Properties"]["AlarmDescription"])


def test_the_team_hears_every_alarm_on_a_topic_of_alarms_only():
    """TeamEmail subscribes to the alarm topic unfiltered; owners' messages are on the other topic, which no
    alarm publishes to, so the alarm topic holds nothing private and needs no filter."""
    team = [
        subscription["Properties"]
        for subscription in resources("AWS::SNS::Subscription").values()
        if subscription["Properties"]["TopicArn"] == TOPIC
    ]
    assert team == [{"TopicArn": TOPIC, "Protocol": "email", "Endpoint": {"Ref": "TeamEmail"}}]
    assert resources("AWS::SNS::Subscription")["TeamAlarmSubscription"]["Condition"] == "HasTeamEmail"
    published = {str(alarm["Properties"]["AlarmActions"]) for alarm in resources("AWS::CloudWatch::Alarm").values()}
    assert published == {str([TOPIC])}
    for function in FUNCTIONS:
        environment = function_properties(function).get("Environment", {}).get("Variables", {})
        assert TOPIC not in environment.values(), f"{function} publishes to the alarm topic"


# --- failures a function survives ----------------------------------------------------------------------

CORE = Path(guardian.__file__).parent
# A metric whose name says something failed. Such a failure is survived (logged, counted, retried later), so
# no Errors alarm sees it: an alarm on the metric itself must.
FAILURE = re.compile(r"(Errors|Failures|NotScheduled|NotRecorded|Lost|Rejected)$")
# Failures alarmed another way, and where.
ALARMED_ELSEWHERE = {
    "DeliveryFailures": "retried by the stream; what still fails is parked in UndeliveredQueue (its depth alarm)",
}


def emitted_metrics() -> set[str]:
    """Every metric name the core publishes."""
    names = set()
    for source in CORE.rglob("*.py"):
        names |= set(re.findall(r'add_metric\(\s*name="(\w+)"', source.read_text()))
    return names


def alarmed_metrics() -> set[str]:
    """Every StudioCostGuardian metric an alarm watches, alone or in a metric-math expression."""
    watched = set()
    for alarm in resources("AWS::CloudWatch::Alarm").values():
        properties = alarm["Properties"]
        if properties.get("Namespace") == "StudioCostGuardian":
            watched.add(properties["MetricName"])
        for query in properties.get("Metrics", []):
            metric = query.get("MetricStat", {}).get("Metric", {})
            if metric.get("Namespace") == "StudioCostGuardian":
                watched.add(metric["MetricName"])
    return watched


def test_the_core_publishes_failure_metrics():
    assert {"SweepRecordErrors", "FindingWriteErrors", "EvaluationsNotScheduled", "MetricFetchErrors"} <= {
        name for name in emitted_metrics() if FAILURE.search(name)
    }


@pytest.mark.parametrize("metric", sorted(name for name in emitted_metrics() if FAILURE.search(name)))
def test_every_failure_a_function_survives_has_an_alarm(metric):
    # Directly, or through the one rolled-up metric its alarm reads (guardian.observability publishes both).
    watched = {metric, ROLLED_UP.get(metric)} & alarmed_metrics()
    assert watched or metric in ALARMED_ELSEWHERE, f"no alarm watches {metric}"


def test_metric_math_alarms_sum_every_metric_they_name():
    """An alarm that lists a metric but leaves it out of its expression watches nothing."""
    for name, alarm in resources("AWS::CloudWatch::Alarm").items():
        queries = alarm["Properties"].get("Metrics", [])
        if not queries:
            continue
        [expression] = [q["Expression"] for q in queries if q.get("ReturnData", True)]
        ids = {q["Id"] for q in queries if "MetricStat" in q}
        assert ids == set(re.findall(r"\bm\d+\b", expression)), f"{name}: {expression} leaves out some of {ids}"
        assert len(queries) <= 10, f"{name}: CloudWatch takes at most 10 metrics in an alarm"
        assert alarm["Properties"]["AlarmActions"] == [TOPIC]
