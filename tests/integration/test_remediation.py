"""Remediation: off by default; dry-run only says; enforce acts after the grace with a reminder first,
only on attributed, guardian-tagged, non-exempt resources, and records how to restore before acting.
What it never acts on, case by case: tests/integration/test_remediation_safety.py."""

from datetime import UTC, datetime, timedelta

import pytest
from botocore.exceptions import ClientError

from guardian import findings as lifecycle
from guardian.arns import Location
from guardian.findings import Status, finding_id
from guardian.findings_store import DynamoFindings
from guardian.kinds import Kind
from guardian.remediation import ACTIONS, observe, remediate
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
    assert finding is not None
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
    assert report.blocked[fid] == "not-tagged-by-guardian: the guardian never tagged it"
    assert report.skipped[fid] == {"resource_name": "fraud", "reason": report.blocked[fid]}
    assert endpoint_exists(sandbox)


def test_the_rules_remediation_may_act_on_are_those_of_before_and_each_has_an_action():
    remediable = {rule.name for rule in RULES if rule.remediable}
    assert remediable == {"orphaned-resource", "idle-endpoint", "idle-emr-cluster", "long-running-app"}
    acted_on = {action.kind for action in ACTIONS}
    for rule in RULES:
        if rule.remediable:
            assert rule.kinds & acted_on, f"{rule.name} is remediable but no action handles its kinds"
    # Apps, gentlest first: idle shutdown on the space where the domain allows it, then deletion (Canvas's own).
    app_actions = [action.describe for action in ACTIONS if action.kind is Kind.APP]
    assert app_actions == ["set idle shutdown", "delete Canvas app", "delete app"]


# In the demo's account (plus a Canvas app of alice's): the resource each action is tried on (name, space).
DEMO_TARGETS = {
    "delete endpoint": ("fraud-xgb", None),
    "terminate EMR cluster": ("spark-etl", None),
    "set idle shutdown": ("default", "bob-code"),
    "delete Canvas app": ("canvas", None),
    "delete app": ("default", "bob-code"),
    "stop MLflow tracking server": ("team-tracking", None),
    "stop notebook instance": ("classic-nb", None),
}


def test_each_action_calls_only_the_iam_actions_it_declares_and_every_declared_read_is_made(stack):
    """What template.yaml grants the remediate function is derived from these declarations: the live read
    (with its rules re-evaluated, and an endpoint's calls since a reminder) and the action itself. Gentlest
    first, so the idle shutdown is set on bob-code before its app is deleted."""
    day = StudioAccount(stack.clients, Location("us-east-1", SANDBOX_ACCOUNT), datetime.now(UTC)).build()
    stack.clients("sagemaker").create_app(
        DomainId=day.domain_id, UserProfileName="alice", AppType="Canvas", AppName="canvas"
    )
    stack.invoke("SweepFunction", sample("scheduled.json", "sweep"))
    guardian = from_env(stack.environment("RemediateFunction"), clients=stack.clients)
    reads_seen: set[str] = set()
    for action in ACTIONS:
        name, space = DEMO_TARGETS[action.describe]
        [resource] = [r for r in guardian.inventory.by_kind(action.kind) if r.name == name and r.studio_space == space]
        now = datetime.now(UTC)
        with recording() as reading:
            live = observe(guardian, resource, guardian.rules.rules(), now, reminded_at=now - timedelta(hours=1))
        plan = action.restore_plan(resource, live, [])
        with recording() as acting:
            action.act(guardian.clients, resource, live)
        assert live.exists and plan, action.describe
        assert reading.iam_actions() <= set(action.reads), action.describe
        assert acting.iam_actions() == set(action.mutates), action.describe
        reads_seen |= reading.iam_actions()
    assert reads_seen == {read for action in ACTIONS for read in action.reads}  # none is speculative
