"""A hub that watches member accounts: an event or a sweep of one account acts there through its member role,
and touches nothing of another account's (records, findings, the sweep's checkpoint); an event from an account it
does not watch is parked, not recorded."""

import json
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from guardian.arns import Location
from guardian.dynamo_inventory import DynamoInventory
from guardian.kinds import Kind, is_gone
from guardian.resume import Checkpoints
from guardian.runtime import from_env
from guardian_sandbox import clock, embedded, sts_roles
from guardian_sandbox.stack import SANDBOX_ACCOUNT, SandboxStack
from tests.conftest import REFERENCE, account_session

TEAM_A, TEAM_B, STRANGER = "111111111111", "222222222222", "999999999999"
REGION = "us-east-1"
TRUST = json.dumps({"Version": "2012-10-17", "Statement": []})
HUB = {"MEMBER_ACCOUNTS": f"{TEAM_A},{TEAM_B}", "MEMBER_ROLE_NAME": "GuardianMemberRole"}


def member(account: str) -> Any:
    """The member template's role in ``account``; the account's SageMaker, as its admin sees it."""
    admin = account_session(account)
    admin.client("iam", region_name=REGION).create_role(RoleName="GuardianMemberRole", AssumeRolePolicyDocument=TRUST)
    return admin.client("sagemaker", region_name=REGION)


def serve(sagemaker: Any, name: str) -> str:
    sagemaker.create_model(ModelName=name, ExecutionRoleArn="arn:aws:iam::123456789012:role/r", PrimaryContainer={})
    sagemaker.create_endpoint_config(
        EndpointConfigName=name,
        ProductionVariants=[
            {"VariantName": "v", "ModelName": name, "InstanceType": "ml.m5.xlarge", "InitialInstanceCount": 1}
        ],
    )
    return str(sagemaker.create_endpoint(EndpointName=name, EndpointConfigName=name)["EndpointArn"])


def hub(clients: Any, parameters: dict[str, str] | None = None) -> SandboxStack:
    sts_roles.install()
    return SandboxStack(clients, parameters=HUB | (parameters or {})).deploy(trail=False)


def endpoints(stack: SandboxStack, account: str) -> dict[str, str | None]:
    """The hub's records of an account's endpoints: name -> state."""
    inventory = DynamoInventory(stack.clients("dynamodb"), stack.table_name)
    return {r.name: r.state for r in inventory.by_kind(Kind.ENDPOINT, Location(REGION, account))}


def test_a_members_sweep_records_what_is_there_through_its_role_with_its_account():
    with embedded(REGION) as clients:
        stack = hub(clients)
        serve(member(TEAM_A), "fraud")
        report = stack.invoke("SweepFunction", {"account": TEAM_A, "region": REGION})
        assert report["kinds"]["endpoint"]["listed"] == 1
        assert set(endpoints(stack, TEAM_A)) == {"fraud"}
        assert endpoints(stack, SANDBOX_ACCOUNT) == {}  # the hub's own account has none


@settings(max_examples=8, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    a=st.sets(st.sampled_from(["a1", "a2", "a3"])),
    b=st.sets(st.sampled_from(["b1", "b2", "b3"]), min_size=1),
    deleted=st.data(),
)
def test_a_sweep_of_one_account_never_calls_anothers_resources_gone(a, b, deleted):
    with embedded(REGION) as clients:
        stack = hub(clients)
        team_a, team_b = member(TEAM_A), member(TEAM_B)
        for name in sorted(a):
            serve(team_a, name)
        for name in sorted(b):
            serve(team_b, name)
        stack.invoke("SweepFunction", {"account": TEAM_B, "region": REGION})
        before = endpoints(stack, TEAM_B)
        gone = deleted.draw(st.sets(st.sampled_from(sorted(b))))
        for name in sorted(gone):
            team_b.delete_endpoint(EndpointName=name)
        with clock.at(clients, datetime.now(UTC) + timedelta(hours=1)):  # past the sweep's vanish grace
            stack.invoke("SweepFunction", {"account": TEAM_A, "region": REGION})
            assert endpoints(stack, TEAM_B) == before  # A's sweep left B's records alone
            assert set(endpoints(stack, TEAM_A)) == a
            stack.invoke("SweepFunction", {"account": TEAM_B, "region": REGION})
        after = endpoints(stack, TEAM_B)
        assert set(after) == b
        assert all(after[name] == "Deleting" or is_gone(after[name]) for name in gone), after
        assert all(after[name] != "Deleting" and not is_gone(after[name]) for name in b - gone)


def test_a_members_event_is_recorded_in_its_account_and_a_strangers_is_parked():
    with embedded(REGION) as clients:
        stack = hub(clients)
        member(TEAM_A)
        for account in (TEAM_A, STRANGER):
            stack.deliver(endpoint_state_change(account, f"ranker-{account}"))
        assert endpoints(stack, TEAM_A) == {f"ranker-{TEAM_A}": "InService"}
        assert endpoints(stack, STRANGER) == {}
        (parked,) = stack.parked()
        assert parked["requestPayload"]["account"] == STRANGER
        assert "not watched" in parked["responsePayload"]["errorMessage"]


def test_each_account_and_region_resumes_its_own_sweep():
    with embedded(REGION) as clients:
        stack = hub(clients)
        hub_guardian = from_env(stack.environment("SweepFunction"), clients)
        team_a = hub_guardian.at(TEAM_A, REGION)
        team_b_west = hub_guardian.at(TEAM_B, "eu-west-1")
        Checkpoints.of(team_a).put(Checkpoints.of(team_a).get().model_copy(update={"kind": "space"}))
        assert Checkpoints.of(team_b_west).get().kind is None
        assert Checkpoints.of(hub_guardian).get().kind is None
        assert Checkpoints.of(team_a).get().kind == "space"


def test_a_member_role_is_assumed_once_for_many_calls_and_never_for_the_hubs_own_table():
    with embedded(REGION) as clients:
        stack = hub(clients)
        member(TEAM_A)
        hub_guardian = from_env(stack.environment("SweepFunction"), clients)
        team_a = hub_guardian.at(TEAM_A, REGION)
        assert team_a is hub_guardian.at(TEAM_A, REGION)  # kept, with its credentials
        assumed: list[str] = []
        hub_guardian.clients._session.register(
            "provide-client-params.sts.AssumeRole", lambda params, **_: assumed.append(params["RoleArn"])
        )
        for _ in range(3):
            team_a.clients("sagemaker").list_endpoints()
        assert team_a.clients("dynamodb") is hub_guardian.clients("dynamodb")
        assert assumed == [f"arn:aws:iam::{TEAM_A}:role/GuardianMemberRole"]


def test_an_account_outside_the_list_is_not_reached_at_all():
    with embedded(REGION) as clients:
        hub_guardian = from_env(hub(clients).environment("SweepFunction"), clients)
        with pytest.raises(ValueError, match="not watched"):
            hub_guardian.at(STRANGER, REGION)


def endpoint_state_change(account: str, name: str) -> dict[str, Any]:
    """AWS's own sample of an endpoint now in service, as a member account's rule forwards it."""
    sample = json.loads((REFERENCE / "eb_sagemaker_endpoint_state_change_IN_SERVICE_awsdocs.json").read_text())
    text = json.dumps(sample).replace("123456789012", account).replace("us-west-2", REGION)
    event: dict[str, Any] = json.loads(text.replace("myendpoint", name).replace("MyEndpoint", name))
    return event | {"id": f"e-{account}-{name}", "time": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")}


def test_remediation_reads_through_the_read_only_role_and_acts_only_through_the_remediation_role():
    with embedded(REGION) as clients:
        hub_guardian = from_env(hub(clients).environment("RemediateFunction"), clients)
        endpoint = f"arn:aws:sagemaker:{REGION}:{TEAM_A}:endpoint/fraud"
        reading, acting = hub_guardian.at_arn(endpoint), hub_guardian.at_arn(endpoint, acting=True)
        assert reading.clients.role_arn == f"arn:aws:iam::{TEAM_A}:role/GuardianMemberRole"
        assert acting.clients.role_arn == f"arn:aws:iam::{TEAM_A}:role/GuardianMemberRemediationRole"
        # A member reached from another member's guardian is still reached from the hub, with the same roles.
        assert reading.at_arn(endpoint, acting=True) is acting
        # The hub's own account and region acts with the hub's own credentials (its policy's conditions).
        assert (
            hub_guardian.at_arn(f"arn:aws:sagemaker:{REGION}:{SANDBOX_ACCOUNT}:endpoint/x", acting=True) is hub_guardian
        )
