"""Remediation nobody regrets, on the sandbox with enforce on: each way the guardian once deleted the wrong
thing, reproduced, and the resource survives with the reason in its finding's audit trail; the plain orphan
is deleted once, after its grace, with one reminder; apps are remediated gently; restore brings it back."""

import json
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from aws_lambda_powertools.utilities.data_classes.dynamo_db_stream_event import DynamoDBRecord
from botocore.exceptions import ClientError

from guardian import findings as lifecycle
from guardian.findings import Finding, Status, finding_id
from guardian.findings_store import DynamoFindings
from guardian.messages import Context, render
from guardian.notices import Notice, NoticeKind
from guardian.notify import notice_in
from guardian.remediation import RemediationReport, remediate, restore
from guardian.runtime import Guardian, from_env
from guardian_cli.main import main
from guardian_sandbox import clock
from guardian_sandbox.stack import SandboxStack
from tests.conftest import sample

NOW = datetime.now(UTC)
ROLE = "arn:aws:iam::123456789012:role/service-role/AmazonSageMaker-ExecutionRole-alice"
OWNER_TAG = "studio-cost-guardian:owner"
EXEMPT_TAG = "studio-cost-guardian:exempt"
IDLE_SHUTDOWN = {"LifecycleManagement": "ENABLED", "MinIdleTimeoutInMinutes": 60, "MaxIdleTimeoutInMinutes": 240}


class Bench:
    """alice's Studio domain in the sandbox, the stack deployed with enforce (and ``parameters``), and what a
    test does to it: sweep, tell the owner, run remediation at a moment, read findings and notices."""

    def __init__(self, sandbox: Any, idle_shutdown: bool = False, **parameters: str) -> None:
        self.stack = SandboxStack(sandbox, parameters={"REMEDIATION_MODE": "enforce"} | parameters).deploy()
        self.clients = sandbox
        self.sm = sandbox("sagemaker")
        defaults: dict[str, Any] = {"ExecutionRole": ROLE}
        if idle_shutdown:
            defaults["JupyterLabAppSettings"] = {"AppLifecycleManagement": {"IdleSettings": IDLE_SHUTDOWN}}
        with clock.at(sandbox, NOW - timedelta(days=4)):
            domain = self.sm.create_domain(
                DomainName="lab", AuthMode="IAM", SubnetIds=["s"], VpcId="v", DefaultUserSettings=defaults
            )
            self.domain = domain["DomainArn"].rsplit("/", 1)[-1]
            self.profile = self.sm.create_user_profile(DomainId=self.domain, UserProfileName="alice")["UserProfileArn"]
            self.sm.create_model(ModelName="m", ExecutionRoleArn=ROLE, PrimaryContainer={"Image": "i"})
            variant = {"VariantName": "AllTraffic", "ModelName": "m", "InstanceType": "ml.m5.xlarge"}
            self.sm.create_endpoint_config(
                EndpointConfigName="c", ProductionVariants=[variant | {"InitialInstanceCount": 1}]
            )
        self.store = DynamoFindings(sandbox("dynamodb"), self.stack.table_name)

    @property
    def guardian(self) -> Guardian:
        return from_env(self.stack.environment("RemediateFunction"), clients=self.clients)

    def space(self, name: str = "alice-lab", sharing: str = "Private", app_type: str = "JupyterLab") -> str:
        key = "JupyterLabAppSettings" if app_type == "JupyterLab" else "CodeEditorAppSettings"
        with clock.at(self.clients, NOW - timedelta(days=3)):
            return str(
                self.sm.create_space(
                    DomainId=self.domain,
                    SpaceName=name,
                    SpaceSettings={"AppType": app_type, key: {"DefaultResourceSpec": {"InstanceType": "ml.t3.medium"}}},
                    SpaceSharingSettings={"SharingType": sharing},
                    OwnershipSettings={"OwnerUserProfileName": "alice"},
                )["SpaceArn"]
            )

    def app(self, space: str | None, app_type: str, hours_ago: float, name: str = "default") -> None:
        holder = {"SpaceName": space} if space else {"UserProfileName": "alice"}
        with clock.at(self.clients, NOW - timedelta(hours=hours_ago)):
            self.sm.create_app(DomainId=self.domain, AppType=app_type, AppName=name, **holder)

    def stop(self, space: str, app_type: str = "JupyterLab", hours_ago: float = 30) -> None:
        with clock.at(self.clients, NOW - timedelta(hours=hours_ago)):
            self.sm.delete_app(DomainId=self.domain, SpaceName=space, AppType=app_type, AppName="default")

    def endpoint(self, name: str = "fraud", space: str | None = "alice-lab", days_ago: float = 1, tags=None) -> str:
        if tags is None:
            tags = [{"Key": "sagemaker:user-profile-arn", "Value": self.profile}]
            if space:
                arn = f"arn:aws:sagemaker:us-east-1:123456789012:space/{self.domain}/{space}"
                tags.append({"Key": "sagemaker:space-arn", "Value": arn})
        with clock.at(self.clients, NOW - timedelta(days=days_ago)):
            return str(self.sm.create_endpoint(EndpointName=name, EndpointConfigName="c", Tags=tags)["EndpointArn"])

    def orphaned_endpoint(self, sharing: str = "Private", days_ago: float = 1) -> str:
        """An auto-tagged endpoint made from alice's space, which stopped 30 hours ago."""
        self.space(sharing=sharing)
        self.app("alice-lab", "JupyterLab", hours_ago=48)
        arn = self.endpoint(days_ago=days_ago)
        self.stop("alice-lab")
        return arn

    def sweep(self) -> None:
        self.stack.invoke("SweepFunction", sample("scheduled.json", "sweep"))

    def finding(self, rule: str, arn: str) -> Finding:
        found = self.store.get(finding_id(rule, arn.lower()))
        assert found is not None, f"no {rule} finding on {arn}"
        return found

    def tell(self, rule: str, arn: str, hours_ago: float = 25, reached: bool = True) -> str:
        """The owner was sent its opened notice some hours ago (``reached``: and it reached her)."""
        found = self.finding(rule, arn)
        self.store.put(*lifecycle.notified(found, NOW - timedelta(hours=hours_ago), "email", reached=reached))
        return found.id

    def remediate(self, hours: float = 0) -> RemediationReport:
        return remediate(self.guardian, NOW + timedelta(hours=hours))

    def exists(self, name: str = "fraud") -> bool:
        try:
            self.sm.describe_endpoint(EndpointName=name)
        except ClientError:
            return False
        return True

    def audit(self, fid: str) -> list[tuple[str, str]]:
        return [(entry.action, entry.reason) for entry in self.store.audit(fid)]

    def notices(self) -> list[Notice]:
        """What every finding change written since last asked means for people (the notify function's view)."""
        return [n for r in self.stack.stream_batch() if (n := notice_in(DynamoDBRecord(r))) is not None]


@pytest.fixture
def bench(sandbox) -> Bench:
    return Bench(sandbox)


def skipped_for(report: RemediationReport, fid: str) -> str:
    return report.skipped[fid]["reason"]


def scheduled_then_due(bench: Bench, fid: str) -> RemediationReport:
    """The reminder goes out now; the action is due after its lead time."""
    assert bench.remediate().scheduled == [fid]
    return bench.remediate(hours=3)


def test_the_plain_orphan_is_deleted_once_after_its_grace_with_one_reminder(bench):
    arn = bench.orphaned_endpoint(days_ago=3)  # old enough to be idle too: two rules fire on it
    bench.sweep()
    orphan = bench.tell("orphaned-resource", arn)
    idle = bench.tell("idle-endpoint", arn)
    bench.notices()
    reminding = bench.remediate()
    assert reminding.scheduled == [orphan]  # one schedule for the resource, not one per rule
    reminders = [n for n in bench.notices() if n.kind is NoticeKind.REMINDER]
    assert [n.finding.id for n in reminders] == [orphan]
    joined = bench.store.get(orphan).remediation["joined"]
    assert [j["rule"] for j in joined] == ["idle-endpoint"]  # its reason added to the schedule, silently
    assert bench.store.get(idle).status is Status.NOTIFIED
    assert bench.remediate(hours=1).acted == [] and bench.exists()  # the reminder's lead time
    acting = bench.remediate(hours=3)
    assert acting.acted == [orphan] and not bench.exists()
    assert {bench.store.get(f).status for f in (orphan, idle)} == {Status.REMEDIATED}
    assert bench.remediate(hours=4).acted == []  # once
    assert [a for a, _ in bench.audit(orphan)].count("remediated") == 1
    assert [n.kind for n in bench.notices()].count(NoticeKind.REMINDER) == 0


def test_a_second_rule_opening_on_a_scheduled_resource_sends_no_second_alert(bench):
    arn = bench.orphaned_endpoint(days_ago=0.75)  # 18 h old: too young to be idle over 24 h, not over 12 h
    bench.sweep()
    orphan = bench.tell("orphaned-resource", arn)
    assert bench.remediate().scheduled == [orphan]
    bench.notices()
    bench.stack.parameters["IDLE_ENDPOINT_LOOKBACK_HOURS"] = "12"  # now idle-endpoint fires on it too
    bench.sweep()
    idle = bench.finding("idle-endpoint", arn)
    assert (idle.status, idle.remediation) == (Status.NOTIFIED, {"joined_to": orphan})
    assert [n for n in bench.notices() if n.finding.id == idle.id] == []  # no "opened" between reminder and act
    assert bench.remediate(hours=3).acted == [orphan] and not bench.exists()
    assert bench.store.get(idle.id).status is Status.REMEDIATED


def test_the_endpoint_of_an_owner_nobody_reached_survives(bench):
    arn = bench.orphaned_endpoint()
    bench.sweep()
    fid = bench.tell("orphaned-resource", arn, reached=False)  # the message went to nobody
    for hours in (0, 3, 30):
        report = bench.remediate(hours=hours)
        assert report.scheduled == [] and skipped_for(report, fid).startswith("owner-not-reached: ")
    assert bench.exists()
    assert [a for a, _ in bench.audit(fid)].count("remediation skipped") == 1  # recorded once, not every run


def test_a_shared_space_endpoint_survives_unless_the_stack_opts_in(sandbox):
    bench = Bench(sandbox)
    arn = bench.orphaned_endpoint(sharing="Shared")
    bench.sweep()
    fid = bench.tell("orphaned-resource", arn)
    assert skipped_for(bench.remediate(hours=3), fid).startswith("shared-space: ")
    assert bench.exists()
    bench.stack.parameters["REMEDIATE_SHARED_SPACES"] = "true"
    assert bench.remediate(hours=4).scheduled == [fid]


def test_an_endpoint_tagged_exempt_after_its_reminder_survives(bench):
    arn = bench.orphaned_endpoint()
    bench.sweep()
    fid = bench.tell("orphaned-resource", arn)
    assert bench.remediate().scheduled == [fid]
    bench.sm.add_tags(ResourceArn=arn, Tags=[{"Key": EXEMPT_TAG, "Value": "2099-12-31"}])  # no sweep between
    report = bench.remediate(hours=3)
    assert report.acted == [] and skipped_for(report, fid).startswith("exempt: ") and bench.exists()
    assert bench.store.get(fid).status is Status.NOTIFIED
    assert ("remediation skipped", skipped_for(report, fid)) in bench.audit(fid)


def test_an_endpoint_whose_space_restarted_since_the_reminder_survives(bench):
    arn = bench.orphaned_endpoint()
    bench.sweep()
    fid = bench.tell("orphaned-resource", arn)
    assert bench.remediate().scheduled == [fid]
    bench.sm.create_app(DomainId=bench.domain, SpaceName="alice-lab", AppType="JupyterLab", AppName="default")
    report = bench.remediate(hours=3)
    assert report.acted == [] and skipped_for(report, fid).startswith("space-restarted: ") and bench.exists()


def test_an_endpoint_called_again_since_the_reminder_survives(bench):
    arn = bench.orphaned_endpoint()
    bench.sweep()
    fid = bench.tell("orphaned-resource", arn)
    assert bench.remediate().scheduled == [fid]
    bench.clients("cloudwatch").put_metric_data(
        Namespace="AWS/SageMaker",
        MetricData=[
            {
                "MetricName": "Invocations",
                "Dimensions": [
                    {"Name": "EndpointName", "Value": "fraud"},
                    {"Name": "VariantName", "Value": "AllTraffic"},
                ],
                "Timestamp": NOW + timedelta(hours=1),
                "Value": 12,
            }
        ],
    )
    report = bench.remediate(hours=3)
    assert report.acted == [] and skipped_for(report, fid) == "in-use: called 12 times since the reminder"
    assert bench.exists()
    # Back to notified: if it is still waste, a new reminder starts over after a new grace, not at once.
    assert bench.store.get(fid).status is Status.NOTIFIED
    assert skipped_for(bench.remediate(hours=4), fid).startswith("in-grace: ")


def test_a_namesake_recreated_under_the_old_name_survives(bench):
    arn = bench.orphaned_endpoint()
    bench.sweep()
    fid = bench.tell("orphaned-resource", arn)
    assert bench.remediate().scheduled == [fid]
    old = bench.sm.describe_endpoint(EndpointName="fraud")["CreationTime"]
    bench.sm.delete_endpoint(EndpointName="fraud")
    bench.endpoint(days_ago=0)  # the same name, auto-tags and config: another endpoint
    report = bench.remediate(hours=3)
    assert report.acted == [] and skipped_for(report, fid).startswith("re-created: ")
    assert bench.exists() and bench.sm.describe_endpoint(EndpointName="fraud")["CreationTime"] != old


def test_an_owner_tag_a_user_wrote_is_no_ownership_to_act_on(bench):
    """`studio-cost-guardian:owner=bob` on an endpoint nobody else can name: attributed (guardian-tag),
    reported, never acted on, and never counted as tagged by the guardian."""
    arn = bench.endpoint("bob-llm", space=None, days_ago=3, tags=[{"Key": OWNER_TAG, "Value": "bob"}])
    bench.sweep()
    fid = bench.tell("idle-endpoint", arn)
    report = bench.remediate(hours=3)
    assert skipped_for(report, fid).startswith("weak-ownership: ") and bench.exists("bob-llm")
    record = bench.guardian.inventory.get(arn.lower())
    assert record.attribution.source.value == "guardian-tag" and record.guardian_tagged_at is None


def test_a_snooze_on_one_finding_protects_the_resource_from_the_other_rule(bench):
    arn = bench.orphaned_endpoint(days_ago=3)
    bench.sweep()
    orphan = bench.finding("orphaned-resource", arn)
    bench.store.put(*lifecycle.snoozed(orphan, NOW + timedelta(days=7), "demo on Friday", "alice", NOW))
    idle = bench.tell("idle-endpoint", arn)
    for hours in (0, 3, 30):
        report = bench.remediate(hours=hours)
        assert report.scheduled == [] and skipped_for(report, idle).startswith("snoozed: ")
    assert bench.exists()


def test_a_long_running_jupyterlab_app_gets_idle_shutdown_on_its_space_and_keeps_running(sandbox):
    bench = Bench(sandbox, idle_shutdown=True)
    bench.space()
    bench.app("alice-lab", "JupyterLab", hours_ago=20)
    bench.sweep()
    app_arn = f"arn:aws:sagemaker:us-east-1:123456789012:app/{bench.domain}/alice-lab/jupyterlab/default"
    fid = bench.tell("long-running-app", app_arn)
    assert bench.remediate().scheduled == [fid]
    plan = bench.store.get(fid).remediation
    assert plan["action"].startswith("set idle shutdown (60 min) on space alice-lab")
    assert bench.remediate(hours=3).acted == [fid]
    settings = bench.sm.describe_space(DomainId=bench.domain, SpaceName="alice-lab")["SpaceSettings"]
    jupyter = settings["JupyterLabAppSettings"]
    assert jupyter["AppLifecycleManagement"]["IdleSettings"]["IdleTimeoutInMinutes"] == 60
    assert jupyter["DefaultResourceSpec"] == {"InstanceType": "ml.t3.medium"}  # the rest of its settings kept
    app = bench.sm.describe_app(DomainId=bench.domain, SpaceName="alice-lab", AppType="JupyterLab", AppName="default")
    assert app["Status"] == "InService"  # nothing deleted: Studio stops it when it is idle


def test_without_idle_shutdown_in_the_domain_the_app_is_deleted_and_its_volume_stays(bench):
    bench.space("alice-code", app_type="CodeEditor")
    bench.app("alice-code", "CodeEditor", hours_ago=20)
    bench.sweep()
    app_arn = f"arn:aws:sagemaker:us-east-1:123456789012:app/{bench.domain}/alice-code/codeeditor/default"
    fid = bench.tell("long-running-app", app_arn)
    bench.remediate()
    assert "its EBS volume stays" in bench.store.get(fid).remediation["action"]
    assert bench.remediate(hours=3).acted == [fid]
    app = bench.sm.describe_app(DomainId=bench.domain, SpaceName="alice-code", AppType="CodeEditor", AppName="default")
    assert app["Status"] in ("Deleting", "Deleted")
    assert bench.sm.describe_space(DomainId=bench.domain, SpaceName="alice-code")["Status"] == "InService"


def test_a_long_running_canvas_app_is_deleted_and_its_workspace_stays(bench):
    bench.app(None, "Canvas", hours_ago=20)
    bench.sweep()
    app_arn = f"arn:aws:sagemaker:us-east-1:123456789012:app/{bench.domain}/alice/canvas/default"
    fid = bench.tell("long-running-app", app_arn)
    bench.remediate()
    assert "its workspace stays in S3" in bench.store.get(fid).remediation["action"]
    assert bench.remediate(hours=3).acted == [fid]
    app = bench.sm.describe_app(DomainId=bench.domain, UserProfileName="alice", AppType="Canvas", AppName="default")
    assert app["Status"] in ("Deleting", "Deleted")


def test_restore_brings_the_endpoint_back_and_the_resolved_message_says_how(bench, capsys):
    arn = bench.orphaned_endpoint()
    bench.sweep()
    fid = bench.tell("orphaned-resource", arn)
    assert scheduled_then_due(bench, fid).acted == [fid] and not bench.exists()
    bench.sweep()  # the guardian sees it gone: resolved, and its owner hears how to undo it
    resolved = bench.store.get(fid)
    assert resolved.status is Status.RESOLVED
    message = render([Notice(NoticeKind.RESOLVED, resolved)], Context.for_stack(bench.guardian.settings, NOW))
    assert f"guardian restore {fid}" in message.text

    capsys.readouterr()  # what the functions logged so far
    assert main(["restore", fid, "--table", bench.stack.table_name, "--format", "json"]) == 0
    said = json.loads(capsys.readouterr().out)
    assert said["called"] == "sagemaker:CreateEndpoint" and said["resource_name"] == "fraud"
    endpoint = bench.sm.describe_endpoint(EndpointName="fraud")
    assert endpoint["EndpointConfigName"] == "c"
    tags = {t["Key"]: t["Value"] for t in bench.sm.list_tags(ResourceArn=endpoint["EndpointArn"])["Tags"]}
    assert tags["sagemaker:user-profile-arn"] == bench.profile
    assert OWNER_TAG not in tags  # the guardian writes its own tags again, and records that it did
    assert "restored" in [action for action, _ in bench.audit(fid)]


def test_restore_refuses_an_unknown_finding_and_one_never_acted_on(bench, capsys):
    arn = bench.orphaned_endpoint()
    bench.sweep()
    fid = bench.tell("orphaned-resource", arn)
    capsys.readouterr()  # what the functions logged so far
    assert main(["restore", "f-0000000000000000", "--table", bench.stack.table_name]) == 2
    assert capsys.readouterr().err.strip() == "guardian restore: no finding f-0000000000000000"
    assert main(["restore", fid, "--table", bench.stack.table_name]) == 2
    assert "has no restore plan" in capsys.readouterr().err
    with pytest.raises(ValueError, match="no restore plan"):
        restore(bench.clients, bench.store, fid, "test", NOW)
