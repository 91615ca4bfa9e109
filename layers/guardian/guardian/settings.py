"""Function configuration: read from the environment once, at handler entry, and validated."""

from collections.abc import Mapping
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from guardian.rules import RulesConfig


class Settings(BaseModel):
    model_config = ConfigDict(extra="ignore", populate_by_name=True, frozen=True)

    table_name: str = Field(alias="TABLE_NAME", min_length=3)
    region: str = Field(alias="AWS_REGION", default="us-east-1")
    account_id: str | None = Field(alias="ACCOUNT_ID", default=None)
    tag_prefix: str = Field(alias="TAG_PREFIX", default="studio-cost-guardian")
    write_tags: bool = Field(alias="WRITE_TAGS", default=True)
    exemption_tag_key: str | None = Field(alias="EXEMPTION_TAG", default=None)
    price_source: Literal["price-list", "bundled"] = Field(alias="PRICE_SOURCE", default="price-list")
    remediation_mode: Literal["off", "dry-run", "enforce"] = Field(alias="REMEDIATION_MODE", default="off")
    remediation_grace_hours: float = Field(alias="REMEDIATION_GRACE_HOURS", default=24, ge=0)
    reminder_hours: float = Field(alias="REMINDER_HOURS", default=2, ge=0)
    # Where the event path schedules the evaluation of a space when its grace ends (Scheduler one-shots).
    schedule_group: str | None = Field(alias="SCHEDULE_GROUP", default=None)
    evaluate_target_arn: str | None = Field(alias="EVALUATE_TARGET_ARN", default=None)
    scheduler_role_arn: str | None = Field(alias="SCHEDULER_ROLE_ARN", default=None)
    rules: RulesConfig = Field(default_factory=RulesConfig)

    @property
    def exemption_tag(self) -> str:
        return self.exemption_tag_key or f"{self.tag_prefix}:exempt"

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> "Settings":
        try:
            return cls.model_validate(dict(env) | {"rules": RulesConfig.from_env(env)})
        except ValidationError as error:
            problems = "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in error.errors())
            raise RuntimeError(f"invalid function configuration: {problems}") from error
