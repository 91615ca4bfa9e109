"""The hub and member templates as one organization's security boundary (issue 14, item 7): the hub's bus takes
events only from the organization (or, outside one, only from the listed accounts), and only when the stack is a
hub; the hub's functions assume only the member role they were given, only in accounts of the organization; the
member role writes only the guardian's own tag keys; a member account has no Lambda and no way into the hub's
table. Each property is read from the templates as CloudFormation would deploy them, for the parameter values
that matter, so a template change that breaks one fails here."""

import re
import sys
from fnmatch import fnmatchcase
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from guardian.attribution import OwnershipTags
from guardian.permissions import FUNCTION_PERMISSIONS
from guardian.resource import Attribution, Source
from guardian.settings import Settings
from guardian.tagging import ADD_TAGS_PERMISSIONS
from guardian_sandbox.intrinsics import Intrinsics
from guardian_sandbox.template import PROJECT_ROOT, Template, template

sys.path.insert(0, str(PROJECT_ROOT / "tools"))
import member_template  # tools/ is not a package

HUB = template()
MEMBER = Template.load(member_template.MEMBER_TEMPLATE_PATH)
ORGANIZATION = "o-exampleorg1"
ACCOUNTS = "111111111111,222222222222"
SINGLE_ACCOUNT: dict[str, str] = {}  # the defaults: today's stack
IN_ORGANIZATION = {"OrganizationId": ORGANIZATION}
OUTSIDE_ORGANIZATION = {"MemberAccounts": ACCOUNTS}
BOTH = IN_ORGANIZATION | OUTSIDE_ORGANIZATION
HUB_BUS = {"Fn::Sub": "arn:${AWS::Partition}:events:${AWS::Region}:${AWS::AccountId}:event-bus/default"}
ASSUMED_ONLY_IN_THE_ORGANIZATION = {
    "Fn::If": [
        "HasOrganization",
        {"StringEquals": {"aws:ResourceOrgID": {"Ref": "OrganizationId"}}},
        {"StringEquals": {"aws:ResourceAccount": {"Fn::Split": [",", {"Ref": "MemberAccounts"}]}}},
    ]
}
MEMBER_ROLE_ARN = {"Fn::Sub": "arn:${AWS::Partition}:iam::*:role/${MemberRoleName}"}
REMEDIATION_ROLE_ARN = {"Fn::Sub": f"arn:${{AWS::Partition}}:iam::*:role/{member_template.REMEDIATION_ROLE_NAME}"}
TAG_WRITES = {action for action in ADD_TAGS_PERMISSIONS if not member_template.is_read(action)}
# What a resource-based policy may let in besides the account itself: AWS services acting for it.
SERVICE = "Service"
ORGANIZATION_PARAMETERS = ["OrganizationId", "MemberAccounts", "MemberRegions", "MemberRoleName", "MemberExternalId"]
ORGANIZATION_CONDITIONS = {"WatchesMembers", "HasOrganization", "OnlyListedAccounts", "RemediatesMembers"}


def holds(document: dict[str, Any], name: str, parameters: dict[str, str]) -> bool:
    """A template's condition, evaluated as CloudFormation would for these parameter values (defaults for the
    rest; pseudo parameters are none of the conditions' business here)."""
    return Intrinsics(document, parameters).condition(name)


def deployed(document: dict[str, Any], resource: str, parameters: dict[str, str]) -> bool:
    condition = document["Resources"][resource].get("Condition")
    return condition is None or holds(document, condition, parameters)


def listed(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def assume_role_statements(function: str) -> list[tuple[dict[str, Any], str | None]]:
    return [(s, c) for s, c in HUB.policy_statements(function) if "sts:AssumeRole" in listed(s["Action"])]


def bus_policies() -> dict[str, dict[str, Any]]:
    return {name: r for name, r in HUB.resources.items() if r["Type"] == "AWS::Events::EventBusPolicy"}


# --- the hub's parameters and what its functions are told ------------------------------------------------------


def test_the_hub_takes_the_organization_parameters_and_is_a_single_account_stack_by_default():
    parameters = HUB.document["Parameters"]
    assert {name: parameters[name].get("Default") for name in ORGANIZATION_PARAMETERS} == {
        "OrganizationId": "",
        "MemberAccounts": "",
        "MemberRegions": "",
        "MemberRoleName": member_template.MEMBER_ROLE_NAME,  # the role the member template makes
        "MemberExternalId": "",
    }
    assert not holds(HUB.document, "WatchesMembers", SINGLE_ACCOUNT)
    for parameters_ in (IN_ORGANIZATION, OUTSIDE_ORGANIZATION, BOTH):
        assert holds(HUB.document, "WatchesMembers", parameters_)
    # Nothing of an organization is deployed in today's single-account stack.
    organization = [name for name, r in HUB.resources.items() if r.get("Condition") in ORGANIZATION_CONDITIONS]
    assert organization and not [name for name in organization if deployed(HUB.document, name, SINGLE_ACCOUNT)]


def test_every_function_is_told_the_organization_through_the_settings_it_reads():
    variables = HUB.document["Globals"]["Function"]["Environment"]["Variables"]
    passed = {
        "ORGANIZATION_ID": "OrganizationId",
        "MEMBER_ACCOUNTS": "MemberAccounts",
        "MEMBER_REGIONS": "MemberRegions",
        "MEMBER_ROLE_NAME": "MemberRoleName",
        "MEMBER_EXTERNAL_ID": "MemberExternalId",
    }
    assert {name: variables[name] for name in passed} == {name: {"Ref": p} for name, p in passed.items()}
    read = {field.alias for field in Settings.model_fields.values()}
    assert set(passed) <= read, f"guardian.settings.Settings does not read {set(passed) - read}"


@pytest.mark.parametrize(
    ("parameter", "accepted", "refused"),
    [
        ("OrganizationId", ["", "o-a1b2c3d4e5"], ["o-short", "r-a1b2c3d4e5", " o-a1b2c3d4e5"]),
        ("MemberAccounts", ["", "111111111111", ACCOUNTS], ["11111111111", "111111111111, 222222222222", "a" * 12]),
        ("MemberRegions", ["", "eu-west-1", "us-east-1,ap-southeast-2"], ["eu-west-1,", "EU-WEST-1", "eu west 1"]),
    ],
)
def test_the_organization_parameters_refuse_what_would_widen_or_break_the_policies(parameter, accepted, refused):
    """A comma list is split into principals and account conditions: a space or an empty item must not deploy."""
    pattern = re.compile(HUB.document["Parameters"][parameter]["AllowedPattern"])
    assert all(pattern.fullmatch(value) for value in accepted)
    assert not [value for value in refused if pattern.fullmatch(value)]


# --- the hub's bus ----------------------------------------------------------------------------------------------


def test_the_ingest_rules_read_the_default_bus_the_policies_open():
    ingest = HUB.functions()["IngestFunction"]["Properties"]["Events"]
    assert not [name for name, event in ingest.items() if "EventBusName" in event.get("Properties", {})]
    assert {policy["Properties"]["EventBusName"] for policy in bus_policies().values()} == {"default"}


@pytest.mark.parametrize(
    ("parameters", "policies"),
    [
        (SINGLE_ACCOUNT, set()),
        (IN_ORGANIZATION, {"OrganizationPutsEvents"}),
        (OUTSIDE_ORGANIZATION, {"MemberAccountsPutEvents"}),
        (BOTH, {"OrganizationPutsEvents"}),  # with an organization, listed accounts only narrow what is watched
    ],
    ids=["single-account", "organization", "listed-accounts", "organization-and-accounts"],
)
def test_the_bus_takes_other_accounts_events_only_when_the_stack_is_a_hub(parameters, policies):
    assert {name for name in bus_policies() if deployed(HUB.document, name, parameters)} == policies


def test_the_organizations_statement_lets_in_only_its_principals_and_only_to_put_events():
    policy = bus_policies()["OrganizationPutsEvents"]
    assert policy["Condition"] == "HasOrganization"
    assert HUB.document["Conditions"]["HasOrganization"] == {
        "Fn::Not": [{"Fn::Equals": [{"Ref": "OrganizationId"}, ""]}]
    }
    assert policy["Properties"]["Statement"] == {
        "Effect": "Allow",
        "Principal": "*",
        "Action": "events:PutEvents",
        "Resource": HUB_BUS,
        "Condition": {"StringEquals": {"aws:PrincipalOrgID": {"Ref": "OrganizationId"}}},
    }


def test_outside_an_organization_the_bus_lets_in_exactly_the_listed_accounts():
    policy = bus_policies()["MemberAccountsPutEvents"]
    statement = policy["Properties"]["Statement"]
    assert statement == {
        "Effect": "Allow",
        "Principal": {"AWS": {"Fn::Split": [",", {"Ref": "MemberAccounts"}]}},
        "Action": "events:PutEvents",
        "Resource": HUB_BUS,
    }
    assert not holds(HUB.document, policy["Condition"], {"MemberAccounts": ""})


# --- the hub's role in member accounts --------------------------------------------------------------------------


def test_only_the_functions_that_act_where_events_happen_may_assume_a_member_role():
    assuming = {function for function in HUB.functions() if assume_role_statements(function)}
    assert assuming == {"IngestFunction", "SweepFunction", "RemediateFunction"}
    assert {f for f, actions in FUNCTION_PERMISSIONS.items() if "sts:AssumeRole" in actions} == assuming


@pytest.mark.parametrize("function", ["IngestFunction", "SweepFunction", "RemediateFunction"])
def test_the_hub_assumes_only_the_member_role_it_was_given_only_in_the_organizations_accounts(function):
    statements = assume_role_statements(function)
    member_role = [(s, c) for s, c in statements if s["Resource"] == MEMBER_ROLE_ARN]
    assert len(member_role) == 1
    for statement, condition in statements:
        assert listed(statement["Action"]) == ["sts:AssumeRole"], "an assume-role statement grants nothing else"
        assert statement["Effect"] == "Allow"
        assert statement["Resource"] in (MEMBER_ROLE_ARN, REMEDIATION_ROLE_ARN)
        assert statement["Condition"] == ASSUMED_ONLY_IN_THE_ORGANIZATION
        assert condition in ("WatchesMembers", "RemediatesMembers")
        assert not holds(HUB.document, condition, SINGLE_ACCOUNT), "a single-account stack assumes no role"


def test_without_an_organization_the_role_is_assumed_only_in_the_listed_accounts():
    """The Fn::If picks aws:ResourceOrgID with an organization, else the listed accounts themselves."""
    when, in_organization, otherwise = ASSUMED_ONLY_IN_THE_ORGANIZATION["Fn::If"]
    assert holds(HUB.document, when, IN_ORGANIZATION) and holds(HUB.document, when, BOTH)
    assert not holds(HUB.document, when, OUTSIDE_ORGANIZATION)
    assert in_organization["StringEquals"] == {"aws:ResourceOrgID": {"Ref": "OrganizationId"}}
    assert otherwise["StringEquals"] == {"aws:ResourceAccount": {"Fn::Split": [",", {"Ref": "MemberAccounts"}]}}


def test_only_enforcing_remediation_may_assume_the_member_remediation_role():
    [(_, condition)] = [
        (s, c) for s, c in assume_role_statements("RemediateFunction") if s["Resource"] == REMEDIATION_ROLE_ARN
    ]
    for mode, expected in (("off", False), ("dry-run", False), ("enforce", True)):
        assert holds(HUB.document, condition, IN_ORGANIZATION | {"RemediationMode": mode}) is expected, mode
    assert not holds(HUB.document, condition, {"RemediationMode": "enforce"})  # not a hub: no member at all
    assert not [s for f in ("IngestFunction", "SweepFunction") for s, _ in assume_role_statements(f)
                if s["Resource"] == REMEDIATION_ROLE_ARN]  # fmt: skip


def test_the_role_names_the_hub_assumes_are_the_ones_the_member_template_makes():
    assert HUB.parameter_default("MemberRoleName") == MEMBER.resources["GuardianMemberRole"]["Properties"]["RoleName"]
    remediation_role = MEMBER.resources[member_template.REMEDIATION_ROLE_NAME]["Properties"]["RoleName"]
    assert REMEDIATION_ROLE_ARN["Fn::Sub"].endswith(f":role/{remediation_role}")


# --- the member role's tag writes -------------------------------------------------------------------------------


def ownership_tags_policy() -> dict[str, Any]:
    return MEMBER.resources[member_template.OWNERSHIP_TAGS_POLICY]


def test_the_member_role_writes_tags_only_when_the_hub_writes_them_and_only_as_the_hub_does():
    policy = ownership_tags_policy()
    assert policy["Properties"]["Roles"] == [{"Ref": "GuardianMemberRole"}]
    parameters = MEMBER.document["Parameters"]
    assert parameters["WriteOwnershipTags"] == HUB.document["Parameters"]["WriteOwnershipTags"]
    assert parameters["WriteOwnershipTags"]["Default"] == "true"
    in_hub_region = {"HubRegion": "us-east-1", "AWS::Region": "us-east-1"}
    assert holds(MEMBER.document, policy["Condition"], in_hub_region)
    assert not holds(MEMBER.document, policy["Condition"], in_hub_region | {"WriteOwnershipTags": "false"})
    statements = policy["Properties"]["PolicyDocument"]["Statement"]
    assert {a for s in statements for a in listed(s["Action"])} == TAG_WRITES
    assert {s["Effect"] for s in statements} == {"Allow"}
    # Account-wide (IAM is global): the member's resources in every region the hub sweeps, never another account's.
    for statement in statements:
        for resource in statement["Resource"]:
            arn = resource["Fn::Sub"]
            assert "${AWS::Region}" not in arn and (
                "${AWS::AccountId}" in arn or arn.startswith("arn:${AWS::Partition}:s3:::")
            )


def test_every_tag_write_that_can_be_held_to_the_guardians_tag_keys_is():
    statements = ownership_tags_policy()["Properties"]["PolicyDocument"]["Statement"]
    unconditioned = {a for s in statements if "Condition" not in s for a in listed(s["Action"])}
    # S3 writes a bucket's whole tag set back (its owner's tags with ours): no tag-key condition can hold.
    assert unconditioned == {"s3:PutBucketTagging"}
    [bucket_statement] = [s for s in statements if "Condition" not in s]
    assert bucket_statement["Resource"] == [{"Fn::Sub": "arn:${AWS::Partition}:s3:::*"}]
    for statement in statements:
        if "Condition" in statement:
            assert statement["Condition"] == {"ForAllValues:StringLike": {"aws:TagKeys": {"Fn::Sub": "${TagPrefix}:*"}}}


PREFIX = st.from_regex(r"[a-zA-Z0-9_.-]{1,64}", fullmatch=True).filter(
    re.compile(HUB.document["Parameters"]["TagPrefix"]["AllowedPattern"]).fullmatch
)


@given(prefix=PREFIX, other=st.sampled_from(["Name", "owner", "aws:cloudformation:stack-name", "team", "exempt"]))
def test_the_tag_key_condition_admits_every_key_the_guardian_writes_and_no_other(prefix, other):
    [pattern] = {
        s["Condition"]["ForAllValues:StringLike"]["aws:TagKeys"]["Fn::Sub"]
        for s in ownership_tags_policy()["Properties"]["PolicyDocument"]["Statement"]
        if "Condition" in s
    }
    allowed = pattern.replace("${TagPrefix}", prefix)  # IAM's StringLike: * is any run of characters
    attribution = Attribution(
        source=Source.STUDIO_API, owner="alice", owner_arn="arn:aws:sts::1:assumed-role/r/alice", space_arn="arn:s"
    )
    written = OwnershipTags(prefix).for_attribution(attribution)
    assert written and all(fnmatchcase(key, allowed) for key in written)
    assert not fnmatchcase(other, allowed) or other.startswith(f"{prefix}:")


# --- a member account: no function, no way into the hub's data --------------------------------------------------


def member_policy_actions() -> set[str]:
    actions: set[str] = set()
    for resource in MEMBER.resources.values():
        documents = [p["PolicyDocument"] for p in resource["Properties"].get("Policies", [])]
        if "PolicyDocument" in resource["Properties"]:
            documents.append(resource["Properties"]["PolicyDocument"])
        for document in documents:
            for statement in Template.policy_document(document)["Statement"]:
                actions.update(listed(statement["Action"]))
    return actions


def test_the_member_template_has_no_lambda_and_grants_nothing_on_a_table_or_a_function():
    kinds = {r["Type"] for r in MEMBER.resources.values()}
    assert kinds <= {"AWS::Events::Rule", "AWS::IAM::Role", "AWS::IAM::Policy"}
    assert not [k for k in kinds if k.startswith(("AWS::Lambda::", "AWS::Serverless::", "AWS::DynamoDB::"))]
    actions = member_policy_actions()
    assert actions, "the member template grants the hub what it needs"
    assert not [a for a in actions if a.split(":")[0] in {"dynamodb", "lambda", "sqs", "sns", "kms", "secretsmanager"}]
    assert "Transform" not in MEMBER.document


def resource_policy_statements(document: dict[str, Any]) -> list[tuple[str, dict[str, Any]]]:
    """Every statement of a resource-based policy in a template (queues, buckets, topics, keys, buses, tables)."""
    found = []
    for name, resource in document["Resources"].items():
        if resource["Type"].startswith("AWS::IAM::"):  # identity policies: whose they are is their role
            continue
        properties = resource.get("Properties", {})
        for key in ("PolicyDocument", "KeyPolicy", "ResourcePolicy"):
            if key in properties:
                policy = properties[key]
                policy = policy.get("PolicyDocument", policy) if key == "ResourcePolicy" else policy
                found += [(name, s) for s in Template.policy_document(policy)["Statement"]]
        if resource["Type"] == "AWS::Events::EventBusPolicy":
            found.append((name, properties["Statement"]))
    return found


def only_this_account(statement: dict[str, Any]) -> bool:
    """The account's own root, or any principal the statement's condition pins to this account."""
    if statement.get("Principal") == {"AWS": {"Fn::Sub": "arn:${AWS::Partition}:iam::${AWS::AccountId}:root"}}:
        return True
    pinned = statement.get("Condition", {}).get("StringEquals", {})
    this_account = {"Ref": "AWS::AccountId"}
    return any(pinned.get(key) == this_account for key in ("kms:CallerAccount", "aws:PrincipalAccount"))


def test_no_principal_outside_the_hub_account_may_do_more_than_put_events_on_its_bus():
    """So a member account can reach the hub only through its bus: the table has no resource policy at all, and
    every other resource policy admits only AWS services (for this account) or the account itself."""
    table = HUB.resources["GuardianTable"]
    assert "ResourcePolicy" not in table["Properties"]
    assert not [r for r in HUB.resources.values() if r["Type"] == "AWS::DynamoDB::ResourcePolicy"]
    statements = resource_policy_statements(HUB.document)
    assert statements
    for name, statement in statements:
        if statement["Effect"] != "Allow":
            continue
        principal = statement.get("Principal")
        if isinstance(principal, dict) and set(principal) == {SERVICE}:
            continue
        if only_this_account(statement):
            continue
        assert name in bus_policies(), f"{name} lets {principal} in"
        assert listed(statement["Action"]) == ["events:PutEvents"], name


def test_only_the_hubs_own_functions_may_read_its_table():
    """The table's readers are the stack's function roles; no other role or policy of either template names it."""
    readers = set()
    for name, resource in HUB.resources.items():
        if resource["Type"] in (
            "AWS::IAM::Role",
            "AWS::IAM::Policy",
            "AWS::IAM::RolePolicy",
            "AWS::IAM::ManagedPolicy",
        ):
            assert "GuardianTable" not in str(resource.get("Properties", {})), f"{name} names the table"
    for function in HUB.functions():
        if any(a.startswith("dynamodb:") for s, _ in HUB.policy_statements(function) for a in listed(s["Action"])):
            readers.add(function)
    assert readers, "the functions are granted the table through their own roles (SAM's Policies)"
    assert "GuardianTable" not in str(MEMBER.document)
