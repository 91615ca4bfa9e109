"""The event path: one EventBridge event in, its resources recorded, a report out.

An event the guardian cannot use is rejected before anything is written: a structured log line
naming the reason, a ``RejectedEvents`` metric, and the exception re-raised so Lambda's retries end
with the event parked in the dead-letter queue for replay (`guardian replay`).
"""

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from guardian.events import InvalidEvent, translate
from guardian.observability import MetricUnit, logger, metrics
from guardian.recording import Outcome, record
from guardian.runtime import Guardian


@dataclass
class IngestReport:
    event_id: str
    event: str
    outcomes: list[Outcome] = field(default_factory=list)
    ignored: str | None = None

    def as_dict(self) -> dict[str, Any]:
        return {
            "event_id": self.event_id,
            "event": self.event,
            "ignored": self.ignored,
            "resources": [outcome.as_dict() for outcome in self.outcomes],
        }


def ingest_event(raw: Any, guardian: Guardian, now: datetime) -> IngestReport:
    try:
        translation = translate(raw)
    except InvalidEvent as error:
        envelope = raw if isinstance(raw, dict) else {}
        logger.error(
            "event rejected",
            extra={
                "reason": error.reason,
                "detail": error.message,
                "event_id": _loggable(envelope.get("id")),
                "source": _loggable(envelope.get("source")),
                "detail_type": _loggable(envelope.get("detail-type")),
            },
        )
        metrics.add_metric(name="RejectedEvents", unit=MetricUnit.Count, value=1)
        raise
    report = IngestReport(translation.event_id, translation.name, ignored=translation.ignored)
    if translation.ignored:
        logger.info("event ignored", extra={"event": translation.name, "why": translation.ignored})
        metrics.add_metric(name="IgnoredEvents", unit=MetricUnit.Count, value=1)
        return report
    for observation in translation.observations:
        report.outcomes.append(record(guardian, observation, now))
    changed = sum(outcome.changed for outcome in report.outcomes)
    metrics.add_metric(name="ResourcesChanged", unit=MetricUnit.Count, value=changed)
    logger.info("event recorded", extra=report.as_dict())
    return report


def _loggable(value: object) -> str | None:
    """A field of a rejected event as a log line can carry it: short, and valid UTF-8 (no lone surrogates)."""
    if value is None:
        return None
    return str(value)[:200].encode("utf-8", "backslashreplace").decode()
