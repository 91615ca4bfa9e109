"""`make bench`'s metrics section: what the idle-endpoint question costs in CloudWatch, asked every sweep (before)
and at its own cadence (guardian.invocations: not asked while the latest busy hour is inside the window), and
how soon an orphan alert follows the grace (guardian_sandbox.alert_latency).

Measured by running the rule's own code (its queries, the memory's known answers, its verdicts) over two
days of hourly sweeps of a stated workload, with CloudWatch answering from the invocations as it would
(hourly sums from the window's start); the second day is counted, once the memory has settled. GetMetricData
is billed per metric requested ($0.01 per 1,000, us-east-1 list price), whatever the span asked.

Workload: one variant per endpoint; 70% busy (invoked every hour), 20% sporadic (an invocation in any hour
with probability 1/8), 10% idle (never invoked). The answers of both ways are compared (at every sweep up
to 1,000 endpoints, else at the last).
"""

import bisect
import random
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from guardian.invocations import Memory, known_answers, latest_hours
from guardian.kinds import Kind
from guardian.metric_data import Datapoints, MetricQuery
from guardian.resource import InstanceGroup, Resource
from guardian.rules import RuleContext
from guardian.rules.idle_endpoint import IdleEndpoint
from guardian_sandbox import alert_latency

PRICE_PER_METRIC = 0.01 / 1000
START = datetime(2026, 11, 2, tzinfo=UTC)
DAYS = 2  # the first fills the memory; the second is counted
HOUR = timedelta(hours=1)
COMPARED_EVERY_SWEEP = 1_000  # endpoints up to which both answers are compared at every sweep, else at the last


@dataclass
class Day:
    endpoints: int
    before: int  # metrics requested per day, asking every sweep
    after: int  # asking at the question's cadence
    kept_writes: int  # hours kept (DynamoDB writes) per day
    idle_found: int  # idle endpoints at the last sweep (the same both ways)

    def monthly(self, metrics: int) -> float:
        return metrics * 30 * PRICE_PER_METRIC


def _endpoints(count: int) -> list[Resource]:
    return [
        Resource(
            arn=f"arn:aws:sagemaker:us-east-1:123456789012:endpoint/e-{i:05d}",
            kind=Kind.ENDPOINT,
            name=f"e-{i:05d}",
            state="InService",
            instance_count=1,
            serverless=False,
            created_at=START - timedelta(days=30),
            groups={"AllTraffic": InstanceGroup(name="AllTraffic", instance_type="ml.m5.large", instance_count=1)},
        )
        for i in range(count)
    ]


def _invocations(count: int, seed: int = 4) -> dict[str, list[datetime]]:
    """Each endpoint's invocation times (sorted), by the query key of its one variant."""
    rng = random.Random(seed)
    hours = [START - timedelta(days=2) + HOUR * h for h in range((DAYS + 2) * 24)]
    invoked = {}
    for i in range(count):
        share = i % 10
        chance = 1.0 if share < 7 else (1 / 8 if share < 9 else 0.0)
        key = f"arn:aws:sagemaker:us-east-1:123456789012:endpoint/e-{i:05d}|AllTraffic"
        invoked[key] = [h + timedelta(minutes=rng.uniform(0, 60)) for h in hours if rng.random() < chance]
    return invoked


def _answer(invoked: dict[str, list[datetime]], queries: list[MetricQuery]) -> dict[str, Datapoints]:
    """Hourly sums from each window's start, as GetMetricData answers with Period=3600."""
    results: dict[str, Datapoints] = {}
    for query in queries:
        times = invoked.get(query.key, [])
        inside = times[bisect.bisect_left(times, query.start) : bisect.bisect_left(times, query.end)]
        buckets: dict[datetime, float] = {}
        for at in inside:
            bucket = query.start + timedelta(seconds=query.period) * int(
                (at - query.start) / timedelta(seconds=query.period)
            )
            buckets[bucket] = buckets.get(bucket, 0.0) + 1.0
        results[query.key] = sorted(buckets.items())
    return results


def _idle(rule: IdleEndpoint, endpoints: list[Resource], now: datetime, metrics: dict[str, Datapoints]) -> set[str]:
    """The endpoints the rule finds idle, each judged with its own metrics (as a sweep's are, among others')."""
    idle = set()
    for endpoint in endpoints:
        own = {key: metrics[key] for key in (f"{endpoint.arn}|AllTraffic",) if key in metrics}
        context = RuleContext(now=now, lookup=lambda _: None, spaces_of_owner=lambda _: [], metrics=own)
        if rule.evaluate(endpoint, context) is not None:
            idle.add(endpoint.arn)
    return idle


def measure(count: int) -> Day:
    rule, endpoints, invoked = IdleEndpoint(), _endpoints(count), _invocations(count)
    memory: Memory = {}
    day = Day(count, 0, 0, 0, 0)
    for hour in range(DAYS * 24):
        now = START + HOUR * hour + timedelta(minutes=5)
        queries = rule.queries(endpoints, now)
        known = known_answers(queries, memory)
        asked = [q for q in queries if q.key not in known]
        answered = _answer(invoked, asked)
        latest = latest_hours(asked, answered)
        moved = {k: v for k, v in latest.items() if memory.get(k) != v}
        memory |= latest
        last = hour == DAYS * 24 - 1
        if last or count <= COMPARED_EVERY_SWEEP:
            idle = _idle(rule, endpoints, now, answered | known)
            if idle != _idle(rule, endpoints, now, _answer(invoked, queries)):
                raise AssertionError(f"the cadence changed the answer at {now:%Y-%m-%d %H:%M}")
            day.idle_found = len(idle)
        if hour >= (DAYS - 1) * 24:  # the last day: the memory has settled
            day.before += len(queries)
            day.after += len(asked)
            day.kept_writes += len(moved)
    return day


def report(scales: tuple[int, ...] = (50, 10_000)) -> list[str]:
    lines = [
        "Idle-endpoint metrics (GetMetricData metrics requested per day, hourly sweeps, 24 h lookback; "
        "70% busy, 20% sporadic, 10% idle; the same answers both ways)",
        f"  {'endpoints':>9}  {'before':>8}  {'after':>8}  {'$/month before':>14}  {'after':>8}  "
        f"{'hours kept (writes/day)':>23}  {'idle found':>10}",
    ]
    for count in scales:
        day = measure(count)
        lines.append(
            f"  {count:>9,}  {day.before:>8,}  {day.after:>8,}  {day.monthly(day.before):>14.2f}  "
            f"{day.monthly(day.after):>8.2f}  {day.kept_writes:>23,}  {day.idle_found:>10,}"
        )
    lines.append(
        "  (idle endpoints are still asked every sweep: an invocation must resolve the finding at the next one;"
        " EMR's IsIdle is asked for 60 min every hour, already its window's cadence)"
    )
    return lines


def print_section() -> None:
    print()
    print("\n".join(report()))
    print()
    print("\n".join(alert_latency.report()))


if __name__ == "__main__":
    print_section()
