"""`guardian report --account`: a hub's report limited to some accounts (repeat the flag, or a comma list),
counting nothing of the others; the by-account view of the whole report; a malformed id refused."""

import json
from datetime import UTC, datetime, timedelta

from guardian.aws import AwsClients
from guardian.findings import CostSegment, Finding, Status, finding_id
from guardian.findings_store import DynamoFindings
from guardian_cli.main import main
from guardian_sandbox.stack import SandboxStack

ACCOUNTS = ("111111111111", "222222222222", "333333333333")
SINCE = datetime.now(UTC).replace(microsecond=0) - timedelta(days=2)


def run(capsys, *argv) -> tuple[int, str, str]:
    status = main(list(argv))
    out = capsys.readouterr()
    return status, out.out, out.err


def seed(sandbox_url: str) -> None:
    """A hub's table: one endpoint billing $1 an hour for two days in each account."""
    stack = SandboxStack(AwsClients(endpoint_url=sandbox_url)).deploy(trail=False)
    store = DynamoFindings(stack.clients("dynamodb"), stack.table_name)
    for n, account in enumerate(ACCOUNTS):
        arn = f"arn:aws:sagemaker:us-east-1:{account}:endpoint/endpoint-{n}"
        store.put(
            Finding(
                id=finding_id("orphaned-resource", arn),
                rule="orphaned-resource",
                resource_arn=arn,
                resource_kind="endpoint",
                resource_name=f"endpoint-{n}",
                owner="alice",
                space="lab",
                sharing="Shared",
                region="us-east-1",
                account=account,
                status=Status.NOTIFIED,
                detected_at=SINCE,
                condition_since=SINCE,
                summary="orphaned",
                severity="medium",
                segments=[CostSegment(start=SINCE, hourly=1.0)],
            ),
            [],
        )


def test_account_limits_the_report_to_those_accounts(sandbox_url, capsys):
    seed(sandbox_url)
    status, out, _ = run(capsys, "report", "--endpoint-url", sandbox_url, "--format", "json")
    whole = json.loads(out)
    assert status == 0 and [row["account"] for row in whole["by_account"]] == sorted(ACCOUNTS)
    assert whole["accounts_scope"] is None

    status, out, _ = run(capsys, "report", "--endpoint-url", sandbox_url, "--format", "json", "--account", ACCOUNTS[0])
    one = json.loads(out)
    assert status == 0 and {row["account"] for row in one["findings"]} == {ACCOUNTS[0]}
    assert one["accounts_scope"] == [ACCOUNTS[0]] and len(one["by_account"]) == 1
    assert one["total_waste_usd"] == whole["by_account"][0]["waste_usd"]

    status, out, _ = run(
        capsys,
        "report",
        "--endpoint-url",
        sandbox_url,
        "--account",
        f"{ACCOUNTS[0]},{ACCOUNTS[1]}",
        "--account",
        ACCOUNTS[1],
    )
    assert status == 0
    assert f"in accounts {ACCOUNTS[0]}, {ACCOUNTS[1]}:" in out.splitlines()[0]
    assert "By account: " in out and ACCOUNTS[2] not in out


def test_a_malformed_account_is_refused_before_anything_is_read(sandbox_url, capsys):
    try:
        status = main(["report", "--endpoint-url", sandbox_url, "--account", "1234"])
    except SystemExit as exit_:  # argparse's usage error
        status = int(exit_.code or 0)
    assert status == 2 and "not a 12-digit account id: 1234" in capsys.readouterr().err
