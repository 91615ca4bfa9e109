"""Function configuration: read from the environment once, at handler entry, and validated."""

import json
from collections.abc import Mapping
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from guardian.clock import zone
from guardian.routing import ACCOUNT_ID, AccountRoutes
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
    # The organization a hub watches (empty: this account and region only). Events from any other account are
    # parked; member accounts are reached through the role the member template makes (guardian.aws.MemberClients).
    organization_id: str | None = Field(alias="ORGANIZATION_ID", default=None)
    member_accounts_csv: str = Field(alias="MEMBER_ACCOUNTS", default="")
    member_ous_csv: str = Field(alias="MEMBER_OUS", default="")  # with an organization: only accounts under these
    member_regions_csv: str = Field(alias="MEMBER_REGIONS", default="")
    member_role_name: str = Field(alias="MEMBER_ROLE_NAME", default="GuardianMemberRole")
    # The member template's role that may act (made only where it enables remediation).
    member_remediation_role_name: str = Field(
        alias="MEMBER_REMEDIATION_ROLE_NAME", default="GuardianMemberRemediationRole"
    )
    member_external_id: str | None = Field(alias="MEMBER_EXTERNAL_ID", default=None)
    # Alerts.
    stack_name: str = Field(alias="STACK_NAME", default="studio-cost-guardian")
    topic_arn: str | None = Field(alias="TOPIC_ARN", default=None)
    slack_webhook_secret: str | None = Field(alias="SLACK_WEBHOOK_SECRET", default=None)
    owner_emails_json: str = Field(alias="OWNER_EMAILS", default="{}")
    digest_mode: Literal["immediate", "daily"] = Field(alias="DIGEST_MODE", default="immediate")
    team_notifications: Literal["immediate", "digest", "off"] = Field(alias="TEAM_NOTIFICATIONS", default="digest")
    allow_private_names: bool = Field(alias="ALLOW_PRIVATE_NAMES", default=False)
    # Which team hears of an account or OU (guardian.routing); unrouted accounts: the default team, as before.
    account_routes: AccountRoutes = Field(alias="ACCOUNT_ROUTES", default_factory=AccountRoutes)
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

    @field_validator("member_accounts_csv")
    @classmethod
    def _account_ids(cls, value: str) -> str:
        if wrong := [a for a in _csv(value) if not ACCOUNT_ID.fullmatch(a)]:
            raise ValueError(f"MEMBER_ACCOUNTS are 12-digit account ids, not {', '.join(wrong)}")
        return value

    @property
    def member_accounts(self) -> list[str]:
        return _csv(self.member_accounts_csv)

    @property
    def member_ous(self) -> list[str]:
        return _csv(self.member_ous_csv)

    @property
    def member_regions(self) -> list[str]:
        """The regions swept in each member account (default: the hub's own)."""
        return _csv(self.member_regions_csv) or [self.region]

    @property
    def watches_members(self) -> bool:
        """A hub: events and sweeps of other accounts than its own."""
        return bool(self.organization_id or self.member_accounts)

    def member_role_arn(self, account: str, partition: str = "aws", acting: bool = False) -> str:
        name = self.member_remediation_role_name if acting else self.member_role_name
        return f"arn:{partition}:iam::{account}:role/{name}"

    @field_validator("slack_webhook_secret", "topic_arn", "reports_bucket", "organization_id", "member_external_id")
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


def _csv(value: str) -> list[str]:
    return list(dict.fromkeys(part.strip() for part in value.split(",") if part.strip()))
