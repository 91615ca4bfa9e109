"""The event path: one EventBridge event in, its resources recorded (and described, where the event says a
resource changed but not how: guardian.refresh), their rules judged (guardian.judging), a report out.

An event the guardian cannot use is rejected before anything is written: a structured log line
naming the reason, a ``RejectedEvents`` metric, and the exception re-raised so Lambda's retries end
with the event parked in the dead-letter queue for replay (`guardian replay`). That includes an event
older than the record it would change is kept (RECORD_RETENTION): a resource deleted that long ago has no
record left to outrank it, so the old event would bring it back to life.
"""

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from guardian.evaluation import EvaluationReport
from guardian.events import FOREIGN_ACCOUNT, MALFORMED, STALE, InvalidEvent, Translation, translate
from guardian.judging import judge
from guardian.observability import MetricUnit, logger, metrics
from guardian.recording import Outcome, record
from guardian.refresh import describe_changed
from guardian.runtime import ForeignAccount, Guardian
from guardian.table import GONE_RETENTION as RECORD_RETENTION


@dataclass
class IngestReport:
    event_id: str
    event: str
    outcomes: list[Outcome] = field(default_factory=list)
    ignored: str | None = None
    described: list[str] = field(default_factory=list)  # ARNs described after the event (guardian.refresh)
    evaluation: EvaluationReport | None = None  # the rules of what it changed, judged (guardian.judging)

    def as_dict(self) -> dict[str, Any]:
        result: dict[str, Any] = {
            "event_id": self.event_id,
            "event": self.event,
            "ignored": self.ignored,
            "resources": [outcome.as_dict() for outcome in self.outcomes],
        }
        if self.described:
            result["described"] = self.described
        if self.evaluation is not None:
            result["findings"] = self.evaluation.as_dict()
        return result


def ingest_event(raw: Any, guardian: Guardian, now: datetime) -> IngestReport:
    try:
        translation = translate(raw)
        _not_stale(translation, now)
        guardian = _watching(guardian, translation)
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
    # What the event changed but did not say how: described now (bounded), not at the next sweep.
    partial = [
        o.resource for o, obs in zip(report.outcomes, translation.observations, strict=True) if obs.describe_after
    ]
    described = {r.arn: r for r in describe_changed(guardian, partial, now)}
    report.described = list(described)
    # Findings follow at the same speed: judged from the records as stored, whether or not this write changed
    # them (a retry after a write that committed, then timed out, still judges).
    recorded = [described.get(o.resource.arn, o.resource) for o in report.outcomes]
    first_seen = frozenset(o.resource.arn for o in report.outcomes if o.first_sighting)
    report.evaluation = judge(guardian, recorded, now, first_seen)
    changed = sum(outcome.changed for outcome in report.outcomes)
    metrics.add_metric(name="ResourcesChanged", unit=MetricUnit.Count, value=changed)
    logger.info("event recorded", extra=report.as_dict())
    return report


def _watching(guardian: Guardian, translation: Translation) -> Guardian:
    """The guardian of the account and region the event comes from (a hub's member, through its role)."""
    arns = [o.arn for o in translation.observations]
    try:
        watching = {g.location(): g for g in (guardian.at_arn(arn) for arn in arns)}
    except ForeignAccount as error:
        raise InvalidEvent(FOREIGN_ACCOUNT, str(error)) from error
    if len(watching) > 1:  # one API call acts in one account and region; an event that says otherwise is not AWS's
        raise InvalidEvent(MALFORMED, f"resources in {len(watching)} accounts or regions in one event")
    return next(iter(watching.values()), guardian)


def _not_stale(translation: Translation, now: datetime) -> None:
    oldest = min((o.observed_at for o in translation.observations), default=None)
    if oldest is not None and oldest < now - RECORD_RETENTION:
        raise InvalidEvent(
            STALE,
            f"happened {oldest:%Y-%m-%dT%H:%M:%SZ}, more than {RECORD_RETENTION.days} days ago: "
            "the guardian keeps no record that old to weigh it against",
        )


def _loggable(value: object) -> str | None:
    """A field of a rejected event as a log line can carry it: short, and valid UTF-8 (no lone surrogates)."""
    if value is None:
        return None
    return str(value)[:200].encode("utf-8", "backslashreplace").decode()
