"""Sweeps that finish at any size (guardian.resume): a sweep whose invocation runs out of time stops between
pages, and the next invocation continues from the table's checkpoint; split over however many invocations,
the pass reaches the inventory and findings one uninterrupted sweep reaches, describing nothing twice; and a
pass that does not finish says so, and says it louder once it is overdue."""

import contextlib
from collections import Counter
from collections.abc import Iterator
from datetime import timedelta
from typing import Any
from unittest import mock

import boto3
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from guardian import clock
from guardian.collectors import COLLECTORS
from guardian.dynamo_inventory import DynamoInventory
from guardian.findings import Finding
from guardian.kinds import Kind
from guardian.resume import Checkpoint
from guardian.table import sweep_checkpoint_key
from guardian_sandbox import embedded
from guardian_sandbox.calls import recording
from guardian_sandbox.modelled_time import invocation
from guardian_sandbox.stack import SANDBOX_ACCOUNT, SandboxStack
from tests.conftest import sample

ROLE = "arn:aws:iam::123456789012:role/service-role/AmazonSageMaker-ExecutionRole-Default"
SMALL_PAGE = 3  # so that a small world still has kinds of several pages
MOST_INVOCATIONS = 60


def build(profiles: int, spaces: int, endpoints: int, clusters: int) -> None:
    sm, emr = boto3.client("sagemaker", region_name="us-east-1"), boto3.client("emr", region_name="us-east-1")
    domain = sm.create_domain(
        DomainName="lab", AuthMode="IAM", SubnetIds=["s"], VpcId="v", DefaultUserSettings={"ExecutionRole": ROLE}
    )["DomainArn"].rsplit("/", 1)[-1]
    owners = [
        sm.create_user_profile(DomainId=domain, UserProfileName=f"user-{i}")["UserProfileArn"] for i in range(profiles)
    ]
    for i in range(spaces):
        sm.create_space(
            DomainId=domain,
            SpaceName=f"space-{i}",
            OwnershipSettings={"OwnerUserProfileName": f"user-{i % profiles}"},
            SpaceSharingSettings={"SharingType": "Private"},
            SpaceSettings={"AppType": "JupyterLab"},
        )
        sm.create_app(DomainId=domain, SpaceName=f"space-{i}", AppType="JupyterLab", AppName="default")
    sm.create_model(ModelName="m", ExecutionRoleArn=ROLE, PrimaryContainer={"Image": "i"})
    for config in ("a", "b"):
        sm.create_endpoint_config(
            EndpointConfigName=config,
            ProductionVariants=[
                {
                    "VariantName": "AllTraffic",
                    "ModelName": "m",
                    "InstanceType": "ml.m5.large",
                    "InitialInstanceCount": 1,
                }
            ],
        )
    for i in range(endpoints):
        # Every other one made in Studio (auto-tagged); the rest nobody can attribute: findings either way.
        tags = [{"Key": "sagemaker:user-profile-arn", "Value": owners[i % profiles]}] if i % 2 else []
        sm.create_endpoint(EndpointName=f"ep-{i}", EndpointConfigName="ab"[i % 2], Tags=tags)
    for i in range(clusters):
        emr.run_job_flow(
            Name=f"emr-{i}",
            ReleaseLabel="emr-7.2.0",
            JobFlowRole="r",
            ServiceRole="s",
            Instances={"MasterInstanceType": "m5.xlarge", "InstanceCount": 1, "KeepJobFlowAliveWhenNoSteps": True},
        )


@contextlib.contextmanager
def small_pages() -> Iterator[None]:
    with contextlib.ExitStack() as stack:
        for collector in COLLECTORS:
            if collector.page_size is not None:
                stack.enter_context(mock.patch.object(type(collector), "page_size", SMALL_PAGE))
        yield


def sweep_pass(stack: SandboxStack, seconds: float) -> list[dict[str, Any]]:
    """Invocations of the sweep, each with ``seconds`` of Lambda time (modelled), until a pass finishes."""
    reports = []
    with recording() as calls:
        while len(reports) < MOST_INVOCATIONS:
            context = invocation(calls, "SweepFunction", limit=seconds)
            reports.append(stack.invoke("SweepFunction", sample("scheduled.json", "sweep"), context=context))
            if reports[-1]["finished"]:
                return reports
    raise AssertionError(f"no pass finished in {MOST_INVOCATIONS} invocations of {seconds} s")


def outcome(stack: SandboxStack) -> tuple[set[tuple[str, str, str | None, str | None]], list[tuple[str, str, str]]]:
    """The inventory (kind, name, state, owner) and the findings (rule, kind, name), each named as the world
    names it (EMR cluster ids differ from one sandbox to the next)."""
    inventory = DynamoInventory(stack.clients("dynamodb"), stack.table_name)
    resources = {(r.kind.value, r.name, r.state, r.owner) for kind in Kind for r in inventory.by_kind(kind)}
    findings = []
    for page in stack.clients("dynamodb").get_paginator("scan").paginate(TableName=stack.table_name):
        for item in page["Items"]:
            if item["PK"]["S"].startswith("FINDING#") and item["SK"]["S"] == "#STATE":
                finding = Finding.model_validate_json(item["doc"]["S"])
                findings.append((finding.rule, finding.resource_kind, finding.resource_name))
    return resources, sorted(findings)


def described(reports: list[dict[str, Any]]) -> int:
    return sum(kind["described"] for report in reports for kind in report["kinds"].values())


def world_swept(size: tuple[int, int, int, int], seconds: float) -> tuple[Any, list[dict[str, Any]]]:
    with embedded("us-east-1") as clients, small_pages():
        build(*size)
        stack = SandboxStack(clients).deploy()
        reports = sweep_pass(stack, seconds)
        return outcome(stack), reports


@settings(max_examples=6, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    size=st.tuples(st.integers(1, 5), st.integers(0, 8), st.integers(0, 10), st.integers(0, 2)),
    seconds=st.floats(0.5, 4.0),
)
def test_a_pass_split_over_invocations_reaches_what_one_sweep_does(size, seconds):
    (whole, whole_findings), [one] = world_swept(size, seconds=900.0)
    (split, split_findings), reports = world_swept(size, seconds=seconds)
    assert split == whole
    assert split_findings == whole_findings
    assert not [f for f, n in Counter(split_findings).items() if n > 1], "a finding recorded twice"
    # Nothing listed twice into a second describe: each resource described once across the invocations.
    assert described(reports) == described([one])
    assert all(not r["finished"] for r in reports[:-1]) and reports[-1]["pass"]["invocations"] == len(reports)


def test_a_large_first_pass_takes_several_invocations_and_each_one_progresses():
    (split, findings), reports = world_swept((4, 8, 10, 1), seconds=1.0)
    assert len(reports) >= 3
    assert all(r["pass"]["invocation"] == i for i, r in enumerate(reports, start=1))
    assert {kind for kind, _, _, _ in split} >= {"user-profile", "space", "app", "endpoint", "emr-cluster"}
    assert findings


def test_a_sweep_that_cannot_finish_says_so_and_louder_once_overdue(captured):
    with embedded("us-east-1") as clients, small_pages():
        build(3, 6, 6, 0)
        stack = SandboxStack(clients).deploy()
        with recording() as calls:
            event = sample("scheduled.json", "sweep")
            first = stack.invoke("SweepFunction", event, context=invocation(calls, "SweepFunction", limit=0.5))
            said = captured.readouterr().out
            assert first["finished"] is False and first["pass"]["resume_at"]["kind"]
            assert "did not finish in this invocation" in said and '"SweepUnfinished"' in said
            assert "SweepPassOverdue" not in said
            # Hours later (SWEEP_OVERDUE_HOURS, 6 by default), still not through: the alarm's metric and an error.
            clock.set_offset(timedelta(hours=7))
            second = stack.invoke("SweepFunction", event, context=invocation(calls, "SweepFunction", limit=0.5))
            said = captured.readouterr().out
            assert second["finished"] is False and second["pass"]["overdue_hours"] >= 7
            assert '"SweepPassOverdue"' in said and "no full sweep for too long" in said
            last = stack.invoke("SweepFunction", event, context=invocation(calls, "SweepFunction"))
            assert last["finished"] is True and last["pass"]["invocations"] == 3
            assert "SweepPassOverdue" not in captured.readouterr().out


def test_a_page_token_the_service_no_longer_takes_restarts_its_kind_from_its_first_page():
    with embedded("us-east-1") as clients, small_pages():
        build(2, 7, 0, 0)
        stack = SandboxStack(clients).deploy()
        table = stack.clients("dynamodb")
        started = clock.now().isoformat()
        # A pass stopped in the spaces, its token since expired (tokens of real services do, within a day).
        checkpoint = Checkpoint.model_validate(
            {"pass_started_at": started, "invocations": 1, "kinds_done": ["domain", "user-profile"]}
            | {"kind": "space", "token": "expired", "split": ["space"]}
        )
        table.put_item(
            TableName=stack.table_name,
            Item=sweep_checkpoint_key(SANDBOX_ACCOUNT, "us-east-1")
            | {"type": {"S": "checkpoint"}, "doc": {"S": checkpoint.model_dump_json()}},
        )
        reports = sweep_pass(stack, seconds=900.0)
        (resources, _) = outcome(stack)
    assert reports[-1]["finished"] and not reports[-1]["kinds"]["space"]["errors"]
    assert sorted(name for kind, name, _, _ in resources if kind == "space") == [f"space-{i}" for i in range(7)]
