"""Undoing what remediation did, from the plan it recorded immediately before acting (`guardian restore`).

An endpoint is created again from its config and tags, an app with its spec (its space kept its files), a
stopped MLflow tracking server or notebook instance is started; an EMR cluster's recreate plan (its
release, applications and instance groups) and a space's earlier idle shutdown are said, not done: a new
cluster is a decision with a bill, and idle shutdown that was off cannot be switched off through the API.
The restore is written into the finding's audit trail."""

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from guardian.aws import AwsClients
from guardian.findings import AuditEntry, Finding
from guardian.findings_store import FindingsStore, write_finding


class CannotRestore(ValueError):
    """An unknown finding, or one remediation did not act on: nothing to restore."""


@dataclass(frozen=True)
class Restored:
    finding_id: str
    resource_name: str
    undone: str  # what remediation had done
    did: str  # what the restore did (or, where it only says, what to do)
    called: str | None  # the API call made, None when the plan is only printed

    def as_dict(self) -> dict[str, Any]:
        return vars(self)


def _endpoint(clients: AwsClients, plan: Mapping[str, Any]) -> tuple[str, str | None]:
    tags = [t for t in plan.get("tags", []) if not t["Key"].startswith("aws:")]
    request: dict[str, Any] = {
        "EndpointName": plan["endpoint_name"],
        "EndpointConfigName": plan["endpoint_config_name"],
    }
    if tags:
        request["Tags"] = tags
    clients("sagemaker").create_endpoint(**request)
    return (
        f"created endpoint {plan['endpoint_name']} from config {plan['endpoint_config_name']} with {len(tags)} tags",
        "sagemaker:CreateEndpoint",
    )


def _app(clients: AwsClients, plan: Mapping[str, Any]) -> tuple[str, str | None]:
    holder = (
        {"SpaceName": plan["space_name"]} if plan.get("space_name") else {"UserProfileName": plan["user_profile_name"]}
    )
    request: dict[str, Any] = {
        "DomainId": plan["domain_id"],
        "AppType": plan["app_type"],
        "AppName": plan["app_name"],
        "ResourceSpec": plan.get("resource_spec") or {},
    } | holder
    tags = [t for t in plan.get("tags", []) if not t["Key"].startswith("aws:")]
    if tags:
        request["Tags"] = tags
    clients("sagemaker").create_app(**request)
    where = plan.get("space_name") or plan.get("user_profile_name")
    spec = (plan.get("resource_spec") or {}).get("InstanceType", "its default instance")
    return f"created {plan['app_type']} app {plan['app_name']} of {where} on {spec}", "sagemaker:CreateApp"


def _emr_cluster(clients: AwsClients, plan: Mapping[str, Any]) -> tuple[str, str | None]:
    return f"a terminated cluster is not started again by the guardian; to recreate it: {plan['recreate']}", None


def _idle_shutdown(clients: AwsClients, plan: Mapping[str, Any]) -> tuple[str, str | None]:
    previous = plan.get("previous_idle_timeout_minutes")
    if previous is None:
        return str(plan["undo"]), None
    key = plan["app_settings_key"]
    space = clients("sagemaker").describe_space(DomainId=plan["domain_id"], SpaceName=plan["space_name"])
    settings = dict((space.get("SpaceSettings") or {}).get(key) or {})
    lifecycle = dict(settings.get("AppLifecycleManagement") or {})
    lifecycle["IdleSettings"] = dict(lifecycle.get("IdleSettings") or {}) | {"IdleTimeoutInMinutes": previous}
    clients("sagemaker").update_space(
        DomainId=plan["domain_id"],
        SpaceName=plan["space_name"],
        SpaceSettings={key: settings | {"AppLifecycleManagement": lifecycle}},
    )
    return f"set idle shutdown of space {plan['space_name']} back to {previous} min", "sagemaker:UpdateSpace"


def _mlflow_tracking_server(clients: AwsClients, plan: Mapping[str, Any]) -> tuple[str, str | None]:
    clients("sagemaker").start_mlflow_tracking_server(TrackingServerName=plan["tracking_server_name"])
    return f"started MLflow tracking server {plan['tracking_server_name']}", "sagemaker:StartMlflowTrackingServer"


def _notebook_instance(clients: AwsClients, plan: Mapping[str, Any]) -> tuple[str, str | None]:
    clients("sagemaker").start_notebook_instance(NotebookInstanceName=plan["notebook_instance_name"])
    return f"started notebook instance {plan['notebook_instance_name']}", "sagemaker:StartNotebookInstance"


_RESTORERS: Mapping[str, Callable[[AwsClients, Mapping[str, Any]], tuple[str, str | None]]] = {
    "endpoint": _endpoint,
    "app": _app,
    "emr-cluster": _emr_cluster,
    "space-idle-shutdown": _idle_shutdown,
    "mlflow-tracking-server": _mlflow_tracking_server,
    "notebook-instance": _notebook_instance,
}


@dataclass(frozen=True)
class _Holder:
    findings: FindingsStore


def restore(clients: AwsClients, store: FindingsStore, finding_id: str, actor: str, now: datetime) -> Restored:
    """Bring back what remediation did to the finding's resource; raises :class:`CannotRestore` when there
    is nothing to restore, and the service's error when the call fails (nothing is recorded then)."""
    finding = store.get(finding_id)
    if finding is None:
        raise CannotRestore(f"no finding {finding_id}")
    remediation = finding.remediation or {}
    plan = remediation.get("restore")
    if not isinstance(plan, dict) or "done_at" not in remediation:
        raise CannotRestore(f"finding {finding_id} has no restore plan: remediation did not act on it")
    restorer = _RESTORERS.get(str(plan.get("kind")))
    if restorer is None:
        raise CannotRestore(f"finding {finding_id} has a restore plan of an unknown kind {plan.get('kind')!r}")
    did, called = restorer(clients, plan)
    undone = str(remediation.get("action", "remediation"))

    def restored(current: Finding) -> tuple[Finding, list[AuditEntry]]:
        note = (current.remediation or {}) | {"restored_at": now.isoformat(), "restored_by": actor}
        entry = AuditEntry(at=now, action="restored", reason=f"undid {undone}: {did}", actor=actor)
        return current.model_copy(update={"remediation": note}), [entry]

    write_finding(_Holder(store), finding, restored, now)
    return Restored(finding.id, finding.resource_name, undone, did, called)
