"""The accounts the bench and the bill are measured on: a Studio domain of a given size, seeded through the
sandbox's API (profiles, private spaces with a share of them running an app, endpoints half made in Studio on
4 configurations, EMR clusters)."""

from dataclasses import dataclass
from typing import Any

from guardian.aws import AwsClients

ROLE = "arn:aws:iam::123456789012:role/service-role/AmazonSageMaker-ExecutionRole-Default"
CONFIG_TYPES = ("ml.m5.large", "ml.m5.xlarge", "ml.g5.xlarge", "ml.c5.xlarge")  # 4 endpoint configurations
# The 100-user domain: per user, 3 spaces (each with an app), and per 100 users 50 endpoints, 20 EMR.
PER_100_USERS = {"profiles": 100, "spaces": 300, "endpoints": 50}


@dataclass
class Scale:
    endpoints: int = 50
    spaces: int = 300
    profiles: int = 100
    emr_clusters: int = 20
    running_share: float = 1.0  # the spaces with an app running (the bench: all; the bill: a third)

    @property
    def apps(self) -> int:
        return round(self.spaces * self.running_share)

    @property
    def resources(self) -> int:
        # domain + profiles + spaces + their running apps + endpoints + clusters
        return 1 + self.profiles + self.spaces + self.apps + self.endpoints + self.emr_clusters

    @classmethod
    def shaped(cls, resources: int) -> "Scale":
        """A world of ``resources`` shaped like the 100-user domain (what rounding leaves goes to EMR)."""
        factor = (resources - 1) / Scale().resources
        profiles, spaces, endpoints = (max(1, round(PER_100_USERS[k] * factor)) for k in PER_100_USERS)
        return cls(endpoints, spaces, profiles, max(0, resources - 1 - profiles - 2 * spaces - endpoints))

    def describe(self) -> str:
        share = {
            "profiles": self.profiles,
            "spaces": self.spaces,
            "apps": self.apps,
            "endpoints": self.endpoints,
            "EMR": self.emr_clusters,
        }
        return ", ".join(f"{n:,} {k} ({100 * n / self.resources:.1f}%)" for k, n in share.items()) + ", 1 domain"


def run_cluster(emr: Any, name: str, **request: Any) -> dict[str, Any]:
    """RunJobFlow for a small long-running EMR cluster (a primary and two core nodes, kept alive without steps)."""
    instances = {
        "MasterInstanceType": "m5.xlarge",
        "SlaveInstanceType": "m5.2xlarge",
        "InstanceCount": 3,
        "KeepJobFlowAliveWhenNoSteps": True,
    }
    answer: dict[str, Any] = emr.run_job_flow(
        Name=name, ReleaseLabel="emr-7.2.0", JobFlowRole="r", ServiceRole="s", Instances=instances, **request
    )
    return answer


def seed(clients: AwsClients, scale: Scale, role: str = ROLE) -> None:
    """``role``: the domain's execution role (the sandbox account's by default; another account's world, its own)."""
    sm, emr = clients("sagemaker"), clients("emr")
    domain = sm.create_domain(
        DomainName="bench", AuthMode="IAM", SubnetIds=["s"], VpcId="v", DefaultUserSettings={"ExecutionRole": role}
    )["DomainArn"].rsplit("/", 1)[-1]
    profiles = [
        sm.create_user_profile(DomainId=domain, UserProfileName=f"user-{i:05d}")["UserProfileArn"]
        for i in range(scale.profiles)
    ]
    spaces = []
    for i in range(scale.spaces):
        owner = f"user-{i % scale.profiles:05d}"
        spaces.append(
            sm.create_space(
                DomainId=domain,
                SpaceName=f"space-{i:05d}",
                OwnershipSettings={"OwnerUserProfileName": owner},
                SpaceSharingSettings={"SharingType": "Private"},
                SpaceSettings={
                    "AppType": "JupyterLab",
                    "JupyterLabAppSettings": {"DefaultResourceSpec": {"InstanceType": "ml.t3.medium"}},
                },
            )["SpaceArn"]
        )
        if i < scale.apps:
            sm.create_app(DomainId=domain, SpaceName=f"space-{i:05d}", AppType="JupyterLab", AppName="default")
    sm.create_model(ModelName="bench", ExecutionRoleArn=role, PrimaryContainer={"Image": "bench"})
    for instance_type in CONFIG_TYPES:
        sm.create_endpoint_config(
            EndpointConfigName=f"cfg-{instance_type}",
            ProductionVariants=[
                {
                    "VariantName": "AllTraffic",
                    "ModelName": "bench",
                    "InstanceType": instance_type,
                    "InitialInstanceCount": 1,
                }
            ],
        )
    for i in range(scale.endpoints):
        tags = []
        if i % 2 == 0:  # half made in Studio (auto-tagged), half from elsewhere
            tags = [
                {"Key": "sagemaker:user-profile-arn", "Value": profiles[i % len(profiles)]},
                {"Key": "sagemaker:space-arn", "Value": spaces[i % len(spaces)] if spaces else profiles[0]},
            ]
        config = f"cfg-{CONFIG_TYPES[i % len(CONFIG_TYPES)]}"
        sm.create_endpoint(EndpointName=f"endpoint-{i:05d}", EndpointConfigName=config, Tags=tags)
    for i in range(scale.emr_clusters):
        run_cluster(emr, f"emr-{i:04d}")
