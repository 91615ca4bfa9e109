"""Who owns a resource: the user profile and space that created it, and which evidence decided.

Sources, strongest first: Studio's auto-tags; what the Studio API states (a space's
owner, an app's space); CloudTrail's ``sourceIdentity``; an execution role that belongs to exactly
one user profile; the guardian's own ownership tag written earlier. The first source that names an
owner decides; every other source is kept as a note, and disagreement is called out as a conflict.
"""

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

from guardian.arns import Location, canonical, location_of, resource_path, well_formed
from guardian.kinds import Kind, is_gone
from guardian.resource import Attribution, Resource, Source

AUTO_TAG_PROFILE = "sagemaker:user-profile-arn"
AUTO_TAG_SPACE = "sagemaker:space-arn"

# Evidence no user can forge with a tag of their own: what remediation may act on (guardian.remediation.safety).
STRONG_SOURCES = frozenset({Source.AUTO_TAG, Source.STUDIO_API, Source.SOURCE_IDENTITY})
# A role several people could assume, or a tag anyone can write: a good guess, never proof.
WEAK_SOURCES = frozenset({Source.EXECUTION_ROLE, Source.GUARDIAN_TAG})


def confidence(source: Source) -> str:
    """How far an owner decided by ``source`` can be trusted: "strong", "weak", or "none" (unattributed)."""
    return "strong" if source in STRONG_SOURCES else "weak" if source in WEAK_SOURCES else "none"


@dataclass(frozen=True)
class OwnershipTags:
    """The guardian's own tags, under a configurable prefix (never ``aws:`` or ``sagemaker:``)."""

    prefix: str

    def __post_init__(self) -> None:
        if self.prefix.lower().split(":")[0] in ("aws", "sagemaker"):
            raise ValueError(f"tag prefix {self.prefix!r} is reserved by AWS")

    @property
    def owner(self) -> str:
        return f"{self.prefix}:owner"

    @property
    def owner_arn(self) -> str:
        return f"{self.prefix}:owner-arn"

    @property
    def space_arn(self) -> str:
        return f"{self.prefix}:space-arn"

    @property
    def source(self) -> str:
        return f"{self.prefix}:attribution"

    def for_attribution(self, attribution: Attribution) -> dict[str, str]:
        tags = {self.owner: attribution.owner or "", self.source: attribution.source.value}
        if attribution.owner_arn:
            tags[self.owner_arn] = attribution.owner_arn
        if attribution.space_arn:
            tags[self.space_arn] = attribution.space_arn
        return tags

    def missing_on(self, resource: Resource) -> dict[str, str]:
        """The ownership tags a resource should carry but does not (empty when it needs none)."""
        attribution = resource.attribution
        if attribution.source in (Source.UNATTRIBUTED, Source.GUARDIAN_TAG) or not attribution.owner:
            return {}
        wanted = self.for_attribution(attribution)
        return {key: value for key, value in wanted.items() if resource.tags.get(key) != value}


@dataclass
class Directory:
    """The Studio users and domains the inventory knows, and a way to look up spaces: what
    attribution looks names and roles up in."""

    profiles: list[Resource] = field(default_factory=list)
    domains: dict[str, Resource] = field(default_factory=dict)
    space_lookup: Callable[[str], Resource | None] = lambda _arn: None
    _spaces: dict[str, Resource | None] = field(default_factory=dict, repr=False)

    @classmethod
    def of(cls, resources: Iterable[Resource]) -> "Directory":
        """A directory over records already in memory (a read-only audit, a test)."""
        resources = list(resources)
        spaces = {r.arn: r for r in resources if r.kind is Kind.SPACE}
        return cls(
            profiles=[r for r in resources if r.kind is Kind.USER_PROFILE],
            domains={r.domain_id or r.name: r for r in resources if r.kind is Kind.DOMAIN},
            space_lookup=spaces.get,
        )

    def profiles_named(self, name: str) -> list[Resource]:
        return [p for p in self.profiles if p.name == name]

    def effective_role(self, profile: Resource) -> str | None:
        if profile.execution_role:
            return profile.execution_role
        domain = self.domains.get(profile.domain_id or "")
        return domain.execution_role if domain else None

    def profiles_using_role(self, role_arn: str) -> list[Resource]:
        wanted = _role_name(role_arn)
        return [p for p in self.profiles if _role_name(self.effective_role(p)) == wanted]

    def is_shared_space_role(self, role_arn: str) -> bool:
        wanted = _role_name(role_arn)
        return any(_role_name(d.default_space_role) == wanted for d in self.domains.values())

    def know_spaces(self, spaces: Iterable[Resource]) -> None:
        """Spaces already in hand (the sweep's): looked up from memory, not the table."""
        self._spaces.update((space.arn, space) for space in spaces)

    def space(self, space_arn: str) -> Resource | None:
        key = canonical(space_arn)
        if key not in self._spaces:
            self._spaces[key] = self.space_lookup(key)
        return self._spaces[key]


@dataclass(frozen=True)
class _Claim:
    source: Source
    owner: str | None
    owner_arn: str | None = None
    space: str | None = None
    space_arn: str | None = None
    domain_id: str | None = None


# A claim (or none) and a note saying why, for the attribution's notes.
_ClaimResult = tuple["_Claim | None", str | None]


def attribute(resource: Resource, directory: Directory, tags: OwnershipTags) -> Attribution:
    """Decide the owner of one resource from everything the inventory knows about it."""
    claims: list[_Claim] = []
    notes: list[str] = []
    location = location_of(resource.arn)
    for claim_source in (_auto_tags, _studio_api, _source_identity, _execution_role, _guardian_tags):
        claim, note = claim_source(resource, directory, tags, location)
        if note:
            notes.append(note)
        if claim:
            claims.append(claim)
    owned = [claim for claim in claims if claim.owner]
    winner = owned[0] if owned else _Claim(Source.UNATTRIBUTED, None, domain_id=resource.domain_id)
    # The space may be known without an owner (an app of a space the inventory has not met yet).
    placed = next((c for c in claims if c.space_arn and c.owner in (None, winner.owner)), winner)
    for weaker in owned[1:]:
        if weaker.owner != winner.owner:
            notes.append(f"conflict: {weaker.source.value} says {weaker.owner}, {winner.source.value} wins")
    space_record = directory.space(placed.space_arn) if placed.space_arn else None
    sharing = resource.sharing if resource.kind is Kind.SPACE else (space_record.sharing if space_record else None)
    if not owned and not notes:
        notes.append("no source names an owner")
    return Attribution(
        source=winner.source,
        owner=winner.owner,
        owner_arn=winner.owner_arn,
        space=placed.space,
        space_arn=placed.space_arn,
        domain_id=winner.domain_id or placed.domain_id or resource.domain_id,
        sharing=sharing,
        notes=tuple(notes),
    )


def _auto_tags(resource: Resource, directory: Directory, tags: OwnershipTags, location: Location) -> _ClaimResult:
    profile_arn = _tagged_arn(resource.tags.get(AUTO_TAG_PROFILE), Kind.USER_PROFILE)
    space_arn = _tagged_arn(resource.tags.get(AUTO_TAG_SPACE), Kind.SPACE)
    if not profile_arn and not space_arn:
        return None, None
    space_name = resource_path(space_arn)[-1] if space_arn else None
    if profile_arn:
        domain_id, owner = resource_path(profile_arn)
        return _Claim(Source.AUTO_TAG, owner, profile_arn, space_name, space_arn, domain_id), f"auto-tag: {owner}"
    # Only the space is tagged: the owner is whoever owns that space.
    assert space_arn  # one of the two is set (above)
    domain_id = resource_path(space_arn)[0]
    space = directory.space(space_arn)
    space_owner = space.studio_owner if space else None
    claim = _Claim(
        Source.AUTO_TAG,
        space_owner,
        _profile_arn(location, domain_id, space_owner),
        space_name,
        space_arn,
        domain_id,
    )
    return claim, f"auto-tag: space {space_name}" + (f" owned by {space_owner}" if space_owner else ", owner unknown")


def _studio_api(resource: Resource, directory: Directory, tags: OwnershipTags, location: Location) -> _ClaimResult:
    if resource.kind is Kind.USER_PROFILE:
        claim = _Claim(Source.STUDIO_API, resource.name, resource.arn, domain_id=resource.domain_id)
        return claim, None
    if resource.kind is Kind.SPACE:
        owner = resource.studio_owner
        claim = _Claim(
            Source.STUDIO_API,
            owner,
            _profile_arn(location, resource.domain_id, owner),
            resource.name,
            resource.arn,
            resource.domain_id,
        )
        return claim, f"studio-api: space owner {owner}" if owner else "studio-api: space has no owner"
    if resource.kind is Kind.APP and resource.studio_space:
        space_arn = location.space(resource.domain_id or "", resource.studio_space)
        space = directory.space(space_arn)
        owner = space.studio_owner if space else None
        claim = _Claim(
            Source.STUDIO_API,
            owner,
            _profile_arn(location, resource.domain_id, owner),
            resource.studio_space,
            space_arn,
            resource.domain_id,
        )
        return claim, f"studio-api: app of space {resource.studio_space}"
    if resource.studio_owner:  # legacy per-user apps, MLflow servers' CreatedBy
        owner = resource.studio_owner
        claim = _Claim(
            Source.STUDIO_API, owner, _profile_arn(location, resource.domain_id, owner), domain_id=resource.domain_id
        )
        return claim, f"studio-api: created by {owner}"
    return None, None


def _source_identity(resource: Resource, directory: Directory, tags: OwnershipTags, location: Location) -> _ClaimResult:
    creator = resource.creator
    if not creator or not creator.source_identity:
        return None, None
    name = creator.source_identity
    candidates = [p for p in directory.profiles_named(name) if not is_gone(p.state)] or directory.profiles_named(name)
    if len(candidates) > 1 and creator.role_arn:
        by_role = {p.arn for p in directory.profiles_using_role(creator.role_arn)}
        candidates = [p for p in candidates if p.arn in by_role] or candidates
    if len(candidates) == 1:
        profile = candidates[0]
        return _Claim(
            Source.SOURCE_IDENTITY, name, profile.arn, domain_id=profile.domain_id
        ), f"source-identity: {name}"
    if not candidates:
        # A profile the inventory has not met yet: the name is still the owner.
        return _Claim(Source.SOURCE_IDENTITY, name), f"source-identity: {name} (profile not in inventory)"
    return _Claim(Source.SOURCE_IDENTITY, name), f"source-identity: {name} is in {len(candidates)} domains"


def _execution_role(resource: Resource, directory: Directory, tags: OwnershipTags, location: Location) -> _ClaimResult:
    creator = resource.creator
    if not creator or not creator.role_arn:
        return None, None
    role = _role_name(creator.role_arn)
    if directory.is_shared_space_role(creator.role_arn):
        return None, f"execution-role: {role} is a shared-space role, used by every member"
    profiles = directory.profiles_using_role(creator.role_arn)
    if len(profiles) == 1:
        profile = profiles[0]
        return _Claim(
            Source.EXECUTION_ROLE, profile.name, profile.arn, domain_id=profile.domain_id
        ), f"execution-role: {role} belongs to {profile.name} only"
    return None, f"execution-role: {role} is used by {len(profiles)} profiles"


def _guardian_tags(resource: Resource, directory: Directory, tags: OwnershipTags, location: Location) -> _ClaimResult:
    owner = resource.tags.get(tags.owner)
    if not owner:
        return None, None
    owner_arn = _tagged_arn(resource.tags.get(tags.owner_arn), Kind.USER_PROFILE)
    space_arn = _tagged_arn(resource.tags.get(tags.space_arn), Kind.SPACE)
    domain_id = resource_path(owner_arn)[0] if owner_arn else None
    space_name = resource_path(space_arn)[-1] if space_arn else None
    return _Claim(Source.GUARDIAN_TAG, owner, owner_arn, space_name, space_arn, domain_id), f"guardian-tag: {owner}"


def _tagged_arn(value: str | None, kind: Kind) -> str | None:
    """An ARN read from a tag anyone can write: kept only when it is a well-formed ARN of ``kind``."""
    return canonical(value) if value and well_formed(value, kind) else None


def _profile_arn(location: Location, domain_id: str | None, owner: str | None) -> str | None:
    return location.user_profile(domain_id, owner) if domain_id and owner else None


def _role_name(role_arn: str | None) -> str | None:
    """Roles compare by name: CloudTrail's session issuer and Studio settings may differ in path."""
    return role_arn.rsplit("/", 1)[-1] if role_arn else None
