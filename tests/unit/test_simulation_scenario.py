"""What `guardian simulate` reads before anything runs: the scenario (offsets, placeholders), template.yaml
with the scenario's parameters (its conditions, the functions' environment, its schedules), and the
schedule expressions EventBridge Scheduler fires them by."""

from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from guardian_sandbox.simulation.deployment import Deployment, ParameterError
from guardian_sandbox.simulation.scenario import ScenarioError, offset, parse, substitute
from guardian_sandbox.simulation.schedule_expressions import Cron, ScheduleExpressionError
from guardian_sandbox.simulation.schedule_expressions import parse as schedule
from guardian_sandbox.template import template

START = datetime(2026, 11, 2, 8, 0, tzinfo=UTC)  # a Monday


# --- schedule expressions -----------------------------------------------------------------------------------


def _fields(values: list[int]) -> str:
    return ",".join(str(v) for v in sorted(set(values))) if values else "*"


crons = st.builds(
    lambda minutes, hours, weekdays: f"cron({_fields(minutes)} {_fields(hours)} ? * {_fields(weekdays)} *)",
    st.lists(st.integers(0, 59), max_size=3),
    st.lists(st.integers(0, 23), max_size=2),
    st.lists(st.integers(1, 7), max_size=2),
)


@given(
    expression=crons,
    zone=st.sampled_from(["UTC", "Europe/Berlin", "Asia/Kolkata", "America/New_York"]),
    after=st.datetimes(datetime(2026, 1, 1), datetime(2027, 12, 31), timezones=st.just(UTC)),
)
def test_a_cron_fires_next_at_the_first_matching_minute_strictly_after(expression, zone, after):
    cron = schedule(expression, zone)
    assert isinstance(cron, Cron)
    fires = cron.next_after(after, START)
    assert fires is not None and fires > after and cron.matches(fires)
    minute = after.replace(second=0, microsecond=0) + timedelta(minutes=1)
    while minute < fires:  # nothing matched in between (brute force, minute by minute)
        assert not cron.matches(minute), minute
        minute += timedelta(minutes=1)


def test_the_templates_cron_reads_days_as_aws_does_in_its_time_zone():
    digest = schedule("cron(0 8 ? * MON-FRI *)", "UTC")
    friday = datetime(2026, 11, 6, 8, 0, tzinfo=UTC)
    assert digest.next_after(friday, START) == datetime(2026, 11, 9, 8, 0, tzinfo=UTC)  # Monday, not Saturday
    sunday = schedule("cron(0 8 ? * 1 *)", "UTC")  # day-of-week 1 is Sunday in AWS's cron
    assert sunday.next_after(START, START) == datetime(2026, 11, 8, 8, 0, tzinfo=UTC)
    berlin = schedule("cron(0 8 ? * MON *)", "Europe/Berlin")
    assert berlin.next_after(START, START) == datetime(2026, 11, 9, 7, 0, tzinfo=UTC)  # 08:00 CET


def test_a_rate_fires_a_period_after_it_was_made_and_every_period_after():
    hourly = schedule("rate(1 hour)")
    assert hourly.next_after(START, START) == START + timedelta(hours=1)
    assert hourly.next_after(START + timedelta(minutes=61), START) == START + timedelta(hours=2)
    assert schedule("rate(15 minutes)").next_after(START, START) == START + timedelta(minutes=15)


@pytest.mark.parametrize(
    ("expression", "says"),
    [
        ("rate(0 hours)", "at least 1"),
        ("cron(0 8 * * MON *)", "'?'"),
        ("cron(0 8 L * ? *)", "not simulated"),
        ("cron(0 8 ? * 2#1 *)", "not simulated"),
        ("cron(0 24 * * ? *)", "outside 0-23"),
        ("every morning", "neither"),
    ],
)
def test_an_expression_the_simulation_cannot_read_says_why(expression, says):
    with pytest.raises(ScheduleExpressionError, match=says):
        schedule(expression)


# --- the template, deployed with parameters -------------------------------------------------------------


def test_parameters_reach_the_functions_environment_as_the_template_maps_them():
    deployed = Deployment(
        template().document, {"RemediationMode": "enforce", "OwnerEmails": '{"alice": "a@example.com"}'}
    )
    refs = {"GuardianTable": "t", "AlertsTopic": "arn:topic", "UndeliveredQueue": "q"}
    assert deployed.environment("SweepFunction", refs | _pseudo())["REMEDIATION_MODE"] == "enforce"
    assert deployed.environment("NotifyFunction", refs | _pseudo())["OWNER_EMAILS"] == '{"alice": "a@example.com"}'
    assert (
        Deployment(template().document, {}).environment("SweepFunction", refs | _pseudo())["REMEDIATION_MODE"] == "off"
    )


def _pseudo() -> dict[str, str]:
    return {
        "AWS::AccountId": "123456789012",
        "AWS::Region": "us-east-1",
        "AWS::Partition": "aws",
        "AWS::StackName": "s",
        "EvaluationSchedules": "g",
        "SchedulerRole.Arn": "arn:role",
        "FailedRunsQueue.Arn": "arn:queue",
        "ReportsBucket": "b",
    }


def test_the_template_decides_what_exists_and_what_fires_by_itself():
    off = {s.function for s in Deployment(template().document, {}).schedules()}
    assert "RemediateFunction" not in off and {"SweepFunction", "ReportFunction"} <= off
    enforced = Deployment(template().document, {"RemediationMode": "enforce", "SweepSchedule": "rate(2 hours)"})
    sweep = next(s for s in enforced.schedules() if s.function == "SweepFunction")
    assert sweep.expression == "rate(2 hours)"
    assert "RemediateFunction" in {s.function for s in enforced.schedules()}
    digest = next(s for s in enforced.schedules() if s.name == "Digest")
    assert digest.payload == {"digest": True}


@pytest.mark.parametrize(
    ("values", "says"),
    [
        ({"RemediationMode": "sometimes"}, "not one of"),
        ({"Nope": "1"}, "unknown parameter"),
        ({"RemediationGraceHours": "0"}, "outside"),
        ({"TagPrefix": "aws-things"}, "does not match"),
        ({"SweepSchedule": "hourly"}, "SweepFunction Hourly"),
    ],
)
def test_a_parameter_cloudformation_would_refuse_is_refused(values, says):
    with pytest.raises(ParameterError, match=says):
        Deployment(template().document, values).schedules()


# --- the scenario ------------------------------------------------------------------------------------------


def test_offsets_are_from_the_start_and_units_combine():
    assert offset("+90s") == timedelta(seconds=90)
    assert offset("+1d2h30m") == timedelta(days=1, hours=2, minutes=30)
    assert offset("+1.5h") == timedelta(minutes=90)
    with pytest.raises(ValueError, match="offset"):
        offset("90 minutes")


def test_a_scenario_is_read_whole_with_its_steps_at_their_moments():
    read = parse(
        {
            "start": START,
            "until": "+3d",
            "parameters": {"RemediationMode": "enforce", "RemediationGraceHours": 2, "WriteOwnershipTags": True},
            "x-anchors": {"anything": "the author's own"},
            "steps": [
                {"at": "+0m", "aws": "sagemaker.list_domains", "as": "domains"},
                {
                    "at": "2026-11-02T09:00:00Z",
                    "aws": "sagemaker.list_apps",
                    "args": {"DomainIdEquals": "${domains.Domains[0].DomainId}"},
                },
                {
                    "at": "+2h",
                    "metric": {"Namespace": "AWS/SageMaker", "MetricName": "Invocations", "Value": 1},
                    "every": "+1h",
                },
            ],
        }
    )
    assert read.until == START + timedelta(days=3)
    assert read.parameters == {"RemediationMode": "enforce", "RemediationGraceHours": "2", "WriteOwnershipTags": "true"}
    assert [at for at, _ in read.steps] == [START, START + timedelta(hours=1), START + timedelta(hours=2)]
    assert read.labels[1] == "step 2 (at 2026-11-02T09:00:00Z)"


@pytest.mark.parametrize(
    ("document", "says"),
    [
        ({"start": START, "until": "+0m", "steps": []}, "until is not after start"),
        ({"start": START, "until": "+1d", "steps": [{"at": "+2d", "slack_status": 404}]}, "after until"),
        ({"start": START, "until": "+1d", "steps": [{"at": "+1h", "aws": "nosuchservice.do"}]}, "not an AWS service"),
        ({"start": START, "until": "+1d", "steps": [{"at": "+1h", "metric": {}, "as": "m"}]}, "go with an aws step"),
        (
            {
                "start": START,
                "until": "+1d",
                "steps": [{"at": "+1h", "aws": "sts.get_caller_identity", "every": "+1h"}],
            },
            "every goes with a metric",
        ),
        (
            {
                "start": START,
                "until": "+1d",
                "steps": [{"at": "+1h", "aws": "sts.get_caller_identity", "args": {"X": "${a.[}"}}],
            },
            "JMESPath",
        ),
        ({"start": START, "until": "+1d", "steps": [{"at": "+1h", "event": {}, "typo": 1}]}, "typo"),
        ({"start": START, "until": "+1d", "stpes": []}, "stpes"),
    ],
)
def test_a_mistake_in_a_scenario_is_named(document, says):
    with pytest.raises(ScenarioError, match=says):
        parse(document)


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=5),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=3), inner, max_size=3),
    max_leaves=8,
)


@given(value=json_values.filter(lambda v: v is not None))
def test_a_whole_string_placeholder_is_replaced_by_the_value_itself(value):
    kept = {"r": {"Value": value}}
    assert substitute({"x": "${r.Value}", "y": ["${r.Value}"]}, kept) == {"x": value, "y": [value]}


def test_a_placeholder_inside_a_string_is_written_in():
    kept = {"cfg": {"Name": "base", "Count": 2, "Tags": {"a": "b"}}}
    assert substitute("copy-of-${cfg.Name}-x${cfg.Count}", kept) == "copy-of-base-x2"
    assert substitute("${cfg}", kept) == kept["cfg"]
    with pytest.raises(ScenarioError, match="finds nothing"):
        substitute("${cfg.Missing}", kept)
    with pytest.raises(ScenarioError, match="no response kept as other"):
        substitute("${other.Name}", kept)
