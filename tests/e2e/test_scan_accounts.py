"""`guardian scan --accounts ... --role-name ... --regions ...`: a read-only audit of many member accounts from a
laptop, each reached by assuming its member role on the served sandbox (moto serves an account per assumed
role's credentials). Every finding says its account and region; an account whose role is missing is
reported and the others are scanned; the gates apply across accounts."""

import argparse
import io
import json
import re
from datetime import UTC, datetime, timedelta

import boto3
import pytest
from hypothesis import given
from hypothesis import strategies as st
from moto.sts.models import sts_backends

from guardian.aws import AwsClients
from guardian_cli.accounts import parse_accounts
from guardian_cli.output import ProgressLine
from guardian_sandbox import clock
from tests.conftest import account_session
from tests.e2e.test_cli import run

TEAM_A, TEAM_B, NO_ROLE = "111111111111", "222222222222", "333333333333"
REGIONS = ("us-east-1", "eu-west-1")
MEMBER_ROLE = "GuardianMemberRole"
TRUST = json.dumps({"Version": "2012-10-17", "Statement": []})


def member_role_in(url: str, account: str) -> boto3.Session:
    """The member template's role, made in ``account`` through the role Organizations made there."""
    admin = as_account(url, account)
    admin.client("iam", region_name="us-east-1", endpoint_url=url).create_role(
        RoleName=MEMBER_ROLE, AssumeRolePolicyDocument=TRUST
    )
    return admin


def as_account(url: str, account: str) -> boto3.Session:
    session: boto3.Session = account_session(account, endpoint_url=url)
    return session


def seed_orphan(url: str, session: boto3.Session, region: str, endpoint_name: str) -> None:
    """alice's space stopped three hours ago, leaving the endpoint she made from it (an orphan)."""
    sm = session.client("sagemaker", region_name=region, endpoint_url=url)
    now = datetime.now(UTC)
    clients = AwsClients(region=region, endpoint_url=url)
    role = "arn:aws:iam::123456789012:role/r"
    with clock.at(clients, now - timedelta(days=2)):
        domain = sm.create_domain(
            DomainName="team", AuthMode="IAM", SubnetIds=["s"], VpcId="v", DefaultUserSettings={"ExecutionRole": role}
        )["DomainArn"].rsplit("/", 1)[-1]
        profile = sm.create_user_profile(DomainId=domain, UserProfileName="alice")["UserProfileArn"]
        space = sm.create_space(
            DomainId=domain,
            SpaceName="alice-lab",
            SpaceSharingSettings={"SharingType": "Private"},
            OwnershipSettings={"OwnerUserProfileName": "alice"},
            SpaceSettings={"AppType": "JupyterLab"},
        )["SpaceArn"]
        sm.create_app(DomainId=domain, SpaceName="alice-lab", AppType="JupyterLab", AppName="default")
        sm.create_model(ModelName="m", ExecutionRoleArn=role, PrimaryContainer={"Image": "i"})
        sm.create_endpoint_config(
            EndpointConfigName="m5",
            ProductionVariants=[
                {
                    "VariantName": "AllTraffic",
                    "ModelName": "m",
                    "InstanceType": "ml.m5.xlarge",
                    "InitialInstanceCount": 1,
                }
            ],
        )
        sm.create_endpoint(
            EndpointName=endpoint_name,
            EndpointConfigName="m5",
            Tags=[
                {"Key": "sagemaker:user-profile-arn", "Value": profile},
                {"Key": "sagemaker:space-arn", "Value": space},
            ],
        )
    with clock.at(clients, now - timedelta(hours=3)):
        sm.delete_app(DomainId=domain, SpaceName="alice-lab", AppType="JupyterLab", AppName="default")


@pytest.fixture
def organization(sandbox_url):
    """Two team accounts with the member role, each with an orphan in each of two regions (named after its
    account and region); a third account that never deployed the member template (the sandbox refuses to
    assume a role an account lacks, as AWS does)."""
    for account in (TEAM_A, TEAM_B):
        admin = member_role_in(sandbox_url, account)
        for region in REGIONS:
            seed_orphan(sandbox_url, admin, region, f"orphan-{account}-{region}")
    return sandbox_url


def scan_fleet(capsys, url, accounts, *extra):
    return run(
        capsys,
        "scan",
        "--endpoint-url",
        url,
        "--accounts",
        ",".join(accounts),
        "--role-name",
        MEMBER_ROLE,
        "--regions",
        ",".join(REGIONS),
        "--format",
        "json",
        *extra,
    )


def test_every_finding_says_the_account_and_region_it_was_found_in(organization, capsys):
    status, out, err = scan_fleet(capsys, organization, (TEAM_A, TEAM_B), "--max-workers", "2")
    assert status == 0, err
    orphans = {f["resource_name"]: f for f in json.loads(out) if f["rule"] == "orphaned-resource"}
    assert set(orphans) == {f"orphan-{a}-{r}" for a in (TEAM_A, TEAM_B) for r in REGIONS}
    for name, finding in orphans.items():
        _, account, region = name.split("-", 2)
        assert (finding["account"], finding["region"]) == (account, region)
        assert f":{region}:{account}:" in finding["resource_arn"]
        assert finding["owner"] == "alice"
    assert all(f["account"] in (TEAM_A, TEAM_B) and f["region"] in REGIONS for f in json.loads(out))
    assert "failed" not in err and "warning" not in err  # each account's CloudTrail history was read too


def test_an_account_without_the_member_role_is_reported_and_the_others_are_scanned(organization, capsys):
    status, out, err = scan_fleet(capsys, organization, (TEAM_A, NO_ROLE, TEAM_B))
    assert status == 0
    assert {f["account"] for f in json.loads(out)} == {TEAM_A, TEAM_B}
    failed = re.findall(r"^scan failed: account=(\d+) region=(\S+) error=(\S+) ", err, re.MULTILINE)
    assert sorted(failed) == [(NO_ROLE, r, "AccessDenied") for r in sorted(REGIONS)]
    assert "2 of 6 account-regions failed" in err


def test_the_gate_applies_across_accounts_and_every_account_failing_exits_2(organization, capsys):
    status, _, err = scan_fleet(capsys, organization, (NO_ROLE, TEAM_B), "--fail-on", "medium")
    assert status == 1 and "past the bar" in err and "account=333333333333" in err
    status, _, _ = scan_fleet(capsys, organization, (TEAM_A,), "--min-monthly-usd", "100000")
    assert status == 0
    status, out, err = scan_fleet(capsys, organization, (NO_ROLE,), "--fail-on", "low")
    assert status == 2 and json.loads(out) == [] and "exit status 2" in err


def test_the_organizations_active_accounts_are_listed_and_scanned(sandbox_url, capsys):
    org = boto3.client("organizations", region_name="us-east-1", endpoint_url=sandbox_url)
    management = org.create_organization(FeatureSet="ALL")["Organization"]["MasterAccountId"]
    member = org.create_account(AccountName="team", Email="team@example.com")["CreateAccountStatus"]["AccountId"]
    seed_orphan(sandbox_url, member_role_in(sandbox_url, member), "us-east-1", "orphan")
    member_role_in(sandbox_url, management)
    status, out, err = run(
        capsys, "scan", "--endpoint-url", sandbox_url, "--org", "--regions", "us-east-1", "--format", "json"
    )
    assert status == 0, err
    orphans = [(f["account"], f["resource_name"]) for f in json.loads(out) if f["rule"] == "orphaned-resource"]
    assert orphans == [(member, "orphan")]
    assert "failed" not in err  # the management account, listed too, is scanned (and holds nothing)


def test_ou_narrows_the_organization_to_the_accounts_under_it(sandbox_url, capsys):
    org = boto3.client("organizations", region_name="us-east-1", endpoint_url=sandbox_url)
    org.create_organization(FeatureSet="ALL")
    root = org.list_roots()["Roots"][0]["Id"]
    ml = org.create_organizational_unit(ParentId=root, Name="ml")["OrganizationalUnit"]["Id"]
    inside, outside = (
        org.create_account(AccountName=n, Email=f"{n}@example.com")["CreateAccountStatus"]["AccountId"]
        for n in ("vision", "finance")
    )
    org.move_account(AccountId=inside, SourceParentId=root, DestinationParentId=ml)
    for account in (inside, outside):
        seed_orphan(sandbox_url, member_role_in(sandbox_url, account), "us-east-1", f"orphan-{account}")
    status, out, err = run(
        capsys, "scan", "--endpoint-url", sandbox_url, "--org", "--ou", ml, "--regions", "us-east-1", "--format", "json"
    )
    assert status == 0, err
    assert {f["account"] for f in json.loads(out)} == {inside}
    status, _, err = run(capsys, "scan", "--endpoint-url", sandbox_url, "--ou", ml)
    assert status == 2 and "--ou narrows --org" in err


def test_bad_account_ids_are_refused_before_anything_is_called(sandbox_url, capsys):
    with pytest.raises(SystemExit) as exit_status:
        run(capsys, "scan", "--endpoint-url", sandbox_url, "--accounts", "1234,abc")
    assert exit_status.value.code == 2
    assert "not a 12-digit account id: 1234, abc" in capsys.readouterr().err
    status, _, err = run(capsys, "scan", "--endpoint-url", sandbox_url, "--external-id", "x")
    assert status == 2 and "--external-id is for the role assumed in --accounts or --org" in err


def test_on_a_terminal_a_line_counts_the_account_regions_scanned_and_is_wiped(organization, capsys, monkeypatch):
    class Terminal(io.StringIO):
        def isatty(self) -> bool:
            return True

    terminal = Terminal()
    monkeypatch.setattr("guardian_cli.progress.ProgressLine", lambda _stream: ProgressLine(terminal))
    status, _, err = scan_fleet(capsys, organization, (TEAM_A, NO_ROLE))
    assert status == 0 and "scanning" not in err  # only the terminal gets the line
    shown = terminal.getvalue()
    assert "scanning 4 account-regions: 4 done, 2 failed;" in shown
    assert re.search(r"scanning 4 account-regions: \d done(, \d failed)?; [1-9]\d* resources listed", shown)
    assert shown.endswith("\r\x1b[K")


def test_the_external_id_the_member_roles_trust_requires_is_sent_with_assume_role(organization, capsys):
    status, _, err = scan_fleet(capsys, organization, (TEAM_A,), "--external-id", "team-secret")
    assert status == 0, err
    assumed = [r for r in sts_backends[TEAM_A]["aws"].assumed_roles if r.role_arn.endswith(f"/{MEMBER_ROLE}")]
    assert [r.external_id for r in assumed] == ["team-secret"]  # one AssumeRole serves both regions


def test_the_table_of_a_scan_of_several_says_where_each_finding_is(organization, capsys):
    status, out, _ = run(
        capsys, "scan", "--endpoint-url", organization, "--accounts", TEAM_B, "--regions", ",".join(REGIONS)
    )
    assert status == 0
    header, *rows = out.splitlines()
    assert header.split()[:3] == ["ACCOUNT", "REGION", "ID"]
    located = {(row.split()[0], row.split()[1]) for row in rows if "orphan-" in row}
    assert located == {(TEAM_B, r) for r in REGIONS}


ACCOUNT_IDS = st.text(alphabet="0123456789", min_size=12, max_size=12)


@given(st.lists(ACCOUNT_IDS, min_size=1, max_size=6), st.sampled_from([",", ", ", " ,"]))
def test_account_ids_are_read_in_order_once_each(ids, separator):
    assert parse_accounts(separator.join(ids + ids[:1])) == list(dict.fromkeys(ids))


@given(st.lists(ACCOUNT_IDS, max_size=3), st.text(alphabet="0123456789abc-", min_size=1, max_size=14))
def test_anything_but_12_digit_ids_is_refused(ids, odd):
    if len(odd) == 12 and odd.isdigit():
        return
    with pytest.raises(argparse.ArgumentTypeError):
        parse_accounts(",".join([*ids, odd]))
