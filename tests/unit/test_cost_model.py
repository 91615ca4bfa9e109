"""The monthly bill `make cost` prints: every line is priced from a count the simulated day measured (so a
helper who saves write units or metric queries sees the line move), and the lines add up to the total."""

from collections import Counter
from dataclasses import replace

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from guardian_sandbox.cost_model import (
    WITH_CUSTOMER_MANAGED_KEY,
    Day,
    Usage,
    bill,
    deployed_with,
    held_by_template,
    price_list,
    total,
)
from guardian_sandbox.simulation.deployment import Deployment
from guardian_sandbox.template import Template, template

PRICES = price_list()
FUNCTIONS = ("IngestFunction", "NotifyFunction", "SweepFunction")


def month(scale: float = 1.0) -> Usage:
    """A month in which everything the bill prices happened."""
    return Usage(
        invocations=Counter({f: 1000 * scale for f in FUNCTIONS}),
        duration_ms=Counter({f: 250_000 * scale for f in FUNCTIONS}),
        calls=Counter(
            {
                "sns:Publish": 40 * scale,
                "sqs:SendMessage": 3 * scale,
                "events:PutEvents": 2 * scale,
                "dynamodb:Query": 9,
            }
        ),
        read_units=5_000 * scale,
        write_units=7_000 * scale,
        metrics_requested=1_500 * scale,
        custom_metric_hours=20 * scale,
        log_bytes=30_000_000 * scale,
        kms_requests=900 * scale,
        scheduler_invocations=3_000 * scale,
        memory_mb=dict.fromkeys(FUNCTIONS, 512),
        stored_bytes=round(4_000_000 * scale),
        alarms=round(9 * scale),
        kms_keys=round(1 * scale),
    )


def by_item(usage: Usage) -> dict[tuple[str, str], float]:
    return {(line.service, line.item): line.usd for line in bill(usage, PRICES)}


@settings(max_examples=40, deadline=None)
@given(st.floats(min_value=0, max_value=1e4, allow_nan=False))
def test_the_lines_add_up_to_the_total_and_none_is_negative(scale):
    lines = bill(month(scale), PRICES)
    assert total(lines) == sum(line.usd for line in lines)
    assert all(line.usd >= 0 and line.quantity >= 0 for line in lines)


# Each measured count, and the lines a change in it must move.
PERTURBATIONS = {
    "IngestFunction invocations": (
        lambda u: replace(u, invocations=u.invocations + Counter({"IngestFunction": 10})),
        {("Lambda", "IngestFunction requests")},
    ),
    "IngestFunction duration": (
        lambda u: replace(u, duration_ms=u.duration_ms + Counter({"IngestFunction": 10_000})),
        {("Lambda", "IngestFunction compute")},
    ),
    "write units": (lambda u: replace(u, write_units=u.write_units + 1e6), {("DynamoDB", "write request units")}),
    "read units": (lambda u: replace(u, read_units=u.read_units + 1e6), {("DynamoDB", "read request units")}),
    "stored bytes": (
        lambda u: replace(u, stored_bytes=u.stored_bytes + 10**9),
        {("DynamoDB", "storage"), ("DynamoDB", "point-in-time recovery")},
    ),
    "custom events": (
        lambda u: replace(u, calls=u.calls + Counter({"events:PutEvents": 1000})),
        {("EventBridge", "custom bus events")},
    ),
    "schedules": (
        lambda u: replace(u, scheduler_invocations=u.scheduler_invocations + 1000),
        {("EventBridge", "Scheduler invocations")},
    ),
    "metrics requested": (
        lambda u: replace(u, metrics_requested=u.metrics_requested + 1000),
        {("CloudWatch", "GetMetricData metrics requested")},
    ),
    "metric-hours": (
        lambda u: replace(u, custom_metric_hours=u.custom_metric_hours + 100),
        {("CloudWatch", "custom metrics published")},
    ),
    "alarms": (lambda u: replace(u, alarms=u.alarms + 1), {("CloudWatch", "alarm metrics")}),
    "log bytes": (
        lambda u: replace(u, log_bytes=u.log_bytes + 10**9),
        {("CloudWatch", "logs ingested"), ("CloudWatch", "logs stored")},
    ),
    "keys": (lambda u: replace(u, kms_keys=u.kms_keys + 1), {("KMS", "customer managed keys")}),
    "kms requests": (lambda u: replace(u, kms_requests=u.kms_requests + 10_000), {("KMS", "requests")}),
    "publishes": (
        lambda u: replace(u, calls=u.calls + Counter({"sns:Publish": 1000})),
        {("SNS", "publishes"), ("SNS", "email notifications")},
    ),
    "queue requests": (
        lambda u: replace(u, calls=u.calls + Counter({"sqs:ReceiveMessage": 10_000})),
        {("SQS", "requests")},
    ),
}


def test_each_line_moves_with_its_measured_count_and_no_other_line_does():
    before = by_item(month())
    for name, (change, moved) in PERTURBATIONS.items():
        after = by_item(change(month()))
        changed = {item for item in before if after[item] != before[item]}
        assert changed == moved, f"{name} moved {sorted(changed)}, expected {sorted(moved)}"
        assert all(after[item] > before[item] for item in moved), name


def test_every_priced_line_comes_from_a_count():
    """No line is a constant: each one with a price is moved by some measured count."""
    moved = set().union(*(items for _, items in PERTURBATIONS.values()))
    priced = {(line.service, line.item) for line in bill(month(), PRICES) if line.usd > 0}
    # Every function's lines are made alike; IngestFunction's stand for them.
    other_functions = {item for item in priced if item[0] == "Lambda" and not item[1].startswith("IngestFunction")}
    assert priced - other_functions <= moved


def test_nothing_measured_costs_nothing():
    assert total(bill(Usage(), PRICES)) == 0


def test_a_metric_math_alarm_is_billed_for_each_metric_it_reads():
    document = template().document
    alarms = {
        "One": {"Type": "AWS::CloudWatch::Alarm", "Properties": {"MetricName": "Errors"}},
        "Math": {
            "Type": "AWS::CloudWatch::Alarm",
            "Properties": {
                "Metrics": [{"Id": "e", "Expression": "m0+m1+m2"}]
                + [{"Id": f"m{i}", "MetricStat": {"Metric": {"MetricName": f"M{i}"}}} for i in range(3)]
            },
        },
        "Key": {"Type": "AWS::KMS::Key", "Properties": {}},
    }
    made = Template({**document, "Resources": {**document["Resources"], **alarms}})
    _, with_alarms, keys = held_by_template(made)
    _, without, keys_before = held_by_template(template())
    assert with_alarms - without == 4
    assert keys - keys_before == 1


def test_the_price_list_says_where_each_price_comes_from_and_when():
    assert PRICES.region == "us-east-1" and PRICES.as_of
    assert all(price.source.startswith("https://aws.amazon.com/") for price in PRICES.prices.values())


def made(parameters: dict[str, str], kind: str) -> dict[str, dict]:
    """The template's resources of ``kind`` that a deployment with ``parameters`` makes."""
    deployment = Deployment(template().document, parameters)
    return {n: r for n, r in template().resources.items() if r["Type"] == kind and deployment.exists(n)}


@pytest.mark.parametrize("parameters", [{}, WITH_CUSTOMER_MANAGED_KEY, {"RemediationMode": "enforce"}])
def test_the_alarms_and_keys_billed_are_those_the_template_makes_with_the_parameters(parameters):
    _, alarms, keys = held_by_template(template(), parameters)
    alarm_metrics = [
        max(1, len([q for q in alarm["Properties"].get("Metrics", []) if "MetricStat" in q]))
        for alarm in made(parameters, "AWS::CloudWatch::Alarm").values()
    ]
    assert alarms == sum(alarm_metrics) and keys == len(made(parameters, "AWS::KMS::Key"))


def test_the_default_stack_has_no_customer_managed_key_and_turning_it_on_adds_exactly_its_price():
    measured = Day(month(), events_delivered=0, seconds=0.0)
    default, with_key = deployed_with(measured, {}), deployed_with(measured, WITH_CUSTOMER_MANAGED_KEY)
    assert default.month.kms_keys == 0 and with_key.month.kms_keys == 1
    before, after = by_item(default.month), by_item(with_key.month)
    assert after[("KMS", "customer managed keys")] - before[("KMS", "customer managed keys")] == PRICES["kms_key"]
    assert {item for item in before if after[item] != before[item]} == {("KMS", "customer managed keys")}
    # What the stack did is as measured under either: only what it holds is read from the template.
    assert replace(with_key.month, kms_keys=0, alarms=0) == replace(default.month, kms_keys=0, alarms=0)
