"""`guardian scan`: a read-only audit of an account, reconciled and every rule evaluated in memory, dated and
attributed from CloudTrail's event history (guardian.scan). With --fail-on or --min-monthly-usd it is a gate:
exit status 1 when a finding passes the bar, so a pipeline or a cron can act on it."""

import sys
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

from guardian.findings import SEVERITIES, Finding, Status
from guardian.rules import RulesConfig
from guardian.scan import HistoryReport, scan, scan_guardian
from guardian_cli.account import Endpoint, account, price_source
from guardian_cli.errors import InputError
from guardian_cli.output import print_findings, warn_of_collection_errors
from guardian_cli.progress import AuditProgress


@dataclass(frozen=True)
class Gate:
    """The bar a finding must pass to fail the scan: a severity (and above), a monthly cost (and above)."""

    severity: str | None = None
    monthly_usd: float | None = None

    @property
    def set(self) -> bool:
        return self.severity is not None or self.monthly_usd is not None

    def passed_by(self, findings: Sequence[Finding]) -> list[Finding]:
        """The findings past the bar (exempt ones never are: someone decided to keep them). A finding of
        unknown cost cannot pass a cost bar; it can pass a severity bar."""
        return [f for f in findings if f.status is not Status.EXEMPT and self._passes(f)]

    def _passes(self, finding: Finding) -> bool:
        if self.severity is not None and SEVERITIES.index(finding.severity) >= SEVERITIES.index(self.severity):
            return True
        monthly = finding.monthly_cost_usd
        return self.monthly_usd is not None and monthly is not None and monthly >= self.monthly_usd


def run(
    endpoint: Endpoint,
    fmt: str,
    overrides: list[str],
    tag_prefix: str,
    include_exempt: bool,
    gate: Gate | None = None,
) -> int:
    """``overrides``: rule thresholds for this run, each KEY=VALUE (orphaned_resource.grace_minutes=0)."""
    try:
        rules = RulesConfig().with_overrides(overrides)
    except ValueError as error:
        raise InputError(str(error)) from error
    now = datetime.now(UTC)
    with account(endpoint, embedded_default=False) as clients, AuditProgress() as progress:
        guardian = scan_guardian(clients, rules, tag_prefix, price_source(endpoint))
        result = scan(guardian, now, progress=progress.looked_up, sweep_progress=progress.listed)
    evaluation = result.evaluation
    print_findings(evaluation.findings, fmt, now, show_exempt=include_exempt)
    warn_of_collection_errors(result.sweep)
    warn_of_history(result.history, now)
    if gate is None or not gate.set:
        return 0
    failing = gate.passed_by(evaluation.findings)
    if failing:
        print(f"guardian scan: {len(failing)} finding(s) past the bar: exit status 1", file=sys.stderr)
    return 1 if failing else 0


def warn_of_history(history: HistoryReport, now: datetime) -> None:
    """What the scan could not read of CloudTrail's history, and what that leaves unknown, on stderr."""
    if history.failed is None:
        return
    print(
        f"warning: CloudTrail history incomplete ({history.failed}): where no call was found, a space's stop is "
        f'known only to be before {now:%Y-%m-%d %H:%M:%S} UTC (findings say "stopped before"), and owners '
        "come from tags and the Studio API alone. A scan needs cloudtrail:LookupEvents.",
        file=sys.stderr,
    )
