"""Which account a command works on, and the guardian's table in it: a sandbox at --endpoint-url, an
embedded sandbox, or whatever AWS account the credentials reach; the table named by --table, a deployed
stack's (from its outputs), or the sandbox's."""

import contextlib
import os
from collections.abc import Iterator
from dataclasses import dataclass

from botocore.exceptions import ClientError

from guardian.aws import AwsClients, account_location
from guardian.dynamo_inventory import DynamoInventory
from guardian.findings_store import DynamoFindings
from guardian.settings import PriceSource
from guardian_cli.errors import InputError


@dataclass(frozen=True)
class Endpoint:
    """--endpoint-url and --region: where the AWS APIs are."""

    url: str | None
    region: str


@dataclass(frozen=True)
class TableRef:
    """--stack and --table (with the endpoint): where the guardian's findings are kept."""

    endpoint: Endpoint
    stack: str
    table: str | None = None


@contextlib.contextmanager
def account(endpoint: Endpoint, embedded_default: bool = True) -> Iterator[AwsClients]:
    """Clients for the account a command works on: a sandbox at --endpoint-url, an embedded one, or AWS."""
    # The sandbox (moto) is imported only where one is used: auditing real AWS never loads it, so the `cli`
    # extra works without the `sandbox` extra.
    if endpoint.url:
        from guardian_sandbox import use_fake_credentials

        use_fake_credentials()
        yield AwsClients(region=endpoint.region, endpoint_url=endpoint.url)
    elif embedded_default:
        from guardian_sandbox import embedded

        with embedded(endpoint.region) as clients:
            yield clients
    else:
        yield AwsClients(region=endpoint.region)


def price_source(endpoint: Endpoint) -> PriceSource:
    """A sandbox has no Price List API: its prices are the bundled ones."""
    return "bundled" if endpoint.url else "price-list"


def table_name(ref: TableRef, clients: AwsClients) -> str:
    if ref.table:
        return ref.table
    if ref.endpoint.url:
        from guardian_sandbox.stack import TABLE_NAME

        return TABLE_NAME
    return stack_table(clients, ref.stack)


def findings_store(ref: TableRef, clients: AwsClients) -> DynamoFindings:
    return DynamoFindings(clients("dynamodb"), table_name(ref, clients))


def inventory(ref: TableRef, clients: AwsClients) -> DynamoInventory:
    """The inventory, kept in the findings' table."""
    return DynamoInventory(clients("dynamodb"), table_name(ref, clients))


def stack_table(clients: AwsClients, stack: str) -> str:
    """The table a deployed stack's TableName output names."""
    try:
        outputs = clients("cloudformation").describe_stacks(StackName=stack)["Stacks"][0].get("Outputs", [])
    except ClientError as error:
        raise InputError(f"stack {stack!r}: {error.response['Error']['Message']} (use --stack or --table)") from error
    for output in outputs:
        if output["OutputKey"] == "TableName":
            return str(output["OutputValue"])
    raise InputError(f"stack {stack!r} has no TableName output")


def owner_keys(owner: str, clients: AwsClients) -> list[str]:
    """Findings are kept under the owner's profile ARN (or their name, before the profile was known)."""
    if owner.startswith("arn:"):
        return [owner]
    location = account_location(clients)
    profiles = clients("sagemaker").get_paginator("list_user_profiles").paginate(UserProfileNameContains=owner)
    arns = [
        location.user_profile(p["DomainId"], p["UserProfileName"])
        for page in profiles
        for p in page["UserProfiles"]
        if p["UserProfileName"] == owner
    ]
    return [*arns, owner]


def actor(clients: AwsClients) -> str:
    """Who the audit trail says acted: the caller's ARN."""
    try:
        return str(clients("sts").get_caller_identity()["Arn"])
    except Exception:  # the actor is a courtesy in the audit trail; the user's name will do
        return os.environ.get("USER", "cli")
