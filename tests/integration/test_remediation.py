"""Remediation: off by default; dry-run only says; enforce acts after the grace with a reminder first,
only on attributed, guardian-tagged, non-exempt resources, and records how to restore before acting."""

from datetime import UTC, datetime, timedelta

import pytest
from botocore.exceptions import ClientError

from guardian import findings as lifecycle
from guardian.arns import Location
from guardian.findings import Status, finding_id
from guardian.findings_store import DynamoFindings
from guardian.kinds import Kind
from guardian.remediation import ACTIONS, Action, remediate
from guardian.rules import RULES
from guardian.runtime import from_env
from guardian_sandbox.calls import recording
from guardian_sandbox.scenario import StudioAccount
from guardian_sandbox.stack import SANDBOX_ACCOUNT, SandboxStack
from tests.conftest import sample
from tests.integration.test_findings_flow import build

NOW = datetime.now(UTC)


def prepared(sandbox, mode: str, notified_hours_ago: float = 25, **parameters) -> tuple:
    """An orphaned, guardian-tagged endpoint whose owner was told some hours ago."""
    stack = SandboxStack(sandbox, parameters={"REMEDIATION_MODE": mode} | parameters).deploy()
    ids = build(stack, NOW, space_stopped_hours_ago=30)
    stack.invoke("SweepFunction", sample("scheduled.json", "sweep"))
    guardian = from_env(stack.environment("RemediateFunction"), clients=sandbox)
    store = DynamoFindings(sandbox("dynamodb"), stack.table_name)
    finding = store.get(finding_id("orphaned-resource", ids["endpoint"].lower()))
    told, audit = lifecycle.notified(finding, NOW - timedelta(hours=notified_hours_ago), "email")
    store.put(told, audit)
    return stack, guardian, store, finding.id


def endpoint_exists(sandbox) -> bool:
    try:
        sandbox("sagemaker").describe_endpoint(EndpointName="fraud")
    except ClientError:
        return False
    return True


def test_enforce_reminds_then_acts_after_recording_how_to_restore(sandbox):
    _, guardian, store, fid = prepared(sandbox, "enforce")
    first = remediate(guardian, NOW)
    assert first.scheduled == [fid] and first.acted == []
    scheduled = store.get(fid)
    assert scheduled.status is Status.REMEDIATION_SCHEDULED
    assert scheduled.remediation["restore"]["endpoint_config_name"] == "c"
    assert scheduled.remediation_due_at >= NOW + timedelta(hours=2)  # the reminder's lead time
    assert endpoint_exists(sandbox)
    later = remediate(guardian, NOW + timedelta(hours=3))
    assert later.acted == [fid] and not endpoint_exists(sandbox)
    done = store.get(fid)
    assert done.status is Status.REMEDIATED
    actions = [a.action for a in store.audit(fid)]
    assert actions.index("remediation scheduled") < actions.index("remediated")


def test_nothing_happens_before_the_grace_ends(sandbox):
    _, guardian, store, fid = prepared(sandbox, "enforce", notified_hours_ago=6)
    report = remediate(guardian, NOW)
    assert report.scheduled == [] and store.get(fid).status is Status.NOTIFIED and endpoint_exists(sandbox)


def test_dry_run_says_what_it_would_do_once_and_changes_nothing(sandbox):
    _, guardian, store, fid = prepared(sandbox, "dry-run")
    assert remediate(guardian, NOW).would_act == [fid]
    remediate(guardian, NOW + timedelta(hours=5))
    assert endpoint_exists(sandbox)
    finding = store.get(fid)
    assert finding.status is Status.NOTIFIED and finding.remediation["would"] == "delete endpoint fraud"
    assert [a.action for a in store.audit(fid)].count("dry-run") == 1


def test_off_does_nothing_at_all(sandbox):
    _, guardian, _, _ = prepared(sandbox, "off")
    report = remediate(guardian, NOW + timedelta(hours=5))
    assert (report.scheduled, report.acted, report.would_act) == ([], [], []) and endpoint_exists(sandbox)


def test_an_exempt_resource_is_never_acted_on_even_when_exempted_after_scheduling(sandbox):
    stack, guardian, store, fid = prepared(sandbox, "enforce")
    remediate(guardian, NOW)
    arn = sandbox("sagemaker").describe_endpoint(EndpointName="fraud")["EndpointArn"]
    sandbox("sagemaker").add_tags(ResourceArn=arn, Tags=[{"Key": "studio-cost-guardian:exempt", "Value": "true"}])
    stack.invoke("SweepFunction", sample("scheduled.json", "sweep"))  # the sweep sees the tag
    report = remediate(guardian, NOW + timedelta(hours=3))
    assert report.acted == [] and endpoint_exists(sandbox)
    assert store.get(fid).status is Status.EXEMPT


@pytest.mark.parametrize("parameters", [{"WRITE_TAGS": "false"}])
def test_a_resource_the_guardian_did_not_tag_is_left_alone(sandbox, parameters):
    _, guardian, _, fid = prepared(sandbox, "enforce", **parameters)
    report = remediate(guardian, NOW + timedelta(hours=5))
    assert report.blocked[fid] == "the resource does not carry the guardian's ownership tag"
    assert endpoint_exists(sandbox)


def test_the_rules_remediation_may_act_on_are_those_of_before_and_each_has_an_action():
    remediable = {rule.name for rule in RULES if rule.remediable}
    assert remediable == {"orphaned-resource", "idle-endpoint", "idle-emr-cluster", "long-running-app"}
    acted_on = {action.kind for action in ACTIONS}
    for rule in RULES:
        if rule.remediable:
            assert rule.kinds & acted_on, f"{rule.name} is remediable but no action handles its kinds"
    assert len(acted_on) == len(ACTIONS), "one action per kind"


# In the demo's account: the resource of each kind an action is tried on (kind, name, space).
DEMO_TARGETS = {
    Kind.ENDPOINT: ("fraud-xgb", None),
    Kind.EMR_CLUSTER: ("spark-etl", None),
    Kind.APP: ("default", "bob-code"),
    Kind.MLFLOW_TRACKING_SERVER: ("team-tracking", None),
    Kind.NOTEBOOK_INSTANCE: ("classic-nb", None),
}


@pytest.mark.parametrize("action", ACTIONS, ids=lambda action: action.describe)
def test_each_action_calls_exactly_the_iam_actions_it_declares(stack, action: Action):
    """What template.yaml grants the remediate function is derived from these declarations."""
    StudioAccount(stack.clients, Location("us-east-1", SANDBOX_ACCOUNT), datetime.now(UTC)).build()
    stack.invoke("SweepFunction", sample("scheduled.json", "sweep"))
    guardian = from_env(stack.environment("RemediateFunction"), clients=stack.clients)
    name, space = DEMO_TARGETS[action.kind]
    [resource] = [r for r in guardian.inventory.by_kind(action.kind) if r.name == name and r.studio_space == space]
    with recording() as reading:
        restore = action.restore(guardian.clients, resource)
    with recording() as acting:
        action.act(guardian.clients, resource)
    assert restore and reading.iam_actions() == set(action.reads)
    assert acting.iam_actions() == set(action.mutates)
