"""Resolving the findings of a resource the events say is gone, the moment recording learns so.

Its own module so the event path (guardian.recording) can resolve findings without importing the
evaluation of rules, which is the sweep's business: only the rule names and kinds are needed here.
"""

from datetime import datetime
from functools import partial

from guardian import findings as lifecycle
from guardian.findings import AuditEntry, Finding
from guardian.findings_store import write_finding
from guardian.observability import MetricUnit, metrics
from guardian.resource import Resource
from guardian.runtime import Guardian


def resolve_findings_of(guardian: Guardian, resource: Resource, now: datetime) -> int:
    """A resource the events say is gone: its findings resolve now (and its owner hears so), not at the
    next sweep. One read per rule that looks at its kind: finding ids are derived from (rule, resource)."""
    resolved = 0
    for rule in guardian.rules.rules():
        if resource.kind not in rule.kinds:
            continue
        finding = guardian.findings.get(lifecycle.finding_id(rule.name, resource.arn))
        if finding is not None and finding.active:
            resolved += write_finding(guardian, finding, partial(end, now=now, gone=True), now)
    if resolved:
        metrics.add_metric(name="FindingsResolved", unit=MetricUnit.Count, value=resolved)
    return resolved


def end(finding: Finding, now: datetime, gone: bool) -> tuple[Finding, list[AuditEntry]]:
    """Resolve a finding, unless it is resolved already: a write retried after it committed (or after
    another path resolved it) changes nothing, and the owner does not hear of it twice."""
    if not finding.active:
        return finding, []
    return lifecycle.ended(finding, now, gone=gone)
