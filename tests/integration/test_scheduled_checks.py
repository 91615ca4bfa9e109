"""Orphan checks that cannot vanish: a check is recorded before it is scheduled, and ensured from what the
table holds. Scheduler refusing the schedule, or a space write that committed and then timed out, delays
nothing: the next sweep schedules what is still to come and settles what is due, and a retried event
schedules from the stored state, not from whether its own write changed something."""

from datetime import UTC, datetime, timedelta
from typing import Any

from guardian.arns import Location
from guardian.findings import Status
from guardian.findings_store import DynamoFindings
from guardian.runtime import from_env
from guardian.scheduling import Checks, CheckState
from guardian_sandbox import clock
from guardian_sandbox.eventfactory import Caller, EventFactory
from guardian_sandbox.stack import SANDBOX_ACCOUNT, SCHEDULE_GROUP, SandboxStack
from tests.conftest import sample
from tests.integration.sweep_fault_injection import COMMIT_THEN_TIMEOUT, Fault, injected

ROLE = "arn:aws:iam::123456789012:role/service-role/AmazonSageMaker-ExecutionRole-alice"
LOCATION = Location("us-east-1", SANDBOX_ACCOUNT)
ALICE = Caller(role="AmazonSageMaker-ExecutionRole-alice", source_identity="alice")
SCHEDULED = sample("scheduled.json", "sweep")
GRACE = timedelta(minutes=30)
# Scheduler refuses every schedule while these are injected (more than the code's bounded retries).
SCHEDULER_DOWN = [Fault("scheduler.CreateSchedule", n, "ServiceUnavailable") for n in range(20)]


def build(stack: SandboxStack) -> dict[str, str]:
    """alice's running space and an endpoint she made from it a day ago; a sweep has recorded both."""
    sm, now = stack.clients("sagemaker"), datetime.now(UTC)
    with clock.at(stack.clients, now - timedelta(days=2)):
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
    with clock.at(stack.clients, now - timedelta(days=1)):
        sm.create_app(DomainId=domain, SpaceName="alice-lab", AppType="JupyterLab", AppName="default")
        sm.create_model(ModelName="m", ExecutionRoleArn=ROLE, PrimaryContainer={"Image": "i"})
        variant = {"VariantName": "AllTraffic", "ModelName": "m", "InstanceType": "ml.m5.xlarge"}
        sm.create_endpoint_config(EndpointConfigName="c", ProductionVariants=[variant | {"InitialInstanceCount": 1}])
        tags = [
            {"Key": "sagemaker:user-profile-arn", "Value": profile},
            {"Key": "sagemaker:space-arn", "Value": space},
        ]
        sm.create_endpoint(EndpointName="fraud", EndpointConfigName="c", Tags=tags)
    stack.invoke("SweepFunction", SCHEDULED)  # the inventory knows the running space
    return {"domain": domain, "space": space}


def stop(stack: SandboxStack, ids: dict[str, str]) -> dict[str, Any]:
    """alice stops her space (its app deleted); returns the DeleteApp event CloudTrail delivers."""
    stopped = datetime.now(UTC).replace(microsecond=0) + timedelta(seconds=1)  # after the sweep's moment
    with clock.at(stack.clients, stopped):
        stack.clients("sagemaker").delete_app(
            DomainId=ids["domain"], SpaceName="alice-lab", AppType="JupyterLab", AppName="default"
        )
    app = {"domainId": ids["domain"], "spaceName": "alice-lab", "appType": "JupyterLab", "appName": "default"}
    return EventFactory(LOCATION).api_call("DeleteApp", stopped, ALICE, app)


def schedules(stack: SandboxStack) -> list[datetime]:
    """When each one-time schedule Scheduler holds is due."""
    scheduler = stack.clients("scheduler")
    found = []
    for summary in scheduler.list_schedules(GroupName=SCHEDULE_GROUP)["Schedules"]:
        expression = scheduler.get_schedule(Name=summary["Name"], GroupName=SCHEDULE_GROUP)["ScheduleExpression"]
        found.append(datetime.fromisoformat(expression[3:-1]).replace(tzinfo=UTC))
    return found


def orphan_status(stack: SandboxStack) -> Status | None:
    store = DynamoFindings(stack.clients("dynamodb"), stack.table_name)
    found = [f for s in Status for f in store.with_status(s) if f.rule == "orphaned-resource"]
    return found[0].status if found else None


def checks(stack: SandboxStack) -> Checks:
    guardian = from_env(stack.environment("SweepFunction"), clients=stack.clients)
    return Checks.of(guardian)


def space_write(space_arn: str) -> Any:
    """Picks the write of the space's record (a PutItem of its RES# item)."""
    return lambda params: params.get("Item", {}).get("PK", {}).get("S") == f"RES#{space_arn}"


def test_a_check_scheduler_refused_is_scheduled_by_the_next_sweep_and_fires_at_its_moment(stack):
    ids = build(stack)
    event = stop(stack, ids)
    with injected(SCHEDULER_DOWN) as injector:
        [delivery] = stack.deliver(event)
    assert delivery.error is None  # Scheduler's refusal is not the event's failure
    assert len(injector.injected) == 3  # tried, and retried a bounded number of times
    assert schedules(stack) == []
    [check] = checks(stack).open()
    assert check.state is CheckState.OPEN and check.scope == {"space_arn": ids["space"]}

    stack.invoke("SweepFunction", SCHEDULED)  # ten minutes later, say: the moment is still to come
    [at] = schedules(stack)
    assert abs(at - check.due_at) < timedelta(seconds=1)
    assert orphan_status(stack) is None
    [(payload, _)] = stack.fire_due_schedules(at + timedelta(seconds=30))
    assert payload["evaluate"]["check"] == check.name
    assert orphan_status(stack) is Status.OPEN
    assert checks(stack).open() == []  # done: no sweep schedules it again


def test_a_check_whose_moment_came_without_a_schedule_is_run_by_the_next_sweep(stack):
    ids = build(stack)
    event = stop(stack, ids)
    with injected(SCHEDULER_DOWN):
        stack.deliver(event)
        stack.invoke("SweepFunction", SCHEDULED)  # still refused: the check stays open
        [check] = checks(stack).open()
        assert check.state is CheckState.OPEN and schedules(stack) == []
        with clock.at(stack.clients, check.due_at + timedelta(minutes=1)):
            result = stack.invoke("SweepFunction", SCHEDULED)  # the first sweep after its moment
    assert result["checks"]["done"] == 1
    assert orphan_status(stack) is Status.OPEN
    settled = checks(stack).get(check.name)
    assert settled is not None and (settled.state, settled.settled_by) == (CheckState.DONE, "sweep")
    assert checks(stack).open() == []


def test_a_space_write_that_committed_then_timed_out_still_gets_its_check_on_the_events_retry(stack):
    ids = build(stack)
    event = stop(stack, ids)
    lost = [Fault("dynamodb.PutItem", 0, COMMIT_THEN_TIMEOUT, when=space_write(ids["space"]))]
    with injected(lost) as injector:
        [failed] = stack.deliver(event)
    assert injector.injected and failed.error is not None  # the write took; its answer was lost
    [retried] = stack.deliver(event)  # EventBridge delivers it again
    assert retried.error is None
    [at] = schedules(stack)
    stack.fire_due_schedules(at + timedelta(seconds=30))
    assert orphan_status(stack) is Status.OPEN


def test_a_space_write_that_committed_then_timed_out_in_a_sweep_gets_its_check_at_the_next_sweep(stack):
    ids = build(stack)
    stop(stack, ids)  # no event: the sweep finds the space stopped
    lost = [Fault("dynamodb.PutItem", 0, COMMIT_THEN_TIMEOUT, when=space_write(ids["space"]))]
    with injected(lost) as injector:
        result = stack.invoke("SweepFunction", SCHEDULED)
    assert injector.injected
    assert any(ids["space"] in error for error in result["kinds"]["space"]["errors"])  # said, not raised
    assert schedules(stack) == []
    stack.invoke("SweepFunction", SCHEDULED)  # the stored space is stopped: its check is ensured
    [at] = schedules(stack)
    stack.fire_due_schedules(at + timedelta(seconds=30))
    assert orphan_status(stack) is Status.OPEN
