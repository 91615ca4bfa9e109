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


# What the hub asks with its own credentials wherever the resource lives: its table, topics, queues, schedules,
# secrets, the bill and the price list, the state machine and the organization.
HUB_SERVICES = frozenset(
    {"dynamodb", "sns", "sqs", "scheduler", "secretsmanager", "ce", "pricing", "stepfunctions", "organizations"}
)
MEMBER_SESSION_NAME = "studio-cost-guardian"


class MemberClients(AwsClients):
    """Clients in a member account through its assumed role, the hub's own services left with the hub.

    botocore's own assume-role provider keeps the credentials for their session's lifetime and refreshes them
    before they expire; the role is first assumed on the first call (a missing or untrusting role is that
    call's AccessDenied)."""

    def __init__(self, hub: AwsClients, region: str, role_arn: str, external_id: str | None = None) -> None:
        from botocore.credentials import AssumeRoleCredentialFetcher, DeferredRefreshableCredentials

        extra = {"RoleSessionName": MEMBER_SESSION_NAME} | ({"ExternalId": external_id} if external_id else {})
        fetcher = AssumeRoleCredentialFetcher(
            client_creator=lambda service, **credentials: hub._session.create_client(
                service, region_name=hub.region, endpoint_url=hub.endpoint_url, config=_CONFIG, **credentials
            ),
            source_credentials=hub._session.get_credentials(),
            role_arn=role_arn,
            extra_args=extra,
        )
        session = botocore.session.get_session()
        # The hub's service models, loaded once per container, not once per member (memory and cold time).
        session.register_component("data_loader", hub._session.get_component("data_loader"))
        session._credentials = DeferredRefreshableCredentials(fetcher.fetch_credentials, "assume-role")
        super().__init__(region=region, endpoint_url=hub.endpoint_url, session=session)
        self.hub = hub
        self.role_arn = role_arn

    def __call__(self, service: str, region: str | None = None) -> Any:
        if service in HUB_SERVICES:
            return self.hub(service, region)
        return super().__call__(service, region)


def account_location(clients: AwsClients) -> Location:
    """The account and region the clients act in (one STS call; no permission needed)."""
    identity = clients("sts").get_caller_identity()
    partition = identity["Arn"].split(":")[1]
    return Location(region=clients.region, account=identity["Account"], partition=partition)
