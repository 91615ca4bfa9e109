"""The inventory's vocabulary: what an event or a sweep observed, and the resource record it builds."""

from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from guardian.arns import canonical
from guardian.kinds import Kind, lifecycle_rank


class Creator(BaseModel):
    """Who made the API call that created a resource, as CloudTrail recorded it."""

    model_config = ConfigDict(frozen=True)

    source_identity: str | None = None
    role_arn: str | None = None
    principal_arn: str | None = None
    event_name: str | None = None


class InstanceGroup(BaseModel):
    """One instance group (EMR, HyperPod) or production variant (endpoint)."""

    model_config = ConfigDict(frozen=True)

    name: str = ""
    instance_type: str | None = None
    instance_count: int = 0
    role: str | None = None  # EMR MASTER / CORE / TASK
    market: str | None = None  # EMR ON_DEMAND / SPOT
    serverless: bool = False


class Source(StrEnum):
    """Where an owner came from, strongest first (guardian.attribution decides)."""

    AUTO_TAG = "auto-tag"
    STUDIO_API = "studio-api"
    SOURCE_IDENTITY = "source-identity"
    EXECUTION_ROLE = "execution-role"
    GUARDIAN_TAG = "guardian-tag"
    UNATTRIBUTED = "unattributed"


class Attribution(BaseModel):
    model_config = ConfigDict(frozen=True)

    source: Source = Source.UNATTRIBUTED
    owner: str | None = None
    owner_arn: str | None = None
    space: str | None = None
    space_arn: str | None = None
    domain_id: str | None = None
    sharing: str | None = None  # of the owning space: decides who may see findings about it
    # What every source said, including the ones that lost: the evidence behind the decision.
    notes: tuple[str, ...] = ()


class Via(StrEnum):
    """Where a fact came from. Only the resource's own describe may say a field is empty (guardian.inventory)."""

    EVENT = "event"  # an EventBridge event: an API call via CloudTrail, a service's state change
    DESCRIBE = "describe"  # the sweep's list and describe calls of the resource itself: the authoritative word
    TAG = "tag"  # the guardian's own tag write

    @property
    def code(self) -> str:
        """How a version string records it: one letter, so provenance costs the item two bytes a field."""
        return self.value[0]


_VIA_BY_CODE = {via.code: via for via in Via}


@dataclass(frozen=True)
class Provenance:
    """Where and when the value a record holds for one field came from, read from its version."""

    at: datetime
    via: Via | None  # None: written before provenance was recorded
    source_id: str  # the event id, "sweep:<time>", ...


def provenance_of(version: str | None) -> Provenance | None:
    """A version string (:attr:`Observation.version`) read back: ``<time>Z#<rank>#<source id>#<via>``."""
    if not version:
        return None
    stamp, _, rest = version.partition("#")
    source = rest.partition("#")[2]
    head, _, code = source.rpartition("#")
    via = _VIA_BY_CODE.get(code) if head else None
    return Provenance(
        at=datetime.fromisoformat(stamp.replace("Z", "+00:00")),
        via=via,
        source_id=head if via is not None else source,
    )


# Fields that an observation may set. Each is merged last-writer-wins on its own version, so an
# event that knows only the state cannot erase the instance type another event supplied.
MERGED_FIELDS = frozenset(
    {
        "name",
        "api_arn",
        "state",
        "domain_id",
        "studio_owner",
        "studio_space",
        "sharing",
        "instance_type",
        "instance_count",
        "serverless",
        "endpoint_config_name",
        "endpoint_name",  # an inference component's endpoint
        "config_described",
        "app_type",
        "execution_role",
        "default_space_role",
        "idle_timeout_minutes",
        "storage_gb",
        "size_bytes",  # an S3 bucket's, from its daily BucketSizeBytes metric
        "auto_termination_idle_seconds",
        "tracking_server_size",
        "created_at",
        "last_modified_at",
        "deleted_at",
        "creator",
        "fingerprint",
        "described_at",
        "state_reason",
        "guardian_tagged_at",
    }
)
# Fields that are maps merged key by key: an event may carry only some of the tags or groups.
KEYED_FIELDS = frozenset({"tags", "groups"})


class Observation(BaseModel):
    """Facts about one resource at one instant, from an event or a sweep. A field it does not know is absent
    (or None): it says nothing about that field. Only a describe may say a field is empty (None, "")."""

    arn: str
    kind: Kind
    observed_at: datetime
    source_id: str  # the event id, or "sweep:<time>"
    origin: str  # e.g. "cloudtrail:CreateEndpoint", "SageMaker Endpoint State Change", "sweep"
    via: Via = Via.EVENT
    fields: dict[str, Any] = Field(default_factory=dict)
    tags: dict[str, str] | None = None
    groups: dict[str, dict[str, Any]] | None = None  # partial: only the attributes observed
    # A sweep sees every tag and group; an event may see only some. Complete maps drop absent keys.
    complete_maps: bool = False
    # Orders observations stamped with the same instant; by default the lifecycle stage of the state.
    rank: int | None = None
    # The event says the resource changed in ways it does not carry (a resize named by instance-group id, a
    # policy on a cluster whose groups it omits): the event path describes the resource (guardian.refresh).
    describe_after: bool = False

    @field_validator("arn")
    @classmethod
    def _canonical(cls, arn: str) -> str:
        return canonical(arn)

    @field_validator("observed_at")
    @classmethod
    def _utc(cls, value: datetime) -> datetime:
        return value.astimezone(UTC) if value.tzinfo else value.replace(tzinfo=UTC)

    @field_validator("fields")
    @classmethod
    def _known_fields(cls, fields: dict[str, Any]) -> dict[str, Any]:
        unknown = set(fields) - MERGED_FIELDS
        if unknown:
            raise ValueError(f"unknown resource fields: {sorted(unknown)}")
        return fields

    @model_validator(mode="after")
    def _only_a_describe_is_complete(self) -> "Observation":
        if self.complete_maps and self.via is not Via.DESCRIBE:
            raise ValueError("only a describe sees every tag and group (complete_maps needs via=describe)")
        return self

    @property
    def authoritative(self) -> bool:
        """Whether what it reports as empty is empty: the resource's own describe, not an event."""
        return self.via is Via.DESCRIBE

    @property
    def version(self) -> str:
        """Total order of observations: time, then lifecycle stage, then the event id (and where it came
        from, which :func:`provenance_of` reads back)."""
        rank = self.rank if self.rank is not None else lifecycle_rank(self.fields.get("state"))
        stamp = self.observed_at.strftime("%Y-%m-%dT%H:%M:%S.%f")
        return f"{stamp}Z#{rank:02d}#{self.source_id}#{self.via.code}"


class Resource(BaseModel):
    """A resource as the inventory knows it: merged observations plus derived owner and activity."""

    arn: str
    kind: Kind
    name: str = ""
    api_arn: str | None = None
    state: str | None = None
    domain_id: str | None = None
    studio_owner: str | None = None
    studio_space: str | None = None
    sharing: str | None = None
    instance_type: str | None = None
    instance_count: int | None = None
    serverless: bool | None = None
    endpoint_config_name: str | None = None
    endpoint_name: str | None = None  # an inference component's endpoint
    config_described: str | None = None
    app_type: str | None = None
    execution_role: str | None = None
    default_space_role: str | None = None
    idle_timeout_minutes: int | None = None
    storage_gb: int | None = None
    size_bytes: int | None = None  # an S3 bucket's (None: no BucketSizeBytes datapoint yet, size unknown)
    auto_termination_idle_seconds: int | None = None
    tracking_server_size: str | None = None
    created_at: datetime | None = None
    last_modified_at: datetime | None = None
    deleted_at: datetime | None = None
    creator: Creator | None = None
    fingerprint: str | None = None
    described_at: datetime | None = None
    state_reason: str | None = None
    # When the guardian itself wrote its ownership tags here (its own record: a tag anyone can write is no proof).
    guardian_tagged_at: datetime | None = None
    tags: dict[str, str] = Field(default_factory=dict)
    groups: dict[str, InstanceGroup] = Field(default_factory=dict)

    # Derived, recomputed on every write.
    attribution: Attribution = Field(default_factory=Attribution)
    running: bool | None = None  # spaces: an app is InService or Pending
    activity_at: datetime | None = None  # spaces: when `running` last changed
    activity_version: str | None = None

    # Bookkeeping.
    first_seen_at: datetime | None = None
    last_event_at: datetime | None = None
    versions: dict[str, str] = Field(default_factory=dict)
    revision: int = 0

    @property
    def owner(self) -> str | None:
        return self.attribution.owner

    def provenance(self, field: str) -> Provenance | None:
        """Where and when the value held for ``field`` came from (``groups.<key>.<attribute>`` and
        ``tags.<key>`` for maps); None for a field no observation has set."""
        return provenance_of(self.versions.get(field))

    @property
    def space(self) -> str | None:
        return self.attribution.space

    @property
    def space_arn(self) -> str | None:
        return self.attribution.space_arn

    @property
    def owner_arn(self) -> str | None:
        return self.attribution.owner_arn

    @property
    def account(self) -> str:
        return self.arn.split(":")[4]

    @property
    def region(self) -> str:
        return self.arn.split(":")[3]

    def summary(self) -> dict[str, Any]:
        """The public record `guardian inventory` prints: field names are a scripting interface."""
        return {
            "arn": self.api_arn or self.arn,
            "kind": self.kind.value,
            "name": self.name,
            "state": self.state,
            "owner": self.attribution.owner,
            "space": self.attribution.space,
            "domain_id": self.attribution.domain_id or self.domain_id,
            "sharing": self.sharing or self.attribution.sharing,
            "instance_type": self.instance_type,
            "instance_count": self.instance_count,
            "attribution": self.attribution.source.value,
            "owner_arn": self.attribution.owner_arn,
            "running": self.running,
            "created_at": _iso(self.created_at),
            "tags": dict(sorted(self.tags.items())),
            "account": self.account,
            "region": self.region,
        }


def _iso(value: datetime | None) -> str | None:
    return value.isoformat().replace("+00:00", "Z") if value else None
