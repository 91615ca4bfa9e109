"""Cost Explorer's figures per owner tag in a report with names hidden: it cannot tell a private space's
resources from a shared one's, so an owner is named there only where the rest of the report names them
and nothing says they own a private space; everyone else's cost is one sum."""

from datetime import date

import pytest

from guardian.period import Period
from guardian.report import PRIVATE, UNNAMED, report_for
from guardian.report_document import ActualCost
from guardian.report_format import summary_lines
from guardian.report_html import to_html
from tests.unit.test_report import NOW, W47, store_of, week47_findings

ACTUAL = ActualCost(
    source="Cost Explorer",
    tag="studio-cost-guardian:owner",
    metric="UnblendedCost",
    start=date(2026, 11, 16),
    end=date(2026, 11, 23),
    by_owner={"carol": 412.5, "alice": 100.25, "erin": 50.1, "bob": 30.0, "untagged": 20.0, "dave": 0.004},
    total_usd=612.85,
    calls=1,
)


def findings(private: set[str]):
    """Week 47's findings, those of ``private`` owners in their private spaces."""
    return [
        f.model_copy(update={"sharing": "Private", "space": f"{f.owner}-lab"}) if f.owner in private else f
        for f in week47_findings()
    ]


def actual_by_owner(private: set[str], names: bool = False, private_owners: tuple[str, ...] = ()):
    report = report_for(
        store_of(findings(private)), Period.iso_week(W47), NOW, names, ACTUAL, private_owners=private_owners
    )
    return report, report.actual_cost.by_owner


def test_only_owners_the_report_names_are_named_the_rest_is_one_sum():
    report, by_owner = actual_by_owner({"alice", "dave"})
    # carol and bob: their findings are in a shared space, so the report names them; alice's and dave's are
    # private; erin has no finding at all, so nothing says what her cost is for.
    assert by_owner == {"carol": 412.5, UNNAMED: 150.35, "bob": 30.0, "untagged": 20.0}
    assert report.actual_cost.total_usd == ACTUAL.total_usd
    assert {row.owner for row in report.by_owner} == {"carol", "bob", "unattributed", PRIVATE}
    for text in ("\n".join(summary_lines(report)), to_html(report), report.model_dump_json()):
        assert "alice" not in text and "erin" not in text and "dave" not in text


def test_an_owner_of_a_private_space_is_not_named_even_with_shared_findings():
    _, by_owner = actual_by_owner({"alice"}, private_owners=("carol",))
    assert "carol" not in by_owner and by_owner[UNNAMED] == pytest.approx(412.5 + 100.25 + 50.1 + 0.0, abs=0.01)


def test_names_allowed_cost_explorer_is_shown_as_it_came():
    _, by_owner = actual_by_owner({"alice", "dave"}, names=True)
    assert by_owner == ACTUAL.by_owner


def test_without_cost_explorer_there_is_nothing_to_hide():
    report = report_for(store_of(findings({"alice"})), Period.iso_week(W47), NOW, names=False)
    assert report.actual_cost is None
