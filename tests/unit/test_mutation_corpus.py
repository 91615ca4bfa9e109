"""Bad input never crashes and never makes garbage: every real-shaped sample event, mutated one place at
a time (a field dropped, retyped, oversized, made odd unicode, nested, cut short, or given an odd time),
either translates into observations that are all well-formed, or is rejected with :class:`InvalidEvent`.
Nothing else may escape, and nothing malformed may come out.

The corpus is generated deterministically from the samples in events/ingest and the EventBridge samples
in tests/fixtures/aws-reference (plus the CloudTrail log records there, wrapped as their events)."""

import json
import math
import re
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

from guardian import clock
from guardian.arns import canonical, kind_of
from guardian.events import SERVICE_EVENTS, InvalidEvent, Translation, from_cloudtrail_record, translate
from guardian.kinds import Kind
from guardian.resource import Creator, Observation
from tests.conftest import EVENTS, REFERENCE, load

EARLIEST = datetime(2006, 1, 1, tzinfo=UTC)
FUTURE_SKEW = timedelta(minutes=5)
LONGEST_TEXT = 4096  # no string the guardian keeps is longer (free text is cut to fit)
REASONS = {"malformed", "unsupported", "out-of-range", "foreign-account"}

_ARN = re.compile(
    r"arn:aws(?:-[a-z]+)*:(?P<service>sagemaker|elasticmapreduce):[a-z]{2}(?:-[a-z]+)+-\d{1,2}:\d{12}:"
    r"(?P<type>[a-z-]+)(?P<path>(?:/[A-Za-z0-9][A-Za-z0-9._-]*)+)"
)
_PATH_PARTS = {
    Kind.DOMAIN: 1,
    Kind.USER_PROFILE: 2,
    Kind.SPACE: 2,
    Kind.APP: 4,
    Kind.ENDPOINT: 1,
    Kind.EMR_CLUSTER: 1,
    Kind.HYPERPOD_CLUSTER: 1,
    Kind.MLFLOW_TRACKING_SERVER: 1,
    Kind.NOTEBOOK_INSTANCE: 1,
}
_SURROGATE = re.compile("[\ud800-\udfff]")
_CONTROL = re.compile("[\x00-\x08\x0b-\x1f\x7f]")


# --- the seeds -------------------------------------------------------------------------------------


def _seeds() -> list[tuple[str, dict[str, Any]]]:
    """EventBridge events, and CloudTrail log records (which :func:`from_cloudtrail_record` wraps)."""
    seeds = []
    for path in sorted((EVENTS / "ingest").glob("*.json")) + sorted(REFERENCE.glob("eb_*.json")):
        event = load(path)
        if isinstance(event, dict) and "detail-type" in event:
            seeds.append((path.name, event))
    for path in sorted(REFERENCE.glob("cloudtrail_*_awsdocs.json")):
        document = load(path)
        for index, record in enumerate(document.get("Records", [document])):
            seeds.append((f"{path.name}#{index}", record))
    return seeds


def _is_record(event: Any) -> bool:
    return isinstance(event, dict) and "eventVersion" in event and "detail-type" not in event


# --- the mutations ---------------------------------------------------------------------------------

Path_ = tuple[str | int, ...]
_DROP = object()

_HUGE = "a" * 100_000
_ODD_TEXT = [
    "",
    " ",
    "\ud800",  # a lone surrogate: valid in a Python str, not encodable as UTF-8
    "x\udfffy",
    "ünïcødé-名前-🚀",
    "a\x00b",
    "a/b:c",
    "arn:aws",
    "x" * 300,
    "İstanbul",  # lowercases to a longer string
    "\u202eRTL",
]
_ODD_TIMES = [
    "9999-12-31T23:59:59Z",
    "9999-12-31T23:59:59-14:00",
    "0001-01-01T00:00:00+14:00",
    "0001-01-01T00:00:00Z",
    "1970-01-01T00:00:00Z",
    "2005-12-31T23:59:59Z",
    "2026-13-45T99:99:99Z",
    "2099-01-01T00:00:00Z",
    "2026-11-20 07:45:00",
    "2026-11-20",
    "now",
    "1583831889050",
    0,
    -1,
    253402300799999,
    10**20,
    1e308,
    float("nan"),
    float("inf"),
]


def _retypes(value: Any) -> Iterator[Any]:
    yield None
    yield True
    yield 7
    yield -1
    yield 10**40
    yield 1.5
    yield float("nan")
    yield float("inf")
    yield str(value) if not isinstance(value, str) else "7"
    yield [value]
    yield [] if value else [1]
    yield {"v": value}
    yield {}


def _mutations(value: Any, time_like: bool) -> Iterator[tuple[str, Any]]:
    yield "drop", _DROP
    for replacement in _retypes(value):
        yield f"retype:{type(replacement).__name__}", replacement
    yield "oversize", _HUGE
    for text in _ODD_TEXT:
        yield "unicode", text
    yield "nest", {"nested": {"deeper": [value]}}
    if isinstance(value, str):
        yield "truncate", value[: len(value) // 2]
        yield "oversize-suffix", value + _HUGE
        yield "surrogate-suffix", value + "\ud800"
    elif isinstance(value, dict) and value:
        keys = list(value)
        yield "truncate", {k: value[k] for k in keys[: len(keys) // 2]}
        yield "oversize-key", value | {"K" * 2000: "v"}
        yield "surrogate-key", value | {"\ud800": "v"}
    elif isinstance(value, list) and value:
        yield "truncate", value[: len(value) // 2]
        yield "repeat", value * 50
    if time_like:
        for odd in _ODD_TIMES:
            yield "time", odd


def _nodes(value: Any, path: Path_ = ()) -> Iterator[tuple[Path_, Any]]:
    if path:
        yield path, value
    if isinstance(value, dict):
        for key, child in value.items():
            yield from _nodes(child, (*path, key))
    elif isinstance(value, list):
        for index, child in enumerate(value):
            yield from _nodes(child, (*path, index))


def _replaced(event: Any, path: Path_, replacement: Any) -> Any:
    """A copy of ``event`` with the node at ``path`` replaced (or dropped), sharing everything else."""
    head, rest = path[0], path[1:]
    copy: Any = dict(event) if isinstance(event, dict) else list(event)
    if rest:
        copy[head] = _replaced(event[head], rest, replacement)
    elif replacement is _DROP:
        del copy[head]
    else:
        copy[head] = replacement
    return copy


def _time_like(path: Path_) -> bool:
    last = str(path[-1]).lower()
    return "time" in last or "date" in last


def corpus() -> Iterator[tuple[str, Any]]:
    """(label, event) pairs; an event that is a CloudTrail log record is wrapped before translation."""
    for name, seed in _seeds():
        yield f"{name}:as-is", seed
        for path, value in _nodes(seed):
            where = ".".join(map(str, path))
            for label, replacement in _mutations(value, _time_like(path)):
                yield f"{name}:{where}:{label}", _replaced(seed, path, replacement)
        # whole-event mutations
        yield f"{name}:detail-deep", seed | {"detail": _deep(300)}
        yield f"{name}:extra-deep", seed | {"extra": _deep(300)}
        yield f"{name}:extra-oversize-key", seed | {"K" * 2000: 1}
        yield f"{name}:extra-surrogate-key", seed | {"\ud800": 1}
        keys = list(seed)
        yield f"{name}:truncated", {k: seed[k] for k in keys[: len(keys) // 2]}
    odd: Any
    for odd in [None, [], "event", 7, 1.5, {}, [{}], {"detail-type": None, "source": None}]:
        yield f"not-an-event:{odd!r}", odd


def _deep(depth: int) -> Any:
    value: Any = "bottom"
    for _ in range(depth):
        value = {"d": [value]}
    return value


# --- what a well-formed observation is -------------------------------------------------------------


def _problems_of_arn(arn: Any, kind: Any) -> Iterator[str]:
    if not isinstance(arn, str):
        yield f"arn is {type(arn).__name__}"
        return
    match = _ARN.fullmatch(arn)
    if match is None:
        yield f"arn {arn[:80]!r} is not well-formed"
        return
    if arn != canonical(arn):
        yield f"arn {arn[:80]!r} is not canonical"
    if kind_of(arn) is not kind:
        yield f"arn {arn[:80]!r} names a {kind_of(arn)}, not a {kind}"
    parts = match["path"].split("/")[1:]
    if kind in _PATH_PARTS and len(parts) != _PATH_PARTS[kind]:
        yield f"arn {arn[:80]!r} has {len(parts)} path parts"


def _problems_of_value(where: str, value: Any, now: datetime) -> Iterator[str]:
    if value is None or isinstance(value, bool):
        return
    if isinstance(value, str):
        if len(value) > LONGEST_TEXT:
            yield f"{where} is {len(value)} characters"
        if _SURROGATE.search(value):
            yield f"{where} has a lone surrogate"
        if _CONTROL.search(value):
            yield f"{where} has a control character"
    elif isinstance(value, int):
        if not 0 <= value < 2**31:
            yield f"{where} = {value} is out of range"
    elif isinstance(value, float):
        if not math.isfinite(value) or not 0 <= value < 2**31:
            yield f"{where} = {value} is out of range"
    elif isinstance(value, datetime):
        if value.tzinfo is None:
            yield f"{where} has no time zone"
        elif not EARLIEST <= value <= now + FUTURE_SKEW:
            yield f"{where} = {value.isoformat()} is out of range"
    elif isinstance(value, dict):
        for key, item in value.items():
            yield from _problems_of_value(f"{where} key", key, now)
            yield from _problems_of_value(f"{where}.{str(key)[:40]}", item, now)
    elif isinstance(value, (list, tuple)):
        for index, item in enumerate(value):
            yield from _problems_of_value(f"{where}[{index}]", item, now)
    elif isinstance(value, Creator):
        yield from _problems_of_value(where, value.model_dump(), now)
        for field in ("role_arn", "principal_arn"):
            arn = getattr(value, field)
            if arn is not None and not re.fullmatch(r"arn:aws(?:-[a-z]+)*:[a-z0-9-]+:[a-z0-9-]*:\d{12}:\S+", arn):
                yield f"{where}.{field} {arn[:80]!r} is not an ARN"
    else:
        yield f"{where} is a {type(value).__name__}"


def problems(observation: Observation, now: datetime) -> list[str]:
    found = list(_problems_of_arn(observation.arn, observation.kind))
    if not isinstance(observation.kind, Kind):
        found.append(f"kind {observation.kind!r} is unknown")
    found += _problems_of_value("observed_at", observation.observed_at, now)
    if not observation.source_id or len(observation.source_id) > 256:
        found.append("source_id is empty or too long")
    found += _problems_of_value("source_id", observation.source_id, now)
    found += _problems_of_value("origin", observation.origin, now)
    found += _problems_of_value("fields", observation.fields, now)
    name = observation.fields.get("name", "unnamed")
    if not isinstance(name, str) or not name.strip():
        found.append(f"name {name!r} is empty")
    api_arn = observation.fields.get("api_arn")
    if api_arn is not None:
        found += [f"api_arn: {p}" for p in _problems_of_arn(canonical(api_arn), observation.kind)]
    for key, value in (observation.tags or {}).items():
        if not (isinstance(key, str) and 1 <= len(key) <= 128 and isinstance(value, str) and len(value) <= 256):
            found.append(f"tag {str(key)[:40]!r} is out of bounds")
        found += _problems_of_value("tags", {key: value}, now)
    for key, group in (observation.groups or {}).items():
        found += _problems_of_value(f"groups.{str(key)[:40]}", group, now)
        found += _problems_of_value("groups key", key, now)
        count = group.get("instance_count")
        if count is not None and not (isinstance(count, int) and not isinstance(count, bool)):
            found.append(f"groups.{key}.instance_count is {count!r}")
    try:
        observation.model_dump_json().encode("utf-8")
    except (UnicodeError, ValueError) as error:
        found.append(f"does not serialise: {error}")
    return found


# --- the run ---------------------------------------------------------------------------------------


def run(events: Iterator[tuple[str, Any]]) -> tuple[int, dict[str, str], dict[str, str]]:
    """Translate every event: how many there were, which crashed (and how), which made garbage (and why)."""
    crashes: dict[str, str] = {}
    garbage: dict[str, str] = {}
    total = 0
    now = clock.now()
    for label, event in events:
        total += 1
        try:
            translation = translate(from_cloudtrail_record(event) if _is_record(event) else event)
        except InvalidEvent as rejected:
            if rejected.reason not in REASONS:
                garbage[label] = f"unknown reason {rejected.reason!r}"
            elif len(rejected.message) > 1000 or _SURROGATE.search(rejected.message):
                garbage[label] = f"unloggable message ({len(rejected.message)} characters)"
            continue
        except Exception as error:  # the very thing this test exists to catch
            crashes[label] = f"{type(error).__name__}: {str(error)[:200]!r}"
            continue
        found = _problems_of_translation(translation, now)
        if found:
            garbage[label] = "; ".join(found)[:300]
    return total, crashes, garbage


def _problems_of_translation(translation: Translation, now: datetime) -> list[str]:
    found = [p for observation in translation.observations for p in problems(observation, now)]
    if not isinstance(translation.event_id, str) or not translation.event_id or len(translation.event_id) > 256:
        found.append("event id is empty or too long")
    found += _problems_of_value("event id", translation.event_id, now)
    found += _problems_of_value("event name", translation.name, now)
    return found


def _first(failures: dict[str, str]) -> str:
    return json.dumps(dict(list(failures.items())[:20]), indent=1)


_UNTRANSLATED = {
    ("aws.sagemaker", "SageMaker HyperPod Cluster State Change"),
    ("aws.sagemaker", "SageMaker HyperPod Cluster Event"),
} - set(SERVICE_EVENTS)


def test_every_sample_as_is_is_translated_well() -> None:
    """The bounds reject no real event: each sample (bar those of no translator: HyperPod's) translates
    cleanly."""
    now = clock.now()
    for name, seed in _seeds():
        event = from_cloudtrail_record(seed) if _is_record(seed) else seed
        if (event["source"], event["detail-type"]) in _UNTRANSLATED:
            continue
        assert _problems_of_translation(translate(event), now) == [], name


def test_every_mutated_sample_is_translated_well_or_rejected() -> None:
    total, crashes, garbage = run(corpus())
    assert total > 20_000
    assert crashes == {}, f"{len(crashes)} of {total} crashed: {_first(crashes)}"
    assert garbage == {}, f"{len(garbage)} of {total} made garbage: {_first(garbage)}"


if __name__ == "__main__":  # a summary by kind of failure: python -m tests.unit.test_mutation_corpus
    import collections
    import time

    started = time.perf_counter()
    total, crashes, garbage = run(corpus())
    print(f"{total} events in {time.perf_counter() - started:.1f}s: {len(crashes)} crashed, {len(garbage)} garbage")
    print(collections.Counter(reason.split(":")[0] for reason in crashes.values()).most_common())
    for label, reason in list(crashes.items())[:40]:
        print("CRASH", label[:120], reason[:160])
    for label, reason in list(garbage.items())[:40]:
        print("GARBAGE", label[:120], reason[:200])
