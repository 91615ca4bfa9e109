"""Every change that moves a bill reaches the inventory, and the findings, within a minute of its event; and
without the event, within the stated number of sweeps (guardian.reconcile.REDESCRIBE_SWEEPS).

Each change is made with boto3 against the sandbox, whose CloudTrail records the call as CloudTrail would;
that record reaches the stack as the "AWS API Call via CloudTrail" event EventBridge delivers, through the
template's rules, thirty seconds of simulated time later. Every resource is made by an IAM user (no Studio
evidence), so each has an unattributed-resource finding whose cost shows what the guardian thinks it bills.
"""

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest

from guardian.arns import Location, canonical
from guardian.cost import hourly_cost
from guardian.events import from_cloudtrail_record
from guardian.findings import Finding, Status
from guardian.pricing import BundledPrices
from guardian.reconcile import REDESCRIBE_SWEEPS
from guardian.resource import Resource
from guardian_sandbox import clock, cloudtrail
from guardian_sandbox.eventfactory import Caller, EventFactory
from guardian_sandbox.stack import SANDBOX_ACCOUNT, SandboxStack
from tests.conftest import sample, stored_finding, stored_record
from tests.integration.sweep_fault_injection import Fault, injected

ROLE = f"arn:aws:iam::{SANDBOX_ACCOUNT}:role/service-role/AmazonSageMaker-ExecutionRole-Default"
LIFECYCLE = {"SourceS3Uri": "s3://sagemaker-hyperpod/lifecycle/", "OnCreate": "on_create.sh"}
PRICES = BundledPrices()
EVENT_LAG = timedelta(seconds=30)  # EventBridge delivers within seconds; the guardian answers within the minute
UNATTRIBUTED = "unattributed-resource"
ALICE = Caller(role="AmazonSageMaker-ExecutionRole-alice", source_identity="alice")


@dataclass
class Account:
    """The sandbox, the stack on it, and the moments of the story: made at T0, swept, changed at T1."""

    stack: SandboxStack
    t0: datetime

    @property
    def t1(self) -> datetime:
        return self.t0 + timedelta(hours=3)

    def record(self, arn: str) -> Resource:
        return stored_record(self.stack, arn)

    def finding(self, rule: str, arn: str) -> Finding | None:
        return stored_finding(self.stack, rule, arn)

    def sweep(self, at: datetime) -> dict[str, Any]:
        with clock.at(self.stack.clients, at):
            result: dict[str, Any] = self.stack.invoke("SweepFunction", sample("scheduled.json", "sweep"))
        return result

    def deliver_call(self, name: str, at: datetime, caller: Caller | None = None) -> dict[str, Any]:
        """The sandbox CloudTrail's newest record of the call ``name``, delivered as EventBridge delivers it;
        made by ``caller`` where given (a Studio user's session: the sandbox's own callers are IAM users)."""
        records = [r for r in cloudtrail.events_of(SANDBOX_ACCOUNT, "us-east-1") if r["eventName"] == name]
        assert records, f"the sandbox recorded no {name}"
        event = from_cloudtrail_record(records[-1])
        if caller is not None:
            event["detail"]["userIdentity"] = caller.user_identity(SANDBOX_ACCOUNT)
        return self.deliver(event, at)

    def deliver(self, event: dict[str, Any], at: datetime) -> dict[str, Any]:
        with clock.at(self.stack.clients, at):
            [delivery] = self.stack.deliver(event)
        assert delivery.error is None, delivery.error
        result: dict[str, Any] = delivery.result
        return result

    @property
    def sagemaker(self) -> Any:
        return self.stack.clients("sagemaker")

    @property
    def emr(self) -> Any:
        return self.stack.clients("emr")


@pytest.fixture
def account(stack: SandboxStack) -> Iterator[Account]:
    yield Account(stack, datetime.now(UTC).replace(microsecond=0) - timedelta(hours=8))


def hourly(record: Resource) -> Decimal | None:
    return hourly_cost(record, PRICES).hourly


def groups(record: Resource) -> dict[str, tuple[str | None, int]]:
    return {name: (g.instance_type, g.instance_count) for name, g in sorted(record.groups.items())}


# --- HyperPod: a cluster resized (UpdateCluster) ---------------------------------------------------------------


def hyperpod(account: Account, name: str, count: int = 1, hours: float = 0) -> str:
    """A cluster made ``hours`` after T0."""
    group = {
        "InstanceGroupName": "workers",
        "InstanceType": "ml.g5.8xlarge",
        "InstanceCount": count,
        "LifeCycleConfig": LIFECYCLE,
        "ExecutionRole": ROLE,
        "ThreadsPerCore": 1,
    }
    with clock.at(account.stack.clients, account.t0 + timedelta(hours=hours)):
        arn: str = account.sagemaker.create_cluster(ClusterName=name, InstanceGroups=[group])["ClusterArn"]
    return arn


def resize(account: Account, name: str, count: int) -> None:
    group = {
        "InstanceGroupName": "workers",
        "InstanceType": "ml.g5.8xlarge",
        "InstanceCount": count,
        "LifeCycleConfig": LIFECYCLE,
        "ExecutionRole": ROLE,
    }
    with clock.at(account.stack.clients, account.t1):
        account.sagemaker.update_cluster(ClusterName=name, InstanceGroups=[group])


def test_a_hyperpod_resize_shows_in_the_inventory_and_its_finding_within_a_minute_of_its_event(account):
    arn = hyperpod(account, "train", count=1)
    account.sweep(account.t0 + timedelta(minutes=70))  # recorded, and past the grace nobody claimed it in
    assert account.finding(UNATTRIBUTED, arn).hourly_cost_usd == pytest.approx(3.06)

    resize(account, "train", 4)
    result = account.deliver_call("UpdateCluster", account.t1 + EVENT_LAG)

    record = account.record(arn)
    assert (record.instance_count, groups(record)) == (4, {"workers": ("ml.g5.8xlarge", 4)})
    assert hourly(record) == Decimal("12.24")
    assert result["described"] == [canonical(arn)]  # the request said the size; the describe, what now runs
    finding = account.finding(UNATTRIBUTED, arn)
    assert finding.hourly_cost_usd == pytest.approx(12.24)
    assert account.t1 < finding.segments[-1].start < account.t1 + timedelta(minutes=1)  # at the event, not a sweep


def test_hyperpod_nodes_deleted_by_id_are_counted_from_the_describe_the_event_calls_for(account):
    arn = hyperpod(account, "train", count=4)
    account.sweep(account.t0 + timedelta(minutes=10))
    with clock.at(account.stack.clients, account.t1):
        account.sagemaker.batch_delete_cluster_nodes(ClusterName="train", NodeIds=["workers-0", "workers-1"])
    account.deliver_call("BatchDeleteClusterNodes", account.t1 + EVENT_LAG)  # names nodes, not counts
    assert account.record(arn).instance_count == 2


def test_without_its_event_a_hyperpod_resize_is_repaired_within_the_stated_sweeps(account):
    """The list shows no counts: the rolling re-describe finds it, the oldest-described first. The resized
    cluster was described after the others (made later), so it waits its turn: at most REDESCRIBE_SWEEPS."""
    others = [hyperpod(account, f"other-{n}") for n in range(6)]
    account.sweep(account.t0 + timedelta(minutes=10))
    arn = hyperpod(account, "train", count=1, hours=0.5)
    account.sweep(account.t0 + timedelta(minutes=70))
    resize(account, "train", 4)
    sweeps = 0
    while account.record(arn).instance_count != 4:
        sweeps += 1
        assert sweeps <= REDESCRIBE_SWEEPS, "not repaired within the stated number of sweeps"
        kinds = account.sweep(account.t1 + timedelta(hours=sweeps))["kinds"]
        # Each sweep re-describes its share of what did not change in the list, no more.
        assert kinds["hyperpod-cluster"]["redescribed"] <= -(-(len(others) + 1) // REDESCRIBE_SWEEPS)
    assert sweeps > 1  # not the list: the re-describe, in its turn
    assert account.finding(UNATTRIBUTED, arn).hourly_cost_usd == pytest.approx(12.24)


# --- EMR: an auto-termination policy added (PutAutoTerminationPolicy) ----------------------------------------


def emr_cluster(account: Account) -> str:
    with clock.at(account.stack.clients, account.t0):
        cluster_id: str = account.emr.run_job_flow(
            Name="etl",
            ReleaseLabel="emr-7.2.0",
            JobFlowRole="r",
            ServiceRole="s",
            Instances={
                "MasterInstanceType": "m5.xlarge",
                "SlaveInstanceType": "m5.xlarge",
                "InstanceCount": 3,
                "KeepJobFlowAliveWhenNoSteps": True,
            },
        )["JobFlowId"]
    return cluster_id


def no_auto_termination(account: Account, arn: str) -> Finding | None:
    """The "no auto-termination" finding of a cluster (whichever rule says it: the evidence's reason does)."""
    found = [account.finding(rule, arn) for rule in ("emr-no-auto-termination", "idle-emr-cluster")]
    return next((f for f in found if f and f.evidence.get("reason") == "no-auto-termination"), None)


def test_an_emr_cluster_in_service_without_auto_termination_is_found_at_its_event_and_resolved_at_the_next(account):
    cluster_id = emr_cluster(account)
    arn = f"arn:aws:elasticmapreduce:us-east-1:{SANDBOX_ACCOUNT}:cluster/{cluster_id}"
    account.deliver_call("RunJobFlow", account.t0 + EVENT_LAG, caller=ALICE)  # from her notebook: hers
    at = account.t0 + timedelta(minutes=8)
    waiting = EventFactory(Location("us-east-1", SANDBOX_ACCOUNT)).emr_state(at, cluster_id, "etl", "WAITING")
    account.deliver(waiting, account.t0 + timedelta(minutes=8, seconds=30))
    finding = no_auto_termination(account, arn)
    assert finding is not None and finding.status is Status.OPEN  # no sweep has run

    with clock.at(account.stack.clients, account.t1):
        account.emr.put_auto_termination_policy(ClusterId=cluster_id, AutoTerminationPolicy={"IdleTimeout": 3600})
    account.deliver_call("PutAutoTerminationPolicy", account.t1 + EVENT_LAG)

    assert account.record(arn).auto_termination_idle_seconds == 3600
    resolved = no_auto_termination(account, arn)
    assert resolved.status is Status.RESOLVED and account.t1 < resolved.resolved_at < account.t1 + timedelta(minutes=1)


def test_a_removed_policy_is_read_back_by_the_describe_its_event_calls_for(account):
    cluster_id = emr_cluster(account)
    arn = f"arn:aws:elasticmapreduce:us-east-1:{SANDBOX_ACCOUNT}:cluster/{cluster_id}"
    with clock.at(account.stack.clients, account.t0):
        account.emr.put_auto_termination_policy(ClusterId=cluster_id, AutoTerminationPolicy={"IdleTimeout": 600})
    account.sweep(account.t0 + timedelta(minutes=10))
    assert no_auto_termination(account, arn) is None
    with clock.at(account.stack.clients, account.t1):
        account.emr.remove_auto_termination_policy(ClusterId=cluster_id)
    account.deliver_call("RemoveAutoTerminationPolicy", account.t1 + EVENT_LAG)  # a none no event can state
    assert account.record(arn).auto_termination_idle_seconds is None
    assert no_auto_termination(account, arn).status is Status.OPEN


def test_without_its_event_an_added_policy_resolves_the_finding_within_the_stated_sweeps(account):
    cluster_id = emr_cluster(account)
    arn = f"arn:aws:elasticmapreduce:us-east-1:{SANDBOX_ACCOUNT}:cluster/{cluster_id}"
    account.sweep(account.t0 + timedelta(minutes=10))
    assert no_auto_termination(account, arn).status is Status.OPEN
    with clock.at(account.stack.clients, account.t1):
        account.emr.put_auto_termination_policy(ClusterId=cluster_id, AutoTerminationPolicy={"IdleTimeout": 3600})
    for sweep in range(1, REDESCRIBE_SWEEPS + 1):
        account.sweep(account.t1 + timedelta(hours=sweep))
        if no_auto_termination(account, arn).status is Status.RESOLVED:
            break
    assert no_auto_termination(account, arn).status is Status.RESOLVED
    assert account.record(arn).auto_termination_idle_seconds == 3600


# --- Notebook instances: the instance type changed (UpdateNotebookInstance) ------------------------------


def notebook(account: Account) -> str:
    with clock.at(account.stack.clients, account.t0):
        arn: str = account.sagemaker.create_notebook_instance(
            NotebookInstanceName="explore", InstanceType="ml.t2.medium", RoleArn=ROLE
        )["NotebookInstanceArn"]
    account.sweep(account.t0 + timedelta(minutes=70))
    return arn


# Stop, change the type (only a stopped instance may be), start again: a few minutes apart, as stopping takes.
RETYPE = {"StopNotebookInstance": 0, "UpdateNotebookInstance": 5, "StartNotebookInstance": 6}


def retype(account: Account) -> None:
    calls = {
        "StopNotebookInstance": lambda sm: sm.stop_notebook_instance(NotebookInstanceName="explore"),
        "UpdateNotebookInstance": lambda sm: sm.update_notebook_instance(
            NotebookInstanceName="explore", InstanceType="ml.t3.medium"
        ),
        "StartNotebookInstance": lambda sm: sm.start_notebook_instance(NotebookInstanceName="explore"),
    }
    for name, minutes in RETYPE.items():
        with clock.at(account.stack.clients, account.t1 + timedelta(minutes=minutes)):
            calls[name](account.sagemaker)


def test_a_notebook_instance_type_change_shows_in_the_inventory_and_its_finding_within_a_minute(account):
    arn = notebook(account)
    assert account.finding(UNATTRIBUTED, arn).hourly_cost_usd == pytest.approx(0.0464)
    retype(account)
    for call, minutes in RETYPE.items():
        account.deliver_call(call, account.t1 + timedelta(minutes=minutes) + EVENT_LAG)
    record = account.record(arn)
    assert record.instance_type == "ml.t3.medium" and hourly(record) == Decimal("0.05")
    finding = account.finding(UNATTRIBUTED, arn)
    assert finding.status is Status.OPEN and finding.hourly_cost_usd == pytest.approx(0.05)


def test_without_its_event_a_notebook_type_change_shows_at_the_next_sweep(account):
    """ListNotebookInstances shows the type: one sweep, no re-describe needed."""
    arn = notebook(account)
    retype(account)
    account.sweep(account.t1 + timedelta(minutes=10))
    assert account.record(arn).instance_type == "ml.t3.medium"
    assert account.finding(UNATTRIBUTED, arn).hourly_cost_usd == pytest.approx(0.05)


# --- when the describe fails; findings whose grace ends later; an owner's idle settings ----------------------


def test_a_describe_that_fails_after_its_event_is_left_for_the_next_sweep_whatever_its_list_says(account):
    """Seven clusters: the next sweep's rolling share goes to older ones than this one; its mark does."""
    for n in range(6):
        hyperpod(account, f"other-{n}")
    account.sweep(account.t0 + timedelta(minutes=10))
    arn = hyperpod(account, "train", count=4, hours=0.5)
    account.sweep(account.t0 + timedelta(minutes=40))
    with clock.at(account.stack.clients, account.t1):
        account.sagemaker.batch_delete_cluster_nodes(ClusterName="train", NodeIds=["workers-0", "workers-1"])
    with injected([Fault("sagemaker.DescribeCluster", 0, "ThrottlingException")]):
        result = account.deliver_call("BatchDeleteClusterNodes", account.t1 + EVENT_LAG)
    assert "described" not in result and account.record(arn).instance_count == 4  # the event says no count
    kinds = account.sweep(account.t1 + timedelta(minutes=5))["kinds"]
    assert account.record(arn).instance_count == 2
    # Its share (1/REDESCRIBE_SWEEPS of seven) went to the oldest: this one was due by its mark.
    assert kinds["hyperpod-cluster"]["redescribed"] == -(-7 // REDESCRIBE_SWEEPS)


def test_a_resource_nobody_owns_is_found_the_moment_its_grace_ends_not_at_a_sweep(account):
    with clock.at(account.stack.clients, account.t0):
        arn = account.sagemaker.create_notebook_instance(
            NotebookInstanceName="explore", InstanceType="ml.t2.medium", RoleArn=ROLE
        )["NotebookInstanceArn"]
    account.deliver_call("CreateNotebookInstance", account.t0 + EVENT_LAG)
    assert account.finding(UNATTRIBUTED, arn) is None  # within its grace: checked when the grace ends
    grace_ends = account.t0 + timedelta(minutes=60)
    with clock.at(account.stack.clients, grace_ends + EVENT_LAG):
        fired = account.stack.fire_due_schedules(grace_ends + EVENT_LAG)
    assert [payload["evaluate"]["resource_arn"] for payload, _ in fired] == [canonical(arn)]
    finding = account.finding(UNATTRIBUTED, arn)
    assert finding.status is Status.OPEN and grace_ends <= finding.detected_at < grace_ends + timedelta(minutes=1)


def test_idle_shutdown_given_to_a_profile_ends_its_long_running_apps_finding_at_the_event(account):
    """A JupyterLab space with no idle timeout of its own takes its owner's default, as Studio does."""
    started = account.t0 - timedelta(hours=14)
    with clock.at(account.stack.clients, started):
        domain = account.sagemaker.create_domain(
            DomainName="lab", AuthMode="IAM", SubnetIds=["s"], VpcId="v", DefaultUserSettings={"ExecutionRole": ROLE}
        )["DomainArn"].rsplit("/", 1)[-1]
        account.sagemaker.create_user_profile(DomainId=domain, UserProfileName="alice")
        account.sagemaker.create_space(
            DomainId=domain,
            SpaceName="alice-lab",
            OwnershipSettings={"OwnerUserProfileName": "alice"},
            SpaceSharingSettings={"SharingType": "Private"},
            SpaceSettings={"AppType": "JupyterLab"},
        )
        app = account.sagemaker.create_app(
            DomainId=domain, SpaceName="alice-lab", AppType="JupyterLab", AppName="default"
        )["AppArn"]
    account.sweep(account.t0)
    assert account.finding("long-running-app", app).status is Status.OPEN
    idle = {"LifecycleManagement": "ENABLED", "IdleTimeoutInMinutes": 60}
    with clock.at(account.stack.clients, account.t1):
        account.sagemaker.update_user_profile(
            DomainId=domain,
            UserProfileName="alice",
            UserSettings={"JupyterLabAppSettings": {"AppLifecycleManagement": {"IdleSettings": idle}}},
        )
    account.deliver_call("UpdateUserProfile", account.t1 + EVENT_LAG)
    assert account.finding("long-running-app", app).status is Status.RESOLVED
