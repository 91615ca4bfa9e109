"""The report as people get it: a summary a person reads in a minute, Slack Block Kit that slack-sdk's models
accept, a CSV with one row per finding that any spreadsheet opens, and an HTML page with two charts as
inline SVG (well-formed, no scripts) that a browser or an email client renders."""

import csv
import io
import xml.etree.ElementTree as ElementTree
from html.parser import HTMLParser

from slack_sdk.models.blocks import Block

from guardian import report_format, report_html
from guardian.period import Period
from guardian.report import report_for
from guardian.report_document import WeeklyReport
from tests.unit.test_report import NOW, W47, store_of, week47_findings

SVG = "{http://www.w3.org/2000/svg}"


def week() -> WeeklyReport:
    return report_for(store_of(week47_findings()), Period.iso_week(W47), NOW)


class Page(HTMLParser):
    """Collects what a browser would: tags, and the raw text of each <svg> element."""

    def __init__(self, text: str) -> None:
        super().__init__()
        self.tags: list[str] = []
        self.svgs = [text[i : text.index("</svg>", i) + 6] for i in _find_all(text, "<svg")]
        self.feed(text)

    def handle_starttag(self, tag, attrs):
        self.tags.append(tag)


def _find_all(text: str, needle: str) -> list[int]:
    found, at = [], text.find(needle)
    while at != -1:
        found.append(at)
        at = text.find(needle, at + 1)
    return found


def test_the_summary_says_total_change_burning_fixed_and_who():
    text = report_format.message(week(), {}).text
    assert text.splitlines()[0] == (
        "Studio waste 2026-W47: $150.41 + 1 resource of unknown cost, up $142.43 (+1784.8%) on 2026-W46"
    )
    assert (
        "Still burning: 4 open findings on 3 resources, $1.25/hour, $912.50/month at this rate "
        "+ 1 resource of unknown cost"
    ) in text
    assert "$31.74 saved by the period's end" in text
    assert "By owner: carol $101.51, bob $33.60, unattributed $8.40, alice $6.90, dave unknown" in text
    assert "1. churn-llm (endpoint, carol, team-space) $101.51 idle-endpoint [resolved]" in text


def test_the_message_links_to_the_full_report():
    links = {"html": "https://example/r.html", "csv": "https://example/r.csv", "expires": "2026-12-03 08:00 UTC"}
    message = report_format.message(week(), links)
    assert "Full report: https://example/r.html" in message.text and "https://example/r.csv" in message.text
    assert {e["url"] for b in message.blocks if b["type"] == "actions" for e in b["elements"]} == {
        links["html"],
        links["csv"],
    }


def test_the_slack_summary_is_valid_block_kit():
    links = {"html": "https://example/r.html", "csv": "https://example/r.csv", "expires": "soon"}
    for block in report_format.message(week(), links).blocks:
        model = Block.parse(block)
        model.validate_json()
        assert model.to_dict() == block


def test_the_csv_has_a_row_per_finding_with_its_share_of_the_period():
    rows = list(csv.DictReader(io.StringIO(report_format.to_csv(week()))))
    assert tuple(rows[0]) == report_format.CSV_COLUMNS
    assert len(rows) == 6  # the exempt finding is not waste
    churn = next(r for r in rows if r["resource_name"] == "churn-llm")
    assert (churn["period_waste_usd"], churn["status"], churn["owner"]) == ("101.51", "resolved", "carol")


def test_the_html_report_has_two_svg_charts_and_no_scripts():
    text = report_html.to_html(week())
    page = Page(text)
    assert "script" not in page.tags and "<script" not in text.lower()
    assert len(page.svgs) == 2
    owners, days = (ElementTree.fromstring(svg) for svg in page.svgs)
    bars = [r for r in owners.iter(f"{SVG}rect")]
    assert len(bars) == 5  # one per owner
    labels = [t.text for t in days.iter(f"{SVG}text")]
    assert "Mon 16" in labels and "Sun 22" in labels
    for title in ("By owner", "By space", "By resource kind", "By rule", "Top resources", "Every finding"):
        assert f"<h2>{title}</h2>" in text


def test_html_escapes_what_it_did_not_write():
    report, evil = week(), "<img src=x onerror=alert(1)>"
    owner = report.by_owner[0].model_copy(update={"owner": evil})
    day = report.daily[0].model_copy(update={"by_owner": {evil: 1.0}})
    report = report.model_copy(update={"by_owner": [owner, *report.by_owner[1:]], "daily": [day, *report.daily[1:]]})
    text = report_html.to_html(report)
    assert "<img" not in text and "&lt;img src=x" in text
