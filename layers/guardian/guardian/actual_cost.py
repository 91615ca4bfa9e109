"""What Cost Explorer says the owners' resources actually cost, beside the guardian's estimate of waste:
GetCostAndUsage grouped by the ownership tag (once the user activated it as a cost allocation tag). Each
call costs money ($0.01): one per report, plus a page in the rare case Cost Explorer splits the answer."""

from collections import defaultdict
from datetime import time, timedelta
from decimal import Decimal
from typing import Any

from guardian.period import Period
from guardian.report_document import ActualCost, cents

PERMISSIONS = ("ce:GetCostAndUsage",)
# Where Studio's resources bill: SageMaker (endpoints, apps, HyperPod, MLflow) and EMR's instances.
SERVICES = ("Amazon SageMaker", "Amazon Elastic MapReduce", "Amazon Elastic Compute Cloud - Compute")
UNTAGGED = "untagged"


def actual_cost(ce: Any, period: Period, tag_key: str) -> ActualCost:
    """Unblended cost per owner tag value over the period's UTC days (Cost Explorer's granularity)."""
    start = period.start.date()
    end = period.end.date() + (timedelta(days=1) if period.end.time() != time() else timedelta(0))  # exclusive
    request = {
        "TimePeriod": {"Start": start.isoformat(), "End": end.isoformat()},
        "Granularity": "MONTHLY",
        "Metrics": ["UnblendedCost"],
        "GroupBy": [{"Type": "TAG", "Key": tag_key}],
        "Filter": {"Dimensions": {"Key": "SERVICE", "Values": list(SERVICES)}},
    }
    by_owner: dict[str, Decimal] = defaultdict(Decimal)
    calls, token = 0, None
    while True:
        page = ce.get_cost_and_usage(**request, **({"NextPageToken": token} if token else {}))
        calls += 1
        for bucket in page.get("ResultsByTime", []):
            for group in bucket.get("Groups", []):
                owner = group["Keys"][0].split("$", 1)[-1] or UNTAGGED  # "studio-cost-guardian:owner$alice"
                by_owner[owner] += Decimal(group["Metrics"]["UnblendedCost"]["Amount"])
        token = page.get("NextPageToken")
        if not token:
            break
    ordered = sorted(by_owner.items(), key=lambda item: -item[1])
    return ActualCost(
        source="Cost Explorer",
        tag=tag_key,
        metric="UnblendedCost",
        start=start,
        end=end,
        by_owner={owner: cents(amount) for owner, amount in ordered},
        total_usd=cents(sum(by_owner.values(), Decimal(0))),
        calls=calls,
    )
