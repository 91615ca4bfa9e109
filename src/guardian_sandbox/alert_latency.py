"""How long after a grace ends the orphan alert reaches its owner: the path from the one-time check to the
message, in simulated time over many random stop times, from what AWS documents of each step.

The path (guardian.scheduling, template.yaml):

1. The check's schedule, as the guardian's own code makes it (:func:`schedule_moment` calls
   ``schedule_evaluation`` and reads the expression it sends). EventBridge Scheduler "invokes its targets
   with 60 second precision: set to run at 1:00, it invokes the target between 1:00:00 and 1:00:59"
   (Scheduler User Guide, Schedule types): it fires at a uniformly random moment of the expression's minute.
   Fired before the moment, the evaluation judges as of the moment (guardian.sweep: ``at``), so the finding
   opens then; an alert may come a few seconds before the grace's end, never more than Scheduler's minute.
2. Scheduler invokes the sweep function asynchronously: queueing, a cold start and the evaluation of one
   space, ``evaluation`` seconds (an assumption, bounded: `make bench` measures the imports).
3. The finding's write reaches the table's stream; Lambda polls each shard four times a second
   (Lambda Developer Guide, DynamoDB event source): ``stream`` seconds.
4. Lambda gathers records for the stream's ``MaximumBatchingWindowInSeconds`` (template.yaml) before it
   invokes notify: a check writes a handful of findings, far below the batch size, so it waits the window.
5. Notify: a cold start and SNS's Publish (or Slack's POST), ``notify`` seconds (an assumption, bounded).

Without a trail, the sweep is what sees a stop (guardian.reconcile dates it from CloudTrail's event history,
which needs no trail): a stop the sweep sees before the grace ends has its check scheduled for the grace's
end, as an event would; one it sees after is judged by that sweep at once (:func:`untrailed_delays`).
"""

import contextlib
import random
import statistics
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from types import SimpleNamespace
from typing import Any, cast

from guardian.observability import logger
from guardian.scheduling import schedule_evaluation
from guardian.settings import Settings
from guardian_sandbox.template import template

GRACE = timedelta(minutes=30)
SCHEDULER_PRECISION = 60.0  # seconds: a one-time schedule fires within its minute


@dataclass(frozen=True)
class PathModel:
    batching_window: float  # the findings stream's MaximumBatchingWindowInSeconds
    evaluation: tuple[float, float] = (0.2, 3.0)  # Scheduler's async invoke, cold start, one space judged
    stream: tuple[float, float] = (0.0, 1.0)  # the record on the stream, and Lambda's next poll (4 a second)
    notify: tuple[float, float] = (0.2, 3.0)  # notify's cold start and the publish

    @classmethod
    def deployed(cls) -> "PathModel":
        """The model with template.yaml's batching window (as deployed now)."""
        return cls(float(template().stream_event("NotifyFunction")["MaximumBatchingWindowInSeconds"]))


def schedule_moment(due: datetime, now: datetime) -> datetime:
    """The moment in the schedule expression the guardian sends Scheduler for a check due at ``due``."""
    sent: dict[str, Any] = {}
    settings = Settings.model_validate(
        {
            "TABLE_NAME": "latency",
            "AWS_REGION": "us-east-1",
            "SCHEDULE_GROUP": "evaluations",
            "EVALUATE_TARGET_ARN": "arn:aws:lambda:us-east-1:123456789012:function:sweep",
            "SCHEDULER_ROLE_ARN": "arn:aws:iam::123456789012:role/scheduler",
        }
    )
    capture = SimpleNamespace(create_schedule=lambda **request: sent.update(request))
    guardian = SimpleNamespace(settings=settings, clients=lambda _service: capture)
    schedule_evaluation(cast(Any, guardian), due, {"space_arn": "s"}, "key", now)
    return datetime.fromisoformat(sent["ScheduleExpression"][3:-1]).replace(tzinfo=UTC)


@contextlib.contextmanager
def _quiet() -> Iterator[None]:
    """Without the scheduling code's log line per sample."""
    level = logger.log_level
    logger.setLevel("WARNING")
    try:
        yield
    finally:
        logger.setLevel(level)


def fires_at(moment: datetime, rng: random.Random) -> datetime:
    minute = moment.replace(second=0, microsecond=0)
    return minute + timedelta(seconds=rng.uniform(0, SCHEDULER_PRECISION))


def _after_write(model: PathModel, rng: random.Random) -> float:
    """Seconds from the evaluation's start to the message's publish."""
    return (
        rng.uniform(*model.evaluation) + rng.uniform(*model.stream) + model.batching_window + rng.uniform(*model.notify)
    )


def _stop(rng: random.Random) -> datetime:
    return datetime(2026, 12, 1, tzinfo=UTC) + timedelta(seconds=rng.uniform(0, 7 * 86400))


def trailed_delays(model: PathModel, samples: int, seed: int = 13) -> list[float]:
    """Seconds from the grace's end to the alert, for ``samples`` random stop times told by their event
    (delivered within seconds of the stop, well before the grace ends)."""
    rng = random.Random(seed)
    delays = []
    with _quiet():
        for _ in range(samples):
            stopped = _stop(rng)
            due = stopped + GRACE
            fired = fires_at(schedule_moment(due, stopped + timedelta(seconds=5)), rng)
            delays.append((fired - due).total_seconds() + _after_write(model, rng))
    return delays


def untrailed_delays(model: PathModel, samples: int, sweep_every: timedelta, seed: int = 7) -> list[float]:
    """The same without a trail: the stop is seen (and dated) by the first sweep after it."""
    rng = random.Random(seed)
    delays = []
    epoch = datetime(2026, 1, 1, tzinfo=UTC)
    with _quiet():
        for _ in range(samples):
            stopped = _stop(rng)
            due = stopped + GRACE
            swept = epoch + sweep_every * (((stopped - epoch) // sweep_every) + 1)
            if swept < due:  # seen within the grace: its check, as an event's
                fired = fires_at(schedule_moment(due, swept), rng)
                delays.append((fired - due).total_seconds() + _after_write(model, rng))
            else:  # seen after it: that sweep judges it (its evaluation runs after the reconcile)
                delays.append((swept - due).total_seconds() + _after_write(model, rng))
    return delays


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(p / 100 * len(ordered)) - 1))]


def summary(delays: list[float]) -> dict[str, float]:
    return {
        "earliest": min(delays),
        "p50": statistics.median(delays),
        "p90": percentile(delays, 90),
        "p99": percentile(delays, 99),
        "latest": max(delays),
    }


def report(samples: int = 20_000) -> list[str]:
    """`make bench`'s lines: the alert's delay after the grace, before (a 20 s window) and now."""
    lines = [
        "Orphan alert after the grace ends (seconds; simulated over random stop times: Scheduler fires",
        "within its minute, the stream's batching window, Lambda's polls; guardian_sandbox/alert_latency.py)",
    ]
    now = PathModel.deployed()
    for label, model in (
        ("before: 20 s batching window", PathModel(20.0)),
        (f"now: {now.batching_window:g} s window", now),
    ):
        figures = summary(trailed_delays(model, samples))
        lines.append(f"  {label:<30} " + "  ".join(f"{k} {v:6.1f}" for k, v in figures.items()))
    hourly = summary(untrailed_delays(now, samples, timedelta(hours=1)))
    lines.append("  no trail, hourly sweep:        " + "  ".join(f"{k} {v / 60:5.1f} min" for k, v in hourly.items()))
    return lines
