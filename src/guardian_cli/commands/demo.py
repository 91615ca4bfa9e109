"""`guardian demo`: a Studio account seeded and its day replayed (guardian_sandbox.demo), then what it
left: the inventory with who owns what and how that was found, the deliveries, and the findings."""

from collections import Counter
from typing import Any

from guardian_cli.account import Endpoint, account
from guardian_cli.output import print_findings, table


def run(endpoint: Endpoint, slack_webhook: str | None, accounts: int = 1, regions: int = 1) -> int:
    """``accounts``/``regions`` above 1: the day across an organization (guardian_sandbox.demo_organization)."""
    if accounts > 1 or regions > 1:
        return _organization(endpoint, slack_webhook, accounts, regions)
    from guardian_sandbox import demo

    with account(endpoint) as clients:
        result = demo.run(clients, print, slack_webhook=slack_webhook)
    rows = demo.inventory_rows(result.resources)
    print(table(rows, demo.INVENTORY_COLUMNS))
    print(_inventory_line(rows))
    print(
        f"{result.delivered} deliveries, {result.rejected} rejected and parked for replay; duplicates and late "
        f"events changed nothing they should not have.\n"
    )
    print(
        f"{len(result.messages)} emails sent"
        + (f" (and the same to Slack at {slack_webhook})" if slack_webhook else "")
        + f"; the duplicate stream batch sent {result.redelivered_messages}.\n"
    )
    print_findings(result.findings, "table", result.now, show_exempt=True, show_delivery=True)
    if endpoint.url:
        print(
            f"State left in the sandbox at {endpoint.url}: try `guardian inventory --endpoint-url "
            f"{endpoint.url} --format json`, `guardian findings --endpoint-url {endpoint.url}` or "
            f"`guardian report --endpoint-url {endpoint.url} --format html --out report.html`."
        )
    return 0


def _organization(endpoint: Endpoint, slack_webhook: str | None, accounts: int, regions: int) -> int:
    from guardian_sandbox import demo, demo_organization

    with account(endpoint) as clients:
        result = demo_organization.run(clients, print, accounts, regions, slack_webhook=slack_webhook)
    rows = demo.inventory_rows(result.resources)
    per_location = Counter((r.account, r.region) for r in result.resources)
    print(_inventory_line(rows))
    print(
        "By account and region: "
        + "; ".join(f"{a} {r} {n}" for (a, r), n in sorted(per_location.items(), key=lambda item: str(item[0])))
    )
    print(
        f"{result.delivered} deliveries ({result.forwarded} forwarded from other accounts and regions), "
        f"{result.rejected} rejected and parked for replay; {result.kept} events matched no rule and stayed put.\n"
    )
    print_findings(result.findings, "table", result.now, show_exempt=True, show_delivery=True, show_location=True)
    print("\nThe weekly report (`guardian report`):")
    print("\n".join(f"  {line}" for line in result.report))
    if endpoint.url:
        print(f"\nState left in the sandbox at {endpoint.url}: try `guardian report --endpoint-url {endpoint.url}`.")
    return 0


def _inventory_line(rows: list[dict[str, Any]]) -> str:
    by_source = Counter(row["attribution"] for row in rows)
    return (
        f"\n{len(rows)} resources; owners by source: "
        + ", ".join(f"{source} {count}" for source, count in sorted(by_source.items()))
        + f"; {sum(row['tagged'] for row in rows)} carry the guardian's ownership tags."
    )
