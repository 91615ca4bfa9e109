"""When remediation acts: per resource, once, after one reminder, and only if guardian.remediation.safety
finds no reason not to, first on the guardian's records, then on the world as it is.

Each run, for each resource with a notified finding: its findings are read together (a snooze or an
exemption on any of them protects the resource). With none scheduled, the first reached, remediable one is
considered: safe on the records, then read live and safe on that, it is scheduled (enforce: the reminder,
the state it names and how to restore) or said (dry-run). The resource's other findings join that schedule
silently: their reasons are added to its record, no second reminder goes out (and a finding that opens on a
resource already scheduled joins it at once, see :func:`joined`). Once due, the resource is read live
again and re-judged; only if the state the reminder named still holds is the restore plan recorded and the
action taken. Otherwise the schedule is called off with the reason (back to notified: a new reminder
starts over, after a new grace)."""

from collections import defaultdict
from collections.abc import Iterable
from datetime import datetime, timedelta
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from guardian import findings as lifecycle
from guardian.arns import canonical
from guardian.findings import AuditEntry, Finding, Status, finding_id
from guardian.findings_store import write_finding
from guardian.observability import MetricUnit, logger, metrics
from guardian.remediation.actions import ACTS_ON, Tags, action_for
from guardian.remediation.ledger import (
    RemediationReport,
    cancel,
    failed_attempt,
    join,
    noted,
    remediated_with,
    skipped,
)
from guardian.remediation.live import Live
from guardian.remediation.rejudge import observe
from guardian.remediation.safety import Policy, Reason, Skip, grace_start, reason_not_to_act, record_reason
from guardian.resource import Resource
from guardian.rules import RULES, RULES_BY_NAME
from guardian.rules.base import iso
from guardian.runtime import Guardian

# The statuses whose findings say something about a resource remediation may act on.
_CONSIDERED = (Status.OPEN, Status.NOTIFIED, Status.REMEDIATION_SCHEDULED, Status.SNOOZED, Status.EXEMPT)
_RULE_ORDER = {rule.name: n for n, rule in enumerate(RULES)}


def policy_of(guardian: Guardian) -> Policy:
    settings = guardian.settings
    grace = timedelta(hours=settings.remediation_grace_hours)
    return Policy(
        grace=grace,
        lead=min(timedelta(hours=settings.reminder_hours), grace),
        exemption_tag=settings.exemption_tag,
        ownership=guardian.ownership_tags,
        remediate_shared_spaces=settings.remediate_shared_spaces,
    )


def remediate(guardian: Guardian, now: datetime) -> RemediationReport:
    report = RemediationReport(mode=guardian.settings.remediation_mode)
    if report.mode == "off":
        return report
    policy = policy_of(guardian)
    for arn, findings in _by_resource(guardian).items():
        try:
            # Read where the resource lives (a hub's member through its read-only role).
            _resource(guardian.at_arn(arn), findings, policy, now, report)
        except Exception as error:  # one resource's trouble is never the run's: logged, counted, tried next run
            logger.exception("remediation of a resource failed", extra={"arn": arn})
            metrics.add_metric(name="RemediationFailures", unit=MetricUnit.Count, value=1)
            subject = min(findings, key=lambda f: (f.status is not Status.REMEDIATION_SCHEDULED, f.id))
            report.failed[subject.id] = f"{type(error).__name__}: {error}"
    logger.info("remediation run", extra=report.as_dict())
    return report


def _by_resource(guardian: Guardian) -> dict[str, list[Finding]]:
    by_arn: dict[str, list[Finding]] = defaultdict(list)
    for status in _CONSIDERED:
        for finding in guardian.findings.with_status(status):
            by_arn[canonical(finding.resource_arn)].append(finding)
    return {arn: found for arn, found in by_arn.items() if any(_pending(f) for f in found)}


def _resolved_while_snoozed(guardian: Guardian, findings: list[Finding], now: datetime) -> list[Finding]:
    """The resource's other findings that resolved with a snooze still to run (safety: its snooze outlives
    them), read by their ids: a finding's id is its rule and its resource's ARN."""
    arn, kinds = canonical(findings[0].resource_arn), {f.resource_kind for f in findings}
    known = {f.id for f in findings}
    ids = {finding_id(rule.name, arn) for rule in RULES if any(k.value in kinds for k in rule.kinds)} - known
    found = (guardian.findings.get(i) for i in sorted(ids))
    return [
        f for f in found if f is not None and f.status is Status.RESOLVED and f.snoozed_until and f.snoozed_until > now
    ]


def _pending(finding: Finding) -> bool:
    return finding.status in (Status.NOTIFIED, Status.REMEDIATION_SCHEDULED)


def _remediable(finding: Finding) -> bool:
    rule = RULES_BY_NAME.get(finding.rule)
    return rule is not None and rule.remediable


def _resource(
    guardian: Guardian, findings: list[Finding], policy: Policy, now: datetime, report: RemediationReport
) -> None:
    findings = [*findings, *_resolved_while_snoozed(guardian, findings, now)]
    scheduled = sorted(
        (f for f in findings if f.status is Status.REMEDIATION_SCHEDULED),
        key=lambda f: (f.remediation_due_at or now, f.id),
    )
    if scheduled:
        primary = join(guardian, scheduled[0], findings, now)
        if primary.remediation_due_at is None or primary.remediation_due_at > now:
            return
        if guardian.settings.remediation_mode == "enforce":
            _act(guardian, primary, findings, policy, now, report)
        else:  # switched to dry-run since it was scheduled: says, never acts
            report.would_act.append(primary.id)
        return
    notified = [f for f in findings if f.status is Status.NOTIFIED]
    for finding in notified:
        if not _remediable(finding):
            skipped(
                guardian,
                finding,
                Skip(Reason.NOT_REMEDIABLE, f"{finding.rule} findings are never acted on"),
                now,
                report,
            )
    candidates = [f for f in notified if _remediable(f)]
    if candidates:
        primary = min(candidates, key=lambda f: (f.reached_at is None, f.reached_at or now, _RULE_ORDER[f.rule], f.id))
        _consider(guardian, primary, findings, policy, now, report)


# --- the reminder ----------------------------------------------------------------------------------


def _consider(
    guardian: Guardian,
    finding: Finding,
    findings: list[Finding],
    policy: Policy,
    now: datetime,
    report: RemediationReport,
) -> None:
    """Schedule (enforce) or say (dry-run) what the guardian will do to the finding's resource, if it may."""
    record = guardian.inventory.get(canonical(finding.resource_arn))
    held = record_reason(finding, findings, record, now, policy, acting=False) or _no_action(record)
    if held is not None or record is None:
        skipped(guardian, finding, held or Skip(Reason.GONE, "the guardian has no record of it"), now, report)
        return
    live = _observe(guardian, finding, findings, record, now, None, report)
    if live is None:
        return
    why_not = reason_not_to_act(finding, findings, record, live, now, policy)
    action = action_for(record, live)
    if why_not is None and action is None:
        why_not = Skip(Reason.NOT_REMEDIABLE, f"no remediation acts on a {record.kind.value}")
    if why_not is not None or action is None:
        skipped(guardian, finding, why_not or Skip(Reason.NOT_REMEDIABLE, "no action"), now, report)
        return
    start = grace_start(finding, findings) or now
    due = max(start + policy.grace, now + policy.lead)  # the owner always gets the reminder's lead time
    what = action.what(record, live)
    if guardian.settings.remediation_mode == "dry-run":
        note = {"mode": "dry-run", "would": what, "at": iso(due)}
        if {k: (finding.remediation or {}).get(k) for k in ("mode", "would")} != {"mode": "dry-run", "would": what}:
            write_finding(
                guardian, finding, lambda f: noted(f, note, now, "dry-run", f"would {what} at {iso(due)}"), now
            )
        report.would_act.append(finding.id)
        return
    plan: dict[str, Any] = {
        "mode": "enforce",
        "action": what,
        "action_name": action.describe,
        "due_at": iso(due),
        "reminded_at": iso(now),
        "named": live.named(),
        "restore": action.restore_plan(record, live, _tags_to_restore(live, policy)),
        "attempts": 0,
        "joined": [],
    }

    def schedule(f: Finding) -> tuple[Finding, list[AuditEntry]]:
        moved, entry = lifecycle.moved(
            f,
            Status.REMEDIATION_SCHEDULED,
            now,
            "remediation scheduled",
            f"will {what} at {iso(due)} unless snoozed, exempted, changed or resolved",
        )
        return moved.model_copy(update={"remediation": plan, "remediation_due_at": due}), [entry]

    write_finding(guardian, finding, schedule, now)
    report.scheduled.append(finding.id)
    stored = guardian.findings.get(finding.id)
    if stored is not None:
        join(guardian, stored, findings, now)


# --- the action ----------------------------------------------------------------------------------


def _act(
    guardian: Guardian,
    finding: Finding,
    findings: list[Finding],
    policy: Policy,
    now: datetime,
    report: RemediationReport,
) -> None:
    plan = dict(finding.remediation or {})
    record = guardian.inventory.get(canonical(finding.resource_arn))
    why_not = record_reason(finding, findings, record, now, policy, acting=True) or _no_action(record)
    if why_not is not None or record is None:
        cancel(guardian, finding, plan, why_not or Skip(Reason.GONE, "the guardian has no record of it"), now, report)
        return
    if "named" not in plan or "reminded_at" not in plan:
        cancel(guardian, finding, plan, Skip(Reason.CHANGED, "its reminder named no state to act on"), now, report)
        return
    live = _observe(guardian, finding, findings, record, now, _moment(plan["reminded_at"]), report)
    if live is None:
        return
    why_not = reason_not_to_act(finding, findings, record, live, now, policy, named=plan["named"])
    action = action_for(record, live)
    if why_not is None and (action is None or action.describe != plan.get("action_name")):
        why_not = Skip(
            Reason.CHANGED,
            f"it now calls for {action.describe if action else 'no action'}, not {plan.get('action_name')}",
        )
    if why_not is not None or action is None:
        cancel(guardian, finding, plan, why_not or Skip(Reason.CHANGED, "no action"), now, report)
        return
    # How to bring it back, from what is live this moment, is recorded before anything is touched.
    plan |= {
        "restore": action.restore_plan(record, live, _tags_to_restore(live, policy)),
        "restore_recorded_at": iso(now),
    }
    write_finding(
        guardian, finding, lambda f: noted(f, plan, now, "restore plan recorded", plan["action"], keep=False), now
    )
    current = guardian.findings.get(finding.id) or finding
    try:
        action.act(guardian.at_arn(record.arn, acting=True).clients, record, live)
    except (ClientError, BotoCoreError) as raised:
        failed_attempt(guardian, current, plan, str(raised), now, report)
        return
    done = plan | {"done_at": iso(now)}

    def remediated(f: Finding) -> tuple[Finding, list[AuditEntry]]:
        moved, entry = lifecycle.moved(f, Status.REMEDIATED, now, "remediated", str(plan["action"]))
        return moved.model_copy(update={"remediation": done}), [entry]

    write_finding(guardian, current, remediated, now)
    for sibling in findings:
        if sibling.id != finding.id and sibling.status in (Status.OPEN, Status.NOTIFIED, Status.REMEDIATION_SCHEDULED):
            remediated_with(guardian, sibling, finding, done, now)
    metrics.add_metric(name="Remediations", unit=MetricUnit.Count, value=1)
    report.acted.append(finding.id)


# --- small parts ---------------------------------------------------------------------------------


def _observe(
    guardian: Guardian,
    finding: Finding,
    findings: Iterable[Finding],
    record: Resource,
    now: datetime,
    reminded_at: datetime | None,
    report: RemediationReport,
) -> Live | None:
    """The resource as it is, its findings' rules re-evaluated on it; None (and a failure reported) when it
    cannot be read: nothing is decided on what could not be seen."""
    names = {f.rule for f in findings}
    rules = [rule for rule in guardian.rules.rules() if rule.name in names]
    try:
        return observe(guardian, record, rules, now, reminded_at)
    except (ClientError, BotoCoreError) as error:
        logger.warning("resource not readable before remediation", extra={"arn": record.arn, "error": str(error)})
        report.failed[finding.id] = f"could not read it as it is: {error}"
        return None


def _no_action(record: Resource | None) -> Skip | None:
    if record is not None and record.kind not in ACTS_ON:
        return Skip(Reason.NOT_REMEDIABLE, f"no remediation acts on a {record.kind.value}")
    return None


def _tags_to_restore(live: Live, policy: Policy) -> Tags:
    """The tags a restored resource gets back: not AWS's own, and not the guardian's ownership tags, which
    the guardian writes again itself (its record that it tagged the new resource is what it trusts)."""
    tags = policy.ownership
    own = {tags.owner, tags.owner_arn, tags.space_arn, tags.source}
    return [{"Key": k, "Value": v} for k, v in sorted(live.tags.items()) if not k.startswith("aws:") and k not in own]


def _moment(value: Any) -> datetime | None:
    return datetime.fromisoformat(str(value).replace("Z", "+00:00")) if value else None
