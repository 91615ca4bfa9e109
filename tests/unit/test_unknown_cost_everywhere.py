"""A price nobody knows is unknown in every output, never $0.00: for any mix of findings with known and unknown
hourly costs, the weekly report (JSON, CSV, HTML, summary, Slack), the owner's and the team's messages, the
digest, the `guardian findings` table and its JSON show an unknown-cost finding as unknown (null in JSON, an
empty CSV cell), and every total says how many resources it leaves out ("$412.10 + 3 resources of unknown
cost"). Known prices here are at least $0.50 an hour over at least four hours, so a "$0.00" can only be a
price that was taken for zero."""

import csv
import io
import json
import re
import xml.etree.ElementTree as ElementTree
from collections import defaultdict
from html.parser import HTMLParser

from hypothesis import given
from hypothesis import strategies as st

from guardian import report_format, report_html
from guardian.digest import team_digest
from guardian.findings import Finding
from guardian.messages import Context, aggregate, render
from guardian.money import total
from guardian.notices import Notice, NoticeKind
from guardian.period import Period
from guardian.report import build
from guardian.summary import waste_summary
from guardian_cli.output import FINDING_COLUMNS, FINDING_DETAIL_COLUMNS, money, table
from guardian_cli.output import render as render_rows
from tests.unit.test_report import NOW, W47, at, finding

ZERO = "$0.00"
KINDS = ("endpoint", "hyperpod-cluster", "mlflow-tracking-server", "emr-cluster", "notebook-instance")


@st.composite
def mixed_findings(draw: st.DrawFn) -> list[Finding]:
    """1 to 7 resources flagged in week 47, each still open at its end, priced or not."""
    found = []
    for n in range(draw(st.integers(1, 7))):
        hourly = draw(st.none() | st.integers(50, 5000).map(lambda cents: cents / 100))
        found.append(
            finding(
                f"res-{n}",
                draw(st.sampled_from(("orphaned-resource", "idle-endpoint", "unattributed-resource"))),
                at(16 + draw(st.integers(0, 6)), draw(st.integers(0, 20))),  # at least 4 h before the week ends
                [(at(16), hourly)],
                draw(st.sampled_from(("alice", "bob", None))),
                kind=draw(st.sampled_from(KINDS)),
            )
        )
    return found


def unknown_phrase(count: int) -> str:
    return total(0, count)  # "1 resource of unknown cost", "3 resources of unknown cost"


class Tables(HTMLParser):
    """The HTML's tables as a browser shows them: header cells, then each row's cell texts."""

    def __init__(self) -> None:
        super().__init__()
        self.tables: list[list[list[str]]] = []
        self._cell: list[str] | None = None

    def handle_starttag(self, tag, attrs):
        if tag == "table":
            self.tables.append([])
        elif tag == "tr" and self.tables:
            self.tables[-1].append([])
        elif tag in ("td", "th"):
            self._cell = []

    def handle_endtag(self, tag):
        if tag in ("td", "th") and self._cell is not None and self.tables:
            self.tables[-1][-1].append("".join(self._cell))
            self._cell = None

    def handle_data(self, data):
        if self._cell is not None:
            self._cell.append(data)


@given(mixed_findings())
def test_an_unknown_price_is_never_zero_and_every_total_counts_what_it_leaves_out(found):
    unknown = [f for f in found if f.hourly_cost_usd is None]
    unknown_names = {f.resource_name for f in unknown}
    count = len(unknown)
    report = build(found, Period.iso_week(W47), NOW)

    # JSON: null, never 0; the count beside the total.
    document = report.model_dump(mode="json")
    assert document["unpriced_resources"] == count and document["open"]["unpriced_resources"] == count
    for row in document["findings"]:
        figures = [row[k] for k in ("hourly_cost_usd", "period_waste_usd", "waste_usd", "monthly_cost_usd")]
        assert (figures == [None] * 4) if row["resource_name"] in unknown_names else None not in figures

    # CSV: an empty cell.
    for row in csv.DictReader(io.StringIO(report_format.to_csv(report))):
        if row["resource_name"] in unknown_names:
            assert [row[k] for k in ("hourly_cost_usd", "period_waste_usd", "waste_usd", "monthly_cost_usd")] == [
                ""
            ] * 4

    # Summary, Slack: totals say how many are unknown, and with nothing known no dollar figure stands for them.
    text = report_format.message(report).text
    headline, burning = text.splitlines()[0], next(line for line in text.splitlines() if line.startswith("Still"))
    if count:
        assert unknown_phrase(count) in headline and unknown_phrase(count) in burning
    if count == len(found):
        assert ZERO not in headline and ZERO not in burning and "$" not in headline.split(",")[0]
    for line in text.splitlines():
        if line.startswith(("By owner", "By rule", "By kind", "  ")):
            assert ZERO not in line, line
    slack = json.dumps(report_format.message(report).blocks)
    assert (unknown_phrase(count) in slack) if count else ("unknown cost" not in slack)

    # HTML: no dollar cell shows $0.00 for what has no price; every unknown finding reads unknown.
    page = report_html.to_html(report)
    parser = Tables()
    parser.feed(page)
    for rows in parser.tables:
        head = rows[0]
        for cells in rows[1:]:
            for column, cell in zip(head, cells, strict=False):
                if column.endswith("usd") and not column.startswith("previous"):
                    assert cell != ZERO, (column, cells)
            if set(cells) & unknown_names and "hourly cost usd" in head:
                assert cells[head.index("hourly cost usd")] == cells[head.index("period waste usd")] == "unknown"
    for svg in re.findall(r"<svg.*?</svg>", page, re.S):
        amounts = [t.text for t in ElementTree.fromstring(svg).iter("{http://www.w3.org/2000/svg}text")]
        assert ZERO not in amounts

    # The one-line total under `guardian findings`, and the findings table and its JSON.
    line = waste_summary(found, NOW)
    assert (unknown_phrase(count) in line) if count else ("unknown" not in line)
    if count == len(found):
        assert "$" not in line
    rows = [f.public(NOW) for f in found]
    shown = table([money(r) for r in rows], FINDING_COLUMNS)
    assert ZERO not in shown
    for name in unknown_names:
        assert next(r for r in shown.splitlines() if f" {name} " in r).count("unknown") == 3
    for row in json.loads(render_rows(rows, "json", FINDING_DETAIL_COLUMNS)):
        if row["resource_name"] in unknown_names:
            assert row["hourly_cost_usd"] is None and row["waste_usd"] is None and row["monthly_cost_usd"] is None

    # Messages: each owner's, the team's aggregate of private ones, the team digest.
    context = Context(now=NOW)
    by_owner: dict[str | None, list[Finding]] = defaultdict(list)
    for item in found:
        by_owner[item.owner].append(item)
    for owned in by_owner.values():
        message = render([Notice(NoticeKind.OPENED, f) for f in owned], context)
        owned_unknown = sum(f.hourly_cost_usd is None for f in owned)
        assert ZERO not in message.subject and ZERO not in message.text
        if owned_unknown == len(owned):
            assert message.subject.endswith("cost unknown")
        elif owned_unknown:
            assert message.subject.endswith(unknown_phrase(owned_unknown))
        for item in owned:
            if item.hourly_cost_usd is None:
                assert "unknown/hour, unknown so far, unknown/month if left running" in message.text
    for message in (
        aggregate([Notice(NoticeKind.OPENED, f) for f in found], context),
        team_digest(found, [], context, True),
    ):
        assert ZERO not in message.subject and ZERO not in message.text
        assert (unknown_phrase(count) in message.subject) if count else ("unknown" not in message.subject)
