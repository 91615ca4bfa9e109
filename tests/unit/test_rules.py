"""Each rule on its own: what it flags, what it leaves alone, and the evidence it gives."""

from datetime import UTC, datetime, timedelta

import pytest

from guardian.aws import AwsClients
from guardian.cost import Cost
from guardian.evaluation import evaluate
from guardian.findings import Exemption, Status, opened
from guardian.kinds import Kind, is_billing, is_gone
from guardian.resource import Attribution, Creator, InstanceGroup, Resource, Source
from guardian.rules import RULES, RULES_BY_NAME, RuleContext, RulesConfig
from guardian.rules.base import Unjudged, iso
from guardian.rules.emr_no_auto_termination import EmrNoAutoTermination
from guardian.rules.idle_emr_cluster import IdleEmrCluster
from guardian.rules.idle_endpoint import IdleEndpoint
from guardian.rules.long_running_app import LongRunningApp
from guardian.rules.orphaned_resource import OrphanedResource
from guardian.rules.stale_space_storage import StaleSpaceStorage
from guardian.rules.unattributed_resource import UnattributedResource
from guardian.scan import scan_guardian

NOW = datetime(2026, 11, 26, 12, tzinfo=UTC)
P = "arn:aws:sagemaker:us-east-1:123456789012"
ALICE = f"{P}:user-profile/d-1/alice"
LAB = f"{P}:space/d-1/alice-lab"


def ago(hours: float) -> datetime:
    return NOW - timedelta(hours=hours)


def space(running: bool | None, stopped_hours_ago: float | None = None, state="InService", **extra) -> Resource:
    return Resource(
        arn=LAB,
        kind=Kind.SPACE,
        name="alice-lab",
        domain_id="d-1",
        state=state,
        running=running,
        activity_at=ago(stopped_hours_ago) if stopped_hours_ago is not None else None,
        attribution=Attribution(
            source=Source.STUDIO_API, owner="alice", owner_arn=ALICE, space="alice-lab", space_arn=LAB
        ),
        **extra,
    )


def endpoint(**changes) -> Resource:
    fields = dict(
        arn=f"{P}:endpoint/fraud",
        kind=Kind.ENDPOINT,
        name="fraud",
        state="InService",
        instance_count=1,
        serverless=False,
        created_at=ago(48),
        groups={"AllTraffic": InstanceGroup(name="AllTraffic", instance_type="ml.m5.xlarge", instance_count=1)},
        attribution=Attribution(
            source=Source.AUTO_TAG, owner="alice", owner_arn=ALICE, space="alice-lab", space_arn=LAB
        ),
    )
    return Resource(**(fields | changes))


def context(*records: Resource, metrics=None) -> RuleContext:
    by_arn = {r.arn: r for r in records}
    return RuleContext(
        now=NOW,
        lookup=by_arn.get,
        spaces_of_owner=lambda owner: [r for r in records if r.kind is Kind.SPACE and r.owner_arn == owner],
        metrics=metrics or {},
    )


class TestOrphanedResource:
    rule = OrphanedResource()

    def test_a_resource_of_a_space_stopped_past_the_grace_is_orphaned_since_the_stop(self):
        found = self.rule.evaluate(endpoint(), context(space(False, stopped_hours_ago=2)))
        assert found.since == ago(2)
        assert found.evidence["space"] == "alice-lab" and found.evidence["space_stopped_at"]
        assert "space alice-lab stopped" in found.summary

    def test_a_quick_restart_within_the_grace_is_not_an_alarm(self):
        assert self.rule.evaluate(endpoint(), context(space(False, stopped_hours_ago=0.25))) is None

    def test_a_running_space_orphans_nothing(self):
        assert self.rule.evaluate(endpoint(), context(space(True))) is None

    def test_a_deleted_space_or_a_deleted_owner_orphans_what_they_made(self):
        gone = space(False, state="Deleted", deleted_at=ago(5))
        assert self.rule.evaluate(endpoint(), context(gone)).since == ago(5)
        profile = Resource(arn=ALICE, kind=Kind.USER_PROFILE, name="alice", state="Deleted", deleted_at=ago(3))
        found = self.rule.evaluate(endpoint(), context(space(True), profile))
        assert "alice was deleted" in found.summary

    def test_without_a_known_space_it_is_orphaned_when_none_of_the_owners_spaces_runs(self):
        no_space = endpoint(attribution=Attribution(source=Source.SOURCE_IDENTITY, owner="alice", owner_arn=ALICE))
        found = self.rule.evaluate(no_space, context(space(False, stopped_hours_ago=3)))
        assert found.evidence["space_inferred"] is True and found.since == ago(3)
        assert self.rule.evaluate(no_space, context(space(True))) is None

    @pytest.mark.parametrize("changes", [{"serverless": True}, {"instance_count": 0}, {"state": "Deleting"}])
    def test_what_bills_nothing_is_never_orphaned(self, changes):
        assert self.rule.evaluate(endpoint(**changes), context(space(False, stopped_hours_ago=5))) is None


class TestIdleEndpoint:
    rule = IdleEndpoint()

    def test_it_asks_for_invocations_per_variant_summed_over_the_lookback(self):
        [query] = self.rule.queries([endpoint()], NOW)
        assert (query.namespace, query.metric, query.stat) == ("AWS/SageMaker", "Invocations", "Sum")
        assert query.dimensions == (("EndpointName", "fraud"), ("VariantName", "AllTraffic"))
        assert query.end - query.start == timedelta(hours=24)

    def test_zero_invocations_over_all_variants_is_idle(self):
        two = endpoint(
            groups={v: InstanceGroup(name=v, instance_type="ml.m5.xlarge", instance_count=1) for v in ("a", "b")}
        )
        quiet = {f"{two.arn}|a": [(ago(3), 0.0)], f"{two.arn}|b": []}
        found = self.rule.evaluate(two, context(metrics=quiet))
        assert found.evidence["invocations_per_variant"] == {"a": 0, "b": 0}
        busy = quiet | {f"{two.arn}|b": [(ago(2), 3.0)]}
        assert self.rule.evaluate(two, context(metrics=busy)) is None

    def test_no_data_counts_as_zero_only_for_an_endpoint_older_than_the_window(self):
        assert self.rule.evaluate(endpoint(created_at=ago(30)), context()) is not None
        assert self.rule.evaluate(endpoint(created_at=ago(3)), context()) is None

    @pytest.mark.parametrize("changes", [{"serverless": True}, {"instance_count": 0}, {"state": "Updating"}])
    def test_serverless_scaled_to_zero_or_changing_endpoints_are_never_idle(self, changes):
        assert self.rule.evaluate(endpoint(**changes), context()) is None
        assert self.rule.queries([endpoint(**changes)], NOW) == []

    def test_with_no_variant_known_it_cannot_judge_and_never_guesses_all_traffic(self):
        """An endpoint whose one variant is "Blue" would read as idle if the rule asked for AllTraffic."""
        unknown = endpoint(groups={})
        assert self.rule.queries([unknown], NOW) == []
        with pytest.raises(Unjudged, match="no production variant known"):
            self.rule.evaluate(unknown, context())

    def test_an_unjudged_endpoint_keeps_its_finding_as_it_was(self):
        guardian = scan_guardian(AwsClients(region="us-east-1"), price_source="bundled")
        detection = self.rule.evaluate(endpoint(), context())
        finding, audit = opened(detection, Cost(None, "test"), Exemption(False), ago(1))
        guardian.findings.put(finding, audit)
        report = evaluate(guardian, [endpoint(groups={})], NOW)
        assert report.unjudged == 1 and report.resolved == 0
        assert guardian.findings.get(finding.id).status is Status.OPEN


def cluster(**changes) -> Resource:
    fields = dict(
        arn="arn:aws:elasticmapreduce:us-east-1:123456789012:cluster/j-ETL",
        kind=Kind.EMR_CLUSTER,
        name="etl",
        state="WAITING",
        created_at=ago(10),
        described_at=ago(1),
        auto_termination_idle_seconds=3600,
    )
    return Resource(**(fields | changes))


class TestIdleEmrCluster:
    rule = IdleEmrCluster()

    def points(self, idle: int, busy: int = 3) -> list:
        values = [0.0] * busy + [1.0] * idle
        return [(ago((len(values) - i) * 5 / 60), v) for i, v in enumerate(values)]

    def test_it_asks_for_is_idle_per_cluster_every_five_minutes(self):
        [query] = self.rule.queries([cluster()], NOW)
        assert (query.metric, query.dimensions, query.period) == ("IsIdle", (("JobFlowId", "j-ETL"),), 300)

    def test_consecutive_idle_points_for_the_threshold_make_it_idle_since_the_first(self):
        c = cluster()
        points = self.points(idle=6)
        found = self.rule.evaluate(c, context(metrics={c.arn: points}))
        assert (found.evidence["reason"], found.since) == ("idle", points[3][0])
        assert "idle_minutes" not in found.evidence  # elapsed time is rendered, never stored (it would move)

    def test_fewer_consecutive_idle_points_or_a_busy_one_last_are_not_idle(self):
        c = cluster()
        assert self.rule.evaluate(c, context(metrics={c.arn: self.points(idle=5)})) is None
        assert self.rule.evaluate(c, context(metrics={c.arn: [*self.points(idle=8), (NOW, 0.0)]})) is None

    def test_a_busy_cluster_is_not_idle_whatever_its_policy(self):
        """No auto-termination policy is a risk (emr-no-auto-termination), not idleness: no waste here."""
        busy = cluster(state="RUNNING", auto_termination_idle_seconds=None)
        assert self.rule.evaluate(busy, context(metrics={busy.arn: self.points(idle=0)})) is None
        idle_without_policy = cluster(auto_termination_idle_seconds=None)
        found = self.rule.evaluate(idle_without_policy, context(metrics={busy.arn: self.points(idle=7)}))
        assert found.evidence["auto_termination_policy"] == "none"


class TestEmrNoAutoTermination:
    rule = EmrNoAutoTermination()

    def test_running_without_auto_termination_is_a_risk_that_says_so(self):
        found = self.rule.evaluate(cluster(state="RUNNING", auto_termination_idle_seconds=None), context())
        assert found.evidence["reason"] == "no-auto-termination" and found.since == ago(10)
        assert self.rule.risk and not self.rule.remediable and self.rule.title == "EMR cluster without auto-termination"
        assert "no auto-termination policy" in found.summary

    def test_a_policy_or_a_policy_never_read_is_no_finding(self):
        assert self.rule.evaluate(cluster(state="RUNNING"), context()) is None  # terminates after 60 idle minutes
        unknown = cluster(state="RUNNING", auto_termination_idle_seconds=None, described_at=None)
        assert self.rule.evaluate(unknown, context()) is None  # policy never read: no judgement
        done = cluster(state="TERMINATED", auto_termination_idle_seconds=None)
        assert self.rule.evaluate(done, context()) is None
        off = EmrNoAutoTermination(RulesConfig().emr_no_auto_termination.model_copy(update={"enabled": False}))
        assert off.evaluate(cluster(state="RUNNING", auto_termination_idle_seconds=None), context()) is None


def app(app_type="JupyterLab", hours=20.0, state="InService") -> Resource:
    return Resource(
        arn=f"{P}:app/d-1/alice-lab/{app_type.lower()}/default",
        kind=Kind.APP,
        name="default",
        domain_id="d-1",
        app_type=app_type,
        state=state,
        created_at=ago(hours),
        studio_space="alice-lab",
        instance_type="ml.g5.xlarge",
    )


class TestLongRunningApp:
    rule = LongRunningApp()

    def test_an_app_past_the_limit_without_idle_shutdown_is_flagged_from_the_limit(self):
        found = self.rule.evaluate(app(), context(space(True)))
        assert found.since == ago(20) + timedelta(hours=12)
        assert (found.evidence["idle_shutdown"], found.evidence["started_at"]) == ("off", iso(ago(20)))
        assert "uptime_hours" not in found.evidence  # elapsed time is rendered, never stored (it would move)

    def test_built_in_idle_shutdown_within_the_limit_covers_it_above_the_limit_does_not(self):
        assert self.rule.evaluate(app(), context(space(True, idle_timeout_minutes=60))) is None
        found = self.rule.evaluate(app(), context(space(True, idle_timeout_minutes=24 * 60)))
        assert "above the limit" in found.evidence["idle_shutdown"]

    def test_kernel_gateways_and_canvas_have_no_idle_shutdown_to_rely_on(self):
        assert self.rule.evaluate(app("KernelGateway"), context(space(True, idle_timeout_minutes=60))) is not None
        assert self.rule.evaluate(app("Canvas"), context()) is not None

    def test_young_apps_and_free_ones_are_left_alone(self):
        assert self.rule.evaluate(app(hours=3), context(space(True))) is None
        assert self.rule.evaluate(app("JupyterServer"), context(space(True))) is None


def test_unattributed_billable_resources_are_flagged_after_a_grace_with_what_was_tried():
    rule = UnattributedResource()
    orphan = endpoint(
        attribution=Attribution(notes=("execution-role: Default is used by 2 profiles",)),
        creator=Creator(principal_arn="arn:aws:iam::123456789012:user/intern"),
        created_at=ago(3),
    )
    found = rule.evaluate(orphan, context())
    assert found.evidence["tried"] == ["execution-role: Default is used by 2 profiles"]
    assert found.evidence["created_by"].endswith("user/intern")
    assert rule.evaluate(orphan.model_copy(update={"created_at": ago(0.5)}), context()) is None
    assert rule.evaluate(endpoint(), context()) is None


def test_a_space_with_no_app_for_the_threshold_still_pays_for_its_volume():
    rule = StaleSpaceStorage()
    stale = space(False, stopped_hours_ago=31 * 24, storage_gb=50)
    found = rule.evaluate(stale, context())
    assert found.evidence["volume_gb"] == 50 and found.evidence["idle_since"] == iso(ago(31 * 24))
    assert "30 days or more" in found.summary  # the threshold: the finding is not rewritten as days pass
    assert rule.evaluate(space(False, stopped_hours_ago=10 * 24), context()) is None
    assert rule.evaluate(space(True), context()) is None


def settled_at(hours: float) -> str:
    """The version of the sweep that settled a space stopped ``hours`` ago, knowing no app's end."""
    return f"{ago(hours).strftime('%Y-%m-%dT%H:%M:%S.%f')}Z#00#sweep:x"


class TestStaleSpaceEvidence:
    rule = StaleSpaceStorage()

    def test_a_space_made_long_ago_whose_last_activity_is_unknown_is_not_stale_by_its_creation_date(self):
        """AWS forgets deleted apps after a day: a space made 45 days ago may have run an app yesterday."""
        unknown = space(False, created_at=ago(45 * 24), activity_version=settled_at(1))
        assert self.rule.evaluate(unknown, context()) is None

    def test_once_the_guardian_has_seen_no_app_for_the_threshold_it_says_so_with_the_last_activity_unknown(self):
        unknown = space(False, created_at=ago(400 * 24), activity_version=settled_at(31 * 24), storage_gb=20)
        found = self.rule.evaluate(unknown, context())
        assert found.summary == "no app seen for 30 days or more (last activity unknown), 20 GB volume still billed"
        assert found.evidence["last_app_at"] is None
        assert found.evidence["idle_since_evidence"] == "no app seen by the guardian since"
        assert found.since == ago(24)  # the waste counts from 30 days after the guardian's own sighting

    def test_the_last_recorded_stop_is_the_evidence_and_a_later_change_of_the_space_moves_it_on(self):
        stopped = space(False, stopped_hours_ago=40 * 24, created_at=ago(45 * 24), activity_version=settled_at(1))
        assert self.rule.evaluate(stopped, context()).evidence["idle_since_evidence"] == "its last app stopped"
        touched = stopped.model_copy(update={"last_modified_at": ago(2 * 24)})
        assert self.rule.evaluate(touched, context()) is None

    def test_with_no_evidence_at_all_the_condition_is_unproven(self):
        assert self.rule.evaluate(space(False, created_at=ago(400 * 24)), context()) is None

    def test_a_space_whose_deletion_failed_still_bills_and_is_judged(self):
        failed = space(False, stopped_hours_ago=31 * 24, state="Delete_Failed")
        assert is_billing(Kind.SPACE, "Delete_Failed") and not is_gone("Delete_Failed")
        assert self.rule.evaluate(failed, context()) is not None


def test_every_rule_has_defaults_a_name_and_kinds():
    config = RulesConfig()
    for rule in config.rules():
        assert rule.name and rule.kinds
        assert rule.config == getattr(config, type(rule).key())
    assert {r.name for r in RULES} == {
        "orphaned-resource",
        "idle-endpoint",
        "idle-emr-cluster",
        "long-running-app",
        "unattributed-resource",
        "stale-space-storage",
        "emr-no-auto-termination",
        "orphaned-bucket",
    }


def test_the_thresholds_have_one_field_per_rule_of_its_config_type():
    fields = RulesConfig.model_fields
    assert list(fields) == [rule.key() for rule in RULES]
    assert all(fields[rule.key()].annotation is rule.Config for rule in RULES)


def test_each_rule_says_what_messages_call_its_findings_and_whether_they_group_by_space():
    assert {rule.name: rule.adjective for rule in RULES} == {
        "orphaned-resource": "Orphaned",
        "idle-endpoint": "Idle",
        "idle-emr-cluster": "Idle",
        "long-running-app": "Long-running",
        "unattributed-resource": "Unowned",
        "stale-space-storage": "Stale",
        "emr-no-auto-termination": "",  # titled instead: "EMR cluster without auto-termination"
        "orphaned-bucket": "Orphaned",
    }
    assert {rule.name: rule.title for rule in RULES if rule.title} == {
        "emr-no-auto-termination": "EMR cluster without auto-termination",
        "orphaned-bucket": "Orphaned S3 bucket",
    }
    assert {rule.name for rule in RULES if rule.risk} == {"emr-no-auto-termination"}
    assert {rule.name for rule in RULES if rule.groups_by_space} == {
        "orphaned-resource",
        "idle-endpoint",
        "idle-emr-cluster",
    }
    assert {rule.name: rule for rule in RULES} == RULES_BY_NAME and len(RULES_BY_NAME) == len(RULES)


def test_thresholds_come_from_the_environment_and_one_run_overrides():
    config = RulesConfig.from_env({"ORPHANED_RESOURCE_GRACE_MINUTES": "45", "IDLE_ENDPOINT_LOOKBACK_HOURS": "72"})
    assert (config.orphaned_resource.grace_minutes, config.idle_endpoint.lookback_hours) == (45, 72)
    assert config.with_overrides(["orphaned_resource.grace_minutes=0"]).orphaned_resource.grace_minutes == 0
    with pytest.raises(ValueError, match=r"unknown threshold 'idle_endpoint\.nope'"):
        config.with_overrides(["idle_endpoint.nope=1"])
    with pytest.raises(ValueError, match="greater than or equal to 1"):
        config.with_overrides(["idle_endpoint.lookback_hours=0"])


def test_a_threshold_key_scripts_used_before_the_emr_rule_split_still_works():
    from guardian.rules import RulesConfig

    config = RulesConfig().with_overrides(["idle_emr_cluster.require_auto_termination=false"])
    assert config.emr_no_auto_termination.enabled is False
