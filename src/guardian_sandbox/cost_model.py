"""`make cost`: what the stack itself costs a month on AWS, itemised, for an account of a given size.

The stack runs a simulated day on the embedded sandbox over the account (by default the 100-user domain:
100 profiles, 300 spaces, 50 endpoints, 20 EMR clusters, 5,000 events a day): every schedule of
template.yaml fires at its moments (the hourly sweep, the held-messages check, the digest; a weekly one runs
once, weighted by its share of a day), and a sample of the day's events (endpoint state changes, apps
stopped and started) is delivered as EventBridge would, the table's stream pumped to notify, one-time
checks fired when due. What every invocation did is counted (:class:`Usage`): invocations and their
duration, AWS calls by operation, the table's request units (bench_table's meter), metrics requested from
CloudWatch, custom metrics published (Powertools' EMF lines), log bytes, SNS, SQS and KMS requests. The
sample's counts are scaled to the day's events; a day is scaled to a month (730 hours). :func:`bill`
prices the month at the list prices in cost_prices.json (source and date there), one line per item.

What the stack holds (functions' memory, alarm metrics, customer-managed keys) is read from template.yaml as
deployed with given parameters (its Conditions decide what exists), so a parameter that adds a key or an
alarm moves the bill (:func:`deployed_with`): `make cost` prints the default stack and, beside it, the one
with UseCustomerManagedKey=true.

Durations are the handlers' in-process wall time with the emulator answering every call, so they bound,
not measure, what Lambda would bill; call and unit counts are exact for the sandbox's world.
"""

import argparse
import contextlib
import io
import json
import os
import sys
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field, fields, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from pydantic import BaseModel

from guardian import aws
from guardian.observability import logger
from guardian.runtime import forget_cached
from guardian_sandbox import worlds
from guardian_sandbox.template import Template, template

PRICES = Path(__file__).with_name("cost_prices.json")
HOURS_PER_MONTH = 730
DAYS_PER_MONTH = HOURS_PER_MONTH / 24
# Lambda writes START, END and REPORT lines for every invocation (about this many bytes together).
PLATFORM_LOG_BYTES = 320
# DynamoDB refreshes a table's data key from KMS at most this often while the table is used.
DYNAMODB_KEY_CACHE = timedelta(minutes=5)
DAY_START = datetime(2026, 11, 3, tzinfo=UTC)  # a Tuesday: no weekly report inside the day by chance
# The parameters of the stack's other configuration `make cost` prices: everything under the stack's own key.
WITH_CUSTOMER_MANAGED_KEY = {"UseCustomerManagedKey": "true"}


class Price(BaseModel):
    usd: float
    per: str
    source: str


class PriceList(BaseModel):
    region: str
    as_of: str
    note: str
    prices: dict[str, Price]

    def __getitem__(self, name: str) -> float:
        return self.prices[name].usd


def price_list(path: Path = PRICES) -> PriceList:
    return PriceList.model_validate_json(path.read_text())


@dataclass(frozen=True)
class Account:
    """The account the bill is for."""

    profiles: int = 100
    spaces: int = 300
    endpoints: int = 50
    emr_clusters: int = 20
    events_per_day: int = 5_000
    running_share: float = 1 / 3  # spaces with an app running

    @classmethod
    def idle(cls) -> "Account":
        """A domain nobody uses: its profiles and spaces, nothing running, no events."""
        return cls(profiles=100, spaces=300, endpoints=0, emr_clusters=0, events_per_day=0, running_share=0.0)


@dataclass
class Usage:
    """What the stack used: per day (counts) or per month (after :meth:`scaled`), plus what it holds."""

    invocations: Counter = field(default_factory=Counter)  # per function
    duration_ms: Counter = field(default_factory=Counter)  # per function, billed (rounded up to 1 ms)
    calls: Counter = field(default_factory=Counter)  # "service:Operation"
    read_units: float = 0.0
    write_units: float = 0.0
    metrics_requested: int = 0  # GetMetricData queries of a metric
    custom_metric_hours: float = 0.0  # (metric, dimensions) published in an hour, weighted by its run's share
    log_bytes: int = 0
    kms_requests: int = 0
    scheduler_invocations: int = 0
    # What the stack holds: not scaled by time.
    memory_mb: dict[str, int] = field(default_factory=dict)
    stored_bytes: int = 0
    alarms: int = 0
    kms_keys: int = 0
    email_subscriptions: int = 1

    HELD = ("memory_mb", "stored_bytes", "alarms", "kms_keys", "email_subscriptions")

    def scaled(self, factor: float) -> "Usage":
        """Every count multiplied by ``factor`` (what the stack holds stays)."""
        changes: dict[str, Any] = {}
        for f in fields(self):
            value = getattr(self, f.name)
            if f.name in self.HELD:
                continue
            if isinstance(value, Counter):
                changes[f.name] = Counter({k: v * factor for k, v in value.items()})
            else:
                changes[f.name] = value * factor
        return replace(self, **changes)

    def __add__(self, other: "Usage") -> "Usage":
        changes: dict[str, Any] = {}
        for f in fields(self):
            if f.name in self.HELD:
                continue
            changes[f.name] = getattr(self, f.name) + getattr(other, f.name)
        return replace(self, **changes)

    def count(self, prefix: str) -> float:
        return sum(n for op, n in self.calls.items() if op.startswith(prefix))


@dataclass(frozen=True)
class Line:
    service: str
    item: str
    quantity: float
    unit: str
    usd: float


def bill(month: Usage, prices: PriceList) -> list[Line]:
    """A month's usage priced, one line per item (each line's quantity is a count of ``month``)."""
    lines = []
    for function in sorted(month.invocations):
        requests = month.invocations[function]
        gb_seconds = month.duration_ms[function] / 1000 * month.memory_mb.get(function, 512) / 1024
        lines.append(Line("Lambda", f"{function} requests", requests, "requests", requests * prices["lambda_request"]))
        lines.append(
            Line("Lambda", f"{function} compute", gb_seconds, "GB-s", gb_seconds * prices["lambda_gb_second_arm64"])
        )
    stored_gb = month.stored_bytes / 1e9
    publishes = month.count("sns:Publish")
    log_gb = month.log_bytes / 1e9
    lines += [
        Line(
            "DynamoDB",
            "write request units",
            month.write_units,
            "WRU",
            month.write_units * prices["dynamodb_write_unit"],
        ),
        Line(
            "DynamoDB", "read request units", month.read_units, "RRU", month.read_units * prices["dynamodb_read_unit"]
        ),
        Line("DynamoDB", "storage", stored_gb, "GB-month", stored_gb * prices["dynamodb_storage"]),
        Line("DynamoDB", "point-in-time recovery", stored_gb, "GB-month", stored_gb * prices["dynamodb_pitr"]),
        Line("DynamoDB", "stream reads (Lambda trigger)", month.count("lambda:StreamBatch"), "batches", 0.0),
        Line(
            "EventBridge",
            "custom bus events",
            month.count("events:PutEvents"),
            "events",
            month.count("events:PutEvents") * prices["eventbridge_custom_event"],
        ),
        Line(
            "EventBridge",
            "Scheduler invocations",
            month.scheduler_invocations,
            "invocations",
            month.scheduler_invocations * prices["scheduler_invocation"],
        ),
        Line(
            "CloudWatch",
            "GetMetricData metrics requested",
            month.metrics_requested,
            "metrics",
            month.metrics_requested * prices["cloudwatch_metric_requested"],
        ),
        Line(
            "CloudWatch",
            "custom metrics published",
            month.custom_metric_hours,
            "metric-hours",
            month.custom_metric_hours * prices["cloudwatch_custom_metric_hour"],
        ),
        Line("CloudWatch", "alarm metrics", month.alarms, "metrics", month.alarms * prices["cloudwatch_alarm"]),
        Line("CloudWatch", "logs ingested", log_gb, "GB", log_gb * prices["cloudwatch_logs_ingestion"]),
        Line("CloudWatch", "logs stored", log_gb, "GB-month", log_gb * prices["cloudwatch_logs_storage"]),
        Line("KMS", "customer managed keys", month.kms_keys, "keys", month.kms_keys * prices["kms_key"]),
        Line("KMS", "requests", month.kms_requests, "requests", month.kms_requests * prices["kms_request"]),
        Line("SNS", "publishes", publishes, "requests", publishes * prices["sns_publish"]),
        Line(
            "SNS",
            "email notifications",
            publishes * month.email_subscriptions,
            "emails",
            publishes * month.email_subscriptions * prices["sns_email"],
        ),
        Line("SQS", "requests", month.count("sqs:"), "requests", month.count("sqs:") * prices["sqs_request"]),
    ]
    return lines


def total(lines: list[Line]) -> float:
    return sum(line.usd for line in lines)


# --- measuring a day --------------------------------------------------------------------------------


def held_by_template(
    stack_template: Template, parameters: dict[str, str] | None = None
) -> tuple[dict[str, int], int, int]:
    """Memory per function, alarm metrics and customer managed keys the template creates when deployed with
    ``parameters`` (the others at their defaults)."""
    from guardian_sandbox.simulation.deployment import Deployment

    deployment = Deployment(stack_template.document, parameters or {})
    default = int(stack_template.document.get("Globals", {}).get("Function", {}).get("MemorySize", 128))
    memory = {
        name: int(resource["Properties"].get("MemorySize", default))
        for name, resource in deployment.functions().items()
        if deployment.exists(name)
    }
    made = [r for name, r in stack_template.resources.items() if deployment.exists(name)]
    # An alarm is billed per metric it reads: a metric-math alarm for each metric in its expression.
    alarm_metrics = sum(
        max(1, sum(1 for q in r["Properties"].get("Metrics", []) if "MetricStat" in q))
        for r in made
        if r["Type"] == "AWS::CloudWatch::Alarm"
    )
    return memory, alarm_metrics, sum(1 for r in made if r["Type"] == "AWS::KMS::Key")


class _Counter:
    """Counts, into whichever :class:`Usage` is current, what every client and invocation does."""

    def __init__(self, meter: Any) -> None:
        self.usage = Usage()
        self.meter = meter  # bench_table's: the table's units
        self.units_before = (0.0, 0.0)
        # Over the whole day, whatever published them: a metric-hour or a key refresh counts once. A metric-hour
        # weighs what the run that published it does (a weekly run's, a seventh: it is one day in seven).
        self.metric_hours: dict[tuple[str, str], float] = {}
        self.weight = 1.0
        self.table_windows: set[int] = set()
        self.now = DAY_START
        self.inside: str | None = None  # the function running: only its calls are the stack's

    def on_call(self, service: str) -> Any:
        def hook(model: Any, params: dict[str, Any], **_: Any) -> None:
            if self.inside is None:
                return  # the sandbox's own (making events, Lambda reading the stream, Scheduler's reads)
            self.usage.calls[f"{service}:{model.name}"] += 1
            if model.name == "GetMetricData":
                self.usage.metrics_requested += sum(1 for q in params.get("MetricDataQueries", []) if "MetricStat" in q)
            if service == "dynamodb":
                self.table_windows.add(int(self.now.timestamp() // DYNAMODB_KEY_CACHE.total_seconds()))

        return hook

    def output(self, function: str, text: str) -> None:
        """A function's log output: its bytes, and the metrics its EMF lines publish (per hour)."""
        self.usage.log_bytes += len(text.encode()) + PLATFORM_LOG_BYTES
        hour = self.now.strftime("%Y-%m-%dT%H")
        for line in text.splitlines():
            if '"_aws"' not in line:
                continue
            with contextlib.suppress(ValueError, KeyError, TypeError):
                document = json.loads(line)
                for directive in document["_aws"]["CloudWatchMetrics"]:
                    for dimensions in directive.get("Dimensions", [[]]):
                        where = ",".join(f"{d}={document.get(d)}" for d in dimensions)
                        for metric in directive["Metrics"]:
                            key = (f"{directive['Namespace']}/{metric['Name']}/{where}", hour)
                            self.metric_hours[key] = max(self.metric_hours.get(key, 0.0), self.weight)


@contextlib.contextmanager
def counting(stack: Any) -> Iterator[_Counter]:
    """For the block: every client the functions make reports its calls, every invocation its duration
    and output, and the table its units (bench_table's meter)."""
    from guardian_sandbox.bench_table import metering

    hooked: dict[int, tuple[Any, Any]] = {}

    def counted_client(self: aws.AwsClients, service: str, region: str | None = None) -> Any:
        client = original_client(self, service, region)
        if id(client) not in hooked:
            hook = counter.on_call(service)
            client.meta.events.register("before-parameter-build", hook)
            hooked[id(client)] = (client, hook)
        return client

    invoke = stack.invoke

    def counted_invoke(function: str, event: Any) -> Any:
        started, outer = time.perf_counter(), counter.inside
        counter.inside = function
        if isinstance(event, dict) and "Records" in event:
            counter.usage.calls["lambda:StreamBatch"] += 1  # Lambda's read of the table's stream: free
        with _quiet() as buffer:
            try:
                return invoke(function, event)
            finally:
                counter.inside = outer
                counter.usage.invocations[function] += 1
                counter.usage.duration_ms[function] += max(1, round(1000 * (time.perf_counter() - started)))
                counter.output(function, buffer.getvalue())

    with metering(stack) as meter:
        counter = _Counter(meter)
        original_client = aws.AwsClients.__call__  # the meter's: every table call is metered too
        aws.AwsClients.__call__ = counted_client  # type: ignore[method-assign]
        forget_cached()
        stack.invoke = counted_invoke
        try:
            yield counter
        finally:
            del stack.invoke
            aws.AwsClients.__call__ = original_client  # type: ignore[method-assign]
            for client, hook in hooked.values():
                client.meta.events.unregister("before-parameter-build", hook)
            forget_cached()


def _collect(counter: _Counter) -> Usage:
    """The usage counted since the last collect (the table's units included); the counter starts afresh."""
    usage = counter.usage
    read, write = counter.meter.units.read, counter.meter.units.write
    usage.read_units, usage.write_units = read - counter.units_before[0], write - counter.units_before[1]
    counter.units_before = (read, write)
    counter.usage = Usage()
    return usage


def _per_day(counter: _Counter, day: Usage) -> Usage:
    """What counts once an hour or once a window, whatever ran in it: custom metric-hours; KMS requests
    (DynamoDB's key refreshes, and SNS's data key per publish and per delivery to the topic's subscribers)."""
    day.custom_metric_hours = sum(counter.metric_hours.values())
    day.kms_requests = len(counter.table_windows) + round(2 * day.count("sns:Publish"))
    return day


def seed(clients: Any, account: Account) -> None:
    """A Studio domain of the account's size (guardian_sandbox.worlds, as the bench seeds it)."""
    worlds.seed(
        clients,
        worlds.Scale(account.endpoints, account.spaces, account.profiles, account.emr_clusters, account.running_share),
    )


@dataclass(frozen=True)
class Day:
    """A simulated day's measurement: the month it scales to, and how it was sampled."""

    month: Usage
    events_delivered: int
    seconds: float


@contextlib.contextmanager
def _quiet() -> Iterator[io.StringIO]:
    """The functions' log lines and metrics, kept from the terminal (the logger holds its own stdout)."""
    buffer = io.StringIO()
    handler = logger.registered_handler
    stream = handler.setStream(buffer)  # type: ignore[attr-defined]
    try:
        with contextlib.redirect_stdout(buffer):
            yield buffer
    finally:
        handler.setStream(stream)  # type: ignore[attr-defined]


def measure_month(account: Account, sample_events: int = 200) -> Day:
    """Run the stack for a simulated day over ``account`` and scale what it used to a month."""
    from guardian_sandbox import embedded, studio
    from guardian_sandbox.bench_table import bench_events, stored_sizes
    from guardian_sandbox.eventfactory import sample
    from guardian_sandbox.simulation.deployment import Deployment
    from guardian_sandbox.simulation.stopped_clock import stopped_at
    from guardian_sandbox.stack import SandboxStack

    started = time.perf_counter()
    stack_template = template()
    deployment = Deployment(stack_template.document, {})
    saved = {k: os.environ.get(k) for k in ("POWERTOOLS_METRICS_DISABLED",)}
    os.environ["POWERTOOLS_METRICS_DISABLED"] = "false"  # the bill counts the metrics the functions publish
    level = logger.log_level
    logger.setLevel(stack_template.document["Globals"]["Function"]["Environment"]["Variables"]["POWERTOOLS_LOG_LEVEL"])
    try:
        with embedded() as clients:
            studio.settings.transition_seconds = 0
            with stopped_at(clients, DAY_START - timedelta(hours=2)):
                seed(clients, account)
                stack = SandboxStack(clients, deployment).deploy()
                stack.subscribe_team("team@example.com")
            with stopped_at(clients, DAY_START - timedelta(hours=1)), _quiet():
                stack.invoke("SweepFunction", sample("scheduled.json", "sweep"))  # the first sweep: before the day
                stack.pump_streams()
            with counting(stack) as counter:
                scheduled = _run_schedules(stack, deployment, counter)
                events = _run_events(stack, account, sample_events, counter, bench_events)
                per_event = account.events_per_day / events.delivered if events.delivered else 0.0
                day = _per_day(counter, scheduled + events.usage.scaled(per_event))
            sizes = stored_sizes(stack)
    finally:
        logger.setLevel(level)
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value
    month = day.scaled(DAYS_PER_MONTH)
    month.stored_bytes = round(sum(s.count * s.average for s in sizes.values()))
    return deployed_with(Day(month, events.delivered, time.perf_counter() - started), {}, stack_template)


def deployed_with(day: Day, parameters: dict[str, str], stack_template: Template | None = None) -> Day:
    """The measured day's month for the stack deployed with ``parameters``: what it holds (memory, alarm
    metrics, customer managed keys) read from the template so deployed; what it did stays as measured (a
    customer managed key changes which key the table's and topic's KMS requests go to, not how many)."""
    memory, alarms, keys = held_by_template(stack_template or template(), parameters)
    return replace(day, month=replace(day.month, memory_mb=memory, alarms=alarms, kms_keys=keys))


def _run_schedules(stack: Any, deployment: Any, counter: _Counter) -> Usage:
    """Every recurring schedule's firings in the day, at their moments; one that does not fire in the day
    (weekly) runs once, weighted by its share of a day."""
    from guardian_sandbox.eventfactory import sample
    from guardian_sandbox.simulation.stopped_clock import stopped_at

    end, deployed = DAY_START + timedelta(days=1), DAY_START - timedelta(days=1)  # a rate() counts from the deploy
    usage = Usage()
    for schedule in deployment.schedules():
        moments, at = [], schedule.schedule.next_after(DAY_START - timedelta(seconds=1), deployed)
        while at is not None and at < end:
            moments.append(at)
            at = schedule.schedule.next_after(at, deployed)
        weight, checks = 1.0, 0
        if not moments:
            fired, at = 0, schedule.schedule.next_after(DAY_START, deployed)
            while at is not None and at < DAY_START + timedelta(days=28):
                fired, at = fired + 1, schedule.schedule.next_after(at, deployed)
            moments, weight = [DAY_START + timedelta(hours=12)], fired / 28
        counter.weight = weight
        for at in moments:
            payload = schedule.payload
            if payload is None:
                payload = sample("scheduled.json", deployment.function_dir(schedule.function).name) | {
                    "time": at.strftime("%Y-%m-%dT%H:%M:%SZ")
                }
            counter.now = at
            with stopped_at(stack.clients, at), contextlib.suppress(Exception):
                stack.invoke(schedule.function, payload)
                stack.pump_streams()
                checks += len(stack.fire_due_schedules(at))
        counter.weight = 1.0
        counted = _collect(counter)
        counted.scheduler_invocations = len(moments) + checks
        _progress(f"{schedule.function} {schedule.name}: {len(moments)} run(s), weight {weight:.3f}")
        usage = usage + counted.scaled(weight)
    return usage


@dataclass(frozen=True)
class _Events:
    usage: Usage
    delivered: int


def _run_events(stack: Any, account: Account, sample_events: int, counter: _Counter, bench_events: Any) -> _Events:
    """A sample of the day's events, spread over its hours: each delivered by the template's rules, the
    stream pumped to notify, and the one-time checks they scheduled fired when due."""
    from guardian_sandbox.simulation.stopped_clock import stopped_at

    if not account.events_per_day or not sample_events:
        return _Events(Usage(), 0)
    delivered, hours = 0, 24
    per_hour = max(1, sample_events // (4 * hours))  # bench_events makes four events per count
    schedules_before = 0
    for hour in range(hours):
        at = DAY_START + timedelta(hours=hour, minutes=30)
        counter.now = at
        with stopped_at(stack.clients, at):
            for event in bench_events(stack, per_hour, at):
                with contextlib.suppress(Exception):
                    stack.deliver(event)
                delivered += 1
            with contextlib.suppress(Exception):
                stack.pump_streams()
        with stopped_at(stack.clients, at + timedelta(minutes=45)), contextlib.suppress(Exception):
            schedules_before += len(stack.fire_due_schedules(at + timedelta(minutes=45)))
            stack.pump_streams()
        _progress(f"events: hour {hour:02d}, {delivered} delivered")
    usage = _collect(counter)
    usage.scheduler_invocations = schedules_before
    return _Events(usage, delivered)


# --- printing ---------------------------------------------------------------------------------------


def _progress(text: str) -> None:
    """Where a long simulated day is (stderr, on a terminal only)."""
    if sys.stderr.isatty() or os.environ.get("GUARDIAN_COST_PROGRESS"):
        print(f"  ... {text}", file=sys.stderr, flush=True)


def print_calls(month: Usage) -> None:
    """What the bill counted, call by call (a month's)."""
    for operation, count in sorted(month.calls.items(), key=lambda kv: -kv[1]):
        print(f"    {operation:<45} {count:>14,.0f}")


def print_bill(title: str, day: Day, prices: PriceList) -> list[Line]:
    lines = bill(day.month, prices)
    print(
        f"\n{title}: ${total(lines):.2f}/month at {prices.region} list prices ({prices.as_of}; free tiers not applied)"
    )
    print(f"  from a simulated day ({day.events_delivered} sample events, {day.seconds:.0f} s on the sandbox)")
    for service in dict.fromkeys(line.service for line in lines):
        mine = [line for line in lines if line.service == service]
        print(f"  {service:<12} ${total(mine):>8.4f}")
        for line in mine:
            digits = 4 if line.quantity < 10 else 0  # a fraction of a GB, or thousands of requests
            print(f"    {line.item:<34} {line.quantity:>16,.{digits}f} {line.unit:<12} ${line.usd:>8.4f}")
    return lines


def print_configuration(day: Day, prices: PriceList, parameters: dict[str, str]) -> list[Line]:
    """The same measured month with the stack deployed with ``parameters``: its total and the lines it moves."""
    default, configured = bill(day.month, prices), bill(deployed_with(day, parameters).month, prices)
    given = " ".join(f"{name}={value}" for name, value in parameters.items())
    print(f"  with {given}: ${total(configured):.2f}/month ({total(configured) - total(default):+.2f})")
    for before, after in zip(default, configured, strict=True):
        if after != before:
            print(f"    {after.service} {after.item:<34} {after.quantity:>9,.0f} {after.unit:<12} ${after.usd:>8.4f}")
    return configured


def print_cost_section(account: Account | None = None, sample_events: int = 200) -> None:
    """`make bench`'s section: the monthly bill of the 100-user domain, and of an idle one."""
    prices = price_list()
    account = account or Account()
    day = measure_month(account, sample_events)
    print_bill(
        f"Monthly bill, {account.profiles}-user domain ({account.spaces} spaces, {account.endpoints} endpoints, "
        f"{account.emr_clusters} EMR clusters, {account.events_per_day:,} events/day)",
        day,
        prices,
    )
    print_configuration(day, prices, WITH_CUSTOMER_MANAGED_KEY)
    idle = measure_month(Account.idle())
    print_bill("Monthly bill, idle domain (same profiles and spaces, nothing running, no events)", idle, prices)
    print_configuration(idle, prices, WITH_CUSTOMER_MANAGED_KEY)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    default = Account()
    parser.add_argument("--profiles", type=int, default=default.profiles)
    parser.add_argument("--spaces", type=int, default=default.spaces)
    parser.add_argument("--endpoints", type=int, default=default.endpoints)
    parser.add_argument("--emr-clusters", type=int, default=default.emr_clusters)
    parser.add_argument("--events-per-day", type=int, default=default.events_per_day)
    parser.add_argument("--sample-events", type=int, default=200, help="events simulated, scaled to the day's")
    parser.add_argument("--idle", action="store_true", help="also the bill of an idle domain")
    parser.add_argument("--calls", action="store_true", help="also the month's AWS calls by operation")
    args = parser.parse_args()
    account = Account(args.profiles, args.spaces, args.endpoints, args.emr_clusters, args.events_per_day)
    prices = price_list()
    day = measure_month(account, args.sample_events)
    print_bill(
        f"Monthly bill, {account.profiles} profiles, {account.spaces} spaces, {account.endpoints} endpoints, "
        f"{account.emr_clusters} EMR clusters, {account.events_per_day:,} events/day",
        day,
        prices,
    )
    print_configuration(day, prices, WITH_CUSTOMER_MANAGED_KEY)
    if args.calls:
        print_calls(day.month)
    if args.idle:
        idle = measure_month(Account.idle())
        print_bill("Monthly bill, idle domain", idle, prices)
        print_configuration(idle, prices, WITH_CUSTOMER_MANAGED_KEY)


if __name__ == "__main__":
    main()
