"""`guardian report` as the weekly-report issue defines done: after `guardian demo --endpoint-url URL`,
`guardian report --endpoint-url URL --format json` gives totals by owner and rule that match the
scenario, and `--format html` writes a report with charts a browser opens."""

import json
from datetime import datetime
from decimal import Decimal

from guardian.aws import AwsClients
from guardian_cli.main import main
from guardian_sandbox.stack import SandboxStack


def run(capsys, *argv) -> tuple[int, str, str]:
    status = main(list(argv))
    out = capsys.readouterr()
    return status, out.out, out.err


def when(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


def test_the_demo_weeks_totals_by_owner_and_rule_match_the_scenario(sandbox_url, capsys, tmp_path):
    assert run(capsys, "demo", "--endpoint-url", sandbox_url)[0] == 0
    status, out, _ = run(capsys, "report", "--endpoint-url", sandbox_url, "--format", "json")
    assert status == 0
    report = json.loads(out)
    owners = {row["owner"]: row["waste_usd"] for row in report["by_owner"]}
    rules = {row["rule"]: row["waste_usd"] for row in report["by_rule"]}
    assert set(owners) == {"alice", "bob", "dave", "erin", "unattributed"}  # carol wastes nothing
    assert set(rules) >= {"orphaned-resource", "idle-endpoint", "long-running-app", "unattributed-resource"}
    # erin's endpoints billed 40 minutes after her space stopped: ($0.461 + $0.736) x 2/3 h = $0.798.
    assert owners["erin"] == 0.80
    # fraud-xgb has billed $0.23 an hour since alice-lab stopped; llm-train, dave's HyperPod cluster of two
    # ml.g5.8xlarge, at HyperPod's $3.06 a node-hour.
    fraud = next(row for row in report["findings"] if row["resource_name"] == "fraud-xgb")
    hours = Decimal((when(report["generated_at"]) - when(fraud["condition_since"])).total_seconds()) / 3600
    assert abs(Decimal(str(fraud["period_waste_usd"])) - Decimal("0.23") * hours) <= Decimal("0.005")
    dave = next(row for row in report["by_owner"] if row["owner"] == "dave")
    llm = next(row for row in report["findings"] if row["resource_name"] == "llm-train")
    assert llm["hourly_cost_usd"] == 6.12 and dave["unpriced_findings"] == 0 and dave["waste_usd"] > 0
    assert report["unpriced_resources"] == report["unpriced_findings"] == 0
    # The parts add up to the total (each an exact sum, rounded once).
    for rows in (report["by_owner"], report["by_rule"], report["by_kind"], report["daily"]):
        assert abs(sum(row["waste_usd"] for row in rows) - report["total_waste_usd"]) < 0.01 * len(rows)

    page = tmp_path / "week.html"
    status, out, _ = run(capsys, "report", "--endpoint-url", sandbox_url, "--format", "html", "--out", str(page))
    assert status == 0 and f"wrote {page}" in out
    html = page.read_text()
    assert html.startswith("<!doctype html>") and html.count("<svg") == 2 and "erin" in html


def test_a_week_and_a_time_zone_can_be_chosen_and_bad_ones_are_refused(sandbox_url, capsys):
    status, _, err = run(capsys, "report", "--endpoint-url", sandbox_url)
    assert status == 1 and "ResourceNotFoundException" in err  # no stack there yet: said, not a traceback
    SandboxStack(AwsClients(endpoint_url=sandbox_url)).deploy()
    status, out, _ = run(
        capsys, "report", "--endpoint-url", sandbox_url, "--week", "2026-W47", "--timezone", "Europe/Berlin"
    )
    assert status == 0 and out.startswith("Studio waste 2026-W47: $0.00")
    status, _, err = run(capsys, "report", "--endpoint-url", sandbox_url, "--week", "2026-47")
    assert status == 2 and "is not an ISO week such as 2026-W47" in err
    status, _, err = run(capsys, "report", "--endpoint-url", sandbox_url, "--timezone", "Mars/Olympus")
    assert status == 2 and "Mars/Olympus" in err


def test_csv_has_one_row_per_finding(sandbox_url, capsys):
    run(capsys, "demo", "--endpoint-url", sandbox_url)
    status, out, _ = run(capsys, "report", "--endpoint-url", sandbox_url, "--format", "csv")
    lines = out.strip().splitlines()
    assert status == 0 and lines[0].startswith("id,rule,resource_kind,resource_name")
    assert len(lines) - 1 == len(
        json.loads(run(capsys, "report", "--endpoint-url", sandbox_url, "--format", "json")[1])["findings"]
    )
