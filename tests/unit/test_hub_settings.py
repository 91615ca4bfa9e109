"""A hub's settings, validated once at cold start: a bad member list is an error that names it, not a failure
when the first sweep tries to reach '12345'."""

import pytest

from guardian.settings import Settings

BASE = {"TABLE_NAME": "studio-cost-guardian", "AWS_REGION": "eu-west-1"}


def test_a_single_account_stack_watches_no_member_and_sweeps_its_own_region():
    settings = Settings.from_env(BASE)
    assert not settings.watches_members
    assert settings.member_accounts == [] and settings.member_regions == ["eu-west-1"]


def test_members_are_listed_once_each_in_the_order_given():
    settings = Settings.from_env(
        BASE | {"MEMBER_ACCOUNTS": "222222222222,111111111111,222222222222", "MEMBER_REGIONS": "us-east-1"}
    )
    assert settings.watches_members
    assert settings.member_accounts == ["222222222222", "111111111111"]
    assert settings.member_regions == ["us-east-1"]
    assert settings.member_role_arn("111111111111") == "arn:aws:iam::111111111111:role/GuardianMemberRole"
    assert settings.member_role_arn("111111111111", acting=True).endswith(":role/GuardianMemberRemediationRole")


@pytest.mark.parametrize("bad", ["12345", "11111111111a", "111111111111,abc"])
def test_a_member_that_is_not_an_account_id_is_refused_at_cold_start_by_name(bad):
    with pytest.raises(RuntimeError, match="MEMBER_ACCOUNTS are 12-digit account ids"):
        Settings.from_env(BASE | {"MEMBER_ACCOUNTS": bad})


def test_an_organization_alone_makes_a_hub():
    assert Settings.from_env(BASE | {"ORGANIZATION_ID": "o-abcdefghij"}).watches_members
    assert not Settings.from_env(BASE | {"ORGANIZATION_ID": ""}).watches_members
