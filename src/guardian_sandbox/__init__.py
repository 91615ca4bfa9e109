"""The local sandbox: moto plus the Studio APIs it lacks, embedded in-process or served on a port.

Never part of the Lambda artifact: the demo, the CLI and the tests use it.
"""

import contextlib
import os
from collections.abc import Iterator

from guardian.aws import AwsClients
from guardian_sandbox import studio

FAKE_CREDENTIALS = {
    "AWS_ACCESS_KEY_ID": "sandbox",
    "AWS_SECRET_ACCESS_KEY": "sandbox",
    "AWS_SESSION_TOKEN": "sandbox",
}


@contextlib.contextmanager
def embedded(region: str = "us-east-1") -> Iterator[AwsClients]:
    """An in-process sandbox for the length of the block; clients made from it talk to it."""
    from moto import mock_aws

    studio.install()
    # Account-ID-based DynamoDB endpoints (botocore >= 1.37) are not routed by moto's Streams backend.
    os.environ.setdefault("AWS_ACCOUNT_ID_ENDPOINT_MODE", "disabled")
    with mock_aws():
        yield AwsClients(region=region)


def use_fake_credentials() -> None:
    """A sandbox accepts any credentials; make sure boto3 has some to sign with."""
    if not os.environ.get("AWS_ACCESS_KEY_ID"):
        os.environ.update(FAKE_CREDENTIALS)
