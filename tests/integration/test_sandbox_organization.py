"""The sandbox's organization (guardian_sandbox.organization): member-template.yaml's role deployed in every
account, assumable by the hub under the name it was given and no other; a member's event that the member rules
match reaches the hub's ingest and is recorded with the member's account and region; what they do not match
stays in the member account; the hub's bus refuses an account outside the organization, and a hub that lists
its members parks an event from any other account as foreign-account."""

from datetime import UTC, datetime, timedelta

import pytest
from botocore.exceptions import ClientError

from guardian.arns import Location
from guardian.aws import MemberClients
from guardian.dynamo_inventory import DynamoInventory
from guardian.events import FOREIGN_ACCOUNT
from guardian_sandbox import organization
from guardian_sandbox.eventfactory import Caller, EventFactory
from guardian_sandbox.organization import BusRefused, member_template
from guardian_sandbox.stack import SANDBOX_ACCOUNT, SandboxStack

NOW = datetime.now(UTC).replace(microsecond=0)
MEMBER_REGION = "eu-west-1"
OUTSIDER = "999988887777"


@pytest.fixture
def org(sandbox):
    return organization.build(sandbox, accounts=3, regions=("us-east-1", MEMBER_REGION))


@pytest.fixture
def hub(sandbox, org) -> SandboxStack:
    return SandboxStack(sandbox, parameters=org.hub_parameters()).deploy()


def endpoint_in(org, where: Location, name: str) -> dict:
    """An endpoint made in a member account and region, and the state change SageMaker sends its bus."""
    sm = org.clients(where.account, where.region)("sagemaker")
    sm.create_model(
        ModelName=name, ExecutionRoleArn=f"arn:aws:iam::{where.account}:role/r", PrimaryContainer={"Image": "i"}
    )
    variant = {"VariantName": "AllTraffic", "ModelName": name, "InstanceType": "ml.m5.large", "InitialInstanceCount": 1}
    sm.create_endpoint_config(EndpointConfigName=name, ProductionVariants=[variant])
    arn = sm.create_endpoint(EndpointName=name, EndpointConfigName=name)["EndpointArn"]
    counts = {"VariantName": "AllTraffic", "CurrentInstanceCount": 1.0, "DesiredInstanceCount": 1.0}
    return EventFactory(where).endpoint_state(NOW, name, arn, "IN_SERVICE", name, [counts], NOW - timedelta(minutes=9))


def test_every_account_holds_the_member_role_as_the_template_defines_it(org):
    template_role = member_template()["Resources"]["GuardianMemberRole"]["Properties"]
    for account in org.accounts:
        role = org.clients(account)("iam").get_role(RoleName="GuardianMemberRole")["Role"]
        statement = role["AssumeRolePolicyDocument"]["Statement"][0]
        assert statement["Principal"] == {"AWS": f"arn:aws:iam::{SANDBOX_ACCOUNT}:root"}
        assert statement["Condition"]["StringEquals"] == {
            "aws:PrincipalOrgID": org.organization_id,
            "sts:ExternalId": org.external_id,
        }
        policy = org.clients(account)("iam").get_role_policy(RoleName="GuardianMemberRole", PolicyName="guardian-reads")
        wanted = template_role["Policies"][0]["PolicyDocument"]["Statement"][0]["Action"]
        assert policy["PolicyDocument"]["Statement"][0]["Action"] == wanted


def test_the_hub_assumes_the_member_role_it_was_given_and_no_other(sandbox, org):
    member = org.members[0]
    given = MemberClients(sandbox, MEMBER_REGION, f"arn:aws:iam::{member}:role/GuardianMemberRole", org.external_id)
    assert given("sts").get_caller_identity()["Account"] == member
    other = MemberClients(sandbox, MEMBER_REGION, f"arn:aws:iam::{member}:role/SomeAdminRole", org.external_id)
    with pytest.raises(ClientError) as refused:
        other("sts").get_caller_identity()
    assert refused.value.response["Error"]["Code"] == "AccessDenied"


def test_a_broken_member_refuses_the_hub_while_the_others_still_answer(sandbox, org):
    broken, fine = org.members
    org.break_member(broken)
    with pytest.raises(ClientError):
        MemberClients(sandbox, "us-east-1", f"arn:aws:iam::{broken}:role/GuardianMemberRole")(
            "sts"
        ).get_caller_identity()
    answer = MemberClients(sandbox, "us-east-1", f"arn:aws:iam::{fine}:role/GuardianMemberRole")("sts")
    assert answer.get_caller_identity()["Account"] == fine


def test_the_forwarding_rules_are_in_every_account_and_region_but_the_hubs_own_bus(org):
    for where in org.locations():
        rules = org.forwarding_rules(where.account, where.region)
        own_bus = (where.account, where.region) == (SANDBOX_ACCOUNT, "us-east-1")
        assert (len(rules) == 0) == own_bus, where


def test_a_members_event_reaches_the_hubs_ingest_and_is_recorded_with_its_account_and_region(sandbox, org, hub):
    where = Location(region=MEMBER_REGION, account=org.members[1])
    deliveries = org.forward(hub, endpoint_in(org, where, "member-model"))
    assert [d.rule.function for d in deliveries] == ["IngestFunction"]
    assert deliveries[0].error is None
    record = DynamoInventory(sandbox("dynamodb"), hub.table_name).get(where.endpoint("member-model"))
    assert record is not None
    assert (record.account, record.region) == (where.account, MEMBER_REGION)
    assert record.state == "InService"


def test_an_event_no_member_rule_matches_stays_in_its_account(sandbox, org, hub):
    where = Location(region=MEMBER_REGION, account=org.members[0])
    training = EventFactory(where).api_call(
        "CreateTrainingJob", NOW, Caller(iam_user="ci"), {"trainingJobName": "nightly"}, None
    )
    assert org.forward(hub, training) == []
    assert hub.parked() == []


def test_the_hubs_bus_refuses_an_account_outside_the_organization(org, hub):
    org.deploy_member(OUTSIDER, MEMBER_REGION)  # the member template, deployed by an account not in it
    outside = endpoint_in(org, Location(region=MEMBER_REGION, account=OUTSIDER), "outside")
    with pytest.raises(BusRefused):
        org.forward(hub, outside)


def test_a_hub_that_lists_its_members_parks_another_accounts_event_as_foreign_account(sandbox, org):
    member = org.members[0]
    hub = SandboxStack(sandbox, parameters={"MEMBER_ACCOUNTS": member, "MEMBER_REGIONS": MEMBER_REGION}).deploy()
    listed = endpoint_in(org, Location(region=MEMBER_REGION, account=member), "listed")
    assert hub.deliver(listed)[0].error is None
    foreign = endpoint_in(org, Location(region=MEMBER_REGION, account=org.members[1]), "foreign")
    (delivery,) = hub.deliver(foreign)
    assert getattr(delivery.error, "reason", None) == FOREIGN_ACCOUNT
    (parked,) = hub.parked()
    assert parked["requestPayload"]["account"] == org.members[1]
