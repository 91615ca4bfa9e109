"""`make cost` prices what the stack did on a simulated day, not constants: a tiny account's day on the
sandbox, and the counts its bill is made of."""

from dataclasses import replace

import pytest

from guardian_sandbox.cost_model import (
    DAYS_PER_MONTH,
    WITH_CUSTOMER_MANAGED_KEY,
    Account,
    bill,
    deployed_with,
    held_by_template,
    measure_month,
    price_list,
    total,
)
from guardian_sandbox.template import template

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def tiny_month():
    account = Account(profiles=2, spaces=3, endpoints=2, emr_clusters=1, events_per_day=1_000, running_share=1.0)
    return account, measure_month(account, sample_events=8)


def test_every_event_of_the_day_is_an_ingest_invocation_and_every_hour_a_sweep(tiny_month):
    account, measured = tiny_month
    month = measured.month
    assert measured.events_delivered > 0
    assert month.invocations["IngestFunction"] == pytest.approx(account.events_per_day * DAYS_PER_MONTH)
    # The hourly sweep, and the one-time checks the events scheduled.
    assert month.invocations["SweepFunction"] >= 24 * DAYS_PER_MONTH
    assert month.scheduler_invocations >= 24 * DAYS_PER_MONTH


def test_the_table_units_metric_queries_and_logs_come_from_what_ran(tiny_month):
    _, measured = tiny_month
    month = measured.month
    assert month.write_units > 0 and month.read_units > 0
    assert month.metrics_requested > 0  # the endpoints' and the cluster's idle checks
    assert month.log_bytes > 0
    assert month.count("sagemaker:ListSpaces") >= 24 * DAYS_PER_MONTH  # one list page per sweep at least
    assert month.count("lambda:StreamBatch") > 0


def test_the_bill_prices_the_measured_month(tiny_month):
    _, measured = tiny_month
    lines = {(line.service, line.item): line for line in bill(measured.month, price_list())}
    assert lines["Lambda", "IngestFunction requests"].quantity == measured.month.invocations["IngestFunction"]
    assert lines["DynamoDB", "write request units"].quantity == measured.month.write_units
    assert lines["CloudWatch", "GetMetricData metrics requested"].quantity == measured.month.metrics_requested


@pytest.fixture(scope="module")
def idle_month():
    """A domain nobody uses (make cost's idle domain has 300 spaces; what it holds does not grow with them)."""
    return measure_month(replace(Account.idle(), profiles=10, spaces=30))


def test_an_idle_domain_costs_under_a_dollar_what_the_template_holds_and_the_key_adds_its_price(idle_month):
    prices = price_list()
    lines = {(line.service, line.item): line for line in bill(idle_month.month, prices)}
    _, alarm_metrics, keys = held_by_template(template())
    assert lines["CloudWatch", "alarm metrics"].quantity == alarm_metrics > 0
    assert lines["KMS", "customer managed keys"].quantity == keys == 0
    assert lines["Lambda", "SweepFunction requests"].quantity >= 24 * DAYS_PER_MONTH  # it did run, every hour
    assert total(list(lines.values())) < 1.00
    with_key = bill(deployed_with(idle_month, WITH_CUSTOMER_MANAGED_KEY).month, prices)
    assert total(with_key) - total(list(lines.values())) == pytest.approx(prices["kms_key"])
