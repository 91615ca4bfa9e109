"""What remediation can do: one :class:`Action` per thing it does to a kind of resource, gentlest first, each
with the IAM actions it needs (as Cloud Custodian's actions declare theirs). The remediate function is
granted exactly these (guardian.permissions): the live reads always, the mutations only when
RemediationMode is enforce, and then only on what carries the guardian's ownership tag and not the
exemption tag (conditions in template.yaml).

A long-running JupyterLab or Code Editor app is first given idle shutdown on its space (Studio then stops
it when it is idle, nothing is lost), where its domain lets a space set idle shutdown; otherwise the app is
deleted (the space and its EBS volume stay). A Canvas app is deleted (its workspace stays in S3).

Each action records, from the live read made immediately before it, what it takes to undo it (the restore
plan, guardian.remediation.restore)."""

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from guardian.arns import resource_path
from guardian.aws import AwsClients
from guardian.kinds import Kind
from guardian.remediation.live import APP_SETTINGS_KEY, READS, Live, app_holder, utc_iso
from guardian.resource import Resource

Tags = list[dict[str, str]]
# Idle shutdown set on a space by remediation: an hour idle (within what the domain allows).
IDLE_SHUTDOWN_MINUTES = 60


@dataclass(frozen=True)
class Action:
    kind: Kind
    describe: str  # what it is, stably: "delete endpoint" (the plan records it; a changed choice is a change)
    applies: Callable[[Resource, Live], bool]  # whether the live resource admits it
    what: Callable[[Resource, Live], str]  # "delete endpoint fraud-xgb": what the reminder says it will do
    act: Callable[[AwsClients, Resource, Live], None]
    restore_plan: Callable[[Resource, Live, Tags], dict[str, Any]]  # what it takes to bring it back
    reads: tuple[str, ...]  # the IAM actions of the live read before it (guardian.remediation.live)
    mutates: tuple[str, ...]  # the IAM actions `act` calls


def _always(record: Resource, live: Live) -> bool:
    return True


# --- endpoints -----------------------------------------------------------------------------------


def _endpoint_plan(record: Resource, live: Live, tags: Tags) -> dict[str, Any]:
    name, config = live.described["EndpointName"], live.described["EndpointConfigName"]
    return {
        "kind": Kind.ENDPOINT.value,
        "endpoint_name": name,
        "endpoint_arn": live.described["EndpointArn"],
        "endpoint_config_name": config,
        "created_at": utc_iso(live.created_at),
        "tags": tags,
        "recreate": f"aws sagemaker create-endpoint --endpoint-name {name} --endpoint-config-name {config}",
    }


def _no_inference_components(record: Resource, live: Live) -> bool:
    """An endpoint hosting inference components is only reported: recreating it from its config would not bring
    its components (models, copies) back, so no restore could undo the deletion."""
    return not live.shape.get("inference_components")


DELETE_ENDPOINT = Action(
    Kind.ENDPOINT,
    "delete endpoint",
    applies=_no_inference_components,
    what=lambda r, live: f"delete endpoint {r.name}",
    act=lambda clients, r, live: clients("sagemaker").delete_endpoint(EndpointName=live.described["EndpointName"]),
    restore_plan=_endpoint_plan,
    reads=READS[Kind.ENDPOINT],
    mutates=("sagemaker:DeleteEndpoint",),
)


# --- EMR clusters --------------------------------------------------------------------------------


def _emr_plan(record: Resource, live: Live, tags: Tags) -> dict[str, Any]:
    cluster = live.described
    groups = [
        {"role": g["InstanceGroupType"], "type": g["InstanceType"], "count": g.get("RequestedInstanceCount")}
        for g in cluster.get("InstanceGroups", [])
    ]
    applications = [a["Name"] for a in cluster.get("Applications", []) if "Name" in a]  # Name is optional
    return {
        "kind": Kind.EMR_CLUSTER.value,
        "cluster_id": resource_path(record.arn)[-1],
        "name": cluster["Name"],
        "release_label": cluster.get("ReleaseLabel"),
        "applications": applications,
        "instance_groups": groups,
        "tags": tags,
        "service_role": cluster.get("ServiceRole"),
        "recreate": f"aws emr create-cluster --name {cluster['Name']} --release-label {cluster.get('ReleaseLabel')} "
        f"--applications {' '.join(f'Name={a}' for a in applications)} --instance-groups "
        + " ".join(
            f"InstanceGroupType={g['role']},InstanceType={g['type']},InstanceCount={g['count']}" for g in groups
        ),
    }


TERMINATE_EMR_CLUSTER = Action(
    Kind.EMR_CLUSTER,
    "terminate EMR cluster",
    applies=_always,
    what=lambda r, live: f"terminate EMR cluster {r.name}",
    act=lambda clients, r, live: clients("emr").terminate_job_flows(JobFlowIds=[resource_path(r.arn)[-1]]),
    restore_plan=_emr_plan,
    reads=READS[Kind.EMR_CLUSTER],
    mutates=("elasticmapreduce:TerminateJobFlows",),
)


# --- Studio apps, gentlest first -------------------------------------------------------------------


def _idle_minutes(live: Live) -> int:
    low, high = live.idle_shutdown_range or (IDLE_SHUTDOWN_MINUTES, IDLE_SHUTDOWN_MINUTES)
    return min(max(IDLE_SHUTDOWN_MINUTES, low), high)


def _idle_shutdown_applies(record: Resource, live: Live) -> bool:
    space = live.space
    return (
        record.app_type in APP_SETTINGS_KEY
        and live.idle_shutdown_range is not None
        and space is not None
        and space.exists
    )


def _set_idle_shutdown(clients: AwsClients, record: Resource, live: Live) -> None:
    assert live.space is not None  # applies() holds
    key = APP_SETTINGS_KEY[record.app_type or ""]
    app_settings = dict(live.space.settings.get(key) or {})
    lifecycle = dict(app_settings.get("AppLifecycleManagement") or {})
    lifecycle["IdleSettings"] = dict(lifecycle.get("IdleSettings") or {}) | {
        "IdleTimeoutInMinutes": _idle_minutes(live)
    }
    clients("sagemaker").update_space(
        DomainId=live.space.domain_id,
        SpaceName=live.space.name,
        SpaceSettings={key: app_settings | {"AppLifecycleManagement": lifecycle}},
    )


def _idle_shutdown_plan(record: Resource, live: Live, tags: Tags) -> dict[str, Any]:
    assert live.space is not None  # applies() holds
    return {
        "kind": "space-idle-shutdown",
        "domain_id": live.space.domain_id,
        "space_name": live.space.name,
        "app_settings_key": APP_SETTINGS_KEY[record.app_type or ""],
        "previous_idle_timeout_minutes": live.space.idle_timeout_minutes,
        "idle_timeout_minutes": _idle_minutes(live),
        "undo": f"idle shutdown was {_setting(live.space.idle_timeout_minutes)} on space {live.space.name}; "
        "set it back in the space's settings (Studio, or aws sagemaker update-space)",
    }


def _setting(minutes: int | None) -> str:
    return "off" if minutes is None else f"{minutes} min"


SET_IDLE_SHUTDOWN = Action(
    Kind.APP,
    "set idle shutdown",
    applies=_idle_shutdown_applies,
    what=lambda r, live: f"set idle shutdown ({_idle_minutes(live)} min) on space {r.studio_space}, so its "
    f"{r.app_type} app stops when idle (nothing is deleted)",
    act=_set_idle_shutdown,
    restore_plan=_idle_shutdown_plan,
    reads=READS[Kind.APP],
    mutates=("sagemaker:UpdateSpace",),
)


def _delete_app(clients: AwsClients, record: Resource, live: Live) -> None:
    clients("sagemaker").delete_app(
        DomainId=record.domain_id, AppType=record.app_type, AppName=record.name, **app_holder(record)
    )


def _app_plan(record: Resource, live: Live, tags: Tags) -> dict[str, Any]:
    spec_keys = ("InstanceType", "SageMakerImageArn", "SageMakerImageVersionArn", "LifecycleConfigArn")
    spec = {key: value for key, value in (live.described.get("ResourceSpec") or {}).items() if key in spec_keys}
    holder = app_holder(record)
    where = " ".join(f"--{'space-name' if k == 'SpaceName' else 'user-profile-name'} {v}" for k, v in holder.items())
    return {
        "kind": Kind.APP.value,
        "domain_id": record.domain_id,
        "app_type": record.app_type,
        "app_name": record.name,
        "resource_spec": spec,
        "tags": tags,
        "recreate": f"aws sagemaker create-app --domain-id {record.domain_id} {where} --app-type {record.app_type} "
        f"--app-name {record.name} --resource-spec InstanceType={spec.get('InstanceType')}",
    } | {("space_name" if k == "SpaceName" else "user_profile_name"): v for k, v in holder.items()}


DELETE_CANVAS_APP = Action(
    Kind.APP,
    "delete Canvas app",
    applies=lambda r, live: r.app_type == "Canvas",
    what=lambda r, live: f"delete Canvas app {r.name} of {r.studio_space or r.studio_owner} "
    "(its workspace stays in S3)",
    act=_delete_app,
    restore_plan=_app_plan,
    reads=READS[Kind.APP],
    mutates=("sagemaker:DeleteApp",),
)

DELETE_APP = Action(
    Kind.APP,
    "delete app",
    applies=lambda r, live: r.app_type != "Canvas",
    what=lambda r, live: f"delete {r.app_type} app {r.name} of {r.studio_space or r.studio_owner} "
    "(its EBS volume stays: the space's files are kept)",
    act=_delete_app,
    restore_plan=_app_plan,
    reads=READS[Kind.APP],
    mutates=("sagemaker:DeleteApp",),
)


# --- MLflow tracking servers and notebook instances: stopped, not deleted --------------------------


STOP_MLFLOW_TRACKING_SERVER = Action(
    Kind.MLFLOW_TRACKING_SERVER,
    "stop MLflow tracking server",
    applies=_always,
    what=lambda r, live: f"stop MLflow tracking server {r.name}",
    act=lambda clients, r, live: clients("sagemaker").stop_mlflow_tracking_server(TrackingServerName=r.name),
    restore_plan=lambda r, live, tags: {
        "kind": Kind.MLFLOW_TRACKING_SERVER.value,
        "tracking_server_name": r.name,
        "start": f"aws sagemaker start-mlflow-tracking-server --tracking-server-name {r.name}",
    },
    reads=READS[Kind.MLFLOW_TRACKING_SERVER],
    mutates=("sagemaker:StopMlflowTrackingServer",),
)

STOP_NOTEBOOK_INSTANCE = Action(
    Kind.NOTEBOOK_INSTANCE,
    "stop notebook instance",
    applies=_always,
    what=lambda r, live: f"stop notebook instance {r.name}",
    act=lambda clients, r, live: clients("sagemaker").stop_notebook_instance(NotebookInstanceName=r.name),
    restore_plan=lambda r, live, tags: {
        "kind": Kind.NOTEBOOK_INSTANCE.value,
        "notebook_instance_name": r.name,
        "start": f"aws sagemaker start-notebook-instance --notebook-instance-name {r.name}",
    },
    reads=READS[Kind.NOTEBOOK_INSTANCE],
    mutates=("sagemaker:StopNotebookInstance",),
)

# Per kind, gentlest first: the first that applies to the live resource is the one taken.
ACTIONS: tuple[Action, ...] = (
    DELETE_ENDPOINT,
    TERMINATE_EMR_CLUSTER,
    SET_IDLE_SHUTDOWN,
    DELETE_CANVAS_APP,
    DELETE_APP,
    STOP_MLFLOW_TRACKING_SERVER,
    STOP_NOTEBOOK_INSTANCE,
)

ACTS_ON = frozenset(action.kind for action in ACTIONS)


def action_for(record: Resource, live: Live) -> Action | None:
    """The gentlest action that applies to the resource as it is, or None (no action for its kind)."""
    return next((a for a in ACTIONS if a.kind is record.kind and a.applies(record, live)), None)
