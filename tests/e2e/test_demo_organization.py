"""`guardian demo --accounts 3 --regions 2` as a user runs it: the day across an organization, its events
forwarded by the member rules, the sweep fanned out, one member broken and reported, findings in several
accounts, and the weekly report's by-account view. (Plain `guardian demo` is tests/e2e/test_cli.py's.)"""

import re

import pytest

from guardian_cli.main import main


def test_the_organization_demo_shows_findings_owners_and_the_report_across_accounts(capsys):
    status = main(["demo", "--accounts", "3", "--regions", "2"])
    out = capsys.readouterr().out
    assert status == 0
    hub, *members = re.search(r"the hub (\d{12}) .* member\(s\) ([\d, ]+);", out).groups()[0:2]
    members = members[0].split(", ")
    assert len(members) == 2
    assert out.count("forwarded by the member rules") == 5  # every account and region but the hub's own bus
    rows = [line.split() for line in out.splitlines() if re.match(r"\d{12}  +[a-z]{2}-[a-z]+-\d  +f-", line)]
    accounts = {row[0] for row in rows}
    assert accounts == {hub, *members}
    assert {row[1] for row in rows} == {"us-east-1", "eu-west-1"}
    owned = {(row[0], row[6]) for row in rows if row[3] == "orphaned-resource" and row[5] == "fraud-xgb"}
    assert {account for account, owner in owned if owner == "alice"} >= set(members)
    # Owners named by their session (source identity) are found in the account's own directory: the same name
    # in every account is each account's own person, the hub's included.
    trained = {(row[0], row[6]) for row in rows if row[3] == "orphaned-resource" and row[5] == "llm-train"}
    assert trained == {(account, "dave") for account in (hub, *members)}
    broken = members[-1]
    assert f"{broken} us-east-1      UNREACHABLE (AccessDenied)" in out
    assert {row[1] for row in rows if row[3] == "member-unreachable"} == {"us-east-1", "eu-west-1"}
    assert {row[0] for row in rows if row[3] == "member-unreachable"} == {broken}
    by_account = next(line for line in out.splitlines() if line.strip().startswith("By account:"))
    assert all(account in by_account for account in (hub, *members))


def test_the_demo_refuses_a_count_it_cannot_tell(capsys):
    with pytest.raises(SystemExit) as exit_:
        main(["demo", "--regions", "0"])
    assert exit_.value.code == 2
    assert "from 1 to 6" in capsys.readouterr().err
