"""The total under `guardian demo` and `guardian findings`: each resource's hours and monthly cost once,
though two findings cover it; unknown prices said, not counted; exempt findings apart."""

from guardian.findings import Status
from guardian.summary import waste_summary
from tests.unit.test_report import at, finding


def test_a_resource_two_rules_flag_costs_once():
    orphaned = finding("spark-etl", "orphaned-resource", at(21, 20), [(at(21, 20), 1.20)], "bob", kind="emr-cluster")
    idle = finding("spark-etl", "idle-emr-cluster", at(21, 22), [(at(21, 22), 1.20)], "bob", kind="emr-cluster")
    unpriced = finding("llm-train", "orphaned-resource", at(21), [(at(21), None)], "dave", kind="cluster")
    exempt = finding("legacy", "idle-endpoint", at(21), [(at(21), 0.115)], None, status=Status.EXEMPT)
    line = waste_summary([orphaned, idle, unpriced, exempt], at(22, 20))
    # 24 h x $1.20 once, not 24 h + 22 h; $1.20 x 730 h a month once.
    assert line.strip() == (
        "3 findings: $28.80 + 1 resource of unknown cost wasted so far, "
        "$876.00/month + 1 resource of unknown cost if left running; 1 exempt."
    )
