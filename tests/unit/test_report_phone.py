"""A report a FinOps lead forwards from a phone: the current week stops at now and says so (no hour that has
not happened, no bar for a day that has not begun); the charts scale to the screen (an SVG viewBox, no fixed
pixel width) with axis ticks; 40 owners read as the 8 costliest and one grey "others", each in its own
colour-blind-safe colour; the tables have headers a person reads; what still burns says what it costs a
month; and an unknown price stays unknown."""

import re
import xml.etree.ElementTree as ElementTree
from datetime import UTC, datetime, timedelta
from html.parser import HTMLParser
from itertools import pairwise

from hypothesis import example, given
from hypothesis import strategies as st

from guardian import report_format, report_html
from guardian.period import Period
from guardian.report import report_for
from guardian.report_html import OTHERS_GREY, PALETTE, ticks
from tests.unit.test_report import W47, at, finding, store_of, week47_findings

SVG = "{http://www.w3.org/2000/svg}"
WEDNESDAY = datetime(2026, 11, 18, 14, tzinfo=UTC)  # W47 in progress: Monday 00:00 to Wednesday 14:00 is 62 h


class Page(HTMLParser):
    """What a browser builds: the SVG elements whole, the legend's entries, the tables' header cells."""

    def __init__(self, text: str) -> None:
        super().__init__()
        self.svgs = [ElementTree.fromstring(m) for m in re.findall(r"<svg.*?</svg>", text, re.S)]
        self.legend: list[str] = []
        self.headers: list[str] = []
        self._in: str | None = None
        self._legend = False
        self.viewport = False
        self.feed(text)

    def handle_starttag(self, tag, attrs):
        attributes = dict(attrs)
        if tag == "meta" and attributes.get("name") == "viewport":
            self.viewport = "width=device-width" in (attributes.get("content") or "")
        if tag == "ul" and attributes.get("class") == "legend":
            self._legend = True
        if tag == "th" or (tag == "li" and self._legend):
            self._in = tag

    def handle_endtag(self, tag):
        if tag == "ul":
            self._legend = False
        if tag in ("li", "th"):
            self._in = None

    def handle_data(self, data):
        if self._in == "li":
            self.legend.append(data)
        elif self._in == "th":
            self.headers.append(data)


def forty_owners() -> list:
    """Forty owners, each with one endpoint idle all week at a price of their own (owner-39 the costliest)."""
    return [
        finding(f"ep-{n:02d}", "idle-endpoint", at(10), [(at(10), 0.1 + n / 100)], f"owner-{n:02d}") for n in range(40)
    ]


def test_the_current_week_counts_no_hour_that_has_not_happened_and_says_so():
    always = finding("all-week", "orphaned-resource", at(1), [(at(1), 1.0)], "erin")
    report = report_for(store_of([always]), Period.iso_week(W47), WEDNESDAY)
    assert report.total_waste_usd == 62.0  # Monday 00:00 to Wednesday 14:00, not the 168 h of the week
    assert [d.date.isoformat() for d in report.daily] == ["2026-11-16", "2026-11-17", "2026-11-18"]
    assert [d.waste_usd for d in report.daily] == [24.0, 24.0, 14.0]
    period = report.model_dump(mode="json")["period"]
    assert (period["end"], period["in_progress"], period["scheduled_end"]) == (
        "2026-11-18T14:00:00Z",
        True,
        "2026-11-23T00:00:00Z",
    )
    # Against the week before up to the same point: level, not "down 63%".
    assert report.previous.label == "2026-W46 to the same point" and report.previous.total_waste_usd == 62.0
    assert report.change.usd == 0
    summary = report_format.summary_lines(report)
    assert summary[0].startswith("Studio waste 2026-W47 (week in progress, up to Wed 18 Nov 2026 14:00 UTC): $62.00")
    assert summary[1].startswith("Week in progress, up to Wed 18 Nov 2026 14:00 UTC")


def test_a_week_that_has_ended_is_whole_and_not_in_progress():
    report = report_for(store_of(week47_findings()), Period.iso_week(W47), at(26, 10))
    assert not report.period.in_progress and report.period.scheduled_end is None and len(report.daily) == 7
    assert "in progress" not in report_format.headline(report)


def test_on_a_phone_the_charts_scale_name_eight_owners_and_others_and_the_current_week_has_no_future_day():
    report = report_for(store_of(forty_owners()), Period.iso_week(W47), WEDNESDAY)
    text = report_html.to_html(report)
    page = Page(text)
    assert page.viewport  # a phone lays it out at its own width
    assert len(page.svgs) == 2
    for svg in page.svgs:
        assert re.fullmatch(r"0 0 \d+ \d+", svg.get("viewBox", ""))
        assert svg.get("width") in (None, "100%") and svg.get("height") is None
        assert "px" not in (svg.get("style") or "")
    assert not re.search(r'<svg[^>]*\swidth="[\d.]+(px)?"', text)  # no fixed pixel width anywhere
    # 40 owners: the 8 costliest and "others", in 9 colours that do not repeat; others grey.
    assert len(page.legend) <= 9
    assert page.legend == [f"owner-{n:02d}" for n in range(39, 31, -1)] + ["others (32)"]
    owners_chart, days_chart = page.svgs
    bars = list(owners_chart.iter(f"{SVG}rect"))
    assert len(bars) == 9 and bars[-1].get("fill") == OTHERS_GREY
    assert [b.get("fill") for b in bars[:8]] == list(PALETTE) and len(set(PALETTE)) == 8
    # No bar and no label for Thursday to Sunday: they have not happened.
    day_labels = [t.text for t in days_chart.iter(f"{SVG}text") if t.text and not t.text.startswith("$")]
    assert day_labels == ["Mon 16", "Tue 17", "Wed 18"]
    bar_days = {r.find(f"{SVG}title").text.split()[0] for r in days_chart.iter(f"{SVG}rect")}
    assert bar_days == {"2026-11-16", "2026-11-17", "2026-11-18"}
    stacked = {r.get("fill") for r in days_chart.iter(f"{SVG}rect")}
    assert stacked == {*PALETTE, OTHERS_GREY}


def test_the_charts_have_dollar_axis_ticks():
    report = report_for(store_of(week47_findings()), Period.iso_week(W47), at(26, 10))
    owners_chart, days_chart = Page(report_html.to_html(report)).svgs
    for chart in (owners_chart, days_chart):
        # Tick labels are round dollars ("$25"); amounts on the bars have cents ("$101.51").
        shown = [
            int(t.text[1:].replace(",", ""))
            for t in chart.iter(f"{SVG}text")
            if re.fullmatch(r"\$[\d,]+", t.text or "")
        ]
        assert shown[0] == 0 and len(shown) >= 3 and len({b - a for a, b in pairwise(shown)}) == 1


@example(top=0.010000000000000002)
@given(st.floats(min_value=0.01, max_value=1e7, allow_nan=False))
def test_axis_ticks_start_at_zero_cover_the_top_in_a_few_even_round_steps(top):
    values = ticks(top)
    # covers the top (to within float noise: a top of 0.010000000000000002 is drawn at the $0.01 tick)
    assert values[0] == 0 and values[-1] >= top * (1 - 1e-9) and 2 <= len(values) <= 6
    steps = {round(b - a, 9) for a, b in pairwise(values)}
    assert len(steps) == 1
    step = steps.pop()
    mantissa = step / 10 ** int(f"{step:e}".split("e")[1])
    assert round(mantissa, 6) in (1, 2, 2.5, 5)


def test_the_tables_have_headers_a_person_reads_and_shares_as_percentages():
    report = report_for(store_of(week47_findings()), Period.iso_week(W47), at(26, 10))
    text = report_html.to_html(report)
    headers = Page(text).headers
    assert "Share" in headers and "Period before" in headers and "Waste in period" in headers
    assert not [h for h in headers if "_" in h or h in ("share pct", "waste usd")]
    assert '<td class="n">67.5%</td>' in text  # carol's share of the week


def test_what_still_burns_says_what_it_costs_a_month_and_unknown_stays_unknown():
    report = report_for(store_of(week47_findings()), Period.iso_week(W47), at(26, 10))
    assert report.open.monthly_usd == 912.5
    text = report_html.to_html(report)
    assert "$1.25/hour, $912.50/month at this rate + 1 resource of unknown cost" in text
    # dave's cluster has no price: its waste and its share are unknown, in the tables and on the chart.
    assert '<tr><td>dave</td><td class="n">unknown</td><td class="n">unknown</td>' in text
    assert "<title>dave: unknown</title>" in text


def test_the_summary_and_slack_name_eight_owners_and_others():
    report = report_for(store_of(forty_owners()), Period.iso_week(W47), WEDNESDAY)
    by_owner = next(line for line in report_format.summary_lines(report) if line.startswith("By owner"))
    assert by_owner.count(",") == 8 and "others (32) $" in by_owner
    slack = str(report_format.message(report, {}).blocks)
    assert "others (32)" in slack and "owner-00" not in slack


def test_a_day_not_yet_over_in_another_time_zone_is_still_today():
    """A week in progress in Auckland: its days are Auckland's, up to the moment of the report."""
    now = datetime(2026, 11, 17, 3, tzinfo=UTC)  # Tuesday 16:00 in Auckland (UTC+13)
    always = finding("all-week", "orphaned-resource", at(1), [(at(1), 1.0)], "erin")
    report = report_for(store_of([always]), Period.iso_week(W47, "Pacific/Auckland"), now)
    assert [d.date.isoformat() for d in report.daily] == ["2026-11-16", "2026-11-17"]
    assert report.total_waste_usd == 40.0 and report.period.end == now
    assert report.period.end - report.period.start == timedelta(hours=40)
