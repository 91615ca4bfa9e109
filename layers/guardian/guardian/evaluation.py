"""Turning the inventory into findings: run every rule over the resources in scope (their metrics fetched
in bulk first), price each detection, and bring the stored findings in line: open what is new, update
what continues, resolve what ended or whose resource is gone."""

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime
from functools import partial

from guardian import findings as lifecycle
from guardian import metric_data
from guardian.arns import canonical
from guardian.cost import hourly_cost
from guardian.findings import Finding
from guardian.findings_store import active, write_finding
from guardian.kinds import Kind, is_gone
from guardian.observability import MetricUnit, logger, metrics
from guardian.resource import Resource
from guardian.rules import AnyRule, Detection, RuleContext
from guardian.runtime import Guardian


@dataclass
class EvaluationReport:
    opened: int = 0
    updated: int = 0
    resolved: int = 0
    unchanged: int = 0
    metric_queries: int = 0
    findings: list[Finding] = field(default_factory=list)

    def as_dict(self) -> dict[str, int]:
        return {
            "opened": self.opened,
            "updated": self.updated,
            "resolved": self.resolved,
            "unchanged": self.unchanged,
            "metric_queries": self.metric_queries,
            "active_findings": len(self.findings),
        }


def evaluate(guardian: Guardian, resources: list[Resource], now: datetime, complete: bool = True) -> EvaluationReport:
    """Evaluate the rules over ``resources``. ``complete``: these are all the resources there are (a
    sweep), so a finding about anything else is about a resource that is gone."""
    rules = guardian.rules.rules()
    in_scope = {r.arn: r for r in resources}
    context = _context(guardian, in_scope, now)
    report = EvaluationReport()
    queries = [query for rule in rules for query in rule.queries(list(in_scope.values()), now)]
    report.metric_queries = len(queries)
    if queries:
        context.metrics = metric_data.fetch(guardian.clients("cloudwatch"), queries)
    detections = {
        lifecycle.finding_id(d.rule, d.resource.arn): d
        for rule in rules
        for resource in in_scope.values()
        if resource.kind in rule.kinds
        for d in [_safe(rule, resource, context)]
        if d is not None
    }
    held = active(guardian.findings)
    for finding_id, detection in detections.items():
        _upsert(guardian, finding_id, detection, held.get(finding_id), now, report)
    for finding_id, finding in held.items():
        if finding_id in detections:
            continue
        resource = in_scope.get(canonical(finding.resource_arn))
        if resource is None and not complete:
            continue  # not evaluated this time: a targeted evaluation of one space, say
        gone = resource is None or is_gone(resource.state)
        write_finding(guardian, finding, partial(lifecycle.ended, now=now, gone=gone), now)
        report.resolved += 1
    report.findings = [f for status in lifecycle.ACTIVE for f in guardian.findings.with_status(status)]
    metrics.add_metric(name="FindingsOpened", unit=MetricUnit.Count, value=report.opened)
    metrics.add_metric(name="FindingsResolved", unit=MetricUnit.Count, value=report.resolved)
    logger.info("rules evaluated", extra=report.as_dict())
    return report


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


def _safe(rule: AnyRule, resource: Resource, context: RuleContext) -> Detection | None:
    try:
        return rule.evaluate(resource, context)
    except Exception:  # one resource a rule cannot judge must not stop the others being judged
        logger.exception("rule failed on a resource", extra={"rule": rule.name, "arn": resource.arn})
        metrics.add_metric(name="RuleErrors", unit=MetricUnit.Count, value=1)
        return None


def _upsert(
    guardian: Guardian,
    finding_id: str,
    detection: Detection,
    held: Finding | None,
    now: datetime,
    report: EvaluationReport,
) -> None:
    cost = hourly_cost(detection.resource, guardian.prices)
    exemption = lifecycle.exemption_of(detection.resource, guardian.settings.exemption_tag, now)
    existing = held or guardian.findings.get(finding_id)
    if existing is None:
        finding, audit = lifecycle.opened(detection, cost, exemption, now)
        guardian.findings.put(finding, audit)
        report.opened += 1
        return
    changed = write_finding(guardian, existing, lambda f: lifecycle.refreshed(f, detection, cost, exemption, now), now)
    report.updated += changed
    report.unchanged += not changed


__all__ = ["EvaluationReport", "evaluate"]
