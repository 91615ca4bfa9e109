"""emr-no-auto-termination: a RUNNING or WAITING cluster with no auto-termination policy. A risk, not waste:
while it works it wastes nothing, so its finding counts $0 (Rule.risk); nothing stops it once its work is
done, and then idle-emr-cluster counts the idle minutes as waste. Judged only where the policy is known (read
by the sweep, or in the launch request the guardian saw): a policy never read is no evidence of none."""

from pydantic import Field

from guardian.kinds import Kind
from guardian.resource import Resource
from guardian.rules.base import Detection, Rule, RuleConfig, RuleContext
from guardian.rules.idle_emr_cluster import policy


class EmrNoAutoTerminationConfig(RuleConfig):
    enabled: bool = Field(default=True, description="false: running without auto-termination is no finding")


class EmrNoAutoTermination(Rule[EmrNoAutoTerminationConfig]):
    name = "emr-no-auto-termination"
    adjective = ""  # titled instead (title)
    title = "EMR cluster without auto-termination"
    Config = EmrNoAutoTerminationConfig
    kinds = frozenset({Kind.EMR_CLUSTER})
    risk = True
    remediable = False  # a busy cluster is doing someone's work: nothing to remediate until it idles

    def evaluate(self, resource: Resource, context: RuleContext) -> Detection | None:
        if not self.config.enabled or resource.state not in ("RUNNING", "WAITING"):
            return None
        if not _policy_known(resource) or resource.auto_termination_idle_seconds is not None:
            return None
        since = resource.created_at or resource.first_seen_at or context.now
        evidence = {
            "reason": "no-auto-termination",
            "auto_termination_policy": policy(resource),
            "state": resource.state,
        }
        return Detection(
            self.name,
            resource,
            since,
            "no auto-termination policy: nothing stops it when its work is done",
            evidence,
        )


def _policy_known(resource: Resource) -> bool:
    # Known from the sweep (GetAutoTerminationPolicy) or the launch request the guardian saw.
    return resource.described_at is not None or bool(resource.creator and resource.creator.event_name == "RunJobFlow")
