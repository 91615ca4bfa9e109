"""template.yaml against the code: each function is granted exactly the IAM actions its modules
declare, every call it makes in the tests is among them, mutating actions never get `*`, and the
layer is built for the runtime and architecture the functions declare."""

import re
from datetime import UTC, datetime, timedelta

import pytest

from guardian import clock
from guardian import findings as lifecycle
from guardian.arns import Location
from guardian.findings import Status
from guardian.findings_store import DynamoFindings
from guardian.permissions import FUNCTION_PERMISSIONS, MUTATING_ONLY_WHEN_ENFORCED
from guardian_sandbox.calls import recording
from guardian_sandbox.intrinsics import Intrinsics
from guardian_sandbox.scenario import StudioAccount
from guardian_sandbox.stack import SANDBOX_ACCOUNT
from guardian_sandbox.template import PROJECT_ROOT, template
from tests.conftest import EVENTS, load, sample

READ_ONLY = re.compile(r":(List|Describe|Get|Query|BatchGet|Scan|LookupEvents)")


def test_every_function_in_the_template_has_declared_permissions():
    assert set(template().functions()) == set(FUNCTION_PERMISSIONS)


@pytest.mark.parametrize("function", sorted(FUNCTION_PERMISSIONS))
def test_the_template_grants_exactly_what_the_code_declares(function):
    assert template().policy_actions(function) == set(FUNCTION_PERMISSIONS[function])


@pytest.mark.parametrize("function", sorted(FUNCTION_PERMISSIONS))
def test_mutating_actions_are_never_granted_on_every_resource(function):
    for statement, _ in template().policy_statements(function):
        actions = statement["Action"] if isinstance(statement["Action"], list) else [statement["Action"]]
        mutating = [a for a in actions if not READ_ONLY.search(a)]
        if mutating:
            assert statement["Resource"] != "*", f"{function} grants {mutating} on *"
        assert all("*" not in action for action in actions)


def test_remediation_can_change_nothing_unless_enforced():
    remediate = template().resources["RemediateFunction"]
    assert remediate["Condition"] == "RemediationOn"  # no function at all when remediation is off
    for statement, condition in template().policy_statements("RemediateFunction"):
        actions = set(statement["Action"])
        if actions & MUTATING_ONLY_WHEN_ENFORCED:
            assert condition == "RemediationEnforced"
            assert actions <= MUTATING_ONLY_WHEN_ENFORCED
    conditions = template().document["Conditions"]
    assert conditions["RemediationOn"] == {"Fn::Not": [{"Fn::Equals": [{"Ref": "RemediationMode"}, "off"]}]}
    assert template().parameter_default("RemediationMode") == "off"


def test_the_functions_call_nothing_they_are_not_granted(stack, slack):
    """Run the demo's account and day through the functions and compare every call with the grants."""
    account = StudioAccount(stack.clients, Location("us-east-1", SANDBOX_ACCOUNT), datetime.now(UTC))
    day = account.build()
    with recording() as ingest_calls:
        for scheduled in day.events:
            stack.invoke("IngestFunction", scheduled.event)
    with recording() as sweep_calls:
        stack.invoke("SweepFunction", sample("scheduled.json", "sweep"))
        stack.invoke("SweepFunction", sample("scheduled.json", "sweep"))
    assert ingest_calls.iam_actions() <= FUNCTION_PERMISSIONS["IngestFunction"]
    # The demo's day has no event that says a resource changed but not how (a resize, a policy removed): the
    # describes that follow one are exercised by tests/integration/test_billing_changes.py; no Price List API.
    assert FUNCTION_PERMISSIONS["IngestFunction"] - ingest_calls.iam_actions() <= {
        "sagemaker:DescribeCluster",
        "sagemaker:DescribeEndpoint",
        "sagemaker:DescribeMlflowTrackingServer",
        "elasticmapreduce:DescribeCluster",
        "elasticmapreduce:GetAutoTerminationPolicy",
        "elasticmapreduce:ListInstanceGroups",
        "elasticmapreduce:ListInstanceFleets",
        "pricing:GetProducts",
        # No bucket is made from Studio in the demo's day: tests/integration/test_s3_buckets.py tags one.
        "s3:GetBucketTagging",
        "s3:PutBucketTagging",
        # No partner app in the demo's day: tests/integration/test_partner_apps.py describes one after its event.
        "sagemaker:DescribePartnerApp",
        "sts:AssumeRole",  # one account: a hub's member roles (only with WatchesMembers) are not assumed
    }
    assert sweep_calls.iam_actions() <= FUNCTION_PERMISSIONS["SweepFunction"]
    # The grants are not speculative: the scenario exercises all but what it has no case for (no
    # instance-fleet EMR cluster; events already described the configs, tagged the clusters and scheduled
    # the stopped spaces' evaluations; the sandbox has no Price List API: tests/unit/test_pricing.py).
    not_exercised = FUNCTION_PERMISSIONS["SweepFunction"] - sweep_calls.iam_actions()
    assert not_exercised <= {
        "elasticmapreduce:ListInstanceFleets",
        "sagemaker:DescribeEndpointConfig",
        "elasticmapreduce:AddTags",
        "scheduler:CreateSchedule",
        "iam:PassRole",
        "pricing:GetProducts",
        "cloudtrail:LookupEvents",  # every end in the scenario has its event: tests/integration/test_repair_dates.py
        "dynamodb:BatchGetItem",  # a one-space check reads its owner's records: tests/integration/test_table_lean.py
        "s3:GetBucketTagging",  # no bucket made from Studio: tests/integration/test_s3_buckets.py
        "s3:PutBucketTagging",
        "sagemaker:DescribePartnerApp",  # no partner app in the demo: tests/integration/test_partner_apps.py
        "sts:AssumeRole",  # one account: a hub's member roles (only with WatchesMembers) are not assumed
        "organizations:ListAccounts",  # one account: a hub lists them (tests/integration/test_sweep_fanout.py)
        "organizations:ListAccountsForParent",  # and those under MemberOrganizationalUnits (the same file)
        "organizations:ListOrganizationalUnitsForParent",
    }
    stack.use_slack(slack.url)
    batch = stack.stream_batch()
    with recording() as notify_calls:
        stack.invoke("NotifyFunction", {"Records": batch})
        stack.invoke("NotifyFunction", {"digest": True})
    # Not exercised: releasing a claim after a failed delivery and parking a record whose retries are spent
    # (tests/integration/test_delivery_faults.py), and kms, which SNS uses with the function's credentials
    # when it publishes to the encrypted topic.
    not_exercised = {"dynamodb:DeleteItem", "sqs:SendMessage", "kms:GenerateDataKey", "kms:Decrypt"}
    # A hub's OU routes (AccountRoutes), and a routed team's address: tests/integration/test_account_routing.py.
    not_exercised |= {"organizations:ListParents"}
    assert notify_calls.iam_actions() == FUNCTION_PERMISSIONS["NotifyFunction"] - not_exercised
    stack.parameters["COST_EXPLORER"] = "true"
    with recording() as report_calls:
        stack.invoke("ReportFunction", load(EVENTS / "report" / "weekly.json"))
    # s3:GetObject is what the presigned links are authorised as when someone opens them.
    not_exercised |= {"s3:GetObject", "sns:Subscribe", "sns:GetSubscriptionAttributes", "dynamodb:GetItem"}
    assert report_calls.iam_actions() == FUNCTION_PERMISSIONS["ReportFunction"] - not_exercised


def test_remediation_calls_nothing_it_is_not_granted_in_either_mode(stack):
    """The demo's account and day, its findings notified a day ago, then the remediate function in
    dry-run and in enforce (scheduling, then acting once due): every call it makes is one template.yaml
    grants it under that RemediationMode (the function's own Condition, and its statements' conditions)."""
    account = StudioAccount(stack.clients, Location("us-east-1", SANDBOX_ACCOUNT), datetime.now(UTC))
    day = account.build()
    for scheduled in day.events:
        stack.invoke("IngestFunction", scheduled.event)
    stack.invoke("SweepFunction", sample("scheduled.json", "sweep"))
    store = DynamoFindings(stack.clients("dynamodb"), stack.table_name)
    for finding in list(store.with_status(Status.OPEN)):
        store.put(*lifecycle.notified(finding, datetime.now(UTC) - timedelta(hours=25), "email"))
    mode_variable = environment_variable_of("RemediationMode")
    tick = sample("scheduled.json", "remediate")

    stack.parameters[mode_variable] = "dry-run"
    with recording() as dry_run_calls:
        dry_run = stack.invoke("RemediateFunction", tick)
    stack.parameters[mode_variable] = "enforce"
    with recording() as enforce_calls:
        scheduling = stack.invoke("RemediateFunction", tick)
        clock.set_offset(timedelta(hours=25))  # past every due time: the grace and the reminder's lead
        acting = stack.invoke("RemediateFunction", tick)

    assert dry_run["would_act"] and scheduling["scheduled"] and acting["acted"]  # the runs did something
    assert dry_run_calls.iam_actions() <= granted("RemediateFunction", {"RemediationMode": "dry-run"})
    assert enforce_calls.iam_actions() <= granted("RemediateFunction", {"RemediationMode": "enforce"})
    assert not granted("RemediateFunction", {"RemediationMode": "dry-run"}) & MUTATING_ONLY_WHEN_ENFORCED
    # The grants are not speculative: the demo has no remediable finding on an MLflow tracking server or a
    # notebook instance (carol's server is busy; classic-nb is unattributed, which is never acted on), and
    # its domain lets no space set idle shutdown (tests/integration/test_remediation.py makes every call).
    not_exercised = FUNCTION_PERMISSIONS["RemediateFunction"] - enforce_calls.iam_actions()
    assert not_exercised == {
        "sagemaker:DescribeMlflowTrackingServer",
        "sagemaker:StopMlflowTrackingServer",
        "sagemaker:DescribeNotebookInstance",
        "sagemaker:StopNotebookInstance",
        "sagemaker:UpdateSpace",
        "sts:AssumeRole",  # one account: a hub's member roles (only with WatchesMembers) are not assumed
    }


def test_remediation_is_not_deployed_when_off():
    assert deployed("RemediateFunction", {"RemediationMode": "dry-run"})
    assert not deployed("RemediateFunction", {"RemediationMode": "off"})
    assert not deployed("RemediateFunction", {})  # the default


def environment_variable_of(parameter: str) -> str:
    """The environment variable through which template.yaml hands the functions a parameter."""
    variables = template().document["Globals"]["Function"]["Environment"]["Variables"]
    [name] = [name for name, value in variables.items() if value == {"Ref": parameter}]
    return name


def deployed(resource: str, parameters: dict[str, str]) -> bool:
    """Whether a stack with these parameter values (defaults for the rest) has the resource at all."""
    condition = template().resources[resource].get("Condition")
    return condition is None or condition_holds(condition, parameters)


def granted(function: str, parameters: dict[str, str]) -> set[str]:
    """The IAM actions a function is allowed in a stack with these parameter values: its unconditional
    statements, and those whose condition holds."""
    assert deployed(function, parameters), f"{function} does not exist with {parameters}"
    actions: set[str] = set()
    for statement, condition in template().policy_statements(function):
        if statement.get("Effect") == "Allow" and (condition is None or condition_holds(condition, parameters)):
            listed = statement["Action"]
            actions.update([listed] if isinstance(listed, str) else listed)
    return actions


def condition_holds(name: str, parameters: dict[str, str]) -> bool:
    """One of template.yaml's Conditions, evaluated as CloudFormation would for these parameter values."""
    return Intrinsics(template().document, parameters).condition(name)


def test_the_reports_bucket_is_encrypted_private_tls_only_and_expires_what_it_keeps():
    bucket = template().resources["ReportsBucket"]["Properties"]
    # SSE-S3, or the stack's key with UseCustomerManagedKey (tests/template/test_encryption_keys.py).
    condition, with_key, without = bucket["BucketEncryption"]["ServerSideEncryptionConfiguration"][0]["Fn::If"]
    assert condition == "CustomerManagedKey"
    assert with_key["ServerSideEncryptionByDefault"] == {
        "SSEAlgorithm": "aws:kms",
        "KMSMasterKeyID": {"Fn::GetAtt": ["GuardianKey", "Arn"]},
    }
    assert without["ServerSideEncryptionByDefault"] == {"SSEAlgorithm": "AES256"}
    assert all(bucket["PublicAccessBlockConfiguration"].values()) and len(bucket["PublicAccessBlockConfiguration"]) == 4
    [expiry] = bucket["LifecycleConfiguration"]["Rules"]
    assert expiry["Status"] == "Enabled" and expiry["ExpirationInDays"] == {"Ref": "ReportRetentionDays"}
    [tls] = template().resources["ReportsBucketPolicy"]["Properties"]["PolicyDocument"]["Statement"]
    assert tls["Effect"] == "Deny" and tls["Condition"] == {"Bool": {"aws:SecureTransport": "false"}}


def test_the_layer_is_built_for_the_declared_runtime_and_architecture():
    globals_ = template().document["Globals"]["Function"]
    makefile = (PROJECT_ROOT / "layers" / "guardian" / "Makefile").read_text()
    python = re.search(r"^LAMBDA_PYTHON \?= (\S+)", makefile, re.M).group(1)
    platform = re.search(r"^LAMBDA_PLATFORM \?= (\S+)", makefile, re.M).group(1)
    assert globals_["Runtime"] == f"python{python}"
    assert globals_["Architectures"] == ["arm64"] and platform.endswith("aarch64")
    layer = template().resources["GuardianLayer"]
    assert layer["Properties"]["CompatibleRuntimes"] == [globals_["Runtime"]]
    assert layer["Metadata"]["BuildArchitecture"] == "arm64"


def test_the_table_is_on_demand_recoverable_and_encrypted():
    table = template().resources["GuardianTable"]["Properties"]
    assert table["BillingMode"] == "PAY_PER_REQUEST"
    assert table["PointInTimeRecoverySpecification"]["PointInTimeRecoveryEnabled"] is True
    assert table["SSESpecification"]["SSEEnabled"] is True and table["SSESpecification"]["SSEType"] == "KMS"


def test_every_event_rule_retries_and_parks_what_it_cannot_deliver():
    for function in template().functions().values():
        for event in function["Properties"].get("Events", {}).values():
            properties = event["Properties"]
            if event["Type"] == "DynamoDB":  # a stream: retried record by record, then kept in its own queue
                assert properties["MaximumRetryAttempts"] >= 1 and properties["BisectBatchOnFunctionError"]
                assert properties["FunctionResponseTypes"] == ["ReportBatchItemFailures"]
                on_failure = properties["DestinationConfig"]["OnFailure"]["Destination"]
                assert on_failure == {"Fn::GetAtt": ["UndeliveredQueue", "Arn"]}
                continue
            assert properties["RetryPolicy"]["MaximumRetryAttempts"] >= 1
            assert properties["DeadLetterConfig"] == {"Arn": {"Fn::GetAtt": ["ParkedEventsQueue", "Arn"]}}


def test_one_sample_event_per_function(stack):
    for function in template().functions():
        directory = EVENTS / template().function_dir(function).name
        assert list(directory.glob("*.json")), f"no sample event for {function} in {directory}"
    assert stack.invoke("SweepFunction", load(EVENTS / "sweep" / "scheduled.json"))["kinds"]
