"""Which team hears about an account: the stack's AccountRoutes parameter maps an account id, or an
organizational unit's id, to a team's channels (its Slack webhook secret, its email address):

    {"111111111111": {"team": "vision", "slack_webhook_secret_arn": "arn:...", "email": "vision@example.com"},
     "ou-ab12-cdef3456": {"team": "platform", "email": "platform@example.com"}}

An account's own route wins over its OU's, and a nearer OU's over an outer one's (an account's parents come
from Organizations ListParents, asked by the hub and kept for PARENTS_TTL). An account with no route is the
default team's (TeamEmail, the Slack secret's team webhook), as in a single-account stack; owners are reached
directly, whatever their account. The map is validated once, with the rest of the settings: a bad key or
route is an error at cold start that names it, never a failure on the first message.

A team's email is a subscription to the stack's topic filtered to its messages (``audience`` =
``team:<team>``), which the guardian makes itself on the team's first message (SNS then asks the address to
confirm; what is published before that reaches the team's Slack only). The stack's output
AccountRouteSubscribeCommand makes it ahead of time, with the same filter, and the guardian finds it there."""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from botocore.exceptions import ClientError
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from guardian.observability import MetricUnit, logger, metrics
from guardian.table import subscription_key

if TYPE_CHECKING:
    from guardian.runtime import Guardian

# ListParents: an account's OU, and that OU's parent, up to the root. A hub-side call (the management or a
# delegated administrator account answers it); only made when a route names an OU. Subscribe and
# GetSubscriptionAttributes: a routed team's address, subscribed by whichever function first writes to it, its
# subscription's ARN kept in the table (GetItem, PutItem).
PERMISSIONS = (
    "organizations:ListParents",
    "sns:Subscribe",
    "sns:GetSubscriptionAttributes",
    "dynamodb:GetItem",
    "dynamodb:PutItem",
)
ACCOUNT_ID = re.compile(r"^\d{12}$")
OU_ID = re.compile(r"^ou-[0-9a-z]{4,32}-[0-9a-z]{8,32}$")
TEAM_NAME = r"^[A-Za-z0-9_.-]{1,64}$"
SECRET_ARN = r"^arn:aws[a-z-]*:secretsmanager:[a-z0-9-]+:\d{12}:secret:.+$"
EMAIL = r"^[^@\s]+@[^@\s]+\.[^@\s]+$"
PARENTS_TTL = timedelta(hours=1)  # accounts move between OUs rarely; a move is followed within the hour
MAX_OU_DEPTH = 5  # Organizations nests OUs at most five deep under the root


class TeamRoute(BaseModel):
    """One team's channels: at least one of a Slack webhook secret (a URL, or {"team": URL}) and an address."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    team: str = Field(pattern=TEAM_NAME)
    slack_webhook_secret_arn: str | None = Field(default=None, pattern=SECRET_ARN)
    email: str | None = Field(default=None, pattern=EMAIL)

    @model_validator(mode="after")
    def _reaches_someone(self) -> TeamRoute:
        if not self.slack_webhook_secret_arn and not self.email:
            raise ValueError("a route needs slack_webhook_secret_arn or email (or both)")
        return self

    @property
    def audience(self) -> str:
        """The SNS ``audience`` attribute of the team's messages (and its subscription's filter)."""
        return f"team:{self.team}"

    def filter_policy(self) -> dict[str, list[str]]:
        return {"audience": [self.audience]}


class AccountRoutes(BaseModel):
    """The validated map, kept hashable (settings are): (account or OU id, route) pairs in the map's order."""

    model_config = ConfigDict(frozen=True)

    routes: tuple[tuple[str, TeamRoute], ...] = ()

    @model_validator(mode="before")
    @classmethod
    def _from_json(cls, value: Any) -> Any:
        """ACCOUNT_ROUTES as the stack passes it: a JSON object string ("" or "{}": no routes)."""
        if isinstance(value, str):
            return {"routes": parse_routes(value)}
        return value

    def __bool__(self) -> bool:
        return bool(self.routes)

    def get(self, key: str) -> TeamRoute | None:
        return next((route for k, route in self.routes if k == key), None)

    def team(self, name: str) -> TeamRoute | None:
        return next((route for _, route in self.routes if route.team == name), None)

    @property
    def names_ous(self) -> bool:
        return any(OU_ID.match(key) for key, _ in self.routes)


def parse_routes(text: str) -> tuple[tuple[str, TeamRoute], ...]:
    """The map, checked key by key: the error names the key and what is wrong with it."""
    try:
        document = json.loads(text.strip() or "{}")
    except ValueError as error:
        raise ValueError(f"AccountRoutes is not JSON ({error}): expected {{account or OU id: route}}") from error
    if not isinstance(document, dict):
        raise ValueError("AccountRoutes is a JSON object: {account or OU id: route}")
    routes = []
    for key, value in document.items():
        if not (ACCOUNT_ID.match(key) or OU_ID.match(key)):
            raise ValueError(f"AccountRoutes[{key!r}]: neither a 12-digit account id nor an OU id (ou-xxxx-xxxxxxxx)")
        try:
            routes.append((key, TeamRoute.model_validate(value)))
        except ValidationError as error:
            problems = "; ".join(f"{'.'.join(map(str, e['loc'])) or 'route'}: {e['msg']}" for e in error.errors())
            raise ValueError(f"AccountRoutes[{key!r}]: {problems}") from error
    by_team: dict[str, tuple[str, TeamRoute]] = {}
    for key, route in routes:  # one team, one set of channels: a team's audience is its name
        first = by_team.setdefault(route.team, (key, route))
        if first[1] != route:
            raise ValueError(
                f"AccountRoutes[{key!r}]: team {route.team!r} has other channels under {first[0]!r}; "
                "a team's routes must name the same channels"
            )
    return tuple(routes)


@dataclass
class _Parent:
    id: str | None  # None: no parent the routes can name (not in the organization)
    at: datetime


class Router:
    """An account's route, its OUs looked up once per PARENTS_TTL (kept with the container's channels)."""

    def __init__(self, routes: AccountRoutes, organizations: Callable[[], Any]) -> None:
        self.routes = routes
        self._organizations = organizations
        self._parents: dict[str, _Parent] = {}

    def route(self, account: str | None, now: datetime) -> TeamRoute | None:
        """The route of the account, its nearest routed OU's, or None (the default team's)."""
        if not account or not self.routes:
            return None
        direct = self.routes.get(account)
        if direct or not self.routes.names_ous:
            return direct
        child = account
        for _ in range(MAX_OU_DEPTH):
            parent = self._parent(child, now)
            if parent is None or not OU_ID.match(parent):  # the root, or unknown: the default team
                return None
            found = self.routes.get(parent)
            if found:
                return found
            child = parent
        return None

    def _parent(self, child: str, now: datetime) -> str | None:
        known = self._parents.get(child)
        if known and now - known.at < PARENTS_TTL:
            return known.id
        try:
            pages = self._organizations().get_paginator("list_parents").paginate(ChildId=child)
            parents = [parent for page in pages for parent in page.get("Parents") or []]  # one: an OU or the root
        except Exception as error:  # denied, not in use, unreachable: the default team hears, and it is asked again
            code = error.response.get("Error", {}).get("Code", "") if isinstance(error, ClientError) else ""
            if code != "ChildNotFoundException":
                why = code or type(error).__name__
                logger.warning("account's OU unknown: its team is the default", extra={"child": child, "error": why})
                metrics.add_metric(name="AccountRouteUnknown", unit=MetricUnit.Count, value=1)
                return None
            parents = []  # not in the organization: no OU routes it
        parent = str(parents[0]["Id"]) if parents else None
        self._parents[child] = _Parent(parent, now)
        return parent


# A team's email: its subscription to the topic, made by the guardian on the team's first message.


def team_subscribed(guardian: Guardian, route: TeamRoute) -> bool:
    """Subscribe the route's address (once: the subscription's ARN is kept in the table), filtered to the team's
    messages; whether it is confirmed (SNS delivers nothing to it before). Raises when SNS or the table cannot
    be asked (the caller retries)."""
    if not route.email:
        return False
    table, key = guardian.settings.table_name, subscription_key(route.audience, route.email)
    dynamodb, sns = guardian.clients("dynamodb"), guardian.clients("sns")
    arn = (dynamodb.get_item(TableName=table, Key=key, ConsistentRead=True).get("Item") or {}).get("arn", {}).get("S")
    for _ in range(2):  # a subscription deleted since (the team unsubscribed) is made again, once
        if not arn:
            response = sns.subscribe(
                TopicArn=guardian.settings.topic_arn,
                Protocol="email",
                Endpoint=route.email,
                ReturnSubscriptionArn=True,
                Attributes={
                    # As AccountRouteSubscribeCommand writes it: SNS returns a subscription made by it, not an error
                    "FilterPolicy": json.dumps(route.filter_policy(), separators=(",", ":")),
                    "FilterPolicyScope": "MessageAttributes",
                },
            )
            arn = str(response["SubscriptionArn"])
            dynamodb.put_item(TableName=table, Item=key | {"type": {"S": "subscription"}, "arn": {"S": arn}})
            logger.info("team subscribed", extra={"team": route.team, "email": route.email})
        try:
            attributes = sns.get_subscription_attributes(SubscriptionArn=arn)["Attributes"]
        except ClientError as error:
            if error.response.get("Error", {}).get("Code") != "NotFound":
                raise
            arn = None
            continue
        confirmed = bool(attributes.get("PendingConfirmation") == "false")
        if not confirmed:
            logger.warning("team's email subscription awaits confirmation", extra={"team": route.team})
        return confirmed
    return False
