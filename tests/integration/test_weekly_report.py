"""The report function in the sandbox: on its schedule it reports the ISO week just ended from the
findings table (by status queries, no Scan), writes HTML, CSV and JSON to the reports bucket, sends the
team one summary with links by email and Slack however often it fires, keeps the week's totals, and,
when asked, sets Cost Explorer's actual cost beside the estimate with one call."""

import json
from datetime import UTC, datetime

import requests
from slack_sdk.models.blocks import Block

from guardian import clock
from guardian.findings_store import DynamoFindings
from guardian_sandbox.calls import recording
from guardian_sandbox.stack import REPORTS_BUCKET, SandboxStack
from tests.conftest import EVENTS, load
from tests.unit.test_report import week47_findings

MONDAY_MORNING = datetime(2026, 11, 23, 8, tzinfo=UTC)
TEAM = "platform-team@example.com"


def deploy(sandbox, **parameters: str) -> SandboxStack:
    stack = SandboxStack(sandbox, parameters=parameters).deploy()
    stack.subscribe_team(TEAM)
    store = DynamoFindings(stack.clients("dynamodb"), stack.table_name)
    for finding in week47_findings():
        store.put(finding, [])
    stack.pump_streams()  # the findings' own alerts are not what these tests are about
    stack.mailbox()
    return stack


def make_alices_endpoint_private(stack: SandboxStack) -> None:
    store = DynamoFindings(stack.clients("dynamodb"), stack.table_name)
    fraud = store.get(week47_findings()[0].id)
    store.put(fraud.model_copy(update={"sharing": "Private", "space": "alice-lab"}), [])
    stack.pump_streams()  # a change of sharing is no news to anyone
    assert stack.mailbox() == []


def run_report(stack: SandboxStack, event: dict | None = None) -> dict:
    clock.set_offset(MONDAY_MORNING - datetime.now(UTC))
    return stack.invoke("ReportFunction", event or load(EVENTS / "report" / "weekly.json"))


def test_monday_morning_reports_last_week_to_the_team_with_links_to_its_files(sandbox):
    stack = deploy(sandbox)
    result = run_report(stack)
    assert (result["period"], result["total_waste_usd"]) == ("2026-W47", 150.41)
    s3 = stack.clients("s3")
    keys = sorted(o["Key"] for o in s3.list_objects_v2(Bucket=REPORTS_BUCKET)["Contents"])
    assert keys == [f"reports/2026-W47/studio-waste-2026-W47.{kind}" for kind in ("csv", "html", "json")]
    html = s3.get_object(Bucket=REPORTS_BUCKET, Key=keys[1])
    assert html["ContentType"].startswith("text/html") and b"<svg" in html["Body"].read()
    [mail] = stack.mailbox()
    assert mail["subject"] == (
        "Studio waste 2026-W47: $150.41 + 1 resource of unknown cost, up $142.43 (+1784.8%) on 2026-W46"
    )
    assert mail["to"] == [TEAM] and mail["attributes"]["audience"] == "team"
    link = next(line for line in mail["text"].splitlines() if line.startswith("Full report: "))
    assert "studio-waste-2026-W47.html" in link and "X-Amz-Expires=604800" in link


def test_the_weeks_totals_are_kept_in_the_table(sandbox):
    stack = deploy(sandbox)
    run_report(stack)
    item = stack.clients("dynamodb").get_item(
        TableName=stack.table_name, Key={"PK": {"S": "REPORT#2026-W47"}, "SK": {"S": "#SUMMARY"}}
    )["Item"]
    totals = json.loads(item["doc"]["S"])
    assert totals["total_waste_usd"] == 150.41 and "findings" not in totals
    assert totals["objects"]["html"] == f"s3://{REPORTS_BUCKET}/reports/2026-W47/studio-waste-2026-W47.html"


def test_a_schedule_that_fires_twice_sends_the_summary_once(sandbox):
    stack = deploy(sandbox)
    run_report(stack)
    assert len(stack.mailbox()) == 1
    assert run_report(stack)["sent"] == []
    assert stack.mailbox() == []


def test_the_report_reads_findings_by_status_and_never_scans(sandbox):
    stack = deploy(sandbox)
    with recording() as calls:
        run_report(stack)
    assert "dynamodb:Scan" not in calls.counts
    # One query per status (the five active ones but exempt, and resolved since the previous week began).
    assert calls.counts["dynamodb:Query"] == 6


def test_slack_gets_the_summary_as_block_kit(sandbox, slack):
    stack = deploy(sandbox)
    stack.use_slack(slack.url)
    run_report(stack)
    [payload] = slack.payloads
    assert payload["text"].startswith("Studio waste 2026-W47: $150.41")
    for block in payload["blocks"]:
        Block.parse(block).validate_json()


def test_private_spaces_are_counted_not_named_unless_the_stack_allows_it(sandbox):
    stack = deploy(sandbox)
    make_alices_endpoint_private(stack)
    run_report(stack)
    [mail] = stack.mailbox()
    assert "fraud-xgb" not in mail["text"] and "alice" not in mail["text"] and "private spaces $6.90" in mail["text"]
    html = stack.clients("s3").get_object(Bucket=REPORTS_BUCKET, Key="reports/2026-W47/studio-waste-2026-W47.html")
    assert b"fraud-xgb" not in html["Body"].read()


def test_a_week_can_be_redone_on_request_with_names_when_the_stack_allows_them(sandbox):
    stack = deploy(sandbox, ALLOW_PRIVATE_NAMES="true")
    make_alices_endpoint_private(stack)
    result = run_report(stack, load(EVENTS / "report" / "redo_week.json"))
    assert (result["period"], result["total_waste_usd"]) == ("2026-W47", 150.41)
    assert "fraud-xgb" in stack.mailbox()[0]["text"]
    assert run_report(stack, {"week": "2026-W46"})["total_waste_usd"] == 7.98


def test_cost_explorer_actuals_beside_the_estimate_in_one_call(sandbox):
    stack = deploy(sandbox, COST_EXPLORER="true")
    groups = [
        {
            "Keys": ["studio-cost-guardian:owner$carol"],
            "Metrics": {"UnblendedCost": {"Amount": "412.5", "Unit": "USD"}},
        },
        {"Keys": ["studio-cost-guardian:owner$"], "Metrics": {"UnblendedCost": {"Amount": "20.004", "Unit": "USD"}}},
    ]
    answer = {"ResultsByTime": [{"TimePeriod": {"Start": "2026-11-16", "End": "2026-11-23"}, "Groups": groups}]}
    requests.post(
        "http://motoapi.amazonaws.com/moto-api/static/ce/cost-and-usage-results", json={"results": [answer]}, timeout=5
    )
    with recording() as calls:
        run_report(stack)
    assert calls.counts["ce:GetCostAndUsage"] == 1
    document = json.loads(
        stack.clients("s3")
        .get_object(Bucket=REPORTS_BUCKET, Key="reports/2026-W47/studio-waste-2026-W47.json")["Body"]
        .read()
    )
    assert document["actual_cost"]["by_owner"] == {"carol": 412.5, "untagged": 20.0}
    assert document["actual_cost"]["start"] == "2026-11-16" and document["actual_cost"]["end"] == "2026-11-23"
    assert "Actual cost (Cost Explorer, tag studio-cost-guardian:owner): carol $412.50" in stack.mailbox()[0]["text"]
