"""What a hub's sweep fans out over (template.yaml's SweepFanOut state machine asks the sweep function with
{"targets": true}): every account it watches, times every region it sweeps. The accounts are the hub's own,
the organization's ACTIVE ones (Organizations ListAccounts, paged; or those under MEMBER_OUS, nested OUs
included) narrowed to MEMBER_ACCOUNTS when both are given, or MEMBER_ACCOUNTS alone outside an organization; the
regions are MEMBER_REGIONS (default: the hub's). The hub's own account and region is always swept, first."""

from collections.abc import Sequence
from typing import Any

from guardian.runtime import Guardian

# The hub asks Organizations with its own role (guardian.aws.HUB_SERVICES): declared here, granted to the sweep.
PERMISSIONS = (
    "organizations:ListAccounts",
    "organizations:ListAccountsForParent",
    "organizations:ListOrganizationalUnitsForParent",
)


def targets(guardian: Guardian) -> list[dict[str, str]]:
    """One {"account", "region"} per sweep to run, the hub's own account first, each once."""
    settings, home = guardian.settings, guardian.location()
    accounts = [home.account]
    if settings.organization_id:
        active = organization_accounts(guardian.clients("organizations"), settings.member_ous)
        listed = set(settings.member_accounts)
        accounts += [a for a in active if not listed or a in listed]
    else:
        accounts += settings.member_accounts
    pairs = [(home.account, home.region)]
    pairs += [(account, region) for account in accounts for region in settings.member_regions]
    return [{"account": account, "region": region} for account, region in dict.fromkeys(pairs)]


def organization_accounts(organizations: Any, units: Sequence[str] | None = None) -> list[str]:
    """The organization's ACTIVE accounts, or those under ``units`` (a suspended or closing account has nothing
    to sweep), asked of an Organizations client (the hub's, or `guardian scan --org`'s caller's)."""
    if not units:
        pages = organizations.get_paginator("list_accounts").paginate()
    else:
        pages = (
            page
            for unit in _with_nested(organizations, units)
            for page in organizations.get_paginator("list_accounts_for_parent").paginate(ParentId=unit)
        )
    found = (account for page in pages for account in page["Accounts"] if account.get("Status") == "ACTIVE")
    return list(dict.fromkeys(account["Id"] for account in found))


def _with_nested(organizations: Any, units: Sequence[str]) -> list[str]:
    """``units`` and every OU under them, each once."""
    seen: list[str] = []
    pending = list(units)
    while pending:
        unit = pending.pop(0)
        if unit in seen:
            continue
        seen.append(unit)
        pages = organizations.get_paginator("list_organizational_units_for_parent").paginate(ParentId=unit)
        pending += [child["Id"] for page in pages for child in page["OrganizationalUnits"]]
    return seen
