"""Remediation, off by default. dry-run says what it would do; enforce acts, and only: after the grace
(default 24 h after a notice first reached the owner, with a reminder before), once per resource, on
resources the guardian attributed from strong evidence and tagged itself, never on exempt, snoozed or
shared ones, and only if the resource, read again the moment before, is still what the reminder named;
what is needed to restore it is recorded first.

    safety.py    what is never acted on, decided in one place (a reason code for each)
    live.py      the world as it is: the resource, its tags, its space, read before deciding
    rejudge.py   the rules again, on what is live
    actions.py   what it can do, gentlest first, each with the IAM actions it needs
    run.py       when: the reminder, then the action, per resource
    ledger.py    what it writes on findings (skips, joins, cancellations, results) and its report
    restore.py   `guardian restore`: undo an action from the plan recorded before it

Which findings it may act on is each rule's ``remediable`` (guardian.rules)."""

from guardian.remediation.actions import (
    ACTIONS,
    DELETE_APP,
    DELETE_CANVAS_APP,
    DELETE_ENDPOINT,
    SET_IDLE_SHUTDOWN,
    STOP_MLFLOW_TRACKING_SERVER,
    STOP_NOTEBOOK_INSTANCE,
    TERMINATE_EMR_CLUSTER,
    Action,
    action_for,
)
from guardian.remediation.ledger import MAX_ATTEMPTS, RemediationReport, joined
from guardian.remediation.live import Live, LiveSpace, read
from guardian.remediation.rejudge import observe
from guardian.remediation.restore import CannotRestore, Restored, restore
from guardian.remediation.run import policy_of, remediate
from guardian.remediation.safety import Policy, Reason, Skip, reason_not_to_act, record_reason

__all__ = [
    "ACTIONS",
    "DELETE_APP",
    "DELETE_CANVAS_APP",
    "DELETE_ENDPOINT",
    "MAX_ATTEMPTS",
    "SET_IDLE_SHUTDOWN",
    "STOP_MLFLOW_TRACKING_SERVER",
    "STOP_NOTEBOOK_INSTANCE",
    "TERMINATE_EMR_CLUSTER",
    "Action",
    "CannotRestore",
    "Live",
    "LiveSpace",
    "Policy",
    "Reason",
    "RemediationReport",
    "Restored",
    "Skip",
    "action_for",
    "joined",
    "observe",
    "policy_of",
    "read",
    "reason_not_to_act",
    "record_reason",
    "remediate",
    "restore",
]
