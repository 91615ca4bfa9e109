"""Owner attribution: each source, strongest first; conflicts called out; nothing guessed."""

import pytest

from guardian.attribution import Directory, OwnershipTags, attribute
from guardian.kinds import Kind
from guardian.resource import Creator, Resource, Source

ACCOUNT = "123456789012"
PREFIX = f"arn:aws:sagemaker:us-east-1:{ACCOUNT}"
ROLE = f"arn:aws:iam::{ACCOUNT}:role/service-role/"
TAGS = OwnershipTags("studio-cost-guardian")


def profile(name, domain="d-1", role=None):
    return Resource(
        arn=f"{PREFIX}:user-profile/{domain}/{name}",
        kind=Kind.USER_PROFILE,
        name=name,
        domain_id=domain,
        execution_role=role,
        state="InService",
    )


def domain(domain_id="d-1", default_role=ROLE + "Default", space_role=ROLE + "SharedSpaces"):
    return Resource(
        arn=f"{PREFIX}:domain/{domain_id}",
        kind=Kind.DOMAIN,
        name=domain_id,
        domain_id=domain_id,
        execution_role=default_role,
        default_space_role=space_role,
    )


def space(name, owner, sharing="Private", domain_id="d-1"):
    return Resource(
        arn=f"{PREFIX}:space/{domain_id}/{name}",
        kind=Kind.SPACE,
        name=name,
        domain_id=domain_id,
        studio_owner=owner,
        sharing=sharing,
    )


DIRECTORY = Directory.of(
    [
        domain(),
        profile("alice", role=ROLE + "alice-role"),
        profile("bob"),  # the domain's default role, shared with dave
        profile("dave"),
        space("alice-lab", "alice"),
        space("team", "carol", sharing="Shared"),
    ]
)


def endpoint(tags=None, creator=None):
    return Resource(arn=f"{PREFIX}:endpoint/e", kind=Kind.ENDPOINT, name="e", tags=tags or {}, creator=creator)


def test_studio_auto_tags_name_owner_space_and_its_sharing():
    result = attribute(
        endpoint(
            tags={
                "sagemaker:user-profile-arn": f"{PREFIX}:user-profile/d-1/alice",
                "sagemaker:space-arn": f"{PREFIX}:space/d-1/alice-lab",
            }
        ),
        DIRECTORY,
        TAGS,
    )
    assert (result.source, result.owner, result.space, result.domain_id, result.sharing) == (
        Source.AUTO_TAG,
        "alice",
        "alice-lab",
        "d-1",
        "Private",
    )


def test_a_space_tag_alone_names_the_space_owner():
    result = attribute(endpoint(tags={"sagemaker:space-arn": f"{PREFIX}:space/d-1/team"}), DIRECTORY, TAGS)
    assert (result.source, result.owner, result.space, result.sharing) == (Source.AUTO_TAG, "carol", "team", "Shared")


def test_source_identity_names_the_profile_when_no_tag_does():
    result = attribute(endpoint(creator=Creator(source_identity="bob", role_arn=ROLE + "Default")), DIRECTORY, TAGS)
    assert (result.source, result.owner, result.owner_arn) == (
        Source.SOURCE_IDENTITY,
        "bob",
        f"{PREFIX}:user-profile/d-1/bob",
    )


def test_an_execution_role_of_one_profile_names_it():
    result = attribute(endpoint(creator=Creator(role_arn=f"arn:aws:iam::{ACCOUNT}:role/alice-role")), DIRECTORY, TAGS)
    assert (result.source, result.owner) == (Source.EXECUTION_ROLE, "alice")


def test_a_role_several_profiles_share_names_nobody():
    result = attribute(endpoint(creator=Creator(role_arn=ROLE + "Default")), DIRECTORY, TAGS)
    assert result.source is Source.UNATTRIBUTED
    assert "execution-role: Default is used by 2 profiles" in result.notes


def test_a_shared_space_role_names_nobody():
    result = attribute(endpoint(creator=Creator(role_arn=ROLE + "SharedSpaces")), DIRECTORY, TAGS)
    assert result.source is Source.UNATTRIBUTED
    assert any("shared-space role" in note for note in result.notes)


def test_the_guardians_own_earlier_tag_is_the_last_resort():
    result = attribute(
        endpoint(tags={TAGS.owner: "dave", TAGS.owner_arn: f"{PREFIX}:user-profile/d-1/dave"}), DIRECTORY, TAGS
    )
    assert (result.source, result.owner, result.domain_id) == (Source.GUARDIAN_TAG, "dave", "d-1")


def test_stronger_source_wins_and_the_conflict_is_recorded():
    resource = endpoint(
        tags={"sagemaker:user-profile-arn": f"{PREFIX}:user-profile/d-1/alice", TAGS.owner: "dave"},
        creator=Creator(source_identity="bob"),
    )
    result = attribute(resource, DIRECTORY, TAGS)
    assert (result.source, result.owner) == (Source.AUTO_TAG, "alice")
    assert "conflict: source-identity says bob, auto-tag wins" in result.notes
    assert "conflict: guardian-tag says dave, auto-tag wins" in result.notes


def test_nothing_known_is_unattributed_not_guessed():
    result = attribute(endpoint(creator=Creator(principal_arn=f"arn:aws:iam::{ACCOUNT}:user/intern")), DIRECTORY, TAGS)
    assert result.source is Source.UNATTRIBUTED
    assert result.owner is None


def test_a_profile_name_in_two_domains_is_narrowed_by_the_role():
    directory = Directory.of(
        [domain("d-1"), domain("d-2"), profile("sam", "d-1", ROLE + "sam-1"), profile("sam", "d-2", ROLE + "sam-2")]
    )
    result = attribute(endpoint(creator=Creator(source_identity="sam", role_arn=ROLE + "sam-2")), directory, TAGS)
    assert (result.owner, result.domain_id) == ("sam", "d-2")


def test_an_app_belongs_to_its_space_and_the_space_to_its_owner():
    app = Resource(
        arn=f"{PREFIX}:app/d-1/alice-lab/jupyterlab/default",
        kind=Kind.APP,
        name="default",
        domain_id="d-1",
        studio_space="alice-lab",
    )
    result = attribute(app, DIRECTORY, TAGS)
    assert (result.source, result.owner, result.space_arn) == (
        Source.STUDIO_API,
        "alice",
        f"{PREFIX}:space/d-1/alice-lab",
    )


def test_an_app_of_an_unknown_space_still_knows_its_space():
    app = Resource(
        arn=f"{PREFIX}:app/d-1/new/jupyterlab/default",
        kind=Kind.APP,
        name="default",
        domain_id="d-1",
        studio_space="new",
    )
    result = attribute(app, DIRECTORY, TAGS)
    assert result.owner is None
    assert result.space_arn == f"{PREFIX}:space/d-1/new"


@pytest.mark.parametrize("prefix", ["aws", "sagemaker", "AWS:thing"])
def test_the_guardian_never_writes_reserved_tag_prefixes(prefix):
    with pytest.raises(ValueError, match="reserved"):
        OwnershipTags(prefix)


def test_ownership_tags_are_missing_only_when_an_owner_is_known_and_not_yet_written():
    resource = endpoint(creator=Creator(source_identity="bob"))
    resource = resource.model_copy(update={"attribution": attribute(resource, DIRECTORY, TAGS)})
    missing = TAGS.missing_on(resource)
    assert missing[TAGS.owner] == "bob" and missing[TAGS.source] == "source-identity"
    tagged = resource.model_copy(update={"tags": missing})
    assert TAGS.missing_on(tagged) == {}
    unknown = endpoint()
    assert TAGS.missing_on(unknown.model_copy(update={"attribution": attribute(unknown, DIRECTORY, TAGS)})) == {}
