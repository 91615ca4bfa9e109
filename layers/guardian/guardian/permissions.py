"""The IAM actions each function needs, gathered from the modules that make the calls.

Each module declares what it calls beside the code that calls it (as Cloud Custodian declares
permissions per action); template.yaml must grant each function exactly this set, and a test checks
both that the template matches and that every call a function makes in the tests is declared here.
"""

from guardian import (
    collectors,
    evidence,
    fanout,
    metric_data,
    notify,
    pricing,
    reconcile,
    recording,
    refresh,
    remediation,
    scheduling,
    weekly,
)
from guardian.rules import RULES

# The table: reads, conditional writes (TransactWriteItems is authorised as PutItem), queries.
TABLE = ("dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:Query")
# The records a KEYS_ONLY index query names (an owner's, a space's), and a scoped evaluation's findings, read
# in batches (guardian.table.batch_get): whoever reads the inventory by owner or space.
TABLE_BATCH_READS = ("dynamodb:BatchGetItem",)
# A hub's clients in a member account (guardian.aws.MemberClients): the member role assumed, by whoever acts where
# events happen (ingest, the sweep, remediation). Granted only when the stack watches members (WatchesMembers).
MEMBER_ROLE = ("sts:AssumeRole",)


def _collectors() -> tuple[str, ...]:
    return tuple(action for c in collectors.COLLECTORS for action in c.permissions)


def _rules() -> tuple[str, ...]:
    return tuple(action for rule in RULES for action in rule.permissions)


def _remediation_reads() -> tuple[str, ...]:
    return tuple(action for a in remediation.ACTIONS for action in a.reads)


def _remediation_mutations() -> tuple[str, ...]:
    return tuple(action for a in remediation.ACTIONS for action in a.mutates)


FUNCTION_PERMISSIONS: dict[str, frozenset[str]] = {
    # The event path also describes what an event changed but did not say how, and judges its rules.
    "IngestFunction": frozenset(
        TABLE
        + TABLE_BATCH_READS
        + recording.PERMISSIONS
        + scheduling.PERMISSIONS
        + refresh.PERMISSIONS
        + _rules()
        + metric_data.PERMISSIONS
        + pricing.PERMISSIONS
        + MEMBER_ROLE
    ),
    "SweepFunction": frozenset(
        TABLE
        + TABLE_BATCH_READS
        + recording.PERMISSIONS
        + reconcile.PERMISSIONS
        + evidence.PERMISSIONS
        + fanout.PERMISSIONS
        + _collectors()
        + scheduling.PERMISSIONS
        + _rules()
        + metric_data.PERMISSIONS
        + pricing.PERMISSIONS
        + MEMBER_ROLE
    ),
    "NotifyFunction": frozenset(TABLE + notify.PERMISSIONS),
    # Reads by query, but for a routed team's subscription record (guardian.routing).
    "ReportFunction": frozenset(("dynamodb:PutItem", "dynamodb:Query", *weekly.PERMISSIONS)),
    # The mutating actions are granted only when RemediationMode is enforce (a condition in the template).
    "RemediateFunction": frozenset(
        TABLE + TABLE_BATCH_READS + _remediation_reads() + _remediation_mutations() + MEMBER_ROLE
    ),
}
MUTATING_ONLY_WHEN_ENFORCED = frozenset(_remediation_mutations())
