"""Remediation, off by default. dry-run says what it would do; enforce acts, and only: after the grace
(default 24 h after the owner was notified, with a reminder before), on resources the guardian attributed
and tagged, never on exempt ones, and after recording what is needed to restore the resource.

What it can do is declared below, one :class:`Action` per kind of resource, each with the IAM actions it
needs; which findings it may act on is each rule's ``remediable`` (guardian.rules)."""

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from guardian import findings as lifecycle
from guardian.arns import canonical, resource_path
from guardian.aws import AwsClients
from guardian.findings import AuditEntry, Finding, Status
from guardian.findings_store import write_finding
from guardian.kinds import Kind, is_billing
from guardian.observability import MetricUnit, logger, metrics
from guardian.resource import Resource, Source
from guardian.rules import RULES_BY_NAME
from guardian.runtime import Guardian
from guardian.tagging import sagemaker_tags

MAX_ATTEMPTS = 3


# --- What remediation can do ---------------------------------------------------------------------


@dataclass(frozen=True)
class Action:
    """One thing remediation does to one kind of resource, declared with the IAM actions it needs (as Cloud
    Custodian's actions declare theirs). The remediate function is granted exactly these (guardian.permissions);
    the mutating ones only when RemediationMode is enforce."""

    kind: Kind
    describe: str  # "delete endpoint": the finding reads "delete endpoint fraud-xgb"
    restore: Callable[[AwsClients, Resource], dict[str, Any]]  # what it takes to bring it back, read before acting
    act: Callable[[AwsClients, Resource], None]
    reads: tuple[str, ...]  # the IAM actions `restore` calls
    mutates: tuple[str, ...]  # the IAM actions `act` calls


def _endpoint_restore(clients: AwsClients, r: Resource) -> dict[str, Any]:
    endpoint = clients("sagemaker").describe_endpoint(EndpointName=r.name)
    tags = sagemaker_tags(clients, endpoint["EndpointArn"])
    return {
        "endpoint_name": r.name,
        "endpoint_config_name": endpoint["EndpointConfigName"],
        "tags": tags,
        "recreate": f"aws sagemaker create-endpoint --endpoint-name {r.name} "
        f"--endpoint-config-name {endpoint['EndpointConfigName']}",
    }


def _delete_endpoint(clients: AwsClients, r: Resource) -> None:
    clients("sagemaker").delete_endpoint(EndpointName=r.name)


DELETE_ENDPOINT = Action(
    Kind.ENDPOINT,
    "delete endpoint",
    restore=_endpoint_restore,
    act=_delete_endpoint,
    reads=("sagemaker:DescribeEndpoint", "sagemaker:ListTags"),
    mutates=("sagemaker:DeleteEndpoint",),
)


def _emr_restore(clients: AwsClients, r: Resource) -> dict[str, Any]:
    cluster_id = resource_path(r.arn)[-1]
    cluster = clients("emr").describe_cluster(ClusterId=cluster_id)["Cluster"]
    groups = clients("emr").list_instance_groups(ClusterId=cluster_id)["InstanceGroups"]
    return {
        "cluster_id": cluster_id,
        "name": cluster["Name"],
        "release_label": cluster.get("ReleaseLabel"),
        "applications": [a["Name"] for a in cluster.get("Applications", []) if "Name" in a],  # Name is optional
        "instance_groups": [
            {"role": g["InstanceGroupType"], "type": g["InstanceType"], "count": g.get("RequestedInstanceCount")}
            for g in groups
        ],
        "tags": cluster.get("Tags", []),
        "service_role": cluster.get("ServiceRole"),
    }


def _terminate_emr_cluster(clients: AwsClients, r: Resource) -> None:
    clients("emr").terminate_job_flows(JobFlowIds=[resource_path(r.arn)[-1]])


TERMINATE_EMR_CLUSTER = Action(
    Kind.EMR_CLUSTER,
    "terminate EMR cluster",
    restore=_emr_restore,
    act=_terminate_emr_cluster,
    reads=("elasticmapreduce:DescribeCluster", "elasticmapreduce:ListInstanceGroups"),
    mutates=("elasticmapreduce:TerminateJobFlows",),
)


def _app_holder(r: Resource) -> dict[str, str]:
    return {"SpaceName": r.studio_space} if r.studio_space else {"UserProfileName": r.studio_owner or ""}


def _app_restore(clients: AwsClients, r: Resource) -> dict[str, Any]:
    return {
        "domain_id": r.domain_id,
        "app_type": r.app_type,
        "app_name": r.name,
        "instance_type": r.instance_type,
    } | _app_holder(r)


def _delete_app(clients: AwsClients, r: Resource) -> None:
    clients("sagemaker").delete_app(DomainId=r.domain_id, AppType=r.app_type, AppName=r.name, **_app_holder(r))


DELETE_APP = Action(
    Kind.APP,
    "delete app (stops the space)",
    restore=_app_restore,
    act=_delete_app,
    reads=(),
    mutates=("sagemaker:DeleteApp",),
)


def _mlflow_restore(clients: AwsClients, r: Resource) -> dict[str, Any]:
    return {"start": f"aws sagemaker start-mlflow-tracking-server --tracking-server-name {r.name}"}


def _stop_mlflow_tracking_server(clients: AwsClients, r: Resource) -> None:
    clients("sagemaker").stop_mlflow_tracking_server(TrackingServerName=r.name)


STOP_MLFLOW_TRACKING_SERVER = Action(
    Kind.MLFLOW_TRACKING_SERVER,
    "stop MLflow tracking server",
    restore=_mlflow_restore,
    act=_stop_mlflow_tracking_server,
    reads=(),
    mutates=("sagemaker:StopMlflowTrackingServer",),
)


def _notebook_restore(clients: AwsClients, r: Resource) -> dict[str, Any]:
    return {"start": f"aws sagemaker start-notebook-instance --notebook-instance-name {r.name}"}


def _stop_notebook_instance(clients: AwsClients, r: Resource) -> None:
    clients("sagemaker").stop_notebook_instance(NotebookInstanceName=r.name)


STOP_NOTEBOOK_INSTANCE = Action(
    Kind.NOTEBOOK_INSTANCE,
    "stop notebook instance",
    restore=_notebook_restore,
    act=_stop_notebook_instance,
    reads=(),
    mutates=("sagemaker:StopNotebookInstance",),
)

ACTIONS: tuple[Action, ...] = (
    DELETE_ENDPOINT,
    TERMINATE_EMR_CLUSTER,
    DELETE_APP,
    STOP_MLFLOW_TRACKING_SERVER,
    STOP_NOTEBOOK_INSTANCE,
)
ACTION_FOR_KIND: Mapping[Kind, Action] = {action.kind: action for action in ACTIONS}


# --- When it does it -----------------------------------------------------------------------------


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


@dataclass(frozen=True)
class Target:
    """A resource remediation may act on, and the action it would take."""

    resource: Resource
    action: Action


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


def target(guardian: Guardian, finding: Finding, now: datetime) -> Target | str:
    """The finding's resource and what to do to it, or why the guardian must not act on it."""
    resource = guardian.inventory.get(canonical(finding.resource_arn))
    rule = RULES_BY_NAME.get(finding.rule)
    if rule is None or not rule.remediable:
        return f"{finding.rule} findings are never acted on"
    if resource is None or not is_billing(resource.kind, resource.state):
        return "the resource no longer runs"
    action = ACTION_FOR_KIND.get(resource.kind)
    if action is None:
        return f"no action for a {resource.kind.value}"
    if resource.attribution.source is Source.UNATTRIBUTED:
        return "the guardian does not know whose it is"
    if guardian.ownership_tags.owner not in resource.tags:
        return "the resource does not carry the guardian's ownership tag"
    if lifecycle.exemption_of(resource, guardian.settings.exemption_tag, now).exempt:
        return "the resource is exempt"
    return Target(resource, action)


def _schedule(
    guardian: Guardian, finding: Finding, grace: timedelta, lead: timedelta, now: datetime, report: RemediationReport
) -> None:
    found = target(guardian, finding, now)
    if isinstance(found, str):
        why_not = found
        if (finding.remediation or {}).get("blocked") != why_not:
            write_finding(
                guardian, finding, lambda f: _note(f, {"blocked": why_not}, now, "remediation blocked", why_not), now
            )
        report.blocked[finding.id] = why_not
        return
    if finding.notified_at is None:
        raise ValueError(f"finding {finding.id} is {finding.status.value} but was never notified")
    # The owner always gets the reminder's lead time, even when remediation was only just switched on.
    due = max(finding.notified_at + grace, now + lead)
    what = f"{found.action.describe} {found.resource.name}"
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
        restore = found.action.restore(guardian.clients, found.resource)
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
    found = target(guardian, finding, now)
    plan = dict(finding.remediation or {})
    if isinstance(found, str):
        why_not = found

        def cancel(f: Finding) -> tuple[Finding, list[AuditEntry]]:
            moved, entry = lifecycle.moved(f, Status.NOTIFIED, now, "remediation cancelled", why_not)
            return moved.model_copy(
                update={"remediation": plan | {"cancelled": why_not}, "remediation_due_at": None}
            ), [entry]

        write_finding(guardian, finding, cancel, now)
        report.blocked[finding.id] = why_not
        return
    action = found.action
    try:
        action.act(guardian.clients, found.resource)
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


def _note(
    finding: Finding, remediation: dict[str, Any], now: datetime, action: str, reason: str
) -> tuple[Finding, list[AuditEntry]]:
    return finding.model_copy(update={"remediation": remediation}), [AuditEntry(at=now, action=action, reason=reason)]
