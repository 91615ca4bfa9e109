"""The rule catalogue (DESIGN.md): one module per rule, thresholds in each rule's config."""

from collections.abc import Iterable, Mapping

from pydantic import ConfigDict, ValidationError, create_model

from guardian.rules.base import Detection, Rule, RuleContext
from guardian.rules.idle_emr_cluster import IdleEmrCluster
from guardian.rules.idle_endpoint import IdleEndpoint
from guardian.rules.long_running_app import LongRunningApp
from guardian.rules.orphaned_resource import OrphanedResource
from guardian.rules.stale_space_storage import StaleSpaceStorage
from guardian.rules.unattributed_resource import UnattributedResource

RULES: tuple[type[Rule], ...] = (
    OrphanedResource,
    IdleEndpoint,
    IdleEmrCluster,
    LongRunningApp,
    UnattributedResource,
    StaleSpaceStorage,
)

_RulesConfigBase = create_model(
    "_RulesConfigBase",
    __config__=ConfigDict(extra="forbid", frozen=True),
    **{rule.key(): (rule.Config, rule.Config()) for rule in RULES},
)


class RulesConfig(_RulesConfigBase):
    """Every rule's thresholds: `orphaned_resource.grace_minutes`, `idle_endpoint.lookback_hours`, ..."""

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
            rule, _, name = key.strip().partition(".")
            if not value or rule not in values or name not in values[rule]:
                known = ", ".join(f"{r.key()}.{n}" for r in RULES for n in r.Config.model_fields)
                raise ValueError(f"unknown threshold {key!r} (known: {known})")
            values[rule][name] = value.strip()
        try:
            return type(self).model_validate(values)
        except ValidationError as error:
            first = error.errors()[0]
            raise ValueError(f"{'.'.join(map(str, first['loc']))}: {first['msg']}") from error

    def rules(self) -> list[Rule]:
        return [rule(getattr(self, rule.key())) for rule in RULES]


__all__ = ["RULES", "Detection", "Rule", "RuleContext", "RulesConfig"]
