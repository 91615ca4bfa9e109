"""The weekly report of a hub that watches many accounts: a by-account view (regions, waste so far, what
still burns costs a month, findings, the costliest owner) whose rows add up to the report's totals, shown in
the summary, Slack and HTML when there is more than one account (always in the JSON); and a report scoped to
some accounts counts nothing of the others."""

from datetime import UTC, datetime, timedelta

from hypothesis import given
from hypothesis import strategies as st

from guardian import report_format, report_html
from guardian.findings import CostSegment, Finding, Status, finding_id
from guardian.period import Period
from guardian.report import build

NOW = datetime(2026, 11, 26, 10, tzinfo=UTC)
W47 = Period.iso_week("2026-W47", "UTC")  # Monday 16 November to Monday 23 November 2026
ACCOUNTS = ("111111111111", "222222222222", "333333333333")
REGIONS = ("us-east-1", "eu-west-1")


def finding(
    name: str,
    account: str,
    region: str = "us-east-1",
    hourly: float | None = 1.0,
    since: datetime = datetime(2026, 11, 16, tzinfo=UTC),
    resolved: datetime | None = None,
    owner: str | None = "alice",
) -> Finding:
    arn = f"arn:aws:sagemaker:{region}:{account}:endpoint/{name}"
    return Finding(
        id=finding_id("orphaned-resource", arn),
        rule="orphaned-resource",
        resource_arn=arn,
        resource_kind="endpoint",
        resource_name=name,
        owner=owner,
        space="lab" if owner else None,
        sharing="Shared",
        region=region,
        account=account,
        status=Status.RESOLVED if resolved else Status.NOTIFIED,
        detected_at=since,
        condition_since=since,
        summary=f"orphaned {name}",
        severity="medium",
        segments=[CostSegment(start=since, hourly=hourly)],
        resolved_at=resolved,
        resolution="deleted" if resolved else None,
    )


def three_accounts() -> list[Finding]:
    return [
        finding("detector", ACCOUNTS[0], "us-east-1", 1.0, owner="alice"),
        finding("segmenter", ACCOUNTS[0], "eu-west-1", 0.5, owner="bob"),
        finding("asr", ACCOUNTS[1], "us-east-1", 2.0, owner="carol", resolved=datetime(2026, 11, 17, tzinfo=UTC)),
        finding("tts", ACCOUNTS[2], "us-east-1", None, owner=None),
    ]


def test_each_account_says_where_what_so_far_what_a_month_and_whose():
    report = build(three_accounts(), W47, NOW)
    rows = {row.account: row for row in report.by_account}
    first, second, third = (rows[a] for a in ACCOUNTS)
    # 168 h of $1.00 and of $0.50; both still open: $1.50 an hour for 730 h.
    assert (first.regions, first.waste_usd, first.monthly_usd, first.findings) == (
        list(REGIONS[::-1]),
        252.0,
        1095.0,
        2,
    )
    assert first.top_owner == "alice"
    # 24 h of $2.00, then resolved: nothing burns there any more.
    assert (second.waste_usd, second.monthly_usd, second.top_owner) == (48.0, 0.0, "carol")
    assert (third.waste_usd, third.unpriced_findings, third.top_owner) == (0.0, 1, "unattributed")
    assert [row.account for row in report.by_account] == list(ACCOUNTS)  # costliest first


def test_the_summary_slack_and_html_show_accounts_only_when_there_are_several():
    several = build(three_accounts(), W47, NOW)
    lines = report_format.summary_lines(several)
    [line] = [line for line in lines if line.startswith("By account: ")]
    assert "111111111111 (eu-west-1, us-east-1): $252.00 so far, $1,095.00/month if left running" in line
    assert "2 findings, most alice" in line
    assert "*By account*" in str(report_format.blocks(several, {}))
    page = report_html.to_html(several)
    assert "<h2>By account</h2>" in page and "Per month if left running" in page and "<th>Region</th>" in page
    one = build([finding("detector", ACCOUNTS[0])], W47, NOW)
    assert len(one.by_account) == 1  # the JSON has it all the same
    assert not any(line.startswith("By account") for line in report_format.summary_lines(one))
    assert "By account" not in report_html.to_html(one) and "*By account*" not in str(report_format.blocks(one, {}))


def test_a_report_scoped_to_an_account_counts_nothing_of_the_others():
    report = build(three_accounts(), W47, NOW, accounts=[ACCOUNTS[1]])
    assert {row.account for row in report.findings} == {ACCOUNTS[1]}
    assert [row.account for row in report.by_account] == [ACCOUNTS[1]]
    assert report.total_waste_usd == 48.0 and report.accounts_scope == [ACCOUNTS[1]]
    assert {row.owner for row in report.by_owner} == {"carol"}
    assert report_format.headline(report).startswith("Studio waste 2026-W47 in account 222222222222:")
    assert build(three_accounts(), W47, NOW).accounts_scope is None


def test_every_finding_in_the_csv_says_its_account_and_region():
    csv = report_format.to_csv(build(three_accounts(), W47, NOW))
    header, *rows = csv.splitlines()
    assert header.endswith(",account,region")
    assert any(row.endswith(",111111111111,eu-west-1") for row in rows)


moments = st.integers(min_value=0, max_value=14 * 24).map(
    lambda h: datetime(2026, 11, 9, tzinfo=UTC) + timedelta(hours=h)
)
spread = st.lists(
    st.tuples(
        st.sampled_from(ACCOUNTS),
        st.sampled_from(REGIONS),
        st.one_of(st.none(), st.decimals(min_value="0.001", max_value="40", places=3).map(float)),
        moments,
        st.one_of(st.none(), st.integers(min_value=1, max_value=200)),
        st.sampled_from(["alice", "bob", None]),
    ),
    max_size=12,
)


@given(spread)
def test_the_accounts_rows_add_up_to_the_reports_totals(specs):
    findings = [
        finding(f"r{n}", account, region, hourly, since, since + timedelta(hours=hours) if hours else None, owner)
        for n, (account, region, hourly, since, hours, owner) in enumerate(specs)
    ]
    report = build(findings, W47, NOW)
    rows = report.by_account
    assert len({row.account for row in rows}) == len(rows)
    assert sum(row.findings for row in rows) == len(report.findings)
    assert sum(row.unpriced_findings for row in rows) == report.unpriced_findings
    # Each row is an exact sum rounded once to the cent: the rows may be off the total by half a cent each.
    assert abs(sum(row.waste_usd for row in rows) - report.total_waste_usd) <= 0.005 * len(rows) + 1e-9
    assert abs(sum(row.monthly_usd for row in rows) - report.open.monthly_usd) <= 0.005 * (len(rows) + 1) + 1e-6
    for row in rows:  # and each account's own report is that row
        alone = build(findings, W47, NOW, accounts=[row.account])
        assert alone.total_waste_usd == row.waste_usd and len(alone.findings) == row.findings
        assert {f.region for f in alone.findings} == set(row.regions)
