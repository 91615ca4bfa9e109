"""The one evaluator of the templates' intrinsics and conditions (guardian_sandbox.intrinsics): what a stack
deployed with given parameters would have, read the way CloudFormation reads template.yaml; what it cannot
evaluate is refused by name rather than read wrong."""

import pytest
from hypothesis import given
from hypothesis import strategies as st

from guardian_sandbox.intrinsics import IntrinsicError, Intrinsics, UnresolvedReference
from guardian_sandbox.template import template

HUB = template().document
DOCUMENT = {
    "Parameters": {"Mode": {"Type": "String", "Default": "off"}, "Accounts": {"Type": "String"}},
    "Conditions": {
        "On": {"Fn::Not": [{"Fn::Equals": [{"Ref": "Mode"}, "off"]}]},
        "Enforced": {"Fn::And": [{"Condition": "On"}, {"Fn::Equals": [{"Ref": "Mode"}, "enforce"]}]},
    },
    "Resources": {
        "Always": {"Type": "AWS::SQS::Queue"},
        "OnlyEnforced": {"Type": "AWS::SQS::Queue", "Condition": "Enforced"},
    },
}
NO_VALUE = {"Ref": "AWS::NoValue"}


@given(st.text(max_size=8))
def test_a_condition_holds_exactly_when_its_comparison_does(value):
    """template.yaml's HasAccountRoutes: AccountRoutes neither empty nor an empty mapping."""
    assert Intrinsics(HUB, {"AccountRoutes": value}).condition("HasAccountRoutes") is (value not in ("", "{}"))


@pytest.mark.parametrize(("mode", "exists"), [("off", False), ("notify", False), ("enforce", True)])
def test_a_resource_exists_only_when_its_condition_holds_for_the_parameters_given(mode, exists):
    intrinsics = Intrinsics(DOCUMENT, {"Mode": mode, "Accounts": ""})
    assert intrinsics.exists("Always") and intrinsics.exists("OnlyEnforced") is exists


def test_no_value_drops_the_key_or_list_item_that_holds_it():
    value = {
        "Kept": "yes",
        "Dropped": {"Fn::If": ["On", "on", NO_VALUE]},
        "Items": ["first", NO_VALUE, {"Fn::If": ["On", "on", NO_VALUE]}, "last"],
    }
    assert Intrinsics(DOCUMENT, {"Accounts": ""}).resolve(value) == {"Kept": "yes", "Items": ["first", "last"]}


def test_refs_getatts_subs_and_splits_resolve_from_refs_then_parameters():
    intrinsics = Intrinsics(DOCUMENT, {"Accounts": "111,222"}, {"AWS::Region": "eu-west-1", "Queue.Arn": "arn:q"})
    assert intrinsics.resolve({"Fn::Split": [",", {"Ref": "Accounts"}]}) == ["111", "222"]
    assert intrinsics.resolve({"Fn::GetAtt": ["Queue", "Arn"]}) == intrinsics.resolve({"Fn::GetAtt": "Queue.Arn"})
    sub = "${AWS::Region}/${Mode}/${Queue.Arn}/${Extra}/${!Literal}"
    assert intrinsics.resolve({"Fn::Sub": [sub, {"Extra": {"Ref": "Mode"}}]}) == "eu-west-1/off/arn:q/off/${Literal}"


def test_template_yaml_s_failed_runs_alarm_names_remediation_only_when_it_is_on():
    refs = {name: name.lower() for name in HUB["Resources"]} | {"FailedRunsQueue.QueueName": "failed-runs"}
    description = HUB["Resources"]["FailedRunsAlarm"]["Properties"]["AlarmDescription"]
    off = Intrinsics(HUB, {}, refs).resolve(description)
    enforced = Intrinsics(HUB, {"RemediationMode": "enforce"}, refs).resolve(description)
    assert "failed-runs" in off and "${" not in off
    assert "remediatefunction" in enforced and "remediatefunction" not in off


def test_what_it_cannot_evaluate_is_refused_by_name():
    intrinsics = Intrinsics(DOCUMENT)
    with pytest.raises(IntrinsicError, match="Fn::Select"):
        intrinsics.resolve({"Fn::Select": [0, ["a"]]})
    with pytest.raises(UnresolvedReference, match="Accounts"):  # no Default and none given
        intrinsics.resolve({"Ref": "Accounts"})
    with pytest.raises(UnresolvedReference, match=r"Queue\.Arn"):
        intrinsics.resolve({"Fn::GetAtt": ["Queue", "Arn"]})
    with pytest.raises(UnresolvedReference, match="Missing"):
        intrinsics.condition("Missing")
    with pytest.raises(IntrinsicError, match="Fn::If is not a condition function"):
        Intrinsics({"Conditions": {"Odd": {"Fn::If": ["On", "a", "b"]}}}).condition("Odd")
