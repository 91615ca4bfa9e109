"""The weekly report's arithmetic, checked against totals worked out by hand: known start and stop times
and known prices; findings that span the week's start or end split at the boundary; an hour of a
resource counted once when two findings cover it; a report in a time zone whose weeks start at local
midnight, a week with a daylight-saving change (169 hours), and ISO week 53."""

from datetime import UTC, datetime, timedelta

import pytest

from guardian.findings import CostSegment, Finding, Status, finding_id
from guardian.findings_store import MemoryFindings
from guardian.period import Period
from guardian.report import report_for
from guardian.report_document import WeeklyReport

NOW = datetime(2026, 11, 26, 10, tzinfo=UTC)
W47 = "2026-W47"  # Monday 16 November to Monday 23 November 2026


def at(day: int, hour: float = 0, month: int = 11) -> datetime:
    return datetime(2026, month, day, tzinfo=UTC) + timedelta(hours=hour)


def finding(
    name: str,
    rule: str,
    since: datetime,
    rates: list[tuple[datetime, float | None]],
    owner: str | None,
    kind: str = "endpoint",
    status: Status = Status.NOTIFIED,
    resolved: datetime | None = None,
    resolution: str | None = None,
    sharing: str | None = "Shared",
    space: str | None = "team-space",
) -> Finding:
    arn = f"arn:aws:sagemaker:us-east-1:123456789012:{kind}/{name}"
    return Finding(
        id=finding_id(rule, arn),
        rule=rule,
        resource_arn=arn,
        resource_kind=kind,
        resource_name=name,
        owner=owner,
        space=space if owner else None,
        sharing=sharing,
        region="us-east-1",
        account="123456789012",
        status=Status.RESOLVED if resolved else status,
        detected_at=since,
        condition_since=since,
        summary=f"{rule} {name}",
        severity="medium",
        segments=[CostSegment(start=start, hourly=hourly) for start, hourly in rates],
        resolved_at=resolved,
        resolution=resolution,
    )


def week47_findings() -> list[Finding]:
    return [
        # alice: $0.23/h from Sunday 18:00 (before the week) until deleted Tuesday 06:00.
        finding(
            "fraud-xgb",
            "orphaned-resource",
            at(15, 18),
            [(at(15, 18), 0.23)],
            "alice",
            resolved=at(17, 6),
            resolution="resource is gone",
        ),
        # bob: an EMR cluster at $1.20/h from Saturday 20:00, still running after the week; idle (a second
        # finding on the same cluster) from Saturday 22:00: its hours are already counted.
        finding("spark-etl", "orphaned-resource", at(21, 20), [(at(21, 20), 1.20)], "bob", kind="emr-cluster"),
        finding("spark-etl", "idle-emr-cluster", at(21, 22), [(at(21, 22), 1.20)], "bob", kind="emr-cluster"),
        # carol: idle from Wednesday 09:30 at $1.515/h, scaled to two instances Thursday 12:00, busy again
        # Friday 08:15 (condition ended: no saving).
        finding(
            "churn-llm",
            "idle-endpoint",
            at(18, 9.5),
            [(at(18, 9.5), 1.515), (at(19, 12), 3.03)],
            "carol",
            resolved=at(20, 8.25),
            resolution="condition ended",
        ),
        # nobody's: $0.05/h since Tuesday 10 November 12:00, all week.
        finding(
            "classic-nb", "unattributed-resource", at(10, 12), [(at(10, 12), 0.05)], None, kind="notebook-instance"
        ),
        # exempt: not waste.
        finding("legacy", "idle-endpoint", at(16), [(at(16), 0.115)], None, status=Status.EXEMPT),
        # no known price: counted as unknown, never as $0.
        finding("llm-train", "orphaned-resource", at(19), [(at(19), None)], "dave", kind="cluster"),
    ]


def store_of(findings: list[Finding]) -> MemoryFindings:
    store = MemoryFindings()
    for item in findings:
        store.put(item, [])
    return store


@pytest.fixture
def week() -> WeeklyReport:
    return report_for(store_of(week47_findings()), Period.iso_week(W47), NOW)


def test_the_week_total_and_its_parts_match_the_hand_computed_figures(week):
    # alice 30 h x $0.23 = 6.90; bob 28 h x $1.20 = 33.60 (the idle finding adds nothing);
    # carol 26.5 h x $1.515 + 20.25 h x $3.03 = 40.1475 + 61.3575 = 101.505; nobody 168 h x $0.05 = 8.40.
    assert week.total_waste_usd == 150.41  # 150.405, half up
    owners = {row.owner: row.waste_usd for row in week.by_owner}
    assert owners == {"carol": 101.51, "bob": 33.60, "unattributed": 8.40, "alice": 6.90, "dave": 0.0}
    rules = {row.rule: row.waste_usd for row in week.by_rule}
    # The idle finding on bob's cluster is listed, its hours already counted under the orphan finding.
    assert rules == {
        "idle-endpoint": 101.51,
        "orphaned-resource": 40.50,
        "unattributed-resource": 8.40,
        "idle-emr-cluster": 0.0,
    }
    kinds = {row.kind: row.waste_usd for row in week.by_kind}
    assert kinds == {"endpoint": 108.41, "emr-cluster": 33.60, "notebook-instance": 8.40, "cluster": 0.0}
    assert week.unattributed.model_dump() == {"waste_usd": 8.40, "share_pct": 5.6, "unpriced_resources": 0}
    assert week.unpriced_findings == 1 and next(r for r in week.by_owner if r.owner == "dave").unpriced_findings == 1
    # dave's cluster has no price: left out of the total, and counted beside it.
    assert week.unpriced_resources == 1 and next(f for f in week.findings if f.owner == "dave").period_waste_usd is None


def test_each_day_gets_its_hours(week):
    days = {day.date.isoformat(): day.waste_usd for day in week.daily}
    assert days == {
        "2026-11-16": 6.72,  # alice 24 h, nobody 24 h
        "2026-11-17": 2.58,  # alice 6 h
        "2026-11-18": 23.17,  # carol 14.5 h x 1.515 = 21.9675
        "2026-11-19": 55.74,  # carol 12 h at each rate
        "2026-11-20": 26.20,  # carol 8.25 h x 3.03 = 24.9975
        "2026-11-21": 6.00,  # bob 4 h
        "2026-11-22": 30.00,  # bob 24 h
    }


def test_against_the_previous_week(week):
    # W46: alice Sunday 18:00 to midnight, 6 h = 1.38; nobody 132 h = 6.60.
    assert week.previous.label == "2026-W46" and week.previous.total_waste_usd == 7.98
    assert week.change.model_dump() == {"usd": 142.43, "pct": 1784.8}  # 142.425 on 7.98
    assert next(r for r in week.by_owner if r.owner == "alice").previous_waste_usd == 1.38


def test_open_resolved_and_what_fixing_saved(week):
    assert week.open.model_dump() == {
        "findings": 4,
        "resources": 3,
        "hourly_usd": 1.25,
        "waste_usd": 42.0,
        "unpriced_resources": 1,  # dave's cluster burns at a price nobody knows
        "monthly_usd": 912.50,  # the run-rate: $1.25 an hour for 730 hours
    }
    assert week.resolved.model_dump() == {"findings": 2, "waste_usd": 108.41, "unpriced_resources": 0}
    # Only alice's endpoint stopped billing: $0.23 from Tuesday 06:00 to the week's end (138 h). carol's
    # endpoint is busy again, still billing: nothing saved.
    assert week.savings_usd == 31.74


def test_the_top_resources_count_each_resource_once(week):
    top = week.top_resources
    assert [(r.resource_name, r.waste_usd) for r in top][:4] == [
        ("churn-llm", 101.51),
        ("spark-etl", 33.60),
        ("classic-nb", 8.40),
        ("fraud-xgb", 6.90),
    ]
    assert top[1].rules == ["idle-emr-cluster", "orphaned-resource"] and top[1].status == "open"
    assert len(top) <= 10 and "legacy" not in {r.resource_name for r in top}


def test_a_week_in_a_time_zone_starts_at_its_local_midnight():
    period = Period.iso_week(W47, "America/Los_Angeles")
    assert (period.start, period.end) == (at(16, 8), at(23, 8))  # PST is UTC-8
    report = report_for(store_of(week47_findings()), period, NOW)
    # alice 22 h = 5.06; bob Saturday 20:00 to Monday 08:00 UTC, 36 h = 43.20; carol 101.505; nobody 8.40.
    assert report.total_waste_usd == 158.17
    assert report.daily[0].date.isoformat() == "2026-11-16" and len(report.daily) == 7


def test_a_week_with_a_daylight_saving_change_has_169_hours():
    period = Period.iso_week("2026-W43", "Europe/Berlin")  # summer time ends Sunday 25 October
    assert period.end - period.start == timedelta(hours=169)
    always = finding("all-week", "orphaned-resource", at(1, month=10), [(at(1, month=10), 1.0)], "erin")
    report = report_for(store_of([always]), period, NOW)
    assert report.total_waste_usd == 169.0
    assert [day.waste_usd for day in report.daily] == [24.0] * 6 + [25.0]


def test_iso_week_53_and_the_week_just_ended():
    period = Period.iso_week("2026-W53")
    assert (period.start, period.end) == (at(28, month=12), datetime(2027, 1, 4, tzinfo=UTC))
    monday_morning = datetime(2027, 1, 4, 8, tzinfo=UTC)
    assert Period.week_before(monday_morning).label == "2026-W53"
    assert Period.week_before(monday_morning, "Pacific/Auckland").label == "2026-W53"
    assert Period.iso_week("2027-W01").previous().label == "2026-W53"
    with pytest.raises(ValueError):
        Period.iso_week("2025-W53")  # 2025 has 52 weeks
    with pytest.raises(ValueError):
        Period.iso_week("2026-47")


def test_without_a_week_the_last_seven_days_up_to_now():
    report = report_for(store_of(week47_findings()), Period.last_days(at(23)), at(23))
    period = report.model_dump(mode="json")["period"]
    assert period["start"] == "2026-11-16T00:00:00Z" and period["end"] == "2026-11-23T00:00:00Z"
    assert report.total_waste_usd == 150.41
    assert report.previous.total_waste_usd == 7.98


def test_private_spaces_are_counted_not_named_when_names_are_not_allowed():
    private = finding(
        "secret-llm", "orphaned-resource", at(16), [(at(16), 1.0)], "alice", sharing="Private", space="alice-lab"
    )
    shared = finding("team-batch", "idle-endpoint", at(16), [(at(16), 0.5)], "carol")
    report = report_for(store_of([private, shared]), Period.iso_week(W47), NOW, names=False)
    text = report.model_dump_json()
    assert "secret-llm" not in text and "alice" not in text and "alice-lab" not in text
    assert {r.owner: r.waste_usd for r in report.by_owner} == {"private spaces": 168.0, "carol": 84.0}
    named = report_for(store_of([private, shared]), Period.iso_week(W47), NOW, names=True)
    assert {r.owner for r in named.by_owner} == {"alice", "carol"}
