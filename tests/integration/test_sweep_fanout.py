"""A hub's hourly sweep fans out on Step Functions: template.yaml's SweepFanOut state machine, run by the sandbox
(guardian_sandbox.state_machine walks its definition and invokes the stack's sweep function in-process), over an
organization of three accounts (the hub and two members made with Organizations' CreateAccount) in two regions.
Every account and region is swept once; a member whose role is gone is reported (a member-unreachable finding for
the team, the MemberUnreachable metric) and never keeps the others from being swept; fixed, its finding resolves."""

import csv
import io
import json
from dataclasses import dataclass
from datetime import UTC, datetime
from types import SimpleNamespace
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from guardian import members
from guardian.arns import Location
from guardian.dynamo_inventory import DynamoInventory
from guardian.findings import Status
from guardian.findings_store import DynamoFindings
from guardian.kinds import Kind
from guardian.members import MEMBER_UNREACHABLE, TITLE
from guardian.messages import label
from guardian_sandbox import embedded
from guardian_sandbox.stack import SANDBOX_ACCOUNT, SCHEDULE_GROUP, SandboxStack
from tests.conftest import account_session

REGIONS = ("us-east-1", "eu-west-1")
MEMBER_ROLE = "GuardianMemberRole"
TRUST = json.dumps({"Version": "2012-10-17", "Statement": []})


@dataclass
class Hub:
    stack: SandboxStack
    members: list[str]

    @property
    def accounts(self) -> list[str]:
        return [SANDBOX_ACCOUNT, *self.members]

    def targets(self) -> set[tuple[str, str]]:
        return {(account, region) for account in self.accounts for region in REGIONS}

    def admin(self, account: str) -> boto3.Session:
        """The member account, through the role Organizations made there."""
        session: boto3.Session = account_session(account)
        return session

    def break_role(self, account: str) -> None:
        self.admin(account).client("iam", region_name="us-east-1").delete_role(RoleName=MEMBER_ROLE)

    def fix_role(self, account: str) -> None:
        self.admin(account).client("iam", region_name="us-east-1").create_role(
            RoleName=MEMBER_ROLE, AssumeRolePolicyDocument=TRUST
        )

    def unreachable(self) -> dict[tuple[str, str], Any]:
        findings = DynamoFindings(self.stack.clients("dynamodb"), self.stack.table_name)
        return {
            (f.account, f.region): f
            for status in (Status.OPEN, Status.NOTIFIED)
            for f in findings.with_status(status)
            if f.rule == MEMBER_UNREACHABLE
        }


def make_hub(clients: Any) -> Hub:
    """The organization, a Studio domain in every account and region (what each sweep must find), the member
    role in each account, and the hub's stack watching the organization in both regions."""
    organizations = clients("organizations")
    organization = organizations.create_organization(FeatureSet="ALL")["Organization"]["Id"]
    members = []
    for name in ("team-a", "team-b"):
        status = organizations.create_account(AccountName=name, Email=f"{name}@example.com")["CreateAccountStatus"]
        members.append(status["AccountId"])
    stack = SandboxStack(
        clients, parameters={"ORGANIZATION_ID": organization, "MEMBER_REGIONS": ",".join(REGIONS)}
    ).deploy()
    hub = Hub(stack, members)
    for account in hub.accounts:
        # The hub's own account too: its other regions are reached through the member role (Guardian.at).
        session = boto3.Session() if account == SANDBOX_ACCOUNT else hub.admin(account)
        session.client("iam", region_name="us-east-1").create_role(RoleName=MEMBER_ROLE, AssumeRolePolicyDocument=TRUST)
        for region in REGIONS:
            session.client("sagemaker", region_name=region).create_domain(
                DomainName=f"studio-{account}-{region}",
                AuthMode="IAM",
                SubnetIds=["subnet-1"],
                VpcId="vpc-1",
                DefaultUserSettings={"ExecutionRole": f"arn:aws:iam::{account}:role/studio"},
            )
    return hub


@pytest.fixture
def hub(sandbox: Any) -> Hub:
    return make_hub(sandbox)


def swept(execution: Any) -> list[tuple[str, str]]:
    """The account and region of every child sweep that returned (a raised one did not sweep)."""
    return [
        (call.payload["account"], call.payload["region"])
        for call in execution.invocations
        if call.error is None and "account" in call.payload
    ]


def domains_at(hub: Hub, where: Location) -> list[str]:
    return [
        r.name for r in DynamoInventory(hub.stack.clients("dynamodb"), hub.stack.table_name).by_kind(Kind.DOMAIN, where)
    ]


def test_the_fan_out_sweeps_every_account_and_region_of_the_organization_once(hub):
    execution = hub.stack.run_sweep_fanout()

    assert execution.status == "SUCCEEDED", execution.cause
    assert execution.invocations[0].payload == {"targets": True}
    assert sorted(swept(execution)) == sorted(hub.targets())
    for account, region in hub.targets():
        assert domains_at(hub, Location(region, account)) == [f"studio-{account}-{region}"]
    # One transition to list the targets, one into the Map, one per child: N + 2 for N accounts x regions.
    assert execution.transitions == len(hub.targets()) + 2
    assert len(execution.invocations) == len(hub.targets()) + 1
    (run,) = execution.map_runs
    assert (run.mode, run.items, run.succeeded, run.failed) == ("DISTRIBUTED", 6, 6, 0)


def test_a_member_without_its_role_is_reported_for_the_team_while_the_others_are_swept(hub, captured):
    broken = hub.members[0]
    hub.break_role(broken)

    execution = hub.stack.run_sweep_fanout()

    assert execution.status == "SUCCEEDED", execution.cause
    # Every child returned (none retried, none failed): the broken member's sweep reported it and stopped.
    assert sorted(swept(execution)) == sorted(hub.targets())
    assert execution.transitions == len(hub.targets()) + 2
    for account, region in hub.targets() - {(broken, r) for r in REGIONS}:
        assert domains_at(hub, Location(region, account)) == [f"studio-{account}-{region}"]
    for region in REGIONS:
        assert domains_at(hub, Location(region, broken)) == []
    reported = hub.unreachable()
    assert set(reported) == {(broken, region) for region in REGIONS}
    finding = reported[(broken, "eu-west-1")]
    assert finding.owner is None  # the team's, not an owner's
    assert finding.resource_arn == f"arn:aws:iam::{broken}:role/{MEMBER_ROLE}"
    assert finding.evidence["error_code"] == "AccessDenied"
    assert "deploy the member template" in finding.summary and SANDBOX_ACCOUNT in finding.summary
    assert label(finding) == f"{TITLE}: {broken} in eu-west-1"
    assert emitted(captured.readouterr().out).count("MemberUnreachable") == len(REGIONS)


def test_a_member_fixed_later_has_its_finding_resolved_by_the_next_sweep(hub):
    broken = hub.members[1]
    hub.break_role(broken)
    hub.stack.run_sweep_fanout()
    assert set(hub.unreachable()) == {(broken, region) for region in REGIONS}

    hub.fix_role(broken)
    execution = hub.stack.run_sweep_fanout()

    assert execution.status == "SUCCEEDED"
    assert hub.unreachable() == {}
    for region in REGIONS:
        assert domains_at(hub, Location(region, broken)) == [f"studio-{broken}-{region}"]
    findings = DynamoFindings(hub.stack.clients("dynamodb"), hub.stack.table_name)
    resolved = [f for f in findings.with_status(Status.RESOLVED) if f.rule == MEMBER_UNREACHABLE]
    assert {(f.account, f.region, f.resolution) for f in resolved} == {
        (broken, region, "member reached again") for region in REGIONS
    }


def test_the_map_is_bounded_and_tolerant_as_template_yaml_says(hub):
    configured = hub.stack.state_machine("SweepFanOut").definition["States"]["SweepEach"]
    execution = hub.stack.run_sweep_fanout()
    (run,) = execution.map_runs
    assert (
        run.max_concurrency
        == configured["MaxConcurrency"]
        == int(hub.stack.template.parameter_default("SweepMaxConcurrency"))
    )
    assert (
        run.tolerated_failure_percentage
        == configured["ToleratedFailurePercentage"]
        == float(hub.stack.template.parameter_default("SweepToleratedFailurePercentage"))
    )
    assert run.waves == 1  # six targets, ten at once


def throttled(error_code: str = "Throttling") -> ClientError:
    """What a member's sweep raises once botocore's own retries of a throttled call are spent."""
    return ClientError({"Error": {"Code": error_code, "Message": "Rate exceeded"}}, "ListDomains")


# A few examples: each one is a whole organization, in a fresh sandbox, and a fan-out over it.
@settings(max_examples=8, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    broken=st.sets(st.sampled_from([0, 1])),
    throttles=st.dictionaries(st.integers(0, 5), st.integers(1, 4), max_size=3),
)
def test_every_reachable_target_is_swept_once_every_broken_one_reported_and_failures_stay_within_tolerance(
    broken, throttles
):
    with embedded("us-east-1") as clients:
        hub = make_hub(clients)
        broken_accounts = {hub.members[i] for i in broken}
        for account in broken_accounts:
            hub.break_role(account)
        order = sorted(hub.targets())
        # Target number n is throttled throttles[n] times in a row before it answers.
        remaining = {order[n]: times for n, times in throttles.items()}

        def invoke(function_arn: str, payload: dict[str, Any]) -> Any:
            where = (payload.get("account"), payload.get("region"))
            if remaining.get(where, 0) > 0:
                remaining[where] -= 1
                raise throttled()
            return hub.stack.invoke_by_arn(function_arn, payload)

        execution = hub.stack.run_sweep_fanout(invoke=invoke)

        (run,) = execution.map_runs
        child = hub.stack.state_machine().definition["States"]["SweepEach"]["ItemProcessor"]["States"]["SweepOne"]
        retried = next(r["MaxAttempts"] for r in child["Retry"] if "States.TaskFailed" in r["ErrorEquals"])
        failing = {order[n] for n, times in throttles.items() if times > retried}
        if 100 * len(failing) / len(order) <= run.tolerated_failure_percentage:
            assert execution.status == "SUCCEEDED", execution.cause
            assert sorted(swept(execution)) == sorted(hub.targets() - failing)
            assert run.failed == len(failing)
        else:
            assert (execution.status, execution.error) == ("FAILED", "States.ExceedToleratedFailureThreshold")
        assert len(swept(execution)) == len(set(swept(execution)))  # never a target swept twice
        reached = {(a, r) for a, r in swept(execution) if a not in broken_accounts}
        for account, region in reached:
            assert domains_at(hub, Location(region, account)) == [f"studio-{account}-{region}"]
        reported = {where for where in swept(execution) if where[0] in broken_accounts}
        assert set(hub.unreachable()) == reported
        # Billed: the Map's two states, one per child, and one per retry.
        assert execution.transitions == 2 + len(execution.invocations) - 1


def emitted(output: str) -> list[str]:
    names = []
    for line in output.splitlines():
        if line.startswith("{") and "_aws" in line:
            names += [m["Name"] for m in json.loads(line)["_aws"]["CloudWatchMetrics"][0]["Metrics"]]
    return names


def targets_of(clients: Any, **parameters: str) -> list[dict[str, str]]:
    """What the fan-out's first step answers for a hub deployed with these parameters."""
    stack = SandboxStack(clients, parameters=parameters).deploy(trail=False)
    answer: list[dict[str, str]] = stack.invoke("SweepFunction", {"targets": True})["targets"]
    return answer


def test_the_targets_are_the_hub_and_the_organizations_active_accounts_or_the_listed_ones_in_every_region(sandbox):
    organizations = sandbox("organizations")
    organization = organizations.create_organization(FeatureSet="ALL")["Organization"]["Id"]
    made = [
        organizations.create_account(AccountName=n, Email=f"{n}@example.com")["CreateAccountStatus"]["AccountId"]
        for n in ("a", "b", "closed")
    ]
    organizations.close_account(AccountId=made[2])
    regions = ",".join(REGIONS)

    def pairs(accounts: list[str]) -> list[dict[str, str]]:
        return [{"account": a, "region": r} for a in accounts for r in REGIONS]

    assert targets_of(sandbox, ORGANIZATION_ID=organization, MEMBER_REGIONS=regions) == pairs(
        [SANDBOX_ACCOUNT, *made[:2]]
    )
    # With an organization, MemberAccounts narrows it (a closed account stays out even if listed).
    narrowed = targets_of(sandbox, ORGANIZATION_ID=organization, MEMBER_ACCOUNTS=f"{made[1]},{made[2]}")
    assert narrowed == [{"account": a, "region": "us-east-1"} for a in (SANDBOX_ACCOUNT, made[1])]
    # Outside an organization, the listed accounts are the members (Organizations is not asked).
    # The hub's own region is swept even when MemberRegions leaves it out.
    listed = targets_of(sandbox, MEMBER_ACCOUNTS="111111111111,222222222222", MEMBER_REGIONS="eu-west-1")
    assert listed == [{"account": SANDBOX_ACCOUNT, "region": "us-east-1"}] + [
        {"account": a, "region": "eu-west-1"} for a in (SANDBOX_ACCOUNT, "111111111111", "222222222222")
    ]


def test_member_ous_narrow_the_organization_to_the_accounts_under_them_nested_ones_included(sandbox):
    organizations = sandbox("organizations")
    organization = organizations.create_organization(FeatureSet="ALL")["Organization"]["Id"]
    root = organizations.list_roots()["Roots"][0]["Id"]
    ml = organizations.create_organizational_unit(ParentId=root, Name="ml")["OrganizationalUnit"]["Id"]
    vision = organizations.create_organizational_unit(ParentId=ml, Name="vision")["OrganizationalUnit"]["Id"]
    made = {}
    for name, parent in (("platform", ml), ("vision-dev", vision), ("finance", None)):
        account = organizations.create_account(AccountName=name, Email=f"{name}@example.com")
        made[name] = account["CreateAccountStatus"]["AccountId"]
        if parent:
            organizations.move_account(AccountId=made[name], SourceParentId=root, DestinationParentId=parent)
    swept = targets_of(sandbox, ORGANIZATION_ID=organization, MEMBER_OUS=ml)
    assert [t["account"] for t in swept] == [SANDBOX_ACCOUNT, made["platform"], made["vision-dev"]]
    only_vision = targets_of(sandbox, ORGANIZATION_ID=organization, MEMBER_OUS=vision)
    assert [t["account"] for t in only_vision] == [SANDBOX_ACCOUNT, made["vision-dev"]]


@pytest.mark.parametrize(
    "code, reported, remedy",
    [
        ("AccessDenied", True, "deploy the member template"),
        ("InvalidClientTokenId", True, "enable eu-west-1"),
        ("OptInRequired", True, "enable eu-west-1"),
        ("Throttling", False, None),  # passes: raised, so the fan-out's retry applies
        ("InternalFailure", False, None),
    ],
)
def test_what_keeps_a_member_out_is_reported_and_what_passes_is_raised(code, reported, remedy):
    class Sts:
        def get_caller_identity(self) -> None:
            raise ClientError({"Error": {"Code": code, "Message": "no"}}, "GetCallerIdentity")

    member: Any = SimpleNamespace(clients=lambda service: Sts())
    if not reported:
        with pytest.raises(ClientError):
            members.reach(member)
        return
    problem = members.reach(member)
    assert problem is not None and problem.code == code
    assert remedy in problem.remedy("arn:aws:iam::111111111111:role/GuardianMemberRole", SANDBOX_ACCOUNT, "eu-west-1")


def test_the_hourly_schedule_runs_the_fan_out_in_a_hub_and_the_sweep_function_in_one_account(hub, sandbox):
    execution = hub.stack.sweep_hourly()
    assert execution.status == "SUCCEEDED" and sorted(swept(execution)) == sorted(hub.targets())
    # A schedule that targets the state machine is run as the state machine, not as a function.
    hub.stack.clients("scheduler").create_schedule(
        Name="fan-out-now",
        GroupName=SCHEDULE_GROUP,
        ScheduleExpression="at(2020-01-01T00:00:00)",
        FlexibleTimeWindow={"Mode": "OFF"},
        Target={"Arn": hub.stack.state_machine_arn(), "RoleArn": "arn:aws:iam::123456789012:role/r", "Input": "{}"},
    )
    ((_, fired),) = hub.stack.fire_due_schedules(datetime.now(UTC))
    assert fired.status == "SUCCEEDED" and sorted(swept(fired)) == sorted(hub.targets())

    single = SandboxStack(sandbox).deploy(trail=False).sweep_hourly()
    assert single["finished"] is True and "location" not in single  # today's sweep, its result as before


def test_the_team_hears_which_member_is_unreachable_and_what_to_do(sandbox):
    hub = make_hub(sandbox)
    hub.stack.parameters["TEAM_NOTIFICATIONS"] = "immediate"
    hub.stack.subscribe_team("platform@example.com")
    hub.break_role(hub.members[0])
    hub.stack.run_sweep_fanout()

    hub.stack.pump_streams()

    mail = [m for m in hub.stack.mailbox() if "platform@example.com" in m["to"]]
    text = " ".join(m["subject"] + "\n" + m["text"] for m in mail)
    for region in REGIONS:
        assert f"{TITLE}: {hub.members[0]} in {region}" in text
    assert "deploy the member template" in text and "AccessDenied" in text
    assert f"console.aws.amazon.com/iam/home#/roles/details/{MEMBER_ROLE}" in text

    # The weekly report (this week's, in progress) lists them, by account and region.
    year, week, _ = datetime.now(UTC).isocalendar()
    report = hub.stack.invoke("ReportFunction", {"week": f"{year}-W{week:02d}"})
    bucket, key = report["objects"]["csv"].removeprefix("s3://").split("/", 1)
    rows = csv.DictReader(
        io.StringIO(hub.stack.clients("s3").get_object(Bucket=bucket, Key=key)["Body"].read().decode())
    )
    listed = {(row["account"], row["region"]) for row in rows if row["rule"] == MEMBER_UNREACHABLE}
    assert listed == {(hub.members[0], region) for region in REGIONS}
