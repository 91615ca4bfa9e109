"""The rule catalogue: one module per rule, each carrying its thresholds, title and IAM needs."""

from collections.abc import Iterable, Mapping

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from guardian.rules.base import AnyRule, Detection, Rule, RuleContext
from guardian.rules.emr_no_auto_termination import EmrNoAutoTermination, EmrNoAutoTerminationConfig
from guardian.rules.idle_emr_cluster import IdleEmrCluster, IdleEmrClusterConfig
from guardian.rules.idle_endpoint import IdleEndpoint, IdleEndpointConfig
from guardian.rules.long_running_app import LongRunningApp, LongRunningAppConfig
from guardian.rules.orphaned_bucket import OrphanedBucket, OrphanedBucketConfig
from guardian.rules.orphaned_resource import OrphanedResource, OrphanedResourceConfig
from guardian.rules.stale_space_storage import StaleSpaceStorage, StaleSpaceStorageConfig
from guardian.rules.unattributed_resource import UnattributedResource, UnattributedResourceConfig

RULES: tuple[type[AnyRule], ...] = (
    OrphanedResource,
    IdleEndpoint,
    IdleEmrCluster,
    LongRunningApp,
    UnattributedResource,
    StaleSpaceStorage,
    EmrNoAutoTermination,
    OrphanedBucket,
)
RULES_BY_NAME: Mapping[str, type[AnyRule]] = {rule.name: rule for rule in RULES}


# Keys scripts may still use, and what they became.
RENAMED = {"idle_emr_cluster.require_auto_termination": "emr_no_auto_termination.enabled"}


class RulesConfig(BaseModel):
    """Every rule's thresholds: `orphaned_resource.grace_minutes`, `idle_endpoint.lookback_hours`, ...
    One field per rule, named by its key() (a test holds them to RULES)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    orphaned_resource: OrphanedResourceConfig = Field(default_factory=OrphanedResourceConfig)
    idle_endpoint: IdleEndpointConfig = Field(default_factory=IdleEndpointConfig)
    idle_emr_cluster: IdleEmrClusterConfig = Field(default_factory=IdleEmrClusterConfig)
    long_running_app: LongRunningAppConfig = Field(default_factory=LongRunningAppConfig)
    unattributed_resource: UnattributedResourceConfig = Field(default_factory=UnattributedResourceConfig)
    stale_space_storage: StaleSpaceStorageConfig = Field(default_factory=StaleSpaceStorageConfig)
    emr_no_auto_termination: EmrNoAutoTerminationConfig = Field(default_factory=EmrNoAutoTerminationConfig)
    orphaned_bucket: OrphanedBucketConfig = Field(default_factory=OrphanedBucketConfig)

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> "RulesConfig":
        """Thresholds from the environment: ORPHANED_RESOURCE_GRACE_MINUTES=30, and so on."""
        values: dict[str, dict[str, str]] = {}
        for rule in RULES:
            for name in rule.Config.model_fields:
                variable = f"{rule.key()}_{name}".upper()
                if variable in env:
                    values.setdefault(rule.key(), {})[name] = env[variable]
        return cls.model_validate(values)

    def with_overrides(self, assignments: Iterable[str]) -> "RulesConfig":
        """`guardian scan --set orphaned_resource.grace_minutes=0`: a threshold for one run."""
        values = self.model_dump()
        for assignment in assignments:
            key, _, value = assignment.partition("=")
            rule, _, name = RENAMED.get(key.strip(), key.strip()).partition(".")
            if not value or rule not in values or name not in values[rule]:
                known = ", ".join(f"{r.key()}.{n}" for r in RULES for n in r.Config.model_fields)
                raise ValueError(f"unknown threshold {key!r} (known: {known})")
            values[rule][name] = value.strip()
        try:
            return type(self).model_validate(values)
        except ValidationError as error:
            first = error.errors()[0]
            raise ValueError(f"{'.'.join(map(str, first['loc']))}: {first['msg']}") from error

    def rules(self) -> list[AnyRule]:
        return [rule(getattr(self, rule.key())) for rule in RULES]


__all__ = ["RULES", "RULES_BY_NAME", "AnyRule", "Detection", "Rule", "RuleContext", "RulesConfig"]
