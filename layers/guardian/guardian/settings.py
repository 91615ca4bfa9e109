"""Function configuration: read from the environment once, at handler entry, and validated."""

import json
from collections.abc import Mapping
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from guardian.clock import zone
from guardian.rules import RulesConfig

# Where prices come from: the Price List API (the bundled table behind it), or the bundled table alone.
PriceSource = Literal["price-list", "bundled"]


class Settings(BaseModel):
    model_config = ConfigDict(extra="ignore", populate_by_name=True, frozen=True)

    table_name: str = Field(alias="TABLE_NAME", min_length=3)
    region: str = Field(alias="AWS_REGION", default="us-east-1")
    account_id: str | None = Field(alias="ACCOUNT_ID", default=None)
    tag_prefix: str = Field(alias="TAG_PREFIX", default="studio-cost-guardian")
    write_tags: bool = Field(alias="WRITE_TAGS", default=True)
    exemption_tag_key: str | None = Field(alias="EXEMPTION_TAG", default=None)
    price_source: PriceSource = Field(alias="PRICE_SOURCE", default="price-list")
    remediation_mode: Literal["off", "dry-run", "enforce"] = Field(alias="REMEDIATION_MODE", default="off")
    remediation_grace_hours: float = Field(alias="REMEDIATION_GRACE_HOURS", default=24, ge=0)
    reminder_hours: float = Field(alias="REMINDER_HOURS", default=2, ge=0)
    # Resources of a shared space belong to the whole team: never acted on unless RemediateSharedSpaces=true.
    remediate_shared_spaces: bool = Field(alias="REMEDIATE_SHARED_SPACES", default=False)
    # Where the event path schedules the evaluation of a space when its grace ends (Scheduler one-shots).
    schedule_group: str | None = Field(alias="SCHEDULE_GROUP", default=None)
    evaluate_target_arn: str | None = Field(alias="EVALUATE_TARGET_ARN", default=None)
    scheduler_role_arn: str | None = Field(alias="SCHEDULER_ROLE_ARN", default=None)
    evaluation_dead_letter_arn: str | None = Field(alias="EVALUATION_DEAD_LETTER_ARN", default=None)
    # Hours without a whole sweep pass (guardian.resume) before the sweep says so, for its alarm to tell the team.
    sweep_overdue_hours: float = Field(alias="SWEEP_OVERDUE_HOURS", default=6, gt=0)
    # Alerts.
    stack_name: str = Field(alias="STACK_NAME", default="studio-cost-guardian")
    topic_arn: str | None = Field(alias="TOPIC_ARN", default=None)
    slack_webhook_secret: str | None = Field(alias="SLACK_WEBHOOK_SECRET", default=None)
    owner_emails_json: str = Field(alias="OWNER_EMAILS", default="{}")
    digest_mode: Literal["immediate", "daily"] = Field(alias="DIGEST_MODE", default="immediate")
    team_notifications: Literal["immediate", "digest", "off"] = Field(alias="TEAM_NOTIFICATIONS", default="digest")
    allow_private_names: bool = Field(alias="ALLOW_PRIVATE_NAMES", default=False)
    # Where notify parks a finding change whose messages its stream retries could not deliver (for redelivery).
    undelivered_queue_url: str | None = Field(alias="UNDELIVERED_QUEUE_URL", default=None)
    # The weekly report.
    reports_bucket: str | None = Field(alias="REPORTS_BUCKET", default=None)
    report_timezone: str = Field(alias="REPORT_TIMEZONE", default="UTC")
    cost_explorer: bool = Field(alias="COST_EXPLORER", default=False)
    rules: RulesConfig = Field(default_factory=RulesConfig)

    @property
    def owner_emails(self) -> dict[str, str]:
        """OwnerEmails: {"alice": "alice@example.com"}; a user profile's `<prefix>:email` tag works too."""
        emails: dict[str, str] = json.loads(self.owner_emails_json or "{}")
        return emails

    @field_validator("owner_emails_json")
    @classmethod
    def _json_object(cls, value: str) -> str:
        if not isinstance(json.loads(value or "{}"), dict):
            raise ValueError('OWNER_EMAILS is a JSON object: {"profile name": "address"}')
        return value

    @field_validator("report_timezone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        zone(value)  # an unknown zone fails here, at configuration, not on Monday morning
        return value

    @field_validator("slack_webhook_secret", "topic_arn", "reports_bucket")
    @classmethod
    def _empty_is_none(cls, value: str | None) -> str | None:
        return value or None

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
