"""Which accounts and regions `guardian scan` audits, and the clients for each: the caller's own account, or
member accounts reached by assuming a role in each (STS AssumeRole, once per account; its credentials serve
every region). The accounts come from --accounts or from the organization (Organizations ListAccounts)."""

import argparse
from collections.abc import Sequence
from dataclasses import dataclass

from botocore.exceptions import BotoCoreError, ClientError

from guardian.aws import AwsClients
from guardian.routing import ACCOUNT_ID, OU_ID

SESSION_NAME = "studio-cost-guardian-scan"


@dataclass(frozen=True)
class Target:
    """One account and region to scan."""

    account: str
    region: str


@dataclass(frozen=True)
class TargetFailure:
    """Why a target could not be scanned (role missing, access denied, throttled after botocore's retries)."""

    account: str
    region: str
    error: str  # the service's error code, or the exception's class
    message: str

    def line(self) -> str:
        """One line on stderr, key=value: greppable, and parseable by a script."""
        message = self.message.replace('"', "'")
        return f'scan failed: account={self.account} region={self.region} error={self.error} message="{message}"'


def parse_accounts(text: str) -> list[str]:
    """--accounts: comma-separated 12-digit account ids (duplicates dropped, order kept). argparse turns the
    error into a usage line and exit status 2."""
    accounts = [a.strip() for a in text.split(",") if a.strip()]
    wrong = [a for a in accounts if not ACCOUNT_ID.fullmatch(a)]
    if wrong or not accounts:
        raise argparse.ArgumentTypeError(f"not a 12-digit account id: {', '.join(wrong) or repr(text)}")
    return list(dict.fromkeys(accounts))


def parse_ous(text: str) -> list[str]:
    """--ou: comma-separated organizational unit ids (ou-xxxx-xxxxxxxx)."""
    units = [u.strip() for u in text.split(",") if u.strip()]
    wrong = [u for u in units if not OU_ID.fullmatch(u)]
    if wrong or not units:
        raise argparse.ArgumentTypeError(f"not an organizational unit id (ou-...): {', '.join(wrong) or repr(text)}")
    return list(dict.fromkeys(units))


def parse_regions(text: str) -> list[str]:
    """--regions: comma-separated region names."""
    regions = [r.strip() for r in text.split(",") if r.strip()]
    if not regions:
        raise argparse.ArgumentTypeError(f"no region in {text!r}")
    return list(dict.fromkeys(regions))


def failure(target: Target, error: Exception) -> TargetFailure:
    if isinstance(error, ClientError):
        details = error.response.get("Error", {})
        return TargetFailure(target.account, target.region, details.get("Code", "ClientError"), str(error))
    return TargetFailure(target.account, target.region, type(error).__name__, str(error))


class MemberSessions:
    """Clients in member accounts, through an assumed role: ``base`` is the caller's (whose STS is asked)."""

    def __init__(self, base: AwsClients, partition: str, role_name: str, external_id: str | None = None) -> None:
        self.base = base
        self.partition = partition  # the caller's: roles are assumed within it
        self.role_name = role_name
        self.external_id = external_id

    def role_arn(self, account: str) -> str:
        return f"arn:{self.partition}:iam::{account}:role/{self.role_name}"

    def credentials(self, account: str) -> dict[str, str]:
        """AssumeRole into the account (its default hour outlasts a scan: 120 LookupEvents at 2 a second)."""
        extra = {"ExternalId": self.external_id} if self.external_id else {}
        answer = self.base("sts").assume_role(RoleArn=self.role_arn(account), RoleSessionName=SESSION_NAME, **extra)
        return dict(answer["Credentials"])

    def clients(self, credentials: dict[str, str], region: str) -> AwsClients:
        """A session of its own per target: botocore sessions are not shared between threads."""
        import botocore.session  # as guardian.aws does: loaded when clients are made

        session = botocore.session.get_session()
        session.set_credentials(
            credentials["AccessKeyId"], credentials["SecretAccessKey"], credentials.get("SessionToken")
        )
        return AwsClients(region=region, endpoint_url=self.base.endpoint_url, session=session)


def own_clients(base: AwsClients, region: str) -> AwsClients:
    """The caller's own account in another region (no role assumed)."""
    return AwsClients(region=region, endpoint_url=base.endpoint_url)


def targets(accounts: Sequence[str], regions: Sequence[str]) -> list[Target]:
    return [Target(a, r) for a in accounts for r in regions]


SCAN_ERRORS = (ClientError, BotoCoreError)  # what one target's failure may be; anything else is a bug
