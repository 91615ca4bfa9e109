"""`guardian scan`: a read-only audit of an account, reconciled and every rule evaluated in memory."""

from datetime import UTC, datetime

from guardian.rules import RulesConfig
from guardian.scan import scan, scan_guardian
from guardian_cli.account import Endpoint, account, price_source
from guardian_cli.errors import InputError
from guardian_cli.output import print_findings, warn_of_collection_errors


def run(endpoint: Endpoint, fmt: str, overrides: list[str], tag_prefix: str, include_exempt: bool) -> int:
    """``overrides``: rule thresholds for this run, each KEY=VALUE (orphaned_resource.grace_minutes=0)."""
    try:
        rules = RulesConfig().with_overrides(overrides)
    except ValueError as error:
        raise InputError(str(error)) from error
    now = datetime.now(UTC)
    with account(endpoint, embedded_default=False) as clients:
        guardian = scan_guardian(clients, rules, tag_prefix, price_source(endpoint))
        report, evaluation = scan(guardian, now)
    print_findings(evaluation.findings, fmt, now, show_exempt=include_exempt)
    warn_of_collection_errors(report)
    return 0
