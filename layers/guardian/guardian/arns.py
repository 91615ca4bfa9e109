"""Amazon Resource Names: build them from the names events carry, and key the inventory on one spelling.

SageMaker lowercases resource names inside the ARNs it returns (endpoint ``MyEndpoint`` has ARN
``.../endpoint/myendpoint``; app types appear as ``jupyterlab``), while CloudTrail requests carry
names as typed. The inventory is keyed on :func:`canonical`, so every path agrees on one key.
"""

from dataclasses import dataclass

from guardian.kinds import Kind

_SAGEMAKER_TYPES = {
    "domain": Kind.DOMAIN,
    "user-profile": Kind.USER_PROFILE,
    "space": Kind.SPACE,
    "app": Kind.APP,
    "endpoint": Kind.ENDPOINT,
    "cluster": Kind.HYPERPOD_CLUSTER,
    "mlflow-tracking-server": Kind.MLFLOW_TRACKING_SERVER,
    "notebook-instance": Kind.NOTEBOOK_INSTANCE,
}


@dataclass(frozen=True)
class Location:
    """Where resources live: partition, region and account, as an event or a client knows them."""

    region: str
    account: str
    partition: str = "aws"

    def sagemaker(self, resource: str) -> str:
        return canonical(f"arn:{self.partition}:sagemaker:{self.region}:{self.account}:{resource}")

    def domain(self, domain_id: str) -> str:
        return self.sagemaker(f"domain/{domain_id}")

    def user_profile(self, domain_id: str, name: str) -> str:
        return self.sagemaker(f"user-profile/{domain_id}/{name}")

    def space(self, domain_id: str, name: str) -> str:
        return self.sagemaker(f"space/{domain_id}/{name}")

    def app(self, domain_id: str, owner_or_space: str, app_type: str, app_name: str) -> str:
        return self.sagemaker(f"app/{domain_id}/{owner_or_space}/{app_type}/{app_name}")

    def endpoint(self, name: str) -> str:
        return self.sagemaker(f"endpoint/{name}")

    def notebook_instance(self, name: str) -> str:
        return self.sagemaker(f"notebook-instance/{name}")

    def mlflow_tracking_server(self, name: str) -> str:
        return self.sagemaker(f"mlflow-tracking-server/{name}")

    def emr_cluster(self, cluster_id: str) -> str:
        return f"arn:{self.partition}:elasticmapreduce:{self.region}:{self.account}:cluster/{cluster_id}"


def canonical(arn: str) -> str:
    """The inventory key of an ARN: SageMaker resource parts lowercased, everything else as given."""
    parts = arn.split(":", 5)
    if len(parts) == 6 and parts[2] == "sagemaker":
        parts[5] = parts[5].lower()
        return ":".join(parts)
    return arn


def location_of(arn: str) -> Location:
    _, partition, _, region, account, _ = arn.split(":", 5)
    return Location(region=region, account=account, partition=partition)


def kind_of(arn: str) -> Kind | None:
    """The kind of resource an ARN names, or None for a resource the guardian does not track."""
    parts = arn.split(":", 5)
    if len(parts) != 6:
        return None
    service, resource = parts[2], parts[5]
    resource_type = resource.split("/", 1)[0]
    if service == "sagemaker":
        return _SAGEMAKER_TYPES.get(resource_type)
    if service == "elasticmapreduce" and resource_type == "cluster":
        return Kind.EMR_CLUSTER
    return None


def resource_path(arn: str) -> list[str]:
    """The parts after the resource type: ``space/d-1/lab`` gives ``["d-1", "lab"]``."""
    return arn.split(":", 5)[5].split("/")[1:]
