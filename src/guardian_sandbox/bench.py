"""`make bench`: the sweep at scale, on the embedded sandbox.

Seeds an account (by default 10,000 endpoints, 2,000 spaces with an app each across 500 user
profiles, 500 EMR clusters), runs a first sweep and then a second with nothing changed, and prints for
each: wall time, peak memory, AWS calls per operation and per 1,000 resources, the inventory table's
reads and writes, and what the rolling re-describe of what no list shows costs (guardian.reconcile).
Wall times include the in-process emulator (moto answers every call and plays DynamoDB), so they bound,
not measure, what AWS would take; the call counts are exact.
"""

import argparse
import contextlib
import gc
import io
import os
import resource
import time
from collections import Counter
from dataclasses import dataclass

from guardian.observability import logger
from guardian.reconcile import REDESCRIBE_SWEEPS
from guardian_sandbox import embedded
from guardian_sandbox.calls import recording
from guardian_sandbox.eventfactory import sample
from guardian_sandbox.stack import SandboxStack

ROLE = "arn:aws:iam::123456789012:role/service-role/AmazonSageMaker-ExecutionRole-Default"
# The calls a describe makes (the list calls and GetMetricData are the rest of a sweep).
DESCRIBE_CALLS = ("Describe", "GetAutoTerminationPolicy", "ListInstanceGroups", "ListInstanceFleets")


@dataclass
class Scale:
    endpoints: int = 10_000
    spaces: int = 2_000
    profiles: int = 500
    emr_clusters: int = 500

    @property
    def resources(self) -> int:
        # domain + profiles + spaces + one app per space + endpoints + clusters
        return 1 + self.profiles + 2 * self.spaces + self.endpoints + self.emr_clusters


def seed(clients, scale: Scale) -> None:
    sm, emr = clients("sagemaker"), clients("emr")
    domain = sm.create_domain(
        DomainName="bench", AuthMode="IAM", SubnetIds=["s"], VpcId="v", DefaultUserSettings={"ExecutionRole": ROLE}
    )["DomainArn"].rsplit("/", 1)[-1]
    profiles = [
        sm.create_user_profile(DomainId=domain, UserProfileName=f"user-{i:04d}")["UserProfileArn"]
        for i in range(scale.profiles)
    ]
    spaces = []
    for i in range(scale.spaces):
        owner = f"user-{i % scale.profiles:04d}"
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
        sm.create_app(DomainId=domain, SpaceName=f"space-{i:05d}", AppType="JupyterLab", AppName="default")
    sm.create_model(ModelName="bench", ExecutionRoleArn=ROLE, PrimaryContainer={"Image": "bench"})
    types = ["ml.m5.large", "ml.m5.xlarge", "ml.g5.xlarge", "ml.c5.xlarge"]
    for instance_type in types:
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
                {"Key": "sagemaker:space-arn", "Value": spaces[i % len(spaces)]},
            ]
        sm.create_endpoint(
            EndpointName=f"endpoint-{i:05d}", EndpointConfigName=f"cfg-{types[i % len(types)]}", Tags=tags
        )
    for i in range(scale.emr_clusters):
        emr.run_job_flow(
            Name=f"emr-{i:04d}",
            ReleaseLabel="emr-7.2.0",
            JobFlowRole="r",
            ServiceRole="s",
            Instances={
                "MasterInstanceType": "m5.xlarge",
                "SlaveInstanceType": "m5.2xlarge",
                "InstanceCount": 3,
                "KeepJobFlowAliveWhenNoSteps": True,
            },
        )


def measure(stack: SandboxStack, label: str, scale: Scale) -> Counter:
    gc.collect()
    started = time.perf_counter()
    # Powertools prints a metric that reaches 100 values even when metrics are off: not the bench's output.
    with recording() as calls, contextlib.redirect_stdout(io.StringIO()):
        report = stack.invoke("SweepFunction", sample("scheduled.json", "sweep"))
    elapsed = time.perf_counter() - started
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024  # kilobytes on Linux
    aws = Counter({k: v for k, v in calls.counts.items() if not k.startswith("dynamodb:")})
    table = Counter({k: v for k, v in calls.counts.items() if k.startswith("dynamodb:")})
    described = sum(k["described"] for k in report["kinds"].values())
    print(f"\n{label}: {elapsed:.1f} s wall, peak memory {peak / 1e6:.0f} MB (the process's, emulator included)")
    print(
        f"  resources listed {sum(k['listed'] for k in report['kinds'].values())}, described {described}, "
        f"recorded {sum(k['recorded'] for k in report['kinds'].values())}"
    )
    print(f"  AWS calls: {sum(aws.values())} = {1000 * sum(aws.values()) / scale.resources:.1f} per 1,000 resources")
    rolling = {kind: k["redescribed"] for kind, k in sorted(report["kinds"].items()) if k["redescribed"]}
    if rolling:
        # Nothing else changed, so every describe call of this sweep is the rolling re-describe's.
        describes = sum(n for op, n in aws.items() if op.split(":")[1].startswith(DESCRIBE_CALLS))
        print(
            f"  rolling re-describe (what no list shows): {sum(rolling.values())} resources "
            f"({', '.join(f'{kind} {n}' for kind, n in rolling.items())}), {describes} calls = "
            f"{1000 * describes / scale.resources:.1f} per 1,000 resources; any drift repaired within "
            f"{REDESCRIBE_SWEEPS} sweeps"
        )
    for operation, count in sorted(aws.items(), key=lambda kv: -kv[1]):
        print(f"    {operation:<45} {count:>7}")
    print(
        f"  inventory table: {sum(table.values())} calls "
        + ", ".join(f"{op.split(':')[1]} {n}" for op, n in sorted(table.items()))
    )
    return aws


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--endpoints", type=int, default=Scale.endpoints)
    parser.add_argument("--spaces", type=int, default=Scale.spaces)
    parser.add_argument("--profiles", type=int, default=Scale.profiles)
    parser.add_argument("--emr-clusters", type=int, default=Scale.emr_clusters)
    args = parser.parse_args()
    scale = Scale(args.endpoints, args.spaces, args.profiles, args.emr_clusters)
    os.environ.setdefault("POWERTOOLS_METRICS_DISABLED", "true")
    logger.setLevel(os.environ.get("GUARDIAN_LOG_LEVEL", "ERROR"))  # figures, not a log line per resource
    with embedded() as clients:
        from guardian_sandbox import studio

        studio.settings.transition_seconds = 0
        started = time.perf_counter()
        seed(clients, scale)
        print(
            f"Seeded {scale.resources:,} resources ({scale.endpoints:,} endpoints, {scale.spaces:,} spaces and apps, "
            f"{scale.profiles} profiles, {scale.emr_clusters} EMR clusters) in {time.perf_counter() - started:.0f} s"
        )
        stack = SandboxStack(clients).deploy()
        measure(stack, "First sweep (everything new)", scale)
        measure(stack, "Second sweep (nothing changed)", scale)


if __name__ == "__main__":
    main()
