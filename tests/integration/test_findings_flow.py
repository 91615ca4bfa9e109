"""Findings end to end in the sandbox: the sweep opens them with owners and dollar figures, a stopped
space gets its orphan check the moment its grace ends, and findings resolve when the waste stops."""

from datetime import UTC, datetime, timedelta

import boto3
import pytest

from guardian.arns import Location
from guardian.findings import Status
from guardian.findings_store import DynamoFindings
from guardian_sandbox import clock
from guardian_sandbox.eventfactory import Caller, EventFactory
from guardian_sandbox.stack import SANDBOX_ACCOUNT
from tests.conftest import sample

ROLE = "arn:aws:iam::123456789012:role/service-role/AmazonSageMaker-ExecutionRole-alice"
LOCATION = Location("us-east-1", SANDBOX_ACCOUNT)
ALICE = Caller(role="AmazonSageMaker-ExecutionRole-alice", source_identity="alice")


def build(stack, now: datetime, space_stopped_hours_ago: float | None) -> dict:
    """alice's private space, its app, and an auto-tagged endpoint she made from it a day ago; the space
    stopped (its app deleted, and CloudTrail's event of it delivered) some hours ago."""
    clients = stack.clients
    sm = clients("sagemaker")
    with clock.at(clients, now - timedelta(days=3)):
        domain = sm.create_domain(
            DomainName="lab", AuthMode="IAM", SubnetIds=["s"], VpcId="v", DefaultUserSettings={"ExecutionRole": ROLE}
        )["DomainArn"].rsplit("/", 1)[-1]
        profile = sm.create_user_profile(DomainId=domain, UserProfileName="alice")["UserProfileArn"]
        space = sm.create_space(
            DomainId=domain,
            SpaceName="alice-lab",
            SpaceSharingSettings={"SharingType": "Private"},
            OwnershipSettings={"OwnerUserProfileName": "alice"},
        )["SpaceArn"]
    with clock.at(clients, now - timedelta(days=1)):
        sm.create_app(DomainId=domain, SpaceName="alice-lab", AppType="JupyterLab", AppName="default")
        sm.create_model(ModelName="m", ExecutionRoleArn=ROLE, PrimaryContainer={"Image": "i"})
        sm.create_endpoint_config(
            EndpointConfigName="c",
            ProductionVariants=[
                {
                    "VariantName": "AllTraffic",
                    "ModelName": "m",
                    "InstanceType": "ml.m5.xlarge",
                    "InitialInstanceCount": 1,
                }
            ],
        )
        endpoint = sm.create_endpoint(
            EndpointName="fraud",
            EndpointConfigName="c",
            Tags=[
                {"Key": "sagemaker:user-profile-arn", "Value": profile},
                {"Key": "sagemaker:space-arn", "Value": space},
            ],
        )
    if space_stopped_hours_ago is not None:
        stopped = now - timedelta(hours=space_stopped_hours_ago)
        with clock.at(clients, stopped):
            sm.delete_app(DomainId=domain, SpaceName="alice-lab", AppType="JupyterLab", AppName="default")
        app = {"domainId": domain, "spaceName": "alice-lab", "appType": "JupyterLab", "appName": "default"}
        stack.deliver(EventFactory(LOCATION).api_call("DeleteApp", stopped, ALICE, app))
    return {"domain": domain, "space": space, "endpoint": endpoint["EndpointArn"]}


def findings(stack) -> dict[str, object]:
    store = DynamoFindings(stack.clients("dynamodb"), stack.table_name)
    return {(f.rule, f.resource_name): f for status in Status for f in store.with_status(status)}


def test_the_sweep_opens_an_orphan_finding_with_owner_cost_and_evidence(stack):
    now = datetime.now(UTC)
    build(stack, now, space_stopped_hours_ago=3)
    report = stack.invoke("SweepFunction", sample("scheduled.json", "sweep"))
    orphan = findings(stack)[("orphaned-resource", "fraud")]
    assert report["evaluation"]["opened"] >= 1
    assert (orphan.owner, orphan.space, orphan.sharing, orphan.status) == ("alice", "alice-lab", "Private", Status.OPEN)
    assert orphan.hourly_cost_usd == 0.23 and orphan.monthly_cost_usd == 167.9
    assert 0.68 <= orphan.waste_usd(now) <= 0.70  # three hours at $0.23
    assert orphan.evidence["space_stopped_at"] and orphan.condition_since < now - timedelta(hours=2.9)


def test_a_second_sweep_changes_nothing_and_a_deleted_resource_resolves_its_findings(stack):
    build(stack, datetime.now(UTC), space_stopped_hours_ago=3)
    stack.invoke("SweepFunction", sample("scheduled.json", "sweep"))
    again = stack.invoke("SweepFunction", sample("scheduled.json", "sweep"))
    assert (again["evaluation"]["opened"], again["evaluation"]["updated"]) == (0, 0)
    boto3.client("sagemaker", region_name="us-east-1").delete_endpoint(EndpointName="fraud")
    stack.invoke("SweepFunction", sample("scheduled.json", "sweep"))
    orphan = findings(stack)[("orphaned-resource", "fraud")]
    assert (orphan.status, orphan.resolution) == (Status.RESOLVED, "resource is gone")
    audit = DynamoFindings(stack.clients("dynamodb"), stack.table_name).audit(orphan.id)
    assert [a.action for a in audit] == ["opened", "resolved"]


def test_stopping_a_space_schedules_its_orphan_check_for_when_the_grace_ends(stack):
    now = datetime.now(UTC)
    ids = build(stack, now, space_stopped_hours_ago=None)
    stack.invoke("SweepFunction", sample("scheduled.json", "sweep"))  # the inventory knows the running space
    app = {"domainId": ids["domain"], "spaceName": "alice-lab", "appType": "JupyterLab", "appName": "default"}
    stopped = datetime.now(UTC) + timedelta(seconds=1)  # CloudTrail times are whole seconds: after the sweep's
    with clock.at(stack.clients, stopped):
        stack.clients("sagemaker").delete_app(
            DomainId=ids["domain"], SpaceName="alice-lab", AppType="JupyterLab", AppName="default"
        )
    stack.deliver(EventFactory(LOCATION).api_call("DeleteApp", stopped, ALICE, app))
    scheduler = stack.clients("scheduler")
    [schedule] = scheduler.list_schedules(GroupName="studio-cost-guardian-evaluations")["Schedules"]
    details = scheduler.get_schedule(Name=schedule["Name"], GroupName="studio-cost-guardian-evaluations")
    at = datetime.fromisoformat(details["ScheduleExpression"][3:-1]).replace(tzinfo=UTC)
    assert abs(at - (stopped + timedelta(minutes=30))) < timedelta(seconds=1)
    assert details["ActionAfterCompletion"] == "DELETE"
    assert stack.fire_due_schedules(at - timedelta(minutes=1)) == []  # not before its time
    [(_, result)] = stack.fire_due_schedules(at + timedelta(seconds=30))
    assert "kinds" not in result  # one space evaluated, not a full sweep
    assert findings(stack)[("orphaned-resource", "fraud")].status is Status.OPEN


def test_a_duplicate_stop_event_schedules_once(stack):
    ids = build(stack, datetime.now(UTC), space_stopped_hours_ago=None)
    stack.invoke("SweepFunction", sample("scheduled.json", "sweep"))
    app = {"domainId": ids["domain"], "spaceName": "alice-lab", "appType": "JupyterLab", "appName": "default"}
    event = EventFactory(LOCATION).api_call("DeleteApp", datetime.now(UTC) + timedelta(seconds=1), ALICE, app)
    stack.deliver(event)
    stack.deliver(event)
    assert (
        len(stack.clients("scheduler").list_schedules(GroupName="studio-cost-guardian-evaluations")["Schedules"]) == 1
    )


@pytest.mark.parametrize("value", ["true", "2099-01-01"])
def test_an_exempt_resource_is_visible_as_exempt(stack, value):
    ids = build(stack, datetime.now(UTC), space_stopped_hours_ago=3)
    stack.clients("sagemaker").add_tags(
        ResourceArn=ids["endpoint"], Tags=[{"Key": "studio-cost-guardian:exempt", "Value": value}]
    )
    stack.invoke("SweepFunction", sample("scheduled.json", "sweep"))
    finding = findings(stack)[("orphaned-resource", "fraud")]
    assert finding.status is Status.EXEMPT and value in finding.exempt_reason


def test_without_events_the_orphan_check_counts_from_when_the_sweep_first_saw_the_space_stopped(stack):
    from guardian.evaluation import evaluate
    from guardian.runtime import from_env
    from guardian.sweep import Scope, scoped
    from tests.integration.test_reconcile import failing

    now = datetime.now(UTC)
    ids = build(stack, now, space_stopped_hours_ago=None)
    with clock.at(stack.clients, now - timedelta(hours=3)):
        stack.clients("sagemaker").delete_app(
            DomainId=ids["domain"], SpaceName="alice-lab", AppType="JupyterLab", AppName="default"
        )
    with failing("LookupEvents", {}):  # no CloudTrail to date the stop by (guardian.evidence)
        stack.invoke("SweepFunction", sample("scheduled.json", "sweep"))
    assert ("orphaned-resource", "fraud") not in findings(stack)  # when it stopped is unknown: from now on
    guardian = from_env(stack.environment("SweepFunction"), clients=stack.clients)
    evaluate(guardian, scoped(guardian, Scope(space_arn=ids["space"])), now + timedelta(minutes=31), complete=False)
    assert findings(stack)[("orphaned-resource", "fraud")].status is Status.OPEN
