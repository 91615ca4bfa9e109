"""Where the stack's data is encrypted, and with whose key, read from template.yaml as deployed with either
value of UseCustomerManagedKey: everything that holds owners' data (table, messages topic, reports bucket,
queues) is encrypted under both; the customer-managed key ($1 a month) exists only when asked for, and then
encrypts the table, both topics and the bucket; the alarm topic, which holds alarm state only, is unencrypted
without it (CloudWatch cannot use an AWS managed key) and takes publishes only from this account's alarms,
over TLS."""

import re
from typing import Any

import pytest

from guardian_sandbox.simulation.deployment import Deployment
from guardian_sandbox.template import template

KEY = "GuardianKey"
NO_VALUE = {"Ref": "AWS::NoValue"}


class Deployed:
    """template.yaml's resources as CloudFormation makes them with ``key`` for UseCustomerManagedKey: only
    those whose Condition holds, each Fn::If replaced by its branch, AWS::NoValue dropped."""

    def __init__(self, key: str) -> None:
        self.deployment = Deployment(template().document, {"UseCustomerManagedKey": key})
        self.resources = {
            name: self.resolve(resource)
            for name, resource in template().resources.items()
            if self.deployment.exists(name)
        }

    def resolve(self, value: Any) -> Any:
        if isinstance(value, list):
            return [self.resolve(v) for v in value if v != NO_VALUE and not self._no_value(v)]
        if not isinstance(value, dict):
            return value
        if "Fn::If" in value:
            condition, when_true, when_false = value["Fn::If"]
            return self.resolve(when_true if self.deployment.condition(condition) else when_false)
        return {k: self.resolve(v) for k, v in value.items() if v != NO_VALUE and not self._no_value(v)}

    def _no_value(self, value: Any) -> bool:
        """An Fn::If whose chosen branch is AWS::NoValue: the property or item is left out."""
        return isinstance(value, dict) and "Fn::If" in value and self.resolve(value) == NO_VALUE

    def properties(self, name: str) -> dict[str, Any]:
        return dict(self.resources[name].get("Properties", {}))

    def key_grants(self) -> dict[str, list[Any]]:
        """Per function, the resources of its inline statements that allow a kms: action."""
        grants: dict[str, list[Any]] = {}
        for name, resource in self.resources.items():
            if resource["Type"] != "AWS::Serverless::Function":
                continue
            policies = [p for p in resource["Properties"].get("Policies", []) if isinstance(p, dict)]
            for statement in (s for policy in policies for s in policy.get("Statement", [])):
                actions = statement["Action"] if isinstance(statement["Action"], list) else [statement["Action"]]
                if any(action.startswith("kms:") for action in actions):
                    grants.setdefault(name, []).append(statement["Resource"])
        return grants


def names(value: Any) -> set[str]:
    """Every logical id the value refers to (Ref, Fn::GetAtt, or ${...} in Fn::Sub)."""
    if isinstance(value, list):
        return set().union(set(), *map(names, value))
    if not isinstance(value, dict):
        return set()
    found: set[str] = set()
    for key, inner in value.items():
        if key == "Ref" and isinstance(inner, str):
            found.add(inner)
        elif key == "Fn::GetAtt":
            found.add((inner if isinstance(inner, str) else inner[0]).split(".")[0])
        elif key == "Fn::Sub":
            text = inner if isinstance(inner, str) else inner[0]
            found |= {part.split(".")[0] for part in re.findall(r"\$\{([^}!]+)\}", text)}
            found |= names(inner[1:]) if isinstance(inner, list) else set()
        else:
            found |= names(inner)
    return found


@pytest.fixture(scope="module", params=["false", "true"], ids=["AWS managed keys", "customer-managed key"])
def deployed(request: pytest.FixtureRequest) -> Deployed:
    return Deployed(request.param)


def test_the_customer_managed_key_is_off_by_default():
    assert template().parameter_default("UseCustomerManagedKey") == "false"
    assert KEY not in Deployed("false").resources
    assert KEY in Deployed("true").resources


def test_nothing_refers_to_the_key_when_it_is_not_made(deployed):
    """Deployable under both values: no resource, property or output names a key that does not exist."""
    made = set(deployed.resources) | {"AWS::AccountId", "AWS::Region", "AWS::Partition", "AWS::StackName"}
    for name, resource in deployed.resources.items():
        referred = names(resource.get("Properties", {}))
        if KEY in referred:
            assert KEY in made, f"{name} names {KEY}, which this deployment does not make"


def test_whatever_holds_owners_data_is_encrypted_at_rest(deployed):
    table = deployed.properties("GuardianTable")["SSESpecification"]
    assert table["SSEEnabled"] is True and table["SSEType"] == "KMS"
    assert deployed.properties("AlertsTopic")["KmsMasterKeyId"]  # owners' messages: aws/sns or the stack's key
    [rule] = deployed.properties("ReportsBucket")["BucketEncryption"]["ServerSideEncryptionConfiguration"]
    assert rule["ServerSideEncryptionByDefault"]["SSEAlgorithm"] in ("AES256", "aws:kms")
    for name, resource in deployed.resources.items():
        if resource["Type"] == "AWS::SQS::Queue":
            assert resource["Properties"].get("SqsManagedSseEnabled") is True, name


def test_with_the_key_it_encrypts_the_table_both_topics_and_the_bucket():
    deployed, key = Deployed("true"), {"Ref": KEY}
    assert deployed.properties("GuardianTable")["SSESpecification"]["KMSMasterKeyId"] == key
    assert deployed.properties("AlertsTopic")["KmsMasterKeyId"] == key
    assert deployed.properties("AlarmTopic")["KmsMasterKeyId"] == key
    [rule] = deployed.properties("ReportsBucket")["BucketEncryption"]["ServerSideEncryptionConfiguration"]
    assert rule["ServerSideEncryptionByDefault"]["KMSMasterKeyID"] == {"Fn::GetAtt": [KEY, "Arn"]}
    # CloudWatch must be let use the key to publish to the alarm topic; DynamoDB, on its readers' behalf.
    statements = deployed.properties(KEY)["KeyPolicy"]["Statement"]
    users = {str(s["Principal"]): s for s in statements if s["Effect"] == "Allow"}
    assert "kms:GenerateDataKey*" in users[str({"Service": "cloudwatch.amazonaws.com"})]["Action"]
    through_dynamodb = users[str({"AWS": "*"})]["Condition"]["StringEquals"]
    assert through_dynamodb["kms:CallerAccount"] == {"Ref": "AWS::AccountId"}
    assert "dynamodb" in through_dynamodb["kms:ViaService"]["Fn::Sub"]
    # The functions that publish to the topic (and write the bucket) use the key with their own credentials.
    assert deployed.key_grants() == {
        "NotifyFunction": [{"Fn::GetAtt": [KEY, "Arn"]}],
        "ReportFunction": [{"Fn::GetAtt": [KEY, "Arn"]}],
    }


def test_without_the_key_aws_managed_keys_encrypt_and_the_functions_are_granted_no_key():
    deployed = Deployed("false")
    assert "KMSMasterKeyId" not in deployed.properties("GuardianTable")["SSESpecification"]  # aws/dynamodb
    assert deployed.properties("AlertsTopic")["KmsMasterKeyId"] == "alias/aws/sns"
    assert "KmsMasterKeyId" not in deployed.properties("AlarmTopic")
    assert deployed.key_grants() == {}  # SNS and DynamoDB use their AWS managed keys for any principal here


def test_only_this_accounts_alarms_publish_to_the_alarm_topic_and_only_over_tls(deployed):
    policy = deployed.properties("AlarmTopicPolicy")
    assert policy["Topics"] == [{"Ref": "AlarmTopic"}]
    allow, deny = policy["PolicyDocument"]["Statement"]
    assert allow["Effect"] == "Allow" and allow["Principal"] == {"Service": "cloudwatch.amazonaws.com"}
    assert allow["Action"] == "sns:Publish" and allow["Resource"] == {"Ref": "AlarmTopic"}
    assert allow["Condition"]["StringEquals"] == {"aws:SourceAccount": {"Ref": "AWS::AccountId"}}
    assert ":alarm:" in allow["Condition"]["ArnLike"]["aws:SourceArn"]["Fn::Sub"]
    assert deny["Effect"] == "Deny" and deny["Principal"] == "*" and deny["Action"] == "sns:Publish"
    assert deny["Condition"] == {"Bool": {"aws:SecureTransport": "false"}}


def test_the_alarm_topic_carries_alarms_only(deployed):
    """Nothing but alarms publishes there, so nothing an owner was told is kept unencrypted."""
    for name, resource in deployed.resources.items():
        properties = resource.get("Properties", {})
        if resource["Type"] == "AWS::CloudWatch::Alarm":
            assert properties["AlarmActions"] == [{"Ref": "AlarmTopic"}], name
        elif resource["Type"] == "AWS::Serverless::Function":
            assert "AlarmTopic" not in names(properties), f"{name} may publish to the alarm topic"
