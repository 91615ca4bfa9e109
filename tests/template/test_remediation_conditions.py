"""The remediation role's destructive actions, in template.yaml, carry conditions AWS itself enforces: allowed
only on what carries the guardian's ownership tag, and denied outright on what carries the exemption tag,
both named from the stack's own parameters (TagPrefix, ExemptionTagKey); every action the code declares as
mutating is under both."""

from guardian.attribution import OwnershipTags
from guardian.permissions import MUTATING_ONLY_WHEN_ENFORCED
from guardian.settings import Settings
from guardian_sandbox.template import template

OWNER_CONDITION = {"Null": {"aws:ResourceTag/${TagPrefix}:owner": "false"}}
EXEMPT_CONDITION = {"Null": {"aws:ResourceTag/${ExemptionTagKey}": "false"}}


def _mutating_statements() -> list[tuple[dict, str | None]]:
    return [
        (statement, condition)
        for statement, condition in template().policy_statements("RemediateFunction")
        if set(statement["Action"]) & MUTATING_ONLY_WHEN_ENFORCED
    ]


def test_every_destructive_action_is_allowed_only_on_what_the_guardian_tagged():
    allowed = [s for s, _ in _mutating_statements() if s["Effect"] == "Allow"]
    assert allowed, "no statement allows remediation to act"
    for statement in allowed:
        assert statement["Condition"] == OWNER_CONDITION, statement.get("Sid")
    assert {a for s in allowed for a in s["Action"]} == MUTATING_ONLY_WHEN_ENFORCED


def test_every_destructive_action_is_denied_on_what_is_exempt_wherever_it_is_allowed():
    statements = _mutating_statements()
    [deny] = [s for s, _ in statements if s["Effect"] == "Deny"]
    assert deny["Condition"] == EXEMPT_CONDITION
    assert set(deny["Action"]) == MUTATING_ONLY_WHEN_ENFORCED
    for statement, _ in statements:
        if statement["Effect"] == "Allow":
            assert set(statement["Resource"]) <= set(deny["Resource"])
    assert {condition for _, condition in statements} == {"RemediationEnforced"}  # nothing unless enforced


def test_the_condition_keys_are_the_tags_the_guardian_writes_and_reads():
    """${TagPrefix}:owner is the key the guardian tags resources with, ${ExemptionTagKey} the one it honours."""
    prefix = template().parameter_default("TagPrefix")
    exemption = template().parameter_default("ExemptionTagKey")
    assert f"{prefix}:owner" == OwnershipTags(prefix).owner
    settings = Settings.model_validate({"TABLE_NAME": "table", "TAG_PREFIX": prefix, "EXEMPTION_TAG": exemption})
    assert settings.exemption_tag == exemption
    variables = template().document["Globals"]["Function"]["Environment"]["Variables"]
    assert variables["TAG_PREFIX"] == {"Ref": "TagPrefix"} and variables["EXEMPTION_TAG"] == {"Ref": "ExemptionTagKey"}


def test_the_conditioned_policy_is_attached_to_the_remediate_functions_role():
    [(name, policy)] = [
        (name, resource)
        for name, resource in template().resources.items()
        if resource["Type"] == "AWS::IAM::Policy"
        and {"Ref": "RemediateFunctionRole"} in resource["Properties"]["Roles"]
    ]
    assert policy["Condition"] == "RemediationEnforced"
    assert "Fn::Sub" in policy["Properties"]["PolicyDocument"], f"{name}: the tag keys come from the parameters"


def test_shared_spaces_are_left_alone_unless_the_stack_says_so():
    assert template().parameter_default("RemediateSharedSpaces") == "false"
    variables = template().functions()["RemediateFunction"]["Properties"]["Environment"]["Variables"]
    assert variables["REMEDIATE_SHARED_SPACES"] == {"Ref": "RemediateSharedSpaces"}
