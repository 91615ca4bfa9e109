"""Remediation, off by default. dry-run says what it would do; enforce acts, and only: after the grace
(default 24 h after the owner was notified, with a reminder before), on resources the guardian attributed
and tagged, never on exempt ones, and after recording what is needed to restore the resource."""

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from guardian import findings as lifecycle
from guardian.arns import canonical, resource_path
from guardian.evaluation import write_finding
from guardian.findings import AuditEntry, Finding, Status
from guardian.kinds import Kind, is_billing
from guardian.resource import Resource, Source
from guardian.observability import MetricUnit, logger, metrics
from guardian.runtime import Guardian

# Rules whose findings an action can end. Not unattributed-resource (nobody was told), not
# stale-space-storage (deleting a space deletes its owner's files).
REMEDIABLE_RULES = frozenset({"orphaned-resource", "idle-endpoint", "idle-emr-cluster", "long-running-app"})
MAX_ATTEMPTS = 3

READ_PERMISSIONS = (
    "sagemaker:DescribeEndpoint",
    "sagemaker:ListTags",
    "elasticmapreduce:DescribeCluster",
    "elasticmapreduce:ListInstanceGroups",
)
MUTATING_PERMISSIONS = (
    "sagemaker:DeleteEndpoint",
    "sagemaker:DeleteApp",
    "sagemaker:StopMlflowTrackingServer",
    "sagemaker:StopNotebookInstance",
    "elasticmapreduce:TerminateJobFlows",
)


@dataclass(frozen=True)
class Action:
    describe: str  # "delete endpoint fraud-xgb"
    restore: Callable[[Any, Resource], dict[str, Any]]  # what it takes to bring it back, read before acting
    act: Callable[[Any, Resource], None]


def _endpoint_restore(clients, r: Resource) -> dict[str, Any]:
    endpoint = clients("sagemaker").describe_endpoint(EndpointName=r.name)
    tags = clients("sagemaker").list_tags(ResourceArn=endpoint["EndpointArn"]).get("Tags", [])
    return {
        "endpoint_name": r.name,
        "endpoint_config_name": endpoint["EndpointConfigName"],
        "tags": tags,
        "recreate": f"aws sagemaker create-endpoint --endpoint-name {r.name} "
        f"--endpoint-config-name {endpoint['EndpointConfigName']}",
    }


def _emr_restore(clients, r: Resource) -> dict[str, Any]:
    cluster_id = resource_path(r.arn)[-1]
    cluster = clients("emr").describe_cluster(ClusterId=cluster_id)["Cluster"]
    groups = clients("emr").list_instance_groups(ClusterId=cluster_id)["InstanceGroups"]
    return {
        "cluster_id": cluster_id,
        "name": cluster["Name"],
        "release_label": cluster.get("ReleaseLabel"),
        "applications": [a["Name"] for a in cluster.get("Applications", [])],
        "instance_groups": [
            {"role": g["InstanceGroupType"], "type": g["InstanceType"], "count": g.get("RequestedInstanceCount")}
            for g in groups
        ],
        "tags": cluster.get("Tags", []),
        "service_role": cluster.get("ServiceRole"),
    }


def _app_holder(r: Resource) -> dict[str, str]:
    return {"SpaceName": r.studio_space} if r.studio_space else {"UserProfileName": r.studio_owner or ""}


ACTIONS: dict[Kind, Action] = {
    Kind.ENDPOINT: Action(
        "delete endpoint", _endpoint_restore, lambda c, r: c("sagemaker").delete_endpoint(EndpointName=r.name)
    ),
    Kind.EMR_CLUSTER: Action(
        "terminate EMR cluster",
        _emr_restore,
        lambda c, r: c("emr").terminate_job_flows(JobFlowIds=[resource_path(r.arn)[-1]]),
    ),
    Kind.APP: Action(
        "delete app (stops the space)",
        lambda c, r: {
            "domain_id": r.domain_id,
            "app_type": r.app_type,
            "app_name": r.name,
            "instance_type": r.instance_type,
        }
        | _app_holder(r),
        lambda c, r: c("sagemaker").delete_app(
            DomainId=r.domain_id, AppType=r.app_type, AppName=r.name, **_app_holder(r)
        ),
    ),
    Kind.MLFLOW_TRACKING_SERVER: Action(
        "stop MLflow tracking server",
        lambda c, r: {"start": f"aws sagemaker start-mlflow-tracking-server --tracking-server-name {r.name}"},
        lambda c, r: c("sagemaker").stop_mlflow_tracking_server(TrackingServerName=r.name),
    ),
    Kind.NOTEBOOK_INSTANCE: Action(
        "stop notebook instance",
        lambda c, r: {"start": f"aws sagemaker start-notebook-instance --notebook-instance-name {r.name}"},
        lambda c, r: c("sagemaker").stop_notebook_instance(NotebookInstanceName=r.name),
    ),
}


@dataclass
class RemediationReport:
    mode: str
    scheduled: list[str] = field(default_factory=list)
    acted: list[str] = field(default_factory=list)
    would_act: list[str] = field(default_factory=list)
    blocked: dict[str, str] = field(default_factory=dict)
    failed: dict[str, str] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        return vars(self)


def remediate(guardian: Guardian, now: datetime) -> RemediationReport:
    settings = guardian.settings
    report = RemediationReport(mode=settings.remediation_mode)
    if settings.remediation_mode == "off":
        return report
    grace = timedelta(hours=settings.remediation_grace_hours)
    lead = min(timedelta(hours=settings.reminder_hours), grace)
    for finding in list(guardian.findings.with_status(Status.NOTIFIED, before=now - grace + lead)):
        _schedule(guardian, finding, grace, lead, now, report)
    for finding in list(guardian.findings.with_status(Status.REMEDIATION_SCHEDULED, before=now)):
        _act(guardian, finding, now, report)
    logger.info("remediation run", extra=report.as_dict())
    return report


def blocker(guardian: Guardian, finding: Finding, resource: Resource | None, now: datetime) -> str | None:
    """Why the guardian must not act on this finding's resource, or None when it may."""
    if finding.rule not in REMEDIABLE_RULES:
        return f"{finding.rule} findings are never acted on"
    if resource is None or not is_billing(resource.kind, resource.state):
        return "the resource no longer runs"
    if resource.kind not in ACTIONS:
        return f"no action for a {resource.kind.value}"
    if resource.attribution.source is Source.UNATTRIBUTED:
        return "the guardian does not know whose it is"
    if guardian.ownership_tags.owner not in resource.tags:
        return "the resource does not carry the guardian's ownership tag"
    if lifecycle.exemption_of(resource, guardian.settings.exemption_tag, now).exempt:
        return "the resource is exempt"
    return None


def _schedule(
    guardian: Guardian, finding: Finding, grace: timedelta, lead: timedelta, now: datetime, report: RemediationReport
):
    resource = guardian.inventory.get(canonical(finding.resource_arn))
    why_not = blocker(guardian, finding, resource, now)
    action = ACTIONS.get(resource.kind) if resource else None
    if why_not or action is None:
        if (finding.remediation or {}).get("blocked") != why_not:
            write_finding(
                guardian, finding, lambda f: _note(f, {"blocked": why_not}, now, "remediation blocked", why_not), now
            )
        report.blocked[finding.id] = why_not
        return
    # The owner always gets the reminder's lead time, even when remediation was only just switched on.
    due = max(finding.notified_at + grace, now + lead)
    what = f"{action.describe} {resource.name}"
    if guardian.settings.remediation_mode == "dry-run":
        if (finding.remediation or {}).get("mode") != "dry-run":
            write_finding(
                guardian,
                finding,
                lambda f: _note(
                    f,
                    {"mode": "dry-run", "would": what, "at": due.isoformat()},
                    now,
                    "dry-run",
                    f"would {what} at {due.isoformat()}",
                ),
                now,
            )
        report.would_act.append(finding.id)
        return
    try:
        restore = action.restore(guardian.clients, resource)
    except (ClientError, BotoCoreError) as error:
        report.failed[finding.id] = f"could not record how to restore it: {error}"
        return
    plan = {"mode": "enforce", "action": what, "due_at": due.isoformat(), "restore": restore, "attempts": 0}

    def schedule(f: Finding) -> tuple[Finding, list[AuditEntry]]:
        moved, entry = lifecycle.moved(
            f,
            Status.REMEDIATION_SCHEDULED,
            now,
            "remediation scheduled",
            f"will {what} at {due.isoformat()} unless snoozed, exempted or resolved",
        )
        return moved.model_copy(update={"remediation": plan, "remediation_due_at": due}), [entry]

    write_finding(guardian, finding, schedule, now)
    report.scheduled.append(finding.id)


def _act(guardian: Guardian, finding: Finding, now: datetime, report: RemediationReport) -> None:
    resource = guardian.inventory.get(canonical(finding.resource_arn))
    why_not = blocker(guardian, finding, resource, now)
    plan = dict(finding.remediation or {})
    if why_not:

        def cancel(f: Finding) -> tuple[Finding, list[AuditEntry]]:
            moved, entry = lifecycle.moved(f, Status.NOTIFIED, now, "remediation cancelled", why_not)
            return moved.model_copy(
                update={"remediation": plan | {"cancelled": why_not}, "remediation_due_at": None}
            ), [entry]

        write_finding(guardian, finding, cancel, now)
        report.blocked[finding.id] = why_not
        return
    action = ACTIONS[resource.kind]
    try:
        action.act(guardian.clients, resource)
    except (ClientError, BotoCoreError) as raised:
        error = str(raised)
        attempts = plan.get("attempts", 0) + 1
        give_up = attempts >= MAX_ATTEMPTS
        to = Status.NOTIFIED if give_up else Status.REMEDIATION_SCHEDULED

        def failed(f: Finding) -> tuple[Finding, list[AuditEntry]]:
            entry = AuditEntry(
                at=now,
                action="remediation failed",
                from_status=f.status.value,
                to_status=to.value,
                reason=f"attempt {attempts}: {error}" + ("; giving up" if give_up else ""),
            )
            return f.model_copy(
                update={"status": to, "remediation": plan | {"attempts": attempts, "last_error": error}}
            ), [entry]

        write_finding(guardian, finding, failed, now)
        metrics.add_metric(name="RemediationFailures", unit=MetricUnit.Count, value=1)
        report.failed[finding.id] = error
        return

    def done(f: Finding) -> tuple[Finding, list[AuditEntry]]:
        moved, entry = lifecycle.moved(f, Status.REMEDIATED, now, "remediated", plan.get("action", action.describe))
        return moved.model_copy(update={"remediation": plan | {"done_at": now.isoformat()}}), [entry]

    write_finding(guardian, finding, done, now)
    metrics.add_metric(name="Remediations", unit=MetricUnit.Count, value=1)
    report.acted.append(finding.id)


def _note(finding: Finding, remediation: dict[str, Any], now: datetime, action: str, reason: str):
    return finding.model_copy(update={"remediation": remediation}), [AuditEntry(at=now, action=action, reason=reason)]
