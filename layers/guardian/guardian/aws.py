"""boto3 clients, made lazily through one factory and passed in: tests inject moto or the sandbox, the
CLI points them at ``--endpoint-url``, and retries are botocore's (standard mode), not hand-written.

Clients come from a botocore session, the one boto3 wraps: importing boto3 itself also imports s3transfer
(a third of the SDK's import time, for S3 transfers the guardian never makes)."""

from typing import Any

import botocore.session
from botocore.config import Config

from guardian.arns import Location

_CONFIG = Config(
    retries={"mode": "standard", "max_attempts": 6},
    connect_timeout=5,
    read_timeout=20,
    user_agent_extra="studio-cost-guardian",
)
# Presigned links to KMS-encrypted report objects need Signature Version 4.
_SERVICE_CONFIG = {"s3": _CONFIG.merge(Config(signature_version="s3v4"))}


class AwsClients:
    def __init__(
        self,
        region: str | None = None,
        endpoint_url: str | None = None,
        session: Any = None,
    ) -> None:
        """``session``: a botocore session, or a boto3 one (its botocore session is used)."""
        self._session = getattr(session, "_session", session) or botocore.session.get_session()
        self.region = region or self._session.get_config_variable("region") or "us-east-1"
        self.endpoint_url = endpoint_url
        self._clients: dict[tuple[str, str], Any] = {}

    def __call__(self, service: str, region: str | None = None) -> Any:
        """A client for ``service`` in the guardian's region (or ``region``: the Price List API's)."""
        key = (service, region or self.region)
        if key not in self._clients:
            self._clients[key] = self._session.create_client(
                service,
                region_name=key[1],
                endpoint_url=self.endpoint_url,
                config=_SERVICE_CONFIG.get(service, _CONFIG),
            )
        return self._clients[key]


def account_location(clients: AwsClients) -> Location:
    """The account and region the clients act in (one STS call; no permission needed)."""
    identity = clients("sts").get_caller_identity()
    partition = identity["Arn"].split(":")[1]
    return Location(region=clients.region, account=identity["Account"], partition=partition)
