"""Turning the inventory into findings: run every rule over the resources in scope (their metrics fetched
in bulk first), price each detection, and bring the stored findings in line: open what is new, update
what continues, resolve what ended or whose resource is gone."""

from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from functools import partial
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from guardian import findings as lifecycle
from guardian import invocations, metric_data
from guardian.arns import canonical
from guardian.cost import as_risk, hourly_cost
from guardian.findings import AuditEntry, Finding, Status
from guardian.findings_store import active, same_content, write_finding
from guardian.inventory import Conflict
from guardian.invocations import InvocationMemory
from guardian.kinds import Kind, is_gone
from guardian.metric_data import MetricQuery
from guardian.observability import MetricUnit, logger, metrics
from guardian.remediation import joined
from guardian.resolution import end
from guardian.resource import Resource
from guardian.rules import RULES_BY_NAME, AnyRule, Detection, RuleContext
from guardian.rules.base import Unjudged
from guardian.runtime import Guardian


@dataclass
class EvaluationReport:
    opened: int = 0
    updated: int = 0
    resolved: int = 0
    unchanged: int = 0
    metric_queries: int = 0  # asked of CloudWatch
    metrics_known: int = 0  # not asked: their answer was known (guardian.invocations)
    unjudged: int = 0  # (rule, resource) pairs not judged this time: their findings were left as they were
    findings: list[Finding] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)

    def as_dict(self) -> dict[str, int]:
        return {
            "opened": self.opened,
            "updated": self.updated,
            "resolved": self.resolved,
            "unchanged": self.unchanged,
            "metric_queries": self.metric_queries,
            "metrics_known": self.metrics_known,
            "unjudged": self.unjudged,
            "errors": len(self.errors),
            "active_findings": len(self.findings),
        }


def evaluate(
    guardian: Guardian,
    resources: list[Resource],
    now: datetime,
    complete: bool = True,
    unknown_kinds: frozenset[Kind] = frozenset(),
    audit: bool = False,
) -> EvaluationReport:
    """Evaluate the rules over ``resources``. ``complete``: these are all the resources there are (a
    sweep), so a finding about anything else is about a resource that is gone; except a resource of
    ``unknown_kinds``, whose records the sweep could not read. ``audit``: a one-off read-only scan
    (RuleContext.audit).

    Each judgement stands alone: a rule that cannot judge a resource (it raised, or the metrics it needs
    could not be fetched) leaves that finding as it was, and a finding that cannot be written is logged,
    counted and left for the next evaluation; neither stops the rest."""
    rules = guardian.rules.rules()
    in_scope = {r.arn: r for r in resources}
    context = _context(guardian, in_scope, now)
    context.audit = audit
    report = EvaluationReport()
    unjudged_rules = _fetch_metrics(
        guardian, rules, list(in_scope.values()), context, report, remember=complete and not audit
    )
    detections: dict[str, Detection] = {}
    unjudged: set[str] = set()
    for rule in rules:
        for resource in in_scope.values():
            if resource.kind not in rule.kinds:
                continue
            judged, detection = (False, None) if rule.name in unjudged_rules else _judge(rule, resource, context)
            if not judged:
                unjudged.add(lifecycle.finding_id(rule.name, resource.arn))
            elif detection is not None:
                detections[lifecycle.finding_id(detection.rule, detection.resource.arn)] = detection
    report.unjudged = len(unjudged)
    held, can_resolve = _active(guardian, report) if complete else _of_scope(guardian, rules, in_scope, report)
    # A finding that opens on a resource already scheduled for remediation joins that schedule, silently.
    scheduled = {canonical(f.resource_arn): f for f in held.values() if f.status is Status.REMEDIATION_SCHEDULED}
    for finding_id, detection in detections.items():
        _isolated(
            report, finding_id, detection.resource.arn, _upsert, guardian, finding_id, detection, held, scheduled, now
        )
    for finding_id, finding in held.items() if can_resolve else ():
        if finding_id in detections or finding_id in unjudged:
            continue
        subject = in_scope.get(canonical(finding.resource_arn))
        if subject is None and (not complete or finding.resource_kind in unknown_kinds):
            continue  # not evaluated this time: a targeted evaluation of one space, say
        gone = subject is None or is_gone(subject.state)
        _isolated(report, finding_id, finding.resource_arn, _resolve, guardian, finding, gone, now)
    report.findings = (
        _active_now(guardian, report) if complete else list(_of_scope(guardian, rules, in_scope, report)[0].values())
    )
    metrics.add_metric(name="FindingsOpened", unit=MetricUnit.Count, value=report.opened)
    metrics.add_metric(name="FindingsResolved", unit=MetricUnit.Count, value=report.resolved)
    if report.errors:
        metrics.add_metric(name="FindingWriteErrors", unit=MetricUnit.Count, value=len(report.errors))
        logger.warning("findings not written", extra={"errors": report.errors[:20]})
    logger.info("rules evaluated", extra=report.as_dict())
    return report


def _fetch_metrics(
    guardian: Guardian,
    rules: list[AnyRule],
    resources: list[Resource],
    context: RuleContext,
    report: EvaluationReport,
    remember: bool = False,
) -> set[str]:
    """Every rule's metrics in bulk; returns the rules that cannot judge this time (their metrics, or what
    they would query, could not be had). A missing datapoint is no evidence of idleness. ``remember``: a
    sweep's, which keeps what spares the next sweep asking (guardian.invocations)."""
    unjudged: set[str] = set()
    wanted: dict[str, list[MetricQuery]] = {}
    for rule in rules:
        try:
            wanted[rule.name] = rule.queries(resources, context.now)
        except Exception:
            logger.exception("rule could not say what metrics it needs", extra={"rule": rule.name})
            metrics.add_metric(name="RuleErrors", unit=MetricUnit.Count, value=1)
            unjudged.add(rule.name)
    queries = [query for rule_queries in wanted.values() for query in rule_queries]
    if not queries:
        return unjudged
    # What a sweep already knows is not asked again (guardian.invocations: exact, not approximate).
    memory = (
        InvocationMemory(guardian.clients("dynamodb"), guardian.settings.table_name, guardian.scope())
        if remember
        else None
    )
    kept = memory.recall() if memory and any(map(invocations.rememberable, queries)) else {}
    known = invocations.known_answers(queries, kept)
    asked = [query for query in queries if query.key not in known]
    report.metric_queries, report.metrics_known = len(asked), len(known)
    fetched = metric_data.fetch_available(guardian.clients("cloudwatch"), asked)
    context.metrics = fetched.results | known
    if memory:
        memory.remember(kept, invocations.latest_hours(asked, fetched.results))
    if fetched.failed:
        failed_rules = {name for name, qs in wanted.items() if any(q.key in fetched.failed for q in qs)}
        unjudged |= failed_rules
        logger.warning(
            "metrics unavailable: these rules judge nothing this time",
            extra={"rules": sorted(failed_rules), "errors": fetched.errors},
        )
        metrics.add_metric(name="MetricFetchErrors", unit=MetricUnit.Count, value=len(fetched.errors))
    return unjudged


def _active(guardian: Guardian, report: EvaluationReport) -> tuple[dict[str, Finding], bool]:
    """The active findings of the guardian's account and region, and whether they could be read (without
    them, nothing is resolved this time; what was detected is still written, each finding read by id)."""
    try:
        return {i: f for i, f in active(guardian.findings).items() if _here(guardian, f)}, True
    except (ClientError, BotoCoreError) as error:
        report.errors.append(f"active findings unreadable: {error}")
        return {}, False


# A scoped evaluation (one space, one resource, an event's) reads its findings by id (BatchGetItem, 100 a
# call), up to this many.
MAX_READS_BY_ID = 500


def _of_scope(
    guardian: Guardian, rules: list[AnyRule], in_scope: dict[str, Resource], report: EvaluationReport
) -> tuple[dict[str, Finding], bool]:
    """The active findings of the resources in scope: by id (derived from rule and resource), in batches,
    rather than every active finding of the account; a wide scope reads them all (_active)."""
    ids = [lifecycle.finding_id(r.name, arn) for r in rules for arn, res in in_scope.items() if res.kind in r.kinds]
    if len(ids) > MAX_READS_BY_ID:
        return _active(guardian, report)
    try:
        found = guardian.findings.many(ids)
    except (ClientError, BotoCoreError) as error:
        report.errors.append(f"findings in scope unreadable: {error}")
        return {}, False
    return {f.id: f for f in found if f is not None and f.active}, True


def _active_now(guardian: Guardian, report: EvaluationReport) -> list[Finding]:
    try:
        return [f for status in lifecycle.ACTIVE for f in guardian.findings.with_status(status) if _here(guardian, f)]
    except (ClientError, BotoCoreError) as error:
        report.errors.append(f"active findings unreadable: {error}")
        return []


def _here(guardian: Guardian, finding: Finding) -> bool:
    """A finding of the guardian's account and region: a sweep of one says nothing of another's."""
    where = guardian.scope()
    return where is None or (finding.account, finding.region) == (where.account, where.region)


def _isolated(report: EvaluationReport, finding_id: str, arn: str, write: Callable[..., None], *args: Any) -> None:
    """One finding's write: a failure is logged with what it was about, counted, and left for next time."""
    try:
        write(*args, report)
    except Exception as error:  # one finding must not keep the others from being written
        logger.exception("finding not written", extra={"finding_id": finding_id, "arn": arn})
        report.errors.append(f"{finding_id} ({arn}): {type(error).__name__}: {error}")


def _context(guardian: Guardian, in_scope: dict[str, Resource], now: datetime) -> RuleContext:
    spaces_by_owner: dict[str, list[Resource]] = defaultdict(list)
    for resource in in_scope.values():
        if resource.kind is Kind.SPACE and resource.owner_arn:
            spaces_by_owner[resource.owner_arn].append(resource)

    def lookup(arn: str) -> Resource | None:
        return in_scope.get(arn) or guardian.inventory.get(arn)

    def spaces_of_owner(owner_arn: str) -> list[Resource]:
        if owner_arn not in spaces_by_owner:
            spaces_by_owner[owner_arn] = [r for r in guardian.inventory.by_owner(owner_arn) if r.kind is Kind.SPACE]
        return spaces_by_owner[owner_arn]

    return RuleContext(now=now, lookup=lookup, spaces_of_owner=spaces_of_owner)


def _judge(rule: AnyRule, resource: Resource, context: RuleContext) -> tuple[bool, Detection | None]:
    """(whether the rule could judge the resource, what it found)."""
    try:
        return True, rule.evaluate(resource, context)
    except Unjudged as missing:  # a gap in what is known, not a fault
        logger.info("rule cannot judge", extra={"rule": rule.name, "arn": resource.arn, "missing": str(missing)})
        return False, None
    except Exception:  # one resource a rule cannot judge must not stop the others being judged
        logger.exception("rule failed on a resource", extra={"rule": rule.name, "arn": resource.arn})
        metrics.add_metric(name="RuleErrors", unit=MetricUnit.Count, value=1)
        return False, None


def _upsert(
    guardian: Guardian,
    finding_id: str,
    detection: Detection,
    held: dict[str, Finding],
    scheduled: dict[str, Finding],
    now: datetime,
    report: EvaluationReport,
) -> None:
    cost = hourly_cost(detection.resource, guardian.prices)
    if RULES_BY_NAME[detection.rule].risk:  # a risk wastes nothing while the resource works
        cost = as_risk(cost)
    schedule = scheduled.get(detection.resource.arn)
    exemption = lifecycle.exemption_of(detection.resource, guardian.settings.exemption_tag, now)
    existing = held.get(finding_id) or guardian.findings.get(finding_id)
    if existing is None:
        finding, audit = joined(*lifecycle.opened(detection, cost, exemption, now), schedule, now)
        try:
            guardian.findings.put(finding, audit, before=None)
            report.opened += 1
            return
        except Conflict:
            existing = guardian.findings.get(finding_id)
            if existing is None:
                raise
            if same_content(existing, finding):
                # This very write, committed before a timeout, seen by the retry: done, not a conflict.
                report.opened += 1
                return
            # Opened meanwhile by another evaluation (a scheduled check, say): brought up to date below.

    def refresh(f: Finding) -> tuple[Finding, list[AuditEntry]]:
        updated, audit = lifecycle.refreshed(f, detection, cost, exemption, now)
        return joined(updated, audit, schedule, now) if f.status is not Status.OPEN else (updated, audit)

    changed = write_finding(guardian, existing, refresh, now)
    report.updated += changed
    report.unchanged += not changed


def _resolve(guardian: Guardian, finding: Finding, gone: bool, now: datetime, report: EvaluationReport) -> None:
    report.resolved += write_finding(guardian, finding, partial(end, now=now, gone=gone), now)


__all__ = ["EvaluationReport", "evaluate"]
