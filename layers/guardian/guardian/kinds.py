"""The kinds of resource the guardian tracks, and what is true of each kind."""

from enum import StrEnum


class Kind(StrEnum):
    DOMAIN = "domain"
    USER_PROFILE = "user-profile"
    SPACE = "space"
    APP = "app"
    ENDPOINT = "endpoint"
    EMR_CLUSTER = "emr-cluster"
    HYPERPOD_CLUSTER = "hyperpod-cluster"
    MLFLOW_TRACKING_SERVER = "mlflow-tracking-server"
    NOTEBOOK_INSTANCE = "notebook-instance"
    PARTNER_APP = "partner-app"
    # A model deployed onto an endpoint: billed as its endpoint's instances, judged idle on its own invocations.
    INFERENCE_COMPONENT = "inference-component"
    # A bucket created from Studio (CreateBucket by an execution role): storage that bills by its size.
    S3_BUCKET = "s3-bucket"


# Things that bill on their own once created, whatever happens to the space that made them.
BILLABLE_OUTSIDE_SPACE = frozenset(
    {
        Kind.ENDPOINT,
        Kind.EMR_CLUSTER,
        Kind.HYPERPOD_CLUSTER,
        Kind.MLFLOW_TRACKING_SERVER,
        Kind.NOTEBOOK_INSTANCE,
        Kind.PARTNER_APP,
    }
)

# Kinds onto which the guardian writes its ownership tags. Domains and user profiles are the owners
# themselves. Apps are tagged too, short-lived as they are: remediation acts on them, and its IAM role may
# act only on what carries the guardian's tag (an aws:ResourceTag condition reads the app's own tags).
TAGGABLE = BILLABLE_OUTSIDE_SPACE | {Kind.SPACE, Kind.APP, Kind.S3_BUCKET}

# Data, not compute: found and said, never acted on (no remediation action exists for these kinds, and the
# orphaned-resource rule leaves them to orphaned-bucket, which is notify only).
NEVER_REMEDIATED = frozenset({Kind.S3_BUCKET})

# The state the guardian records when a resource is gone. Each service spells "gone" its own way;
# the inventory uses one word so queries and rules need not know them all.
GONE = "Deleted"

# An S3 bucket has no lifecycle of its own: it exists (and bills for what it holds) until it is deleted.
BUCKET_AVAILABLE = "Available"

# States, per kind, in which a resource no longer exists or no longer bills. Not Delete_Failed: a space
# whose deletion failed still exists, and it and its volume still bill.
_GONE_STATES = {
    "Deleted",
    "Deleting",
    "TERMINATED",
    "TERMINATED_WITH_ERRORS",
    "TERMINATING",
}
_STOPPED_STATES = {"Stopped", "Stopping"}


_FINAL_STATES = {GONE, "TERMINATED", "TERMINATED_WITH_ERRORS"}


def is_gone(state: str | None) -> bool:
    return state in _GONE_STATES


def is_final(state: str | None) -> bool:
    """Gone for good: nothing further will be observed (Deleting and Terminating are not yet final)."""
    return state in _FINAL_STATES


def is_billing(kind: Kind, state: str | None) -> bool:
    """Whether a resource in this state is still accruing its hourly charge."""
    if state is None or is_gone(state) or state in _STOPPED_STATES:
        return False
    if kind is Kind.ENDPOINT:
        return state not in {"Failed", "OutOfService"}
    if kind is Kind.APP:
        return state in {"InService", "Pending"}
    return state not in {"Failed", "CreateFailed", "StartFailed"}


# Lifecycle rank used only to break ties between observations stamped with the same instant
# (service samples share timestamps): at equal times the later lifecycle stage wins.
_LIFECYCLE_RANK = {
    "Pending": 1,
    "Creating": 1,
    "STARTING": 1,
    "BOOTSTRAPPING": 2,
    "InService": 3,
    "RUNNING": 3,
    "WAITING": 3,
    "Updating": 4,
    "Stopping": 5,
    "Stopped": 6,
    "Deleting": 7,
    "TERMINATING": 7,
    "Delete_Failed": 8,  # a deletion that failed comes after it began
    "Deleted": 8,
    "TERMINATED": 8,
    "TERMINATED_WITH_ERRORS": 8,
    "Failed": 8,
}


def lifecycle_rank(state: str | None) -> int:
    return _LIFECYCLE_RANK.get(state or "", 0)
