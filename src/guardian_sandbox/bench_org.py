"""`make bench`'s organization figure: a hub sweeping N accounts x M regions every hour (template.yaml's
SweepFanOut, walked by the sandbox: guardian_sandbox.state_machine), each account and region a small Studio
world seeded through the sandbox's API, the member template deployed to each (guardian_sandbox.organization).

For a first fan-out (everything new) and a steady one (nothing changed: what runs every hour), it prints the AWS
calls on the hub's side (its table, Organizations, the other hub services; STS AssumeRole apart, which is free)
and in the swept accounts, the table's request units (bench_table's meter), the state transitions the walker
counts, the Lambda invocations and their GB-seconds, and the fan-out's wall time modelled as the bench models
time (guardian_sandbox.modelled_time: 100 ms an AWS call, 10 ms a table call), the children run at the Map's
MaxConcurrency from template.yaml as slots free up; then the monthly cost of running the steady fan-out hourly:
Lambda requests and GB-seconds at the sweep function's MemorySize, Step Functions standard transitions and
DynamoDB request units, at list prices. The guardian's own computing time is not modelled (see modelled_time)."""

import contextlib
import heapq
import io
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from moto.sts.models import STSBackend

from guardian.aws import HUB_SERVICES
from guardian_sandbox import embedded, organization, studio
from guardian_sandbox.bench_table import metering
from guardian_sandbox.calls import recording
from guardian_sandbox.cost_model import HOURS_PER_MONTH, price_list
from guardian_sandbox.modelled_time import AWS_CALL_SECONDS, seconds_of
from guardian_sandbox.stack import SandboxStack
from guardian_sandbox.worlds import Scale, seed

DEFAULT_ACCOUNTS, DEFAULT_REGIONS = 50, 2
REGIONS = ("us-east-1", "eu-west-1", "us-west-2", "ap-southeast-2", "eu-central-1", "ca-central-1")
# A small team's world per account and region: a domain, 2 profiles, 4 spaces (2 running), 2 endpoints, 1 EMR.
SMALL_WORLD = Scale(endpoints=2, spaces=4, profiles=2, emr_clusters=1, running_share=0.5)
DEFAULT_CONCURRENCY = 10  # Step Functions' own default for a Map without MaxConcurrency is unbounded; ours is 10
# Step Functions standard workflows: $0.025 per 1,000 state transitions (https://aws.amazon.com/step-functions/pricing/).
TRANSITION_USD = 0.000025
# Calls the hub makes with its own role wherever it sweeps (guardian.aws.HUB_SERVICES), and Lambda's own.
_HUB_SIDE = HUB_SERVICES | {"lambda", "states"}


@dataclass
class Child:
    """One invocation of the sweep function by the fan-out: its calls and its time as modelled."""

    payload: Any
    calls: list[tuple[str, str]]
    assumed: int  # STS AssumeRole calls (made by botocore's credential provider, outside the recorder)
    metrics_requested: int = 0  # GetMetricData's metric queries (billed to the swept account)

    @property
    def modelled_seconds(self) -> float:
        return seconds_of(self.calls) + self.assumed * AWS_CALL_SECONDS


@dataclass
class FanOut:
    label: str
    children: list[Child] = field(default_factory=list)  # the first is the ListTargets step
    transitions: int = 0
    status: str = ""
    read_units: float = 0.0
    write_units: float = 0.0
    emulator_seconds: float = 0.0

    def calls(self, hub_side: bool) -> Counter:
        return Counter(
            f"{s}:{o}"
            for child in self.children
            for s, o in child.calls
            if s != "dynamodb" and (s in _HUB_SIDE) == hub_side
        )

    @property
    def table_calls(self) -> int:
        return sum(1 for child in self.children for s, _ in child.calls if s == "dynamodb")

    @property
    def assumed(self) -> int:
        return sum(child.assumed for child in self.children)

    @property
    def metrics_requested(self) -> int:
        return sum(child.metrics_requested for child in self.children)

    def wall_seconds(self, concurrency: int) -> float:
        """ListTargets, then the sweeps started in order as any of ``concurrency`` slots frees up."""
        first, *sweeps = (child.modelled_seconds for child in self.children)
        slots = [0.0] * min(concurrency, max(1, len(sweeps)))
        for seconds in sweeps:
            heapq.heapreplace(slots, slots[0] + seconds)  # the slot that frees first takes the next child
        return first + max(slots)


@contextlib.contextmanager
def _assume_role_counted() -> Iterator[list[int]]:
    """Counts STS AssumeRole as moto answers it (botocore's credential provider calls it, not a client we hand out)."""
    count = [0]
    original = STSBackend.assume_role

    def counted(self: STSBackend, **request: Any) -> Any:
        count[0] += 1
        return original(self, **request)

    STSBackend.assume_role = counted  # type: ignore[method-assign,assignment]
    try:
        yield count
    finally:
        STSBackend.assume_role = original  # type: ignore[method-assign]


def fan_out(stack: SandboxStack, label: str) -> FanOut:
    """One execution of SweepFanOut, each Lambda invocation's calls kept apart."""
    run = FanOut(label)
    started = time.perf_counter()
    with (
        recording() as recorder,
        metering(stack) as meter,
        _assume_role_counted() as assumed,
        contextlib.redirect_stdout(io.StringIO()),
    ):

        def invoke(function_arn: str, payload: Any) -> Any:
            calls_before, assumed_before = len(recorder.calls), assumed[0]
            answer = stack.invoke_by_arn(function_arn, payload)
            queries = answer.get("evaluation", {}).get("metric_queries", 0) if isinstance(answer, dict) else 0
            run.children.append(Child(payload, recorder.calls[calls_before:], assumed[0] - assumed_before, queries))
            return answer

        execution = stack.run_sweep_fanout(invoke=invoke)
    run.transitions, run.status = execution.transitions, execution.status
    run.read_units, run.write_units = meter.units.read, meter.units.write
    run.emulator_seconds = time.perf_counter() - started
    return run


def map_concurrency(stack: SandboxStack) -> int:
    """The fan-out Map's MaxConcurrency, as template.yaml's definition sets it (else the bench's assumed 10)."""
    definition = stack.state_machine("SweepFanOut").definition
    for state in definition["States"].values():
        if state.get("Type") == "Map" and state.get("MaxConcurrency"):
            return int(state["MaxConcurrency"])
    return DEFAULT_CONCURRENCY


def memory_gb(stack: SandboxStack) -> float:
    properties = stack.template.functions()["SweepFunction"]["Properties"]
    memory = properties.get("MemorySize") or stack.template.document["Globals"]["Function"]["MemorySize"]
    return float(memory) / 1024


def print_section(accounts: int = DEFAULT_ACCOUNTS, regions: int = DEFAULT_REGIONS) -> None:
    if accounts < 1 or not 1 <= regions <= len(REGIONS):
        raise ValueError(f"at least 1 account, and 1 to {len(REGIONS)} regions ({', '.join(REGIONS)})")
    started = time.perf_counter()
    with embedded(REGIONS[0]) as hub:
        studio.settings.transition_seconds = 0
        org = organization.build(hub, accounts, REGIONS[:regions])
        for where in org.locations():
            role = f"arn:aws:iam::{where.account}:role/service-role/AmazonSageMaker-ExecutionRole-Default"
            seed(org.clients(where.account, where.region), SMALL_WORLD, role)
        stack = SandboxStack(hub, parameters=org.hub_parameters()).deploy()
        seeded = time.perf_counter() - started
        runs = [fan_out(stack, "first"), fan_out(stack, "steady")]
        concurrency, gb = map_concurrency(stack), memory_gb(stack)
    sweeps = len(org.locations())
    print(
        f"\nOrganization: {accounts} accounts x {regions} regions = {sweeps} sweeps an hour through SweepFanOut, "
        f"each a world of {SMALL_WORLD.resources} resources ({SMALL_WORLD.describe()}); seeded in {seeded:.0f} s"
    )
    _print_runs(runs, concurrency, gb)
    _print_month(runs[-1], gb)


def _print_runs(runs: list[FanOut], concurrency: int, gb: float) -> None:
    print(
        f"  per fan-out (time modelled at {AWS_CALL_SECONDS * 1000:.0f} ms an AWS call, 10 ms a table call; "
        f"the Map runs {concurrency} children at once, template.yaml's MaxConcurrency)"
    )
    rows: list[tuple[str, list[str]]] = [
        ("AWS calls in the swept accounts", [f"{sum(r.calls(False).values()):,}" for r in runs]),
        ("AWS calls, hub's own services", [f"{sum(r.calls(True).values()):,}" for r in runs]),
        ("STS AssumeRole (free)", [f"{r.assumed:,}" for r in runs]),
        ("table calls", [f"{r.table_calls:,}" for r in runs]),
        ("CloudWatch metrics requested", [f"{r.metrics_requested:,}" for r in runs]),
        ("DynamoDB read / write units", [f"{r.read_units:,.0f} / {r.write_units:,.0f}" for r in runs]),
        ("state transitions", [f"{r.transitions:,}" for r in runs]),
        ("Lambda invocations", [f"{len(r.children):,}" for r in runs]),
        ("Lambda GB-seconds (modelled)", [f"{gb * sum(c.modelled_seconds for c in r.children):,.1f}" for r in runs]),
        ("slowest sweep (modelled s)", [f"{max(c.modelled_seconds for c in r.children[1:]):,.1f}" for r in runs]),
        ("fan-out wall time (modelled s)", [f"{r.wall_seconds(concurrency):,.1f}" for r in runs]),
        ("emulator wall time (s)", [f"{r.emulator_seconds:,.0f}" for r in runs]),
        ("execution", [r.status for r in runs]),
    ]
    print(f"    {'':<34} " + " ".join(f"{r.label + ' fan-out':>16}" for r in runs))
    for name, values in rows:
        print(f"    {name:<34} " + " ".join(f"{v:>16}" for v in values))
    steady = runs[-1]
    for side, hub_side in (("in the swept accounts", False), ("hub's own services", True)):
        top = ", ".join(f"{op} {n:,}" for op, n in steady.calls(hub_side).most_common(6))
        print(f"    steady, {side}: {top or '-'}")


def _print_month(steady: FanOut, gb: float) -> None:
    prices = price_list()
    executions = HOURS_PER_MONTH
    requests = len(steady.children) * executions
    gb_seconds = gb * sum(c.modelled_seconds for c in steady.children) * executions
    transitions = steady.transitions * executions
    writes, reads = steady.write_units * executions, steady.read_units * executions
    metrics = steady.metrics_requested * executions
    lines = [
        ("Lambda requests", f"{requests:,}", requests * prices["lambda_request"]),
        ("Lambda GB-seconds (modelled)", f"{gb_seconds:,.0f}", gb_seconds * prices["lambda_gb_second_arm64"]),
        ("Step Functions state transitions", f"{transitions:,}", transitions * TRANSITION_USD),
        ("STS AssumeRole", f"{steady.assumed * executions:,}", 0.0),
        ("CloudWatch metrics requested", f"{metrics:,}", metrics * prices["cloudwatch_metric_requested"]),
        ("DynamoDB write request units", f"{writes:,.0f}", writes * prices["dynamodb_write_unit"]),
        ("DynamoDB read request units", f"{reads:,.0f}", reads * prices["dynamodb_read_unit"]),
    ]
    print(
        f"  a month of hourly fan-outs ({executions} steady ones; list prices, {prices.region}, as of {prices.as_of}; "
        "free tiers not applied; logs are in the bill's section)"
    )
    for name, quantity, usd in lines:
        print(f"    {name:<34} {quantity:>14} {f'${usd:,.2f}':>10}")
    print(f"    {'total':<34} {'':>14} {f'${sum(usd for *_, usd in lines):,.2f}':>10}")
