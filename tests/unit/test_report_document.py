"""The report's JSON (`guardian report --format json`, the file in the reports bucket) is a scripting
interface: the same keys, in the same order, with times as UTC ISO strings and days as dates."""

from datetime import date

from guardian.period import Period
from guardian.report import report_for
from guardian.report_document import ActualCost
from tests.unit.test_report import NOW, W47, store_of, week47_findings

KEYS = {
    "": [
        "period",
        "generated_at",
        "currency",
        "names_shown",
        "total_waste_usd",
        "previous",
        "change",
        "by_owner",
        "by_space",
        "by_kind",
        "by_rule",
        "daily",
        "top_resources",
        "open",
        "resolved",
        "savings_usd",
        "unattributed",
        "unpriced_findings",
        "actual_cost",
        "findings",
        "unpriced_resources",
        "savings_unpriced_resources",
        "by_account",
        "accounts_scope",
    ],
    "period": ["label", "start", "end", "timezone", "in_progress", "scheduled_end"],
    "previous": ["label", "start", "end", "timezone", "total_waste_usd", "unpriced_resources"],
    "change": ["usd", "pct"],
    "by_owner": [
        "owner",
        "waste_usd",
        "findings",
        "unpriced_findings",
        "share_pct",
        "previous_waste_usd",
        "previous_unpriced_findings",
    ],
    "by_space": ["space", "waste_usd", "findings", "unpriced_findings"],
    "by_kind": ["kind", "waste_usd", "findings", "unpriced_findings"],
    "by_rule": ["rule", "waste_usd", "findings", "unpriced_findings"],
    "daily": ["date", "waste_usd", "by_owner"],
    "top_resources": [
        "resource_name",
        "resource_kind",
        "resource_arn",
        "owner",
        "space",
        "rules",
        "status",
        "waste_usd",
        "unpriced",
    ],
    "open": ["findings", "resources", "hourly_usd", "waste_usd", "unpriced_resources", "monthly_usd"],
    "resolved": ["findings", "waste_usd", "unpriced_resources"],
    "unattributed": ["waste_usd", "share_pct", "unpriced_resources"],
    "actual_cost": ["source", "tag", "metric", "start", "end", "by_owner", "total_usd", "calls"],
    "findings": [
        "id",
        "rule",
        "resource_kind",
        "resource_name",
        "resource_arn",
        "owner",
        "space",
        "domain_id",
        "status",
        "condition_since",
        "resolved_at",
        "resolution",
        "hourly_cost_usd",
        "period_waste_usd",
        "waste_usd",
        "monthly_cost_usd",
        "summary",
        "unpriced_hours",
        "account",
        "region",
    ],
    "by_account": [
        "account",
        "regions",
        "waste_usd",
        "monthly_usd",
        "findings",
        "unpriced_findings",
        "share_pct",
        "top_owner",
    ],
}

ACTUAL = ActualCost(
    source="Cost Explorer",
    tag="studio-cost-guardian:owner",
    metric="UnblendedCost",
    start=date(2026, 11, 16),
    end=date(2026, 11, 23),
    by_owner={"carol": 412.5, "untagged": 20.0},
    total_usd=432.5,
    calls=1,
)


def test_the_json_keeps_its_keys_in_their_order():
    document = report_for(store_of(week47_findings()), Period.iso_week(W47), NOW, actual=ACTUAL).model_dump(mode="json")
    assert list(document) == KEYS[""]
    for name, keys in KEYS.items():
        if not name:
            continue
        part = document[name]
        assert list(part[0] if isinstance(part, list) else part) == keys, name


def test_times_are_utc_iso_strings_and_days_are_dates():
    document = report_for(store_of(week47_findings()), Period.iso_week(W47), NOW, actual=ACTUAL).model_dump(mode="json")
    assert document["generated_at"] == "2026-11-26T10:00:00Z" and document["currency"] == "USD"
    assert (document["period"]["start"], document["previous"]["end"]) == ("2026-11-16T00:00:00Z",) * 2
    assert document["daily"][0]["date"] == "2026-11-16"
    assert (document["actual_cost"]["start"], document["actual_cost"]["end"]) == ("2026-11-16", "2026-11-23")
    churn = next(f for f in document["findings"] if f["resource_name"] == "churn-llm")
    assert (churn["condition_since"], churn["resolved_at"]) == ("2026-11-18T09:30:00Z", "2026-11-20T08:15:00Z")
    nobodys = next(f for f in document["findings"] if f["resource_name"] == "classic-nb")
    assert nobodys["resolved_at"] is None


def test_without_cost_explorer_the_actual_cost_is_null():
    document = report_for(store_of(week47_findings()), Period.iso_week(W47), NOW).model_dump(mode="json")
    assert "actual_cost" in document and document["actual_cost"] is None
