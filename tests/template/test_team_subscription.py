"""The topic carries every owner's private messages, so the stack never advises an unfiltered subscription:
its outputs point team addresses to a subscription filtered to team messages (audience=team, or none at
all), as TeamEmail's own subscription is. The alarms have a topic of their own (test_failure_visibility.py)."""

import json
import shlex
from typing import Any

import pytest
from moto.sns.utils import FilterPolicyMatcher

from guardian.channels import Audience, sns_attributes
from guardian_sandbox.template import template
from tests.unit.test_report import week47_findings

TOPIC = {"Ref": "AlertsTopic"}


def outputs() -> dict[str, Any]:
    return template().document["Outputs"]


def team_subscription() -> dict[str, Any]:
    return template().resources["TeamSubscription"]


def matcher(policy: dict[str, Any]) -> FilterPolicyMatcher:
    return FilterPolicyMatcher(policy, "MessageAttributes")


def lets_through(policy: dict[str, Any], attributes: dict[str, dict[str, str]]) -> bool:
    as_published = {k: {"Type": v["DataType"], "Value": v["StringValue"]} for k, v in attributes.items()}
    return matcher(policy).matches(as_published, "")


def test_team_email_makes_a_subscription_filtered_to_team_messages():
    subscription = team_subscription()
    assert subscription["Type"] == "AWS::SNS::Subscription" and subscription["Condition"] == "HasTeamEmail"
    properties = subscription["Properties"]
    assert properties["TopicArn"] == TOPIC and properties["Endpoint"] == {"Ref": "TeamEmail"}
    assert properties["Protocol"] == "email" and properties["FilterPolicyScope"] == "MessageAttributes"
    assert {"audience": ["team"]} in properties["FilterPolicy"]["$or"]


def test_every_subscription_to_the_topic_in_the_template_is_filtered():
    subscriptions = [r for r in template().resources.values() if r["Type"] == "AWS::SNS::Subscription"]
    assert subscriptions
    for subscription in subscriptions:
        if subscription["Properties"]["TopicArn"] == TOPIC:
            assert subscription["Properties"]["FilterPolicy"]
    assert "Subscription" not in template().resources["AlertsTopic"]["Properties"]  # no inline, unfiltered one


@pytest.mark.parametrize("owners_findings", [True, False], ids=["about findings", "about nothing"])
def test_the_filter_lets_team_messages_and_alarms_through_and_never_an_owners(owners_findings):
    policy = team_subscription()["Properties"]["FilterPolicy"]
    findings = [f for f in week47_findings() if f.owner == "alice"] if owners_findings else []
    assert lets_through(policy, sns_attributes(findings, Audience(None)))
    assert not lets_through(policy, sns_attributes(findings, Audience("alice")))
    assert lets_through(policy, {})  # a message without attributes reaches the team, never an owner


def test_the_outputs_advertise_only_the_filtered_subscription():
    advertised = outputs()
    for name, output in advertised.items():
        description = str(output.get("Description", "")).lower()
        assert "subscribe your email here" not in description, name
    topic = advertised["AlertsTopicArn"]["Description"]
    assert "never subscribe to it unfiltered" in topic and "TeamFilterPolicy" in topic and "TeamEmail" in topic
    team_policy = team_subscription()["Properties"]["FilterPolicy"]
    assert json.loads(advertised["TeamFilterPolicy"]["Value"]) == team_policy
    assert advertised["TeamSubscriptionArn"] == {
        "Condition": "HasTeamEmail",
        "Description": advertised["TeamSubscriptionArn"]["Description"],
        "Value": {"Ref": "TeamSubscription"},
    }


def test_the_advertised_command_subscribes_with_the_team_filter_policy():
    command = shlex.split(outputs()["TeamSubscribeCommand"]["Value"]["Fn::Sub"])
    assert command[:3] == ["aws", "sns", "subscribe"]
    options = dict(zip(command[3::2], command[4::2], strict=True))
    assert options["--topic-arn"] == "${AlertsTopic}" and options["--protocol"] == "email"
    attributes = json.loads(options["--attributes"])
    assert attributes["FilterPolicyScope"] == "MessageAttributes"
    policy = json.loads(attributes["FilterPolicy"])
    assert policy == team_subscription()["Properties"]["FilterPolicy"]
    assert not lets_through(policy, sns_attributes([], Audience("alice")))
