"""`guardian findings` and `guardian snooze`: the findings a deployed stack (or a sandbox) keeps, listed
and filtered, or one shown whole; one snoozed until a date because its owner decided to keep the resource."""

from collections.abc import Sequence
from datetime import UTC, datetime

from guardian import findings as lifecycle
from guardian.arns import canonical
from guardian.findings import Status
from guardian_cli.account import TableRef, account, actor, findings_store, inventory, owner_keys
from guardian_cli.errors import InputError
from guardian_cli.output import print_findings, render_finding


def list_findings(
    ref: TableRef,
    fmt: str,
    owner: str | None = None,
    statuses: Sequence[Status] | None = None,
    rule: str | None = None,
    since: datetime | None = None,
    include_exempt: bool = False,
) -> int:
    """``statuses``: by default every status but resolved. ``since``: detected on or after."""
    now = datetime.now(UTC)
    statuses = statuses or [s for s in Status if s is not Status.RESOLVED]
    with account(ref.endpoint, embedded_default=False) as clients:
        store = findings_store(ref, clients)
        if owner:
            found = [f for key in owner_keys(owner, clients) for f in store.of_owner(key, since)]
            found = [f for f in found if f.status in statuses]
        else:
            found = [f for s in statuses for f in store.with_status(s) if not since or f.detected_at >= since]
    found = [f for f in found if not rule or f.rule == rule]
    unique = list({f.id: f for f in found}.values())  # an owner known by ARN and by name: each finding once
    show_exempt = include_exempt or list(statuses) == [Status.EXEMPT]
    print_findings(unique, fmt, now, show_exempt=show_exempt, show_delivery=True)
    return 0


def show(ref: TableRef, finding_id: str, fmt: str) -> int:
    """`guardian findings show ID`: the finding, its evidence, why it is whose, its cost history and its
    whole audit trail (every message and to whom, snoozes with who and why, actions)."""
    now = datetime.now(UTC)
    with account(ref.endpoint, embedded_default=False) as clients:
        store = findings_store(ref, clients)
        finding = store.get(finding_id)
        if finding is None:
            raise InputError(f"no finding {finding_id} (guardian findings lists them)")
        trail = store.audit(finding_id)
        resource = inventory(ref, clients).get(canonical(finding.resource_arn))
    print(render_finding(finding, trail, resource, now, fmt))
    return 0


def snooze(ref: TableRef, finding_id: str, until: datetime, reason: str) -> int:
    now = datetime.now(UTC)
    with account(ref.endpoint, embedded_default=False) as clients:
        store = findings_store(ref, clients)
        finding = store.get(finding_id)
        if finding is None:
            raise InputError(f"no finding {finding_id}")
        try:
            snoozed, audit = lifecycle.snoozed(finding, until, reason, actor(clients), now)
        except ValueError as error:
            raise InputError(str(error)) from error
        store.put(snoozed, audit)
    print(f"{finding.id} ({finding.rule}, {finding.resource_name}) snoozed until {until.isoformat()}: {reason}")
    return 0
