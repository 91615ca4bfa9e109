"""HyperPod clusters as SageMaker has them, where moto's differ.

A cluster's ARN carries a 12-character id of its own (``arn:aws:sagemaker:REGION:ACCOUNT:cluster/<id>``), not
its name, and every call that names a cluster takes either its name or that ARN. ``CreateCluster`` is checked
whole before anything is made, so a refused request leaves nothing behind: instance types against the service
model's enum (moto's list is old), group names unique, a lifecycle configuration unless an orchestrator starts
the nodes; ``ThreadsPerCore``, optional in the model, defaults as the service reports it. A cluster is
Creating, Updating and Deleting for a while (transitions.py); an unknown one answers ResourceNotFound and a
change during a transition ConflictException, as the service model documents.
"""

from collections.abc import Callable
from typing import Any

import botocore.session
from moto.moto_api._internal import mock_random
from moto.sagemaker.exceptions import ConflictException, ResourceInUseException, ResourceNotFound, ValidationError
from moto.sagemaker.models import Cluster, ClusterNode, SageMakerModelBackend
from moto.sagemaker.responses import SageMakerResponse

from guardian_sandbox import transitions
from guardian_sandbox.studio import _checked, _p

ID_LENGTH = 12
DEFAULT_THREADS_PER_CORE = 2  # what the service reports for a group made without it: multithreading on
_INSTANCE_TYPES = frozenset(
    botocore.session.get_session().get_service_model("sagemaker").shape_for("ClusterInstanceType").enum
)


def new_cluster_id() -> str:
    return mock_random.get_random_string(length=ID_LENGTH, include_digits=True, lower_case=True)


def cluster_named(backend: SageMakerModelBackend, given: str) -> Cluster:
    """The cluster a request names, by its name or its ARN (any case, as the service accepts)."""
    if given.startswith("arn:"):
        found = next((c for c in backend.clusters.values() if c.arn.lower() == given.lower()), None)
    else:
        found = backend.clusters.get(given)
    if found is None:
        raise ResourceNotFound(f"Cluster {given} not found")
    return found


def check_instance_type(instance_type: str) -> None:
    if instance_type not in _INSTANCE_TYPES:
        raise ValidationError(
            f"Value '{instance_type}' at 'instanceType' failed to satisfy constraint: "
            "Member must satisfy enum value set (ClusterInstanceType)"
        )


def resize(cluster: Cluster, group: dict[str, Any], count: int) -> None:
    """A group at ``count`` nodes: its counts, and the nodes ListClusterNodes shows."""
    name = group["InstanceGroupName"]
    nodes = sorted(n for n, node in cluster.nodes.items() if node.instance_group_name == name)
    for node_id in nodes[count:]:
        del cluster.nodes[node_id]
    taken = set(cluster.nodes)
    serial = 0
    while len([n for n in cluster.nodes.values() if n.instance_group_name == name]) < count:
        node_id = f"{name}-{serial}"
        serial += 1
        if node_id in taken:
            continue
        cluster.nodes[node_id] = ClusterNode(
            region_name=cluster.region_name,
            account_id=cluster.account_id,
            cluster_name=cluster.cluster_name,
            instance_group_name=name,
            instance_type=group["InstanceType"],
            life_cycle_config=group.get("LifeCycleConfig", {}),
            execution_role=group.get("ExecutionRole", ""),
            node_id=node_id,
            threads_per_core=group.get("ThreadsPerCore"),
        )
    group["CurrentCount"] = group["TargetCount"] = count


def _group(spec: dict[str, Any], orchestrated: bool) -> dict[str, Any]:
    """A requested instance group, checked, and completed as the service completes it."""
    name = spec["InstanceGroupName"]
    if "InstanceType" not in spec:
        raise ValidationError(f"Instance group {name}: InstanceType is required")
    check_instance_type(spec["InstanceType"])
    if "LifeCycleConfig" not in spec and not orchestrated:
        raise ValidationError(f"Instance group {name}: LifeCycleConfig is required for a cluster without orchestrator")
    return {"ThreadsPerCore": DEFAULT_THREADS_PER_CORE} | spec


def _make(backend: SageMakerModelBackend, name: str, groups: list[dict[str, Any]], request: Any) -> Cluster:
    # moto's Cluster reads every group's lifecycle script location: an orchestrated group may have none.
    bare = [g for g in groups if "LifeCycleConfig" not in g]
    for group in bare:
        group["LifeCycleConfig"] = {"SourceS3Uri": "s3://sagemaker-", "OnCreate": ""}
    counts = [group["InstanceCount"] for group in groups]
    try:
        cluster = Cluster(
            cluster_name=name,
            region_name=backend.region_name,
            account_id=backend.account_id,
            instance_groups=groups,
            vpc_config=request("VpcConfig"),
            tags=request("Tags"),
        )
    finally:
        for group in bare:
            del group["LifeCycleConfig"]
    for group, count in zip(groups, counts, strict=True):
        resize(cluster, group, count)
    return cluster


class _HyperPod(SageMakerResponse):
    """Grafted onto moto's SageMakerResponse (see :func:`install`)."""

    _p = _p

    def create_cluster(self) -> Any:
        name = self._p("ClusterName")
        backend = self.sagemaker_backend
        if name in backend.clusters:
            raise ResourceInUseException(f"Resource Already Exists: Cluster with name {name} already exists")
        specs = self._p("InstanceGroups") or []
        names = [spec["InstanceGroupName"] for spec in specs]
        if len(set(names)) != len(names):
            raise ValidationError("Instance group names must be unique within a cluster")
        groups = [_group(spec, orchestrated=bool(self._p("Orchestrator"))) for spec in specs]
        cluster = _make(backend, name, groups, self._p)  # everything checked: only now is it kept
        backend.clusters[name] = cluster
        transitions.begin(cluster, transitions.HYPERPOD_CREATE)
        return _checked({"ClusterArn": cluster.arn}, "CreateCluster")

    def delete_cluster(self) -> Any:
        cluster = cluster_named(self.sagemaker_backend, self._p("ClusterName"))
        if cluster.status == "Deleting":
            raise ConflictException(f"Cluster {cluster.cluster_name} is already being deleted")
        transitions.begin(cluster, transitions.HYPERPOD_DELETE)
        return _checked({"ClusterArn": cluster.arn}, "DeleteCluster")


def _by_name(original: Callable[..., Any]) -> Callable[..., Any]:
    """moto's backend method, handed the cluster's name whatever the request named it by."""

    def method(self: SageMakerModelBackend, cluster_name: str, *args: Any, **kwargs: Any) -> Any:
        return original(self, cluster_named(self, cluster_name).cluster_name, *args, **kwargs)

    return method


def _with_cluster_id(original: Callable[..., None]) -> Callable[..., None]:
    def __init__(self: Cluster, *args: Any, **kwargs: Any) -> None:
        original(self, *args, **kwargs)
        self.arn = f"{self.arn.rsplit('/', 1)[0]}/{new_cluster_id()}"

    return __init__


def _valid_instance_type(self: Cluster, instance_type: str) -> None:
    check_instance_type(instance_type)


_installed = False


def install() -> None:
    """Graft the above onto moto (idempotent)."""
    global _installed
    if _installed:
        return
    Cluster.__init__ = _with_cluster_id(Cluster.__init__)  # type: ignore[method-assign]
    Cluster.valid_cluster_node_instance_types = _valid_instance_type  # type: ignore[method-assign]
    for name in ("describe_cluster", "describe_cluster_node", "list_cluster_nodes"):
        setattr(SageMakerModelBackend, name, _by_name(getattr(SageMakerModelBackend, name)))
    for name in ("create_cluster", "delete_cluster"):
        setattr(SageMakerResponse, name, getattr(_HyperPod, name))
    _installed = True
