"""The idle-endpoint question asked at its own cadence (guardian.invocations): a sweep that keeps the latest
busy hour and does not ask while it is inside the window gives exactly the answer of one that asks for the
whole lookback every time, for any invocations (late or not) and any sweep times, and asks far less."""

from datetime import UTC, datetime, timedelta

from hypothesis import example, given
from hypothesis import strategies as st

from guardian.invocations import Memory, known_answers, latest_hours
from guardian.kinds import Kind
from guardian.metric_data import Datapoints, MetricQuery
from guardian.resource import InstanceGroup, Resource
from guardian.rules import RuleContext
from guardian.rules.idle_endpoint import IdleEndpoint, IdleEndpointConfig

START = datetime(2026, 11, 1, tzinfo=UTC)
ARN = "arn:aws:sagemaker:us-east-1:123456789012:endpoint/fraud"


def endpoint(variants: list[str]) -> Resource:
    return Resource(
        arn=ARN,
        kind=Kind.ENDPOINT,
        name="fraud",
        state="InService",
        instance_count=len(variants),
        serverless=False,
        created_at=START - timedelta(days=30),
        groups={v: InstanceGroup(name=v, instance_type="ml.m5.xlarge", instance_count=1) for v in variants},
    )


# An invocation: (minute after START it happened, its variant's index, how many, minutes CloudWatch took to show it).
Invocation = tuple[int, int, int, int]


def cloudwatch(invocations: list[Invocation], variants: list[str], now: datetime):
    """GetMetricData as CloudWatch answers it at ``now``: sums per period from the window's start, of what
    has arrived by then (late datapoints are not there yet)."""

    def answer(queries: list[MetricQuery]) -> dict[str, Datapoints]:
        results: dict[str, Datapoints] = {}
        for query in queries:
            variant = dict(query.dimensions)["VariantName"]
            points = []
            bucket = query.start
            while bucket < query.end:
                upto = min(bucket + timedelta(seconds=query.period), query.end)
                calls = [
                    n
                    for minute, index, n, delay in invocations
                    if variants[index % len(variants)] == variant
                    and bucket <= START + timedelta(minutes=minute) < upto
                    and START + timedelta(minutes=minute + delay) <= now
                ]
                if calls:
                    points.append((bucket, float(sum(calls))))
                bucket = upto
            results[query.key] = points
        return results

    return answer


def judged(rule: IdleEndpoint, resource: Resource, now: datetime, metrics: dict[str, Datapoints]) -> object:
    context = RuleContext(now=now, lookup=lambda _: None, spaces_of_owner=lambda _: [], metrics=metrics)
    found = rule.evaluate(resource, context)
    return None if found is None else (found.since, found.summary, found.evidence)


@given(
    lookback=st.integers(min_value=1, max_value=8),
    variants=st.sampled_from([["AllTraffic"], ["blue", "green"]]),
    invocations=st.lists(
        st.tuples(
            st.integers(0, 16 * 60),
            st.integers(0, 1),
            st.integers(0, 5),  # a datapoint of 0 is no invocation
            st.sampled_from([0, 1, 3, 15, 90, 24 * 60]),  # minutes late
        ),
        max_size=8,
    ),
    gaps=st.lists(st.integers(1, 90), min_size=1, max_size=30),  # minutes between sweeps
)
# The edge: the hour kept starts inside the last window, but the invocation in it left the window since.
@example(lookback=1, variants=["AllTraffic"], invocations=[(10, 0, 1, 0)], gaps=[70, 5])
def test_the_answer_asked_at_its_cadence_is_the_full_lookbacks_answer(
    lookback: int, variants: list[str], invocations: list[Invocation], gaps: list[int]
) -> None:
    rule = IdleEndpoint(IdleEndpointConfig(lookback_hours=lookback))
    resource = endpoint(variants)
    memory: Memory = {}
    minute = 0
    for gap in gaps:
        minute += gap
        now = START + timedelta(minutes=minute, seconds=17)
        ask = cloudwatch(invocations, variants, now)
        queries = rule.queries([resource], now)
        full = judged(rule, resource, now, ask(queries))

        known = known_answers(queries, memory)
        asked = [query for query in queries if query.key not in known]
        answered = ask(asked)
        assert judged(rule, resource, now, answered | known) == full
        memory |= latest_hours(asked, answered)


def test_a_busy_endpoint_is_asked_about_once_a_lookback_and_an_idle_one_every_sweep() -> None:
    rule = IdleEndpoint()
    busy, idle = endpoint(["AllTraffic"]), endpoint(["AllTraffic"]).model_copy(update={"arn": ARN + "-idle"})
    idle = idle.model_copy(update={"name": "fraud-idle"})
    every_hour = [(minute, 0, 1, 3) for minute in range(0, 4 * 24 * 60, 60)]
    memory: Memory = {}
    asked_per_day = {ARN: 0, idle.arn: 0}
    for hour in range(24, 3 * 24):  # two days of hourly sweeps, after a first day of traffic
        now = START + timedelta(hours=hour, minutes=5)
        ask = cloudwatch(every_hour, ["AllTraffic"], now)
        queries = [q for q in rule.queries([busy, idle], now)]
        known = known_answers(queries, memory)
        asked = [q for q in queries if q.key not in known]
        answered = {q.key: ask([q])[q.key] if q.key.startswith(ARN + "|") else [] for q in asked}
        memory |= latest_hours(asked, answered)
        for query in asked:
            asked_per_day[query.key.rsplit("|", 1)[0]] += 1
        assert judged(rule, busy, now, answered | known) is None
        assert judged(rule, idle, now, answered | known) is not None
    assert asked_per_day == {ARN: 2, idle.arn: 48}  # per two days: once a lookback, against every hour
