"""EMR instance fleets, which moto lacks: a cluster made with ``Instances.InstanceFleets`` (its
``InstanceCollectionType`` INSTANCE_FLEET; every other cluster says INSTANCE_GROUP), ``ListInstanceFleets``,
``AddInstanceFleet`` (a task fleet) and ``ModifyInstanceFleet`` (new target capacities, provisioned at once).
A fleet's state follows its cluster's (PROVISIONING while it starts, TERMINATED with it, and then nothing
provisioned). Requests the service refuses are refused with its codes: a cluster of both groups and fleets, a
fleet cluster without exactly one master fleet, a second task fleet, a fleet of a cluster that has none."""

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from moto.core.responses import ActionResult, EmptyResult
from moto.emr.exceptions import InvalidRequestException, ValidationException
from moto.emr.models import Cluster, ElasticMapReduceBackend
from moto.emr.responses import ElasticMapReduceResponse
from moto.moto_api._internal import mock_random

from guardian_sandbox.studio import _checked, _emr_model, _moto_utcnow, _p

_COLLECTION_TYPE = "instance_collection_type"  # moto answers DescribeCluster's InstanceCollectionType from it
_FLEET_STATE = {  # the cluster's state -> its fleets'
    "STARTING": "PROVISIONING",
    "BOOTSTRAPPING": "BOOTSTRAPPING",
    "RUNNING": "RUNNING",
    "WAITING": "RUNNING",
    "TERMINATING": "TERMINATING",
    "TERMINATED": "TERMINATED",
    "TERMINATED_WITH_ERRORS": "TERMINATED",
}


@dataclass
class Fleet:
    id: str
    name: str
    kind: str  # MASTER, CORE or TASK
    on_demand: int
    spot: int
    types: list[dict[str, Any]]
    launch: dict[str, Any] | None
    created: datetime = field(default_factory=_moto_utcnow)

    def describe(self, cluster: Cluster) -> dict[str, Any]:
        state = _FLEET_STATE.get(cluster.state or "", "RUNNING")
        running = state != "TERMINATED"
        timeline = {"CreationDateTime": self.created}
        if cluster.ready_datetime:
            timeline["ReadyDateTime"] = cluster.ready_datetime
        if not running and cluster.end_datetime:
            timeline["EndDateTime"] = cluster.end_datetime
        reason = {"Code": "CLUSTER_TERMINATED", "Message": "The cluster was terminated."} if not running else {}
        described: dict[str, Any] = {
            "Id": self.id,
            "Name": self.name,
            "Status": {"State": state, "StateChangeReason": reason, "Timeline": timeline},
            "InstanceFleetType": self.kind,
            "TargetOnDemandCapacity": self.on_demand,
            "TargetSpotCapacity": self.spot,
            "ProvisionedOnDemandCapacity": self.on_demand if running else 0,
            "ProvisionedSpotCapacity": self.spot if running else 0,
            "InstanceTypeSpecifications": [
                {"InstanceType": t["InstanceType"], "WeightedCapacity": t.get("WeightedCapacity", 1)}
                | {k: t[k] for k in ("BidPrice", "BidPriceAsPercentageOfOnDemandPrice") if k in t}
                for t in self.types
            ],
        }
        if self.launch:
            described["LaunchSpecifications"] = self.launch
        return described


def fleets(backend: ElasticMapReduceBackend) -> dict[str, list[Fleet]]:
    """Each fleet cluster's fleets, on moto's backend (its reset clears them)."""
    return backend.__dict__.setdefault("_sandbox_fleets", {})


def _fleet(config: dict[str, Any]) -> Fleet:
    if not config.get("InstanceTypeConfigs"):
        raise ValidationException("An instance fleet needs at least one instance type configuration")
    kind = config["InstanceFleetType"]
    return Fleet(
        id="if-" + mock_random.get_random_string(length=13, include_digits=True).upper(),
        name=config.get("Name") or kind.capitalize(),
        kind=kind,
        on_demand=int(config.get("TargetOnDemandCapacity") or 0),
        spot=int(config.get("TargetSpotCapacity") or 0),
        types=list(config["InstanceTypeConfigs"]),
        launch=config.get("LaunchSpecifications"),
    )


def _fleets_of(self: ElasticMapReduceResponse, cluster_id: str) -> list[Fleet]:
    cluster = self.backend.describe_cluster(cluster_id)  # InvalidRequestException for an unknown one
    held = fleets(self.backend).get(cluster_id)
    if held is None:
        raise InvalidRequestException(f"Cluster {cluster.id} uses instance groups, not instance fleets")
    return held


class _Fleets(ElasticMapReduceResponse):
    """Grafted onto moto's ElasticMapReduceResponse (see :func:`install`)."""

    _p = _p

    def list_instance_fleets(self) -> ActionResult:
        cluster_id = self._p("ClusterId")
        cluster = self.backend.describe_cluster(cluster_id)
        held = fleets(self.backend).get(cluster_id, [])
        return _checked({"InstanceFleets": [f.describe(cluster) for f in held]}, "ListInstanceFleets", _emr_model)

    def add_instance_fleet(self) -> ActionResult:
        cluster_id = self._p("ClusterId")
        held = _fleets_of(self, cluster_id)
        fleet = _fleet(self._p("InstanceFleet") or {})
        if fleet.kind != "TASK":
            raise ValidationException("Only a task instance fleet can be added to a running cluster")
        if any(f.kind == "TASK" for f in held):
            raise ValidationException("A cluster can have only one task instance fleet")
        held.append(fleet)
        cluster = self.backend.describe_cluster(cluster_id)
        answer = {"ClusterId": cluster_id, "InstanceFleetId": fleet.id, "ClusterArn": cluster.arn}
        return _checked(answer, "AddInstanceFleet", _emr_model)

    def modify_instance_fleet(self) -> ActionResult:
        change = self._p("InstanceFleet") or {}
        fleet = next((f for f in _fleets_of(self, self._p("ClusterId")) if f.id == change.get("InstanceFleetId")), None)
        if fleet is None:
            raise InvalidRequestException(f"Instance fleet {change.get('InstanceFleetId')} does not exist")
        if change.get("TargetOnDemandCapacity") is not None:
            fleet.on_demand = int(change["TargetOnDemandCapacity"])
        if change.get("TargetSpotCapacity") is not None:
            fleet.spot = int(change["TargetSpotCapacity"])
        if change.get("InstanceTypeConfigs"):
            fleet.types = list(change["InstanceTypeConfigs"])
        return EmptyResult()


def _run_job_flow(original: Any) -> Any:
    def run_job_flow(self: ElasticMapReduceResponse) -> Any:
        instances = _p(self, "Instances") or {}
        configs = instances.get("InstanceFleets")
        if configs:
            if instances.get("InstanceGroups") or instances.get("MasterInstanceType"):
                raise ValidationException("A cluster has instance groups or instance fleets, not both")
            if [c["InstanceFleetType"] for c in configs].count("MASTER") != 1:
                raise ValidationException("An instance fleet cluster needs exactly one master instance fleet")
            made = [_fleet(c) for c in configs]  # all checked before the cluster is made
        result = original(self)
        if configs:
            cluster_id = result.result["JobFlowId"]
            fleets(self.backend)[cluster_id] = made
            setattr(self.backend.clusters[cluster_id], _COLLECTION_TYPE, "INSTANCE_FLEET")
        return result

    return run_job_flow


def _collection_type(original: Any) -> Any:
    def __init__(self: Cluster, *args: Any, **kwargs: Any) -> None:
        original(self, *args, **kwargs)
        setattr(self, _COLLECTION_TYPE, "INSTANCE_GROUP")

    return __init__


_installed = False


def install() -> None:
    """Graft the fleets onto moto's EMR (idempotent)."""
    global _installed
    if _installed:
        return
    Cluster.__init__ = _collection_type(Cluster.__init__)  # type: ignore[method-assign]
    for name in ("list_instance_fleets", "add_instance_fleet", "modify_instance_fleet"):
        setattr(ElasticMapReduceResponse, name, getattr(_Fleets, name))
    ElasticMapReduceResponse.run_job_flow = _run_job_flow(  # type: ignore[method-assign]
        ElasticMapReduceResponse.run_job_flow
    )
    _installed = True
