"""The SageMaker calls that change what a resource bills after it is made, which moto lacks: HyperPod's
UpdateCluster (groups resized, added or deleted) and BatchDeleteClusterNodes, a notebook instance's
UpdateNotebookInstance, UpdateMlflowTrackingServer, and UpdateUserProfile (a profile's default idle shutdown).

Each changes moto's own records (or the Studio emulation's), refuses what the real service refuses with its
error code (a notebook instance is updated only when stopped; a tracking server only when it runs), and
answers in the service model's shape, checked against botocore's before it is sent. A HyperPod cluster and a
notebook instance pass through Updating as the service's do (transitions.py); the other changes take effect at
once. The sandbox's CloudTrail records each call like any other.
"""

from moto.core.responses import ActionResult, EmptyResult
from moto.sagemaker.exceptions import ConflictException, ResourceNotFound, ValidationError
from moto.sagemaker.models import Cluster
from moto.sagemaker.responses import SageMakerResponse

from guardian_sandbox import hyperpod, transitions
from guardian_sandbox.studio import _checked, _moto_utcnow, _p, studio


class _BillingCalls(SageMakerResponse):
    """Methods grafted onto moto's SageMakerResponse (see :func:`install`)."""

    _p = _p

    def _cluster(self) -> Cluster:
        return hyperpod.cluster_named(self.sagemaker_backend, self._p("ClusterName") or "")

    def update_cluster(self) -> ActionResult:
        cluster = self._cluster()
        if cluster.status != "InService":
            raise ConflictException(f"Cluster {cluster.cluster_name} is {cluster.status}: it can be updated InService")
        groups = {g["InstanceGroupName"]: g for g in cluster.instance_groups}
        for spec in self._p("InstanceGroups") or []:
            name, count = spec["InstanceGroupName"], int(spec["InstanceCount"])
            held = groups.get(name)
            if held is not None and spec.get("InstanceType", held["InstanceType"]) != held["InstanceType"]:
                raise ValidationError(f"The instance type of instance group {name} cannot be changed")
            if held is None:
                cluster.valid_cluster_node_instance_types(spec["InstanceType"])
                held = {k: v for k, v in spec.items() if k not in ("InstanceCount", "MinInstanceCount")}
                held.setdefault("ThreadsPerCore", hyperpod.DEFAULT_THREADS_PER_CORE)
                cluster.instance_groups.append(held)
                groups[name] = held
            hyperpod.resize(cluster, held, count)
        for name in self._p("InstanceGroupsToDelete") or []:
            if name not in groups:
                raise ValidationError(f"Instance group {name} does not exist in cluster {cluster.cluster_name}")
            hyperpod.resize(cluster, groups[name], 0)
            cluster.instance_groups.remove(groups.pop(name))
        transitions.begin(cluster, transitions.HYPERPOD_UPDATE)
        return _checked({"ClusterArn": cluster.arn}, "UpdateCluster")

    def batch_delete_cluster_nodes(self) -> ActionResult:
        cluster = self._cluster()
        successful, failed = [], []
        for node_id in self._p("NodeIds") or []:
            node = cluster.nodes.pop(node_id, None)
            if node is None:
                failed.append({"NodeId": node_id, "Code": "NodeIdNotFound", "Message": f"Node {node_id} not found"})
                continue
            group = next(g for g in cluster.instance_groups if g["InstanceGroupName"] == node.instance_group_name)
            group["CurrentCount"] -= 1
            group["TargetCount"] -= 1
            successful.append(node_id)
        answer = {"Successful": successful, "Failed": failed}  # the model allows no empty list: none is left out
        return _checked({k: v for k, v in answer.items() if v}, "BatchDeleteClusterNodes")

    def update_notebook_instance(self) -> ActionResult:
        name = self._p("NotebookInstanceName")
        notebook = self.sagemaker_backend.notebook_instances.get(name)
        if notebook is None:
            raise ValidationError(f"RecordNotFound: Notebook Instance {name} does not exist")
        if notebook.status not in ("Stopped", "Failed"):
            raise ValidationError(f"Status ({notebook.status}) not in ([Stopped, Failed]). Unable to update.")
        instance_type = self._p("InstanceType")
        if instance_type:
            notebook.validate_instance_type(instance_type)
            notebook.instance_type = instance_type
        if self._p("VolumeSizeInGB"):
            notebook.volume_size_in_gb = int(self._p("VolumeSizeInGB"))
        notebook.last_modified_time = _moto_utcnow()
        transitions.begin(notebook, transitions.NOTEBOOK_UPDATE)
        return EmptyResult()

    def update_user_profile(self) -> ActionResult:
        domain_id, name = self._p("DomainId"), self._p("UserProfileName")
        profile = studio(self.sagemaker_backend).profiles.get((domain_id, name))
        if profile is None or profile.life.deleted_for is not None:
            raise ResourceNotFound(f"User profile {name} does not exist in domain {domain_id}")
        profile.settings |= self._p("UserSettings") or {}  # each setting given replaces the one held
        profile.life.move("Updating", "InService")
        return _checked({"UserProfileArn": profile.arn}, "UpdateUserProfile")

    def update_mlflow_tracking_server(self) -> ActionResult:
        name = self._p("TrackingServerName")
        server = studio(self.sagemaker_backend).tracking_servers.get(name)
        if server is None or server.life.deleted_for is not None:
            raise ResourceNotFound(f"Tracking server {name} does not exist")
        if server.life.status not in ("Created", "Started", "Updated"):
            raise ConflictException(f"Tracking server {name} is {server.life.status}")
        size = self._p("TrackingServerSize")
        if size is not None and size not in ("Small", "Medium", "Large"):
            raise ValidationError(f"Value '{size}' at 'trackingServerSize' failed to satisfy constraint")
        server.size = size or server.size
        server.life.move("Updating", "Updated")
        return _checked({"TrackingServerArn": server.arn}, "UpdateMlflowTrackingServer")


def install() -> None:
    """Graft the calls onto moto's SageMaker (idempotent)."""
    for name, member in vars(_BillingCalls).items():
        if callable(member) and not name.startswith("__"):
            setattr(SageMakerResponse, name, member)
