"""A missed stop is dated when it happened, not when the sweep found it: the sweep reads the call that
ended the resource from CloudTrail's event history (or the resource's own timestamps), so an orphan's waste
counts from the real stop and its check falls due when the grace after it ends. With no evidence, the
sweep's time stands, and the finding says the stop was before it."""

from datetime import UTC, datetime, timedelta

import pytest

from guardian import evidence
from guardian.dynamo_inventory import DynamoInventory
from guardian.findings import Status
from guardian.findings_store import DynamoFindings
from guardian.kinds import Kind
from guardian.permissions import FUNCTION_PERMISSIONS
from guardian_sandbox import clock, studio
from guardian_sandbox.calls import recording
from tests.conftest import sample
from tests.integration.test_reconcile import failing

ROLE = "arn:aws:iam::123456789012:role/service-role/AmazonSageMaker-ExecutionRole-alice"
HOURLY = 0.23  # ml.m5.xlarge
GRACE = timedelta(minutes=30)
SCHEDULES = "studio-cost-guardian-evaluations"


def build(stack, now: datetime, spaces: tuple[str, ...] = ("alice-lab",)) -> str:
    """alice's private spaces a day old, each running an app and with an auto-tagged endpoint made from it,
    all known to a sweep three hours ago. Returns the domain id."""
    sm = stack.clients("sagemaker")
    with clock.at(stack.clients, now - timedelta(days=1)):
        domain = sm.create_domain(
            DomainName="lab", AuthMode="IAM", SubnetIds=["s"], VpcId="v", DefaultUserSettings={"ExecutionRole": ROLE}
        )["DomainArn"].rsplit("/", 1)[-1]
        profile = sm.create_user_profile(DomainId=domain, UserProfileName="alice")["UserProfileArn"]
        sm.create_model(ModelName="m", ExecutionRoleArn=ROLE, PrimaryContainer={"Image": "i"})
        sm.create_endpoint_config(
            EndpointConfigName="c",
            ProductionVariants=[
                {"VariantName": "All", "ModelName": "m", "InstanceType": "ml.m5.xlarge", "InitialInstanceCount": 1}
            ],
        )
        for name in spaces:
            space = sm.create_space(
                DomainId=domain,
                SpaceName=name,
                SpaceSharingSettings={"SharingType": "Private"},
                OwnershipSettings={"OwnerUserProfileName": "alice"},
            )["SpaceArn"]
            start_app(sm, domain, name)
            tags = [
                {"Key": "sagemaker:user-profile-arn", "Value": profile},
                {"Key": "sagemaker:space-arn", "Value": space},
            ]
            sm.create_endpoint(EndpointName=f"{name}-ep", EndpointConfigName="c", Tags=tags)
    sweep_at(stack, now - timedelta(hours=3))
    return domain


def start_app(sm, domain: str, space: str) -> None:
    sm.create_app(DomainId=domain, SpaceName=space, AppType="JupyterLab", AppName="default")


def stop_space(stack, domain: str, space: str, at: datetime) -> datetime:
    """Delete the space's app at ``at`` (to the second, as CloudTrail stamps), and deliver no event of it."""
    at = at.replace(microsecond=0)
    with clock.at(stack.clients, at):
        stack.clients("sagemaker").delete_app(DomainId=domain, SpaceName=space, AppType="JupyterLab", AppName="default")
    return at


def sweep_at(stack, at: datetime) -> dict:
    with clock.at(stack.clients, at):
        return stack.invoke("SweepFunction", sample("scheduled.json", "sweep"))


def records(stack) -> dict[str, object]:
    inventory = DynamoInventory(stack.clients("dynamodb"), stack.table_name)
    return {r.arn: r for kind in (Kind.SPACE, Kind.APP, Kind.ENDPOINT) for r in inventory.by_kind(kind)}


def record(stack, kind: str, name: str):
    [found] = [r for r in records(stack).values() if r.kind.value == kind and r.name == name]
    return found


def orphan(stack, endpoint: str):
    store = DynamoFindings(stack.clients("dynamodb"), stack.table_name)
    found = {
        f.resource_name: f for status in Status for f in store.with_status(status) if f.rule == "orphaned-resource"
    }
    return found.get(endpoint)


def schedules(stack) -> list[datetime]:
    scheduler = stack.clients("scheduler")
    moments = []
    for summary in scheduler.list_schedules(GroupName=SCHEDULES)["Schedules"]:
        details = scheduler.get_schedule(Name=summary["Name"], GroupName=SCHEDULES)
        moments.append(datetime.fromisoformat(details["ScheduleExpression"][3:-1]).replace(tzinfo=UTC))
    return moments


def test_a_missed_stop_is_dated_at_its_delete_app_and_the_waste_counts_from_there(stack, monkeypatch):
    monkeypatch.setattr(studio.settings, "deleted_app_retention_seconds", 3600)  # AWS forgets it after about a day
    now = datetime.now(UTC)
    domain = build(stack, now)
    stopped = stop_space(stack, domain, "alice-lab", now - timedelta(hours=2))
    with recording() as calls:
        report = sweep_at(stack, now)
    assert report["kinds"]["app"]["gone"] == 1  # no longer listed: the event of it never came
    assert calls.counts["cloudtrail:LookupEvents"] == 1
    assert calls.iam_actions() <= FUNCTION_PERMISSIONS["SweepFunction"]  # granted (template.yaml holds it so)
    assert record(stack, "app", "default").deleted_at == stopped
    space = record(stack, "space", "alice-lab")
    assert (space.running, space.activity_at) == (False, stopped)
    finding = orphan(stack, "alice-lab-ep")
    assert finding.status is Status.OPEN and finding.condition_since == stopped
    assert finding.summary == "still billing since space alice-lab stopped"  # no "before": the time is known
    assert finding.evidence["space_stopped_at"] == stopped.isoformat().replace("+00:00", "Z")
    assert finding.waste_usd(now) == pytest.approx(HOURLY * 2, abs=0.01)  # two hours, not none


def test_a_stop_found_within_the_grace_has_its_check_due_when_the_grace_after_the_stop_ends(stack):
    now = datetime.now(UTC)
    domain = build(stack, now)
    stopped = stop_space(stack, domain, "alice-lab", now - timedelta(minutes=20))
    sweep_at(stack, now)  # the app is still listed, as Deleted: the sweep finds the stop all the same
    assert record(stack, "app", "default").state == "Deleted"
    assert record(stack, "space", "alice-lab").activity_at == stopped
    assert orphan(stack, "alice-lab-ep") is None  # within the grace
    [due] = schedules(stack)
    assert due == stopped + GRACE  # not the sweep's time plus the grace
    [(_, result)] = stack.fire_due_schedules(stopped + GRACE + timedelta(seconds=30))
    assert "kinds" not in result
    assert orphan(stack, "alice-lab-ep").condition_since == stopped


def test_an_app_of_an_earlier_life_does_not_date_this_one(stack):
    """Studio recreates app "default" at each start: yesterday's DeleteApp ended another life."""
    now = datetime.now(UTC)
    domain = build(stack, now - timedelta(hours=6))  # known running by a sweep nine hours ago
    sm = stack.clients("sagemaker")
    earlier = stop_space(stack, domain, "alice-lab", now - timedelta(hours=8))
    sweep_at(stack, now - timedelta(hours=7, minutes=50))  # listed as Deleted: dated by its DeleteApp
    assert record(stack, "app", "default").deleted_at == earlier
    with clock.at(stack.clients, now - timedelta(hours=5)):
        start_app(sm, domain, "alice-lab")
    sweep_at(stack, now - timedelta(hours=4))
    assert record(stack, "space", "alice-lab").running is True
    stopped = stop_space(stack, domain, "alice-lab", now - timedelta(hours=2))
    sweep_at(stack, now)
    assert record(stack, "app", "default").deleted_at == stopped
    assert record(stack, "space", "alice-lab").activity_at == stopped
    assert orphan(stack, "alice-lab-ep").condition_since == stopped


def test_a_missed_endpoint_deletion_is_dated_at_its_delete_endpoint(stack):
    now = datetime.now(UTC)
    build(stack, now)
    deleted = (now - timedelta(minutes=90)).replace(microsecond=0)
    with clock.at(stack.clients, deleted):
        stack.clients("sagemaker").delete_endpoint(EndpointName="alice-lab-ep")
    sweep_at(stack, now)
    endpoint = record(stack, "endpoint", "alice-lab-ep")
    assert (endpoint.state, endpoint.deleted_at) == ("Deleted", deleted)


def test_a_resource_listed_as_deleting_is_dated_by_its_own_timestamp_without_a_lookup(stack, monkeypatch):
    now = datetime.now(UTC)
    domain = build(stack, now, spaces=("alice-lab", "scratch"))
    stop_space(stack, domain, "scratch", now - timedelta(hours=2, minutes=30))
    monkeypatch.setattr(studio.settings, "transition_seconds", 4 * 3600.0)  # deletions take hours
    deleting = (now - timedelta(hours=2)).replace(microsecond=0)
    with clock.at(stack.clients, deleting):
        stack.clients("sagemaker").delete_space(DomainId=domain, SpaceName="scratch")
    with recording() as calls:
        sweep_at(stack, now)
    space = record(stack, "space", "scratch")
    assert space.state == "Deleting"
    assert abs(space.deleted_at - deleting) < timedelta(seconds=1)  # LastModifiedTime, to the millisecond
    assert orphan(stack, "scratch-ep").condition_since == space.deleted_at
    assert calls.counts["cloudtrail:LookupEvents"] == 1  # the app's DeleteApp, not the space's deletion


def test_with_no_evidence_the_sweep_time_stands_and_the_finding_says_before(stack):
    now = datetime.now(UTC)
    domain = build(stack, now)
    stop_space(stack, domain, "alice-lab", now - timedelta(hours=2))
    with failing("LookupEvents", {}):
        report = sweep_at(stack, now)
    assert not any(kind["errors"] for kind in report["kinds"].values())  # the sweep went on as before
    found = record(stack, "app", "default").deleted_at
    assert abs(found - now) < timedelta(seconds=5)
    assert orphan(stack, "alice-lab-ep") is None  # stopped as far as the sweep knows just now: within the grace
    [due] = schedules(stack)
    assert abs(due - (found + GRACE)) < timedelta(seconds=1)  # Scheduler's times are whole seconds
    stack.fire_due_schedules(due + timedelta(seconds=30))
    finding = orphan(stack, "alice-lab-ep")
    assert finding.summary == f"still billing since space alice-lab stopped before {found.isoformat()}".replace(
        "+00:00", "Z"
    )


def test_lookups_are_bounded_per_sweep_and_paced(stack, monkeypatch):
    monkeypatch.setattr(evidence, "MAX_CALLS", 2)
    monkeypatch.setattr(evidence, "PAGE_SIZE", 1)
    now = datetime.now(UTC)
    names = ("a-lab", "b-lab", "c-lab")
    domain = build(stack, now, spaces=names)
    stopped = {
        name: stop_space(stack, domain, name, now - timedelta(hours=hours))
        for hours, name in ((1, "a-lab"), (2, "b-lab"), (3, "c-lab"))
    }
    with recording() as calls:
        started = datetime.now(UTC)
        sweep_at(stack, now)
        took = datetime.now(UTC) - started
    assert calls.counts["cloudtrail:LookupEvents"] == 2
    assert took >= timedelta(seconds=evidence.PACE_SECONDS)
    dated = {name: record(stack, "space", name).activity_at for name in names}
    assert (dated["a-lab"], dated["b-lab"]) == (stopped["a-lab"], stopped["b-lab"])  # newest first
    assert abs(dated["c-lab"] - now) < timedelta(seconds=5)  # the budget spent: the sweep's time


def test_an_emr_cluster_that_terminated_itself_is_dated_by_its_own_end_time(stack):
    """No call ends a cluster that auto-terminates or finishes its steps, so CloudTrail has nothing: the
    cluster's own EndDateTime dates it, and no LookupEvents is spent on it."""
    from moto.emr.models import emr_backends

    now = datetime.now(UTC)
    with clock.at(stack.clients, now - timedelta(days=1)):
        cluster_id = stack.clients("emr").run_job_flow(
            Name="etl",
            ReleaseLabel="emr-7.2.0",
            JobFlowRole="r",
            ServiceRole="s",
            Instances={"MasterInstanceType": "m5.xlarge", "InstanceCount": 1, "KeepJobFlowAliveWhenNoSteps": True},
        )["JobFlowId"]
    sweep_at(stack, now - timedelta(hours=3))
    ended = (now - timedelta(hours=2)).replace(microsecond=0)
    with clock.at(stack.clients, ended):  # the cluster ends itself: not an API call, so not in CloudTrail
        emr_backends["123456789012"]["us-east-1"].clusters[cluster_id].terminate()
    with recording() as calls:
        sweep_at(stack, now)
    [cluster] = DynamoInventory(stack.clients("dynamodb"), stack.table_name).by_kind(Kind.EMR_CLUSTER)
    assert abs(cluster.deleted_at - ended) < timedelta(seconds=1)
    assert calls.counts["cloudtrail:LookupEvents"] == 0
