"""member-template.yaml, the StackSet template for member accounts: generated from template.yaml and the declared
permissions (never edited by hand), plain CloudFormation, forwarding exactly the hub's ingest patterns to the
hub's bus, and granting the hub exactly the reads of its functions that act there (and, only when enabled, the
remediation actions)."""

import json
import sys
from collections import Counter

import boto3
import pytest

from guardian.permissions import FUNCTION_PERMISSIONS, MUTATING_ONLY_WHEN_ENFORCED
from guardian_sandbox.template import PROJECT_ROOT, Template, template
from tests.conftest import EVENTS, load

sys.path.insert(0, str(PROJECT_ROOT / "tools"))
import member_template  # tools/ is not a package

MEMBER = Template.load(member_template.MEMBER_TEMPLATE_PATH)
HUB_PATTERNS = member_template.ingest_patterns(template())
HUB_BUS_ARN = "arn:${AWS::Partition}:events:${HubRegion}:${HubAccountId}:event-bus/${HubEventBusName}"
WRITE_VERBS = ("Add", "Put", "Create", "Delete", "Update", "Start", "Stop", "Terminate", "Pass", "Tag", "Untag")


def of_type(kind: str) -> dict[str, dict]:
    return {name: r for name, r in MEMBER.resources.items() if r["Type"] == kind}


def forwarding_rules() -> dict[str, dict]:
    return of_type("AWS::Events::Rule")


def canonical(pattern: dict) -> str:
    return json.dumps(pattern, sort_keys=True)


def only_policy(role: dict) -> dict:
    (policy,) = role["Properties"]["Policies"]
    return Template.policy_document(policy["PolicyDocument"])


def allowed_actions(document: dict, effect: str = "Allow") -> set[str]:
    actions: set[str] = set()
    for statement in document["Statement"]:
        if statement["Effect"] == effect:
            listed = statement["Action"]
            actions.update([listed] if isinstance(listed, str) else listed)
    return actions


def test_the_committed_file_is_what_the_generator_writes():
    assert member_template.MEMBER_TEMPLATE_PATH.read_text() == member_template.render(), (
        "member-template.yaml is stale or was edited by hand: run `make member-template`"
    )


def test_it_is_plain_cloudformation_with_no_function_and_no_data():
    assert "Transform" not in MEMBER.document  # a service-managed StackSet cannot deploy a Transform
    assert {r["Type"] for r in MEMBER.resources.values()} == {
        "AWS::Events::Rule",
        "AWS::IAM::Role",
        "AWS::IAM::Policy",
    }
    assert not [r for r in MEMBER.resources.values() if r["Type"].startswith(("AWS::Lambda::", "AWS::Serverless::"))]


def test_every_hub_ingest_pattern_has_exactly_one_forwarding_rule_and_no_rule_forwards_anything_else():
    hub = Counter(canonical(pattern) for pattern in HUB_PATTERNS.values())
    member = Counter(canonical(rule["Properties"]["EventPattern"]) for rule in forwarding_rules().values())
    assert HUB_PATTERNS, "the hub has ingest rules"
    assert member == hub
    assert set(member.values()) == {1}


def test_every_forwarding_rule_targets_only_the_hub_bus_through_the_forwarding_role():
    for name, rule in forwarding_rules().items():
        (target,) = rule["Properties"]["Targets"]
        assert target["Arn"] == {"Fn::Sub": HUB_BUS_ARN}, name
        assert target["RoleArn"] == {"Fn::GetAtt": ["ForwardToHubRole", "Arn"]}, name
        assert rule["Properties"]["State"] == "ENABLED", name


def test_the_forwarding_role_may_only_put_events_on_the_hub_bus():
    role = MEMBER.resources["ForwardToHubRole"]
    (statement,) = only_policy(role)["Statement"]
    assert statement == {"Effect": "Allow", "Action": "events:PutEvents", "Resource": {"Fn::Sub": HUB_BUS_ARN}}
    (trust,) = role["Properties"]["AssumeRolePolicyDocument"]["Statement"]
    assert trust["Principal"] == {"Service": "events.amazonaws.com"}


def test_the_member_role_holds_exactly_the_reads_of_the_functions_that_assume_it_and_nothing_that_writes():
    acting_there = {name for name, actions in FUNCTION_PERMISSIONS.items() if "sts:AssumeRole" in actions}
    assert acting_there == {"IngestFunction", "SweepFunction", "RemediateFunction"}
    reads = {
        action
        for name in acting_there
        for action in FUNCTION_PERMISSIONS[name]
        if action.split(":")[0] not in {"dynamodb", "pricing", "organizations"}  # hub-side: table, prices, the org
        and (action == "cloudtrail:LookupEvents" or action.split(":")[1].startswith(("List", "Describe", "Get")))
    }
    role = MEMBER.resources["GuardianMemberRole"]
    assert role["Properties"]["RoleName"] == "GuardianMemberRole"
    document = only_policy(role)
    assert allowed_actions(document) == reads
    assert {"cloudtrail:LookupEvents", "cloudwatch:GetMetricData", "tag:GetResources"} <= reads
    assert not [a for a in allowed_actions(document) if a.split(":")[1].startswith(WRITE_VERBS)]
    assert not [a for a in allowed_actions(document) if "*" in a]
    assert [s["Effect"] for s in document["Statement"]] == ["Allow"]


@pytest.mark.parametrize("role", ["GuardianMemberRole", "GuardianMemberRemediationRole"])
def test_only_the_hub_account_inside_the_organization_with_the_external_id_may_assume_the_roles(role):
    (trust,) = MEMBER.resources[role]["Properties"]["AssumeRolePolicyDocument"]["Statement"]
    assert trust["Effect"] == "Allow"
    assert trust["Action"] == "sts:AssumeRole"
    assert trust["Principal"] == {"AWS": {"Fn::Sub": "arn:${AWS::Partition}:iam::${HubAccountId}:root"}}
    in_organization = {"Fn::If": ["InOrganization", {"Ref": "OrganizationId"}, {"Ref": "AWS::NoValue"}]}
    assert trust["Condition"] == {
        "StringEquals": {"aws:PrincipalOrgID": in_organization, "sts:ExternalId": {"Ref": "ExternalId"}}
    }
    # Only an account outside any organization leaves it out.
    assert MEMBER.document["Conditions"]["InOrganization"] == {
        "Fn::Not": [{"Fn::Equals": [{"Ref": "OrganizationId"}, ""]}]
    }
    assert MEMBER.document["Parameters"]["ExternalId"]["NoEcho"] is True


def test_the_remediation_role_exists_only_when_enabled_with_exactly_the_remediation_reads_and_mutations():
    parameters = MEMBER.document["Parameters"]
    assert parameters["EnableRemediation"]["Default"] == "false"
    role = MEMBER.resources["GuardianMemberRemediationRole"]
    assert role["Condition"] == "RemediationEnabled"
    enabled = MEMBER.document["Conditions"]["RemediationEnabled"]["Fn::And"]
    assert {"Fn::Equals": [{"Ref": "EnableRemediation"}, "true"]} in enabled
    document = only_policy(role)
    reads = set(member_template.remediation_read_actions())
    assert reads and not reads & MUTATING_ONLY_WHEN_ENFORCED
    assert reads == {a for a in FUNCTION_PERMISSIONS["RemediateFunction"] if member_template.is_read(a)}
    assert allowed_actions(document) == MUTATING_ONLY_WHEN_ENFORCED | reads
    assert allowed_actions(document, "Deny") == MUTATING_ONLY_WHEN_ENFORCED
    # No other role can change anything.
    others = [r for name, r in of_type("AWS::IAM::Role").items() if name != "GuardianMemberRemediationRole"]
    assert not [a for r in others for a in allowed_actions(only_policy(r)) & MUTATING_ONLY_WHEN_ENFORCED]


def test_remediation_is_limited_by_the_same_tags_as_the_hubs_and_the_tag_parameters_match_the_hubs():
    hub = template()
    hub_document = Template.policy_document(hub.resources["RemediationActionsPolicy"]["Properties"]["PolicyDocument"])
    member_document = only_policy(MEMBER.resources["GuardianMemberRemediationRole"])
    acting = [s for s in member_document["Statement"] if set(s["Action"]) & MUTATING_ONLY_WHEN_ENFORCED]
    conditions = {s["Effect"]: (s["Condition"], s["Resource"]) for s in acting}
    # The member's role is account-wide (IAM is global), so its resources are in any of the account's regions.
    assert conditions == {
        s["Effect"]: (s["Condition"], [r.replace("${AWS::Region}", "*") for r in s["Resource"]])
        for s in hub_document["Statement"]
    }
    assert not [r for _, resources in conditions.values() for r in resources if "${AWS::Region}" in r]
    assert conditions["Allow"][0] == {"Null": {"aws:ResourceTag/${TagPrefix}:owner": "false"}}
    assert conditions["Deny"][0] == {"Null": {"aws:ResourceTag/${ExemptionTagKey}": "false"}}
    for name in ("TagPrefix", "ExemptionTagKey"):
        assert MEMBER.document["Parameters"][name] == hub.document["Parameters"][name]


def test_account_wide_roles_are_made_once_per_account_and_the_hub_region_does_not_forward_to_itself():
    conditions = MEMBER.document["Conditions"]
    in_hub_region = {"Fn::Equals": [{"Ref": "AWS::Region"}, {"Ref": "HubRegion"}]}
    assert conditions["HoldsAccountRoles"] == in_hub_region
    assert MEMBER.resources["GuardianMemberRole"]["Condition"] == "HoldsAccountRoles"
    assert {"Condition": "HoldsAccountRoles"} in conditions["RemediationEnabled"]["Fn::And"]
    in_hub = {"Fn::Equals": [{"Ref": "AWS::AccountId"}, {"Ref": "HubAccountId"}]}
    assert conditions["ForwardsEvents"] == {"Fn::Not": [{"Fn::And": [in_hub, in_hub_region]}]}
    forwarding = [*forwarding_rules().values(), MEMBER.resources["ForwardToHubRole"]]
    assert {r["Condition"] for r in forwarding} == {"ForwardsEvents"}


@pytest.fixture
def member_region_forwarding(sandbox):
    """The member template's rules on a member region's bus (us-west-2), forwarding to the hub's bus in
    us-east-1, where the hub's ingest rules deliver each to its own queue."""
    hub_events = boto3.client("events", region_name="us-east-1")
    member_events = boto3.client("events", region_name="us-west-2")
    sqs = boto3.client("sqs", region_name="us-east-1")
    account = boto3.client("sts", region_name="us-east-1").get_caller_identity()["Account"]
    hub_bus = f"arn:aws:events:us-east-1:{account}:event-bus/default"
    queues = {}
    for name, pattern in HUB_PATTERNS.items():
        url = sqs.create_queue(QueueName=name)["QueueUrl"]
        arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
        hub_events.put_rule(Name=name, EventPattern=json.dumps(pattern))
        hub_events.put_targets(Rule=name, Targets=[{"Id": "queue", "Arn": arn}])
        queues[name] = url
    for name, rule in forwarding_rules().items():
        member_events.put_rule(Name=name, EventPattern=json.dumps(rule["Properties"]["EventPattern"]))
        member_events.put_targets(Rule=name, Targets=[{"Id": "hub-bus", "Arn": hub_bus}])

    def reached(event: dict, put_in: str = "us-west-2") -> set[str]:
        """The hub rules an event reaches, put on the member region's bus (or, to compare, the hub's own)."""
        entry = {"Source": event["source"], "DetailType": event["detail-type"], "Detail": json.dumps(event["detail"])}
        bus = member_events if put_in == "us-west-2" else hub_events
        assert bus.put_events(Entries=[entry])["FailedEntryCount"] == 0
        hits = set()
        for name, url in queues.items():
            messages = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10).get("Messages", [])
            if messages:
                hits.add(name)
                for message in messages:
                    sqs.delete_message(QueueUrl=url, ReceiptHandle=message["ReceiptHandle"])
        return hits

    return reached


@pytest.mark.parametrize("path", sorted((EVENTS / "ingest").glob("*.json")), ids=lambda p: p.name)
def test_an_event_in_a_member_region_reaches_the_hub_rule_that_ingests_it(member_region_forwarding, path):
    forwarded = member_region_forwarding(load(path))
    assert len(forwarded) == 1
    assert forwarded == member_region_forwarding(load(path), put_in="us-east-1")


def test_an_event_the_hub_does_not_ingest_is_not_forwarded(member_region_forwarding):
    event = load(EVENTS / "ingest" / "cloudtrail_CreateApp.json")
    failed = event | {"detail": event["detail"] | {"errorCode": "AccessDenied"}}
    assert member_region_forwarding(failed) == set()
