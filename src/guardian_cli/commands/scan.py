"""`guardian scan`: a read-only audit of an account, reconciled and every rule evaluated in memory, dated and
attributed from CloudTrail's event history (guardian.scan). With --fail-on or --min-monthly-usd it is a gate:
exit status 1 when a finding passes the bar, so a pipeline or a cron can act on it."""

import sys
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime

from guardian.aws import AwsClients, account_location
from guardian.fanout import organization_accounts
from guardian.findings import SEVERITIES, Finding, Status
from guardian.rules import RulesConfig
from guardian.scan import HistoryReport, ScanReport, scan, scan_guardian
from guardian_cli.account import Endpoint, account, price_source
from guardian_cli.accounts import (
    SCAN_ERRORS,
    MemberSessions,
    Target,
    TargetFailure,
    failure,
    own_clients,
    targets,
)
from guardian_cli.errors import InputError
from guardian_cli.output import print_findings, warn_of_collection_errors
from guardian_cli.progress import AuditProgress, TargetsProgress


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
    rules = _rules(overrides)
    now = datetime.now(UTC)
    with account(endpoint, embedded_default=False) as clients, AuditProgress() as progress:
        guardian = scan_guardian(clients, rules, tag_prefix, price_source(endpoint))
        result = scan(guardian, now, progress=progress.looked_up, sweep_progress=progress.listed)
    evaluation = result.evaluation
    print_findings(evaluation.findings, fmt, now, show_exempt=include_exempt)
    warn_of_collection_errors(result.sweep)
    warn_of_history(result.history, now)
    return _gate_status(gate, evaluation.findings)


def _rules(overrides: list[str]) -> RulesConfig:
    try:
        return RulesConfig().with_overrides(overrides)
    except ValueError as error:
        raise InputError(str(error)) from error


def _gate_status(gate: Gate | None, found: Sequence[Finding]) -> int:
    if gate is None or not gate.set:
        return 0
    failing = gate.passed_by(found)
    if failing:
        print(f"guardian scan: {len(failing)} finding(s) past the bar: exit status 1", file=sys.stderr)
    return 1 if failing else 0


@dataclass(frozen=True)
class Fleet:
    """--accounts/--org, --role-name, --external-id, --regions, --max-workers: what a scan of many covers."""

    accounts: Sequence[str] | None = None  # None: the caller's own account (or the organization's, with org)
    org: bool = False
    ous: Sequence[str] = ()  # with org: only the accounts under these OUs (nested ones included)
    role_name: str = "GuardianMemberRole"
    external_id: str | None = None
    regions: Sequence[str] | None = None  # None: --region's
    max_workers: int = 4


def run_fleet(
    endpoint: Endpoint,
    fmt: str,
    overrides: list[str],
    tag_prefix: str,
    include_exempt: bool,
    gate: Gate | None,
    fleet: Fleet,
) -> int:
    """The same scan in each account and region, ``fleet.max_workers`` at a time. A target that fails (role
    missing, access denied, throttled past botocore's retries) is reported on stderr and the others go on;
    the gate applies to the findings of all; exit status 2 only when every target failed."""
    if fleet.max_workers < 1:
        raise InputError("--max-workers must be 1 or more")
    rules = _rules(overrides)
    now = datetime.now(UTC)
    regions = list(fleet.regions or [endpoint.region])
    with account(endpoint, embedded_default=False) as base:
        # The caller's own identity first, in this thread: bad credentials stop here, with their hint, and the
        # STS client the threads share is made before they start (a botocore session is not thread-safe).
        caller = account_location(base)
        accounts = organization_accounts(base("organizations"), fleet.ous) if fleet.org else fleet.accounts
        if accounts is not None and not accounts:
            raise InputError("the organization lists no active account")
        members = None
        if accounts is not None:
            members = MemberSessions(base, caller.partition, fleet.role_name, fleet.external_id)
        accounts = accounts if accounts is not None else [caller.account]
        scanned = targets(accounts, regions)
        with TargetsProgress(len(scanned)) as progress, ThreadPoolExecutor(fleet.max_workers) as pool:

            def scan_target(target: Target, clients: AwsClients | Exception) -> ScanReport | TargetFailure:
                result: ScanReport | TargetFailure
                if isinstance(clients, Exception):  # its account's role could not be assumed
                    result = failure(target, clients)
                else:
                    try:
                        guardian = scan_guardian(clients, rules, tag_prefix, price_source(endpoint))
                        result = scan(guardian, now, sweep_progress=progress.listener(target))
                    except SCAN_ERRORS as error:
                        result = failure(target, error)
                progress.finished(isinstance(result, TargetFailure))
                return result

            reached: dict[Target, AwsClients | Exception]
            if members is None:
                reached = {t: own_clients(base, t.region) for t in scanned}
            else:
                sessions = dict(zip(accounts, pool.map(lambda a: _credentials(members, a), accounts), strict=True))
                reached = {t: _member_clients(members, sessions[t.account], t.region) for t in scanned}
            results = list(pool.map(lambda t: scan_target(t, reached[t]), scanned))
    return _report_fleet(scanned, results, fmt, now, include_exempt, gate)


def _credentials(members: MemberSessions, account_id: str) -> dict[str, str] | Exception:
    try:
        return members.credentials(account_id)
    except SCAN_ERRORS as error:
        return error


def _member_clients(
    members: MemberSessions, credentials: dict[str, str] | Exception, region: str
) -> AwsClients | Exception:
    return credentials if isinstance(credentials, Exception) else members.clients(credentials, region)


def _report_fleet(
    scanned: Sequence[Target],
    results: Sequence[ScanReport | TargetFailure],
    fmt: str,
    now: datetime,
    include_exempt: bool,
    gate: Gate | None,
) -> int:
    reports = [(t, r) for t, r in zip(scanned, results, strict=True) if isinstance(r, ScanReport)]
    failures = [r for r in results if isinstance(r, TargetFailure)]
    found = [f for _, report in reports for f in report.evaluation.findings]
    several = len({(t.account, t.region) for t in scanned}) > 1
    print_findings(found, fmt, now, show_exempt=include_exempt, show_location=several)
    for target, report in reports:
        where = f"{target.account} {target.region}: "
        for kind, kind_report in report.sweep.kinds.items():
            for error in kind_report.errors:
                print(f"warning: {where}{kind}: {error}", file=sys.stderr)
        warn_of_history(report.history, now, where)
    for failed in failures:
        print(failed.line(), file=sys.stderr)
    if failures:
        print(
            f"guardian scan: {len(failures)} of {len(scanned)} account-regions failed; the findings cover the "
            f"other {len(reports)}" + ("" if reports else ": exit status 2"),
            file=sys.stderr,
        )
    if not reports:
        return 2
    return _gate_status(gate, found)


def warn_of_history(history: HistoryReport, now: datetime, where: str = "") -> None:
    """What the scan could not read of CloudTrail's history, and what that leaves unknown, on stderr."""
    if history.failed is None:
        return
    print(
        f"warning: {where}CloudTrail history incomplete ({history.failed}): where no call was found, a space's stop is "
        f'known only to be before {now:%Y-%m-%d %H:%M:%S} UTC (findings say "stopped before"), and owners '
        "come from tags and the Studio API alone. A scan needs cloudtrail:LookupEvents.",
        file=sys.stderr,
    )
