"""Nothing lost, nothing twice: whatever AWS does to a sweep (throttles a list, fails a describe, times out
a write that committed), the sweep goes on, and once the faults stop, one more sweep leaves the findings
the fault-free run leaves (same ids, statuses and audit trails: nothing opened twice, nothing resolved by
mistake) and every orphan check still happens when its grace ends.

Also the failures one at a time: a tag whose parsing raises, CloudWatch refusing GetMetricData, a new
finding whose committed write timed out and whose retry then conflicts with itself."""

import json
import random
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from botocore.exceptions import ReadTimeoutError
from hypothesis import HealthCheck, event, example, given, settings
from hypothesis import strategies as st
from moto.moto_api._internal import mock_random

from guardian import aws
from guardian.arns import Location, canonical, well_formed
from guardian.findings import Status, finding_id
from guardian.findings_store import DynamoFindings
from guardian.kinds import Kind
from guardian.runtime import forget_cached
from guardian_sandbox import clock, embedded
from guardian_sandbox.eventfactory import Caller, EventFactory
from guardian_sandbox.stack import SANDBOX_ACCOUNT, SandboxStack
from guardian_sandbox.worlds import run_cluster
from tests.conftest import sample
from tests.integration.sweep_fault_injection import COMMIT_THEN_TIMEOUT, TIMEOUT, Fault, error_kinds, injected

ROLE = "arn:aws:iam::123456789012:role/service-role/AmazonSageMaker-ExecutionRole-"
LOCATION = Location("us-east-1", SANDBOX_ACCOUNT)
SCHEDULED = sample("scheduled.json", "sweep")
GRACE = timedelta(minutes=30)  # the template's OrphanGraceMinutes

# What a sweep calls, and so what may fail it: every list and describe, bulk tags, metrics, the table, and
# what it writes elsewhere (ownership tags, the orphan checks' schedules).
READS = [
    "sagemaker.ListDomains",
    "sagemaker.DescribeDomain",
    "sagemaker.ListUserProfiles",
    "sagemaker.DescribeUserProfile",
    "sagemaker.ListSpaces",
    "sagemaker.DescribeSpace",
    "sagemaker.ListApps",
    "sagemaker.ListEndpoints",
    "sagemaker.DescribeEndpoint",
    "sagemaker.DescribeEndpointConfig",
    "sagemaker.ListClusters",
    "sagemaker.ListNotebookInstances",
    "sagemaker.ListMlflowTrackingServers",
    "emr.ListClusters",
    "emr.DescribeCluster",
    "emr.ListInstanceGroups",
    "emr.GetAutoTerminationPolicy",
    "resource-groups-tagging-api.GetResources",
    "cloudwatch.GetMetricData",
    "dynamodb.Query",
    "dynamodb.GetItem",
]
WRITES = [
    "dynamodb.PutItem",
    "dynamodb.TransactWriteItems",
    "scheduler.CreateSchedule",
    "sagemaker.AddTags",
    "emr.AddTags",
]
KINDS = {operation: error_kinds(operation, writes=False) for operation in READS} | {
    operation: error_kinds(operation, writes=True) for operation in WRITES
}
# How many calls of each a sweep of this world makes at most (the first; later ones only list and read):
# a fault's call number is drawn below that, so that it hits.
CALLS = {
    "dynamodb.GetItem": 34,
    "dynamodb.Query": 60,
    "dynamodb.PutItem": 24,
    "dynamodb.TransactWriteItems": 9,
    "sagemaker.AddTags": 6,
    "sagemaker.DescribeEndpoint": 4,
    "sagemaker.DescribeEndpointConfig": 4,
    "sagemaker.DescribeSpace": 3,
    "scheduler.CreateSchedule": 4,
}


def one_fault(operation: str) -> st.SearchStrategy[Fault]:
    calls = st.integers(0, CALLS.get(operation, 2))
    kinds = st.sampled_from(KINDS[operation])
    if operation in WRITES:  # the fault that loses nothing but the answer: as often as all the others
        kinds = st.one_of(st.just(COMMIT_THEN_TIMEOUT), kinds)
    return st.builds(Fault, st.just(operation), calls, kinds)


fault_plans = st.lists(
    st.sampled_from(sorted(KINDS)).flatmap(one_fault),
    min_size=1,
    max_size=12,
    unique_by=lambda f: (f.operation, f.call),
)


def build_world(stack: SandboxStack, now: datetime) -> None:
    """alice's private space stopped three hours ago (its DeleteApp event delivered), leaving the endpoint
    fraud billing; bob's space runs with its endpoint ranker; bob's other space stopped five minutes ago (no
    event: the sweep finds it) leaving the endpoint scratch, whose orphan check is due in 25 minutes; an EMR
    cluster nobody owns; and an endpoint whose user-set ownership tags name no ARN."""
    random.seed(7)  # the sandbox's ids (EMR's j-..., request ids) come out the same in every world
    mock_random.seed(7)
    clients, sm = stack.clients, stack.clients("sagemaker")
    with clock.at(clients, now - timedelta(days=3)):
        domain = sm.create_domain(
            DomainName="lab", AuthMode="IAM", SubnetIds=["s"], VpcId="v", DefaultUserSettings={"ExecutionRole": ROLE}
        )["DomainArn"].rsplit("/", 1)[-1]
        profiles = {
            name: sm.create_user_profile(
                DomainId=domain, UserProfileName=name, UserSettings={"ExecutionRole": ROLE + name}
            )["UserProfileArn"]
            for name in ("alice", "bob")
        }
        spaces = {
            space: sm.create_space(
                DomainId=domain,
                SpaceName=space,
                SpaceSharingSettings={"SharingType": "Private"},
                OwnershipSettings={"OwnerUserProfileName": owner},
            )["SpaceArn"]
            for space, owner in (("alice-lab", "alice"), ("bob-lab", "bob"), ("bob-scratch", "bob"))
        }
    with clock.at(clients, now - timedelta(days=2)):
        for space in spaces:
            sm.create_app(DomainId=domain, SpaceName=space, AppType="JupyterLab", AppName="default")
        sm.create_model(ModelName="m", ExecutionRoleArn=ROLE + "alice", PrimaryContainer={"Image": "i"})
        variant = {"VariantName": "AllTraffic", "ModelName": "m", "InstanceType": "ml.m5.xlarge"}
        sm.create_endpoint_config(EndpointConfigName="c", ProductionVariants=[variant | {"InitialInstanceCount": 1}])
        for endpoint, owner, space in (
            ("fraud", "alice", "alice-lab"),
            ("ranker", "bob", "bob-lab"),
            ("scratch", "bob", "bob-scratch"),
        ):
            tags = [
                {"Key": "sagemaker:user-profile-arn", "Value": profiles[owner]},
                {"Key": "sagemaker:space-arn", "Value": spaces[space]},
            ]
            sm.create_endpoint(EndpointName=endpoint, EndpointConfigName="c", Tags=tags)
        poisoned = [
            {"Key": "studio-cost-guardian:owner", "Value": "mallory"},
            {"Key": "studio-cost-guardian:space-arn", "Value": "x"},
        ]
        sm.create_endpoint(EndpointName="poisoned", EndpointConfigName="c", Tags=poisoned)
        run_cluster(clients("emr"), "etl")
    stopped = (now - timedelta(hours=3)).replace(microsecond=0)
    with clock.at(clients, stopped):
        sm.delete_app(DomainId=domain, SpaceName="alice-lab", AppType="JupyterLab", AppName="default")
    app = {"domainId": domain, "spaceName": "alice-lab", "appType": "JupyterLab", "appName": "default"}
    caller = Caller(role="AmazonSageMaker-ExecutionRole-alice", source_identity="alice")
    assert not any(d.error for d in stack.deliver(EventFactory(LOCATION).api_call("DeleteApp", stopped, caller, app)))
    with clock.at(clients, now - timedelta(minutes=5)):
        sm.delete_app(DomainId=domain, SpaceName="bob-scratch", AppType="JupyterLab", AppName="default")


@contextmanager
def world() -> Iterator[SandboxStack]:
    with embedded("us-east-1") as clients:
        stack = SandboxStack(clients).deploy()
        build_world(stack, datetime.now(UTC))
        yield stack


def findings(stack: SandboxStack) -> dict[tuple[str, str, str], dict[str, Any]]:
    """Every finding by (rule, kind, resource name): its id, status and audit trail."""
    store = DynamoFindings(stack.clients("dynamodb"), stack.table_name)
    found = {}
    for status in Status:
        for f in store.with_status(status):
            assert f.id == finding_id(f.rule, canonical(f.resource_arn)), f"{f.id} is not the id of {f.rule} on it"
            key = (f.rule, f.resource_kind, f.resource_name)
            assert key not in found, f"two findings of {key}"
            found[key] = {"id": f.id, "status": f.status.value, "audit": [a.action for a in store.audit(f.id)]}
    return found


def run(faults: list[Fault], faulty_sweeps: int) -> dict[str, Any]:
    """The story: sweeps while the faults last, one sweep after, then the orphan checks' moment."""
    with world() as stack:
        with injected(faults) as injector:
            for _ in range(faulty_sweeps):
                stack.invoke("SweepFunction", SCHEDULED)  # never raises: a fault is one resource's
        final = datetime.now(UTC)
        stack.invoke("SweepFunction", SCHEDULED)
        after_sweep = findings(stack)
        fired = stack.fire_due_schedules(final + GRACE + timedelta(minutes=1))
        return {
            "after_sweep": after_sweep,
            "after_sweep_statuses": {key: f["status"] for key, f in after_sweep.items()},
            "after_checks": findings(stack),
            "fired": sorted(json.dumps(payload["evaluate"].get("space_arn")) for payload, _ in fired),
            "injected": injector.injected,
            "calls": sum(injector.calls[op] for op in KINDS),
        }


_reference: dict[str, Any] = {}


@pytest.fixture(scope="module")
def fault_free() -> dict[str, Any]:
    """The fault-free run, made before a test's own sandbox (``stack``) exists: the two would share moto's
    state, and the reference's sandbox, ending, would reset the test's."""
    return reference()


def reference() -> dict[str, Any]:
    """The fault-free run (once per process: it does not depend on the example)."""
    if not _reference:
        _reference.update(run([], faulty_sweeps=1))
    return _reference


def test_the_fault_free_run_finds_what_the_story_says():
    found = reference()["after_sweep"]
    assert {key: f["status"] for key, f in found.items()} == {
        ("orphaned-resource", "endpoint", "fraud"): "open",
        ("idle-endpoint", "endpoint", "fraud"): "open",
        ("idle-endpoint", "endpoint", "ranker"): "open",
        ("idle-endpoint", "endpoint", "scratch"): "open",
        ("idle-endpoint", "endpoint", "poisoned"): "open",
        ("long-running-app", "app", "default"): "open",  # bob-lab's, two days up
        ("unattributed-resource", "emr-cluster", "etl"): "open",
        ("emr-no-auto-termination", "emr-cluster", "etl"): "open",  # a risk: no waste while it works
    }
    assert all(f["audit"] == ["opened"] for f in found.values())
    # bob-scratch's orphan check, ensured by the sweep that found the space stopped, opens scratch's finding
    # when the grace ends, without waiting for the next sweep.
    later = reference()["after_checks"]
    assert set(later) - set(found) == {("orphaned-resource", "endpoint", "scratch")}
    assert later[("orphaned-resource", "endpoint", "scratch")]["status"] == "open"
    assert len(reference()["fired"]) == 2  # alice-lab's (the event path's) and bob-scratch's (the sweep's)


@settings(deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(faults=fault_plans, faulty_sweeps=st.integers(1, 3))
# ListApps throttled: the sweep once settled spaces from the table's stale apps (bob-scratch "stopped" under a
# guessed version), so scratch got two orphan checks and the later-fired, earlier-dated one resolved its finding.
@example(
    faults=[
        Fault("sagemaker.ListApps", 0, "ThrottlingException"),
        Fault("dynamodb.PutItem", 19, COMMIT_THEN_TIMEOUT),
    ],
    faulty_sweeps=2,
)
def test_after_the_faults_stop_one_more_sweep_gives_the_fault_free_findings(faults, faulty_sweeps):
    expected, got = reference(), run(faults, faulty_sweeps)
    event(f"faults injected: {len(got['injected'])}")
    for fault in got["injected"]:
        event(f"injected {fault.kind if fault.kind in (TIMEOUT, COMMIT_THEN_TIMEOUT) else 'error code'}")
    assert got["after_sweep"] == expected["after_sweep"]
    # No orphan check lost: each fires at its moment (whatever happened to its schedule) and finds the same.
    assert got["after_checks"] == expected["after_checks"]
    assert got["fired"] == expected["fired"]


# --- one failure at a time -------------------------------------------------------------------------------


def statuses(stack: SandboxStack) -> dict[tuple[str, str, str], str]:
    return {key: f["status"] for key, f in findings(stack).items()}


def test_a_tag_whose_parsing_raises_costs_its_resource_only(fault_free, stack, captured, monkeypatch):
    """`studio-cost-guardian:space-arn=x`, set by a user, made the parser raise IndexError, and every sweep
    failed. Parsing is total now; should anything else about one resource raise, it is that resource's."""

    def parsing_as_it_was(value: str | None, kind: Kind) -> str | None:
        if value and not well_formed(value, kind):
            raise IndexError("list index out of range")
        return canonical(value) if value else None

    monkeypatch.setattr("guardian.attribution._tagged_arn", parsing_as_it_was)
    build_world(stack, datetime.now(UTC))
    result = stack.invoke("SweepFunction", SCHEDULED)
    poisoned = "arn:aws:sagemaker:us-east-1:123456789012:endpoint/poisoned"
    [error] = result["kinds"]["endpoint"]["errors"]
    assert error.startswith(poisoned) and "IndexError" in error
    logged = captured.readouterr().out
    assert '"SweepRecordErrors":[1.0]' in logged and f'"arn":"{poisoned}"' in logged
    found = statuses(stack)
    assert found == {k: v for k, v in reference()["after_sweep_statuses"].items() if k[2] != "poisoned"}
    assert all(status == "open" for status in found.values())
    monkeypatch.undo()  # the tag is parsed again: the next sweep records it
    stack.invoke("SweepFunction", SCHEDULED)
    assert statuses(stack) == reference()["after_sweep_statuses"]


def test_cloudwatch_refusing_metrics_touches_only_the_rules_that_need_them(fault_free, stack):
    build_world(stack, datetime.now(UTC))
    refused = [Fault("cloudwatch.GetMetricData", n, "Throttling") for n in range(20)]
    with injected(refused):
        result = stack.invoke("SweepFunction", SCHEDULED)
    needs_metrics = {"idle-endpoint", "idle-emr-cluster"}
    expected = reference()["after_sweep_statuses"]
    assert result["evaluation"]["unjudged"] == 5  # four endpoints and a cluster, not judged: not idle either
    assert statuses(stack) == {k: v for k, v in expected.items() if k[0] not in needs_metrics}
    stack.invoke("SweepFunction", SCHEDULED)
    assert statuses(stack) == expected
    with injected(refused):
        stack.invoke("SweepFunction", SCHEDULED)
    # Not judged is not ended: the idle findings stay open, their owners told nothing new.
    assert statuses(stack) == expected
    assert all(f["audit"] == ["opened"] for f in findings(stack).values())


@contextmanager
def answer_lost_once(operation: str, picks: Any) -> Iterator[list[str]]:
    """The first call of ``operation`` that ``picks`` (its HTTP body) is answered by the service and the
    answer lost on the way back: botocore's own retry then sends it again."""
    lost: list[str] = []
    original = aws.AwsClients.__call__

    def lose(event_name: str, request: Any, **_: Any) -> None:
        if event_name == f"before-send.dynamodb.{operation}" and not lost and picks(request.body):
            lost.append(request.body.decode())
            raise ReadTimeoutError(endpoint_url=request.url)  # after the sandbox committed it (handlers before)

    def client(self: aws.AwsClients, service: str, region: str | None = None) -> Any:
        made = original(self, service, region)
        if service == "dynamodb":
            made.meta.events.unregister("before-send", lose)
            made.meta.events.register_last("before-send", lose)
        return made

    aws.AwsClients.__call__ = client  # type: ignore[method-assign]
    forget_cached()
    try:
        yield lost
    finally:
        aws.AwsClients.__call__ = original  # type: ignore[method-assign]
        forget_cached()


def test_a_new_finding_whose_write_committed_then_timed_out_is_not_a_conflict_with_itself(fault_free, stack):
    build_world(stack, datetime.now(UTC))
    fraud = finding_id("orphaned-resource", "arn:aws:sagemaker:us-east-1:123456789012:endpoint/fraud")
    with answer_lost_once("TransactWriteItems", lambda body: f"FINDING#{fraud}".encode() in body) as lost:
        result = stack.invoke("SweepFunction", SCHEDULED)
    assert lost  # the opening of fraud's orphan finding was answered, then retried by botocore
    assert (result["evaluation"]["opened"], result["evaluation"]["errors"]) == (8, 0)
    assert findings(stack) == reference()["after_sweep"]  # same ids and statuses; opened once
