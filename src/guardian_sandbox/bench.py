"""`make bench`: the sweep at scale, on the embedded sandbox, with AWS's real page sizes.

For each world (by default 1,000 and 15,000 resources, each shaped like a 100-user Studio domain: per 100
users, 300 spaces each with an app, 50 endpoints on 4 configurations and 20 EMR clusters, scaled to the
size), a first sweep (everything new) and a steady one (nothing changed) print: the AWS calls, the floor
(list pages at the largest page each call allows, the describes of what changed, the tagging API's pages,
one GetMetricData call per 500 metric queries), the ratio, and Cloud Custodian's calls for the same world
from its measured per-resource pattern; the first sweep also says how many invocations it took within
Lambda's 15 minutes, its time modelled from the calls (guardian_sandbox.modelled_time: moto's wall time is
not AWS's). The call counts are exact; the sandbox pages as AWS does (guardian_sandbox.paging). The emulator
is slow where AWS is not: the 15,000-resource world takes 15-25 minutes on two cores (seeding, and a first
sweep of 22,000 calls); `--sizes 1000` runs in about a minute.

Other figures (the table's units, handler imports, the bill) are sections of their own modules, each one
line of main() below, given the world (World) and its sweeps (SweepRun).
"""

import argparse
import contextlib
import gc
import io
import os
import time
from collections import Counter
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from math import ceil
from typing import Any

from guardian.aws import AwsClients
from guardian.collectors import COLLECTORS
from guardian.observability import logger
from guardian.reconcile import REDESCRIBE_SWEEPS
from guardian.tagging import TAGGING_API_TYPES
from guardian_sandbox import embedded
from guardian_sandbox.calls import recording
from guardian_sandbox.eventfactory import sample
from guardian_sandbox.modelled_time import (
    AWS_CALL_SECONDS,
    LAMBDA_LIMIT_SECONDS,
    TABLE_CALL_SECONDS,
    invocation,
    seconds_of,
)
from guardian_sandbox.paging import PAGE_SIZES
from guardian_sandbox.stack import SandboxStack
from guardian_sandbox.worlds import CONFIG_TYPES, Scale, seed

DEFAULT_SIZES = (1_000, 15_000)
# The calls a describe of one resource takes, per kind (EMR: the cluster, its auto-termination policy, its groups).
DESCRIBE_CALLS = ("Describe", "GetAutoTerminationPolicy", "ListInstanceGroups", "ListInstanceFleets")
MOST_INVOCATIONS = 50


@dataclass
class World:
    """A seeded account and the stack deployed on it: what every section of the bench measures."""

    clients: AwsClients
    stack: SandboxStack
    scale: Scale


@dataclass
class SweepRun:
    """One pass of the sweep, over however many invocations it took."""

    label: str
    reports: list[dict[str, Any]]
    calls: Counter  # every call (service:operation), the table's included
    modelled_seconds: list[float] = field(default_factory=list)  # per invocation
    wall_seconds: float = 0.0

    @property
    def aws(self) -> Counter:
        return Counter({k: v for k, v in self.calls.items() if not k.startswith("dynamodb:")})

    @property
    def table(self) -> Counter:
        return Counter({k: v for k, v in self.calls.items() if k.startswith("dynamodb:")})

    def total(self, key: str) -> int:
        return sum(kind[key] for report in self.reports for kind in report["kinds"].values())

    @property
    def metric_queries(self) -> int:
        return int(self.reports[-1]["evaluation"].get("metric_queries", 0))


@contextlib.contextmanager
def seeded(scale: Scale) -> Iterator[World]:
    with embedded() as clients:
        from guardian_sandbox import studio

        studio.settings.transition_seconds = 0
        started = time.perf_counter()
        seed(clients, scale)
        print(f"\nWorld of {scale.resources:,} resources: {scale.describe()}")
        print(f"  seeded in {time.perf_counter() - started:.0f} s")
        yield World(clients, SandboxStack(clients).deploy(), scale)


def sweep_pass(world: World, label: str) -> SweepRun:
    """Invoke the sweep, each invocation with Lambda's 15 minutes as modelled, until a pass finishes."""
    gc.collect()
    started = time.perf_counter()
    reports: list[dict[str, Any]] = []
    seconds: list[float] = []
    # Powertools prints a metric that reaches 100 values even when metrics are off: not the bench's output.
    with recording() as calls, contextlib.redirect_stdout(io.StringIO()):
        while len(reports) < MOST_INVOCATIONS:
            begun = len(calls.calls)
            context = invocation(calls, "SweepFunction", LAMBDA_LIMIT_SECONDS)
            reports.append(world.stack.invoke("SweepFunction", sample("scheduled.json", "sweep"), context=context))
            seconds.append(seconds_of(calls.calls[begun:]))
            if reports[-1].get("finished", True):
                break
    return SweepRun(label, reports, calls.counts, seconds, time.perf_counter() - started)


def tagged_resources(world: World) -> int:
    """Resources of the tracked types the tagging API lists (what a sweep's GetResources pages hold)."""
    pages = world.clients("resourcegroupstaggingapi").get_paginator("get_resources")
    types = sorted(set(TAGGING_API_TYPES.values()))
    return sum(len(page["ResourceTagMappingList"]) for page in pages.paginate(ResourceTypeFilters=types))


def list_pages(scale: Scale) -> int:
    """List pages at the largest page each list call allows; an empty list is still one page."""
    most = {op: size.most for (_, op), size in PAGE_SIZES.items()}
    counts = {
        "ListDomains": 1,
        "ListUserProfiles": scale.profiles,
        "ListSpaces": scale.spaces,
        "ListApps": scale.spaces,
        "ListEndpoints": scale.endpoints,
    }
    studio_and_endpoints = sum(max(1, ceil(n / most[op])) for op, n in counts.items())
    emr = max(1, ceil(scale.emr_clusters / PAGE_SIZES[("emr", "ListClusters")].most))
    empty = len(COLLECTORS) - 6  # the kinds the world has none of: one empty page each
    return studio_and_endpoints + emr + empty


def first_describes(scale: Scale) -> int:
    """Describes of everything new: the domain, each profile, space and endpoint, each endpoint configuration
    once, and each EMR cluster (3 calls: the cluster, its auto-termination policy, its instance groups).
    Apps take none: ListApps shows all the guardian reads of them."""
    configs = min(len(CONFIG_TYPES), scale.endpoints)
    return 1 + scale.profiles + scale.spaces + scale.endpoints + configs + 3 * scale.emr_clusters


def custodian_calls(scale: Scale) -> int:
    """Cloud Custodian's calls for the same world, from its measured pattern (it keeps no state: each run
    is alike): per endpoint a DescribeEndpoint and a ListTags, per active EMR cluster a DescribeCluster, and
    list pages of 100 (EMR's of 50). Its Studio resources (profiles, spaces, apps) it does not cover."""
    endpoint_pages = max(1, ceil(scale.endpoints / 100))
    emr_pages = max(1, ceil(scale.emr_clusters / PAGE_SIZES[("emr", "ListClusters")].most))
    return endpoint_pages + 2 * scale.endpoints + emr_pages + scale.emr_clusters


@dataclass
class Row:
    resources: int
    sweep: str
    calls: int
    floor: int
    custodian: int
    invocations: int
    modelled: list[float]
    rolling: int
    tag_writes: int  # AddTags: the guardian's ownership tags, written once per resource (not in the floor)

    @property
    def ratio(self) -> float:
        return self.calls / self.floor if self.floor else float("inf")

    @property
    def ratio_reading(self) -> float:
        """The ratio of the reading alone: calls less the ownership tags written."""
        return (self.calls - self.tag_writes) / self.floor if self.floor else float("inf")


def metric_calls(scale: Scale, run: SweepRun) -> int:
    """GetMetricData calls at 500 queries each, and one per time window asked: a request has one StartTime and
    EndTime, and the two rules' windows differ (idle endpoints over the lookback, idle EMR over 60 minutes)."""
    windows = min(bool(scale.endpoints) + bool(scale.emr_clusters), run.aws["cloudwatch:GetMetricData"])
    return max(ceil(run.metric_queries / 500), windows) if run.metric_queries else 0


def row(world: World, run: SweepRun, tagged: int, first: bool) -> Row:
    scale = world.scale
    describes = first_describes(scale) if first else 0
    floor = list_pages(scale) + describes + max(1, ceil(tagged / 100)) + metric_calls(scale, run)
    rolling = sum(n for op, n in run.aws.items() if op.split(":")[1].startswith(DESCRIBE_CALLS)) if not first else 0
    return Row(
        scale.resources,
        run.label,
        sum(run.aws.values()),
        floor,
        custodian_calls(scale),
        len(run.reports),
        run.modelled_seconds,
        rolling,
        run.aws["sagemaker:AddTags"] + run.aws["emr:AddTags"],
    )


def print_run(run: SweepRun) -> None:
    print(
        f"  {run.label}: {len(run.reports)} invocation(s), {sum(run.aws.values()):,} AWS calls, "
        f"{sum(run.table.values()):,} table calls; listed {run.total('listed'):,}, "
        f"described {run.total('described'):,} (re-described {run.total('redescribed'):,}); "
        f"{run.wall_seconds:.0f} s wall on the emulator"
    )
    for operation, count in sorted(run.aws.items(), key=lambda kv: -kv[1])[:12]:
        print(f"      {operation:<45} {count:>7,}")


def print_rows(rows: Sequence[Row]) -> None:
    print(
        "\nAWS calls per sweep with real page sizes (the floor: list pages at the largest page, describes of what "
        "changed, tagging pages of 100, GetMetricData per 500 queries and time window;\n AddTags: ownership tags "
        "written, once per resource; reads: the ratio without them; invocations within Lambda's "
        f"{LAMBDA_LIMIT_SECONDS / 60:.0f} minutes, time modelled at an assumed {AWS_CALL_SECONDS * 1000:.0f} ms an AWS "
        f"call and {TABLE_CALL_SECONDS * 1000:.0f} ms a table call; c7n: Cloud Custodian's pattern, same world)"
    )
    columns = f"{'calls':>7} {'floor':>7} {'ratio':>6} {'AddTags':>7} {'reads':>6} {'c7n':>7}"
    print(f"  {'resources':>9}  {'sweep':<7} {columns} invocations (modelled s each)")
    for r in rows:
        each = ", ".join(f"{s:.0f}" for s in r.modelled)
        print(
            f"  {r.resources:>9,}  {r.sweep:<7} {r.calls:>7,} {r.floor:>7,} {r.ratio:>5.2f}x {r.tag_writes:>7,} "
            f"{r.ratio_reading:>5.2f}x {r.custodian:>7,} "
            f"{r.invocations} ({each})"
        )
    for r in rows:
        if r.rolling:
            print(
                f"  steady at {r.resources:,}: of its {r.calls:,} calls, {r.rolling:,} are the rolling re-describe of "
                f"what no list shows (drift repaired within {REDESCRIBE_SWEEPS} sweeps)"
            )


def measure(world: World) -> list[Row]:
    """The first sweep and a steady one of ``world``: their runs printed, their rows returned."""
    tagged = tagged_resources(world)
    first = sweep_pass(world, "first")
    print_run(first)
    steady_tagged = tagged_resources(world)  # the guardian tagged what it owns: the steady sweep pages those
    steady = sweep_pass(world, "steady")
    print_run(steady)
    return [row(world, first, tagged, first=True), row(world, steady, steady_tagged, first=False)]


def scales(args: argparse.Namespace) -> list[Scale]:
    if any(v is not None for v in (args.endpoints, args.spaces, args.profiles, args.emr_clusters)):
        base = Scale()
        return [
            Scale(
                args.endpoints if args.endpoints is not None else base.endpoints,
                args.spaces if args.spaces is not None else base.spaces,
                args.profiles if args.profiles is not None else base.profiles,
                args.emr_clusters if args.emr_clusters is not None else base.emr_clusters,
            )
        ]
    return [Scale.shaped(size) for size in args.sizes]


def parse(argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument(
        "--sizes",
        type=lambda text: [int(s) for s in text.split(",")],
        default=list(DEFAULT_SIZES),
        help="world sizes in resources, comma-separated (default 1000,15000), each shaped like a 100-user domain",
    )
    # One world of these counts instead (any left out: the 100-user domain's).
    parser.add_argument("--endpoints", type=int)
    parser.add_argument("--spaces", type=int)
    parser.add_argument("--profiles", type=int)
    parser.add_argument("--emr-clusters", type=int)
    # The organization figure (bench_org); given, it runs alone.
    parser.add_argument("--org-accounts", type=int, help="run only the organization figure, with this many accounts")
    parser.add_argument("--org-regions", type=int, help="... and this many regions each (default 2)")
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> None:
    args = parse(argv)
    os.environ.setdefault("POWERTOOLS_METRICS_DISABLED", "true")
    logger.setLevel(os.environ.get("GUARDIAN_LOG_LEVEL", "ERROR"))  # figures, not a log line per resource
    from guardian_sandbox import bench_org  # a hub sweeping N accounts x M regions hourly: calls, time, cost

    if args.org_accounts is not None or args.org_regions is not None:
        bench_org.print_section(args.org_accounts or bench_org.DEFAULT_ACCOUNTS, args.org_regions or 2)
        return
    rows: list[Row] = []
    from guardian_sandbox.bench_table import section as bench_table_section

    for scale in scales(args):
        with seeded(scale) as world:
            rows += measure(world)
            # Sections measured on each world go here, one line each: section(world).
            bench_table_section(world)  # the table's write and read units per sweep and per event, item sizes
    print_rows(rows)
    # Sections of their own world go here, one line each.
    from guardian_sandbox import bench_metrics  # idle-endpoint metrics at their cadence; orphan alert latency

    bench_metrics.print_section()
    from guardian_sandbox import bench_cold, cost_model  # handler import times; the stack's monthly bill

    bench_cold.print_cold_starts()
    cost_model.print_cost_section()
    bench_org.print_section()


if __name__ == "__main__":
    main()
