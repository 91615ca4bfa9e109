"""An account's route, as a hub resolves it for every message: Organizations is asked an account's parents
once an hour at most (a busy stream makes no call per message), a refused question leaves the account to
the default team and is asked again, and a stack without OU routes never asks at all."""

from datetime import UTC, datetime, timedelta
from typing import Any

from botocore.exceptions import ClientError

from guardian.routing import PARENTS_TTL, AccountRoutes, Router

NOW = datetime(2026, 11, 26, 10, tzinfo=UTC)
ACCOUNT, OU, OUTER = "111111111111", "ou-ab12-cdef3456", "ou-ab12-99999999"
ROUTES = AccountRoutes.model_validate(
    '{"ou-ab12-99999999": {"team": "research", "email": "research@example.com"},'
    ' "222222222222": {"team": "speech", "email": "speech@example.com"}}'
)


class Organizations:
    """ListParents over a tree (child -> parent), counting the questions; or refusing them all."""

    def __init__(self, tree: dict[str, str], refuse: str | None = None) -> None:
        self.tree, self.refuse, self.asked = tree, refuse, 0

    def get_paginator(self, operation: str) -> "Organizations":
        assert operation == "list_parents"
        return self

    def paginate(self, ChildId: str) -> list[dict[str, Any]]:
        self.asked += 1
        if self.refuse:
            raise ClientError({"Error": {"Code": self.refuse, "Message": "no"}}, "ListParents")
        parent = self.tree.get(ChildId)
        kind = "ROOT" if parent and parent.startswith("r-") else "ORGANIZATIONAL_UNIT"
        return [{"Parents": [{"Id": parent, "Type": kind}] if parent else []}]


def test_an_accounts_ous_are_asked_once_an_hour_not_once_a_message():
    organizations = Organizations({ACCOUNT: OU, OU: OUTER, OUTER: "r-ab12"})
    router = Router(ROUTES, lambda: organizations)
    for minute in range(30):
        route = router.route(ACCOUNT, NOW + timedelta(minutes=minute))
        assert route is not None and route.team == "research"
    assert organizations.asked == 2  # the account's OU, then that OU's parent: once each
    router.route(ACCOUNT, NOW + PARENTS_TTL + timedelta(minutes=1))
    assert organizations.asked == 4  # an account moved to another OU is followed within the hour


def test_a_refused_question_leaves_the_account_to_the_default_team_and_is_asked_again():
    organizations = Organizations({}, refuse="AccessDeniedException")
    router = Router(ROUTES, lambda: organizations)
    assert router.route(ACCOUNT, NOW) is None and router.route(ACCOUNT, NOW) is None
    assert organizations.asked == 2


def test_an_account_route_and_a_stack_without_ou_routes_ask_nothing():
    organizations = Organizations({})
    assert Router(ROUTES, lambda: organizations).route("222222222222", NOW).team == "speech"
    accounts_only = AccountRoutes.model_validate('{"222222222222": {"team": "speech", "email": "s@example.com"}}')
    assert Router(accounts_only, lambda: organizations).route(ACCOUNT, NOW) is None
    assert Router(AccountRoutes(), lambda: organizations).route(ACCOUNT, NOW) is None
    assert organizations.asked == 0
