"""The single DynamoDB table: its keys and the access patterns they serve.

Every item has ``PK``/``SK`` and up to three overloaded index keys. A record's full content is one
JSON attribute (``doc``): readers never depend on DynamoDB's number types, and the stream consumer
(notify) sees the same JSON the writer stored.

==========================================  ===========================  ==============================
access pattern                              key                          example
==========================================  ===========================  ==============================
resource by ARN                             PK=RES#<arn>, SK=#STATE
resource history (state transitions)        PK=RES#<arn>, SK=HIST#<ver>
resources of a kind / by name               GSI1 KIND#<kind>             SK=<name>#<arn>
resources (and findings) of an owner        GSI2 OWNER#<owner>           SK=RES#<kind>#<arn>
resources and apps of a space               GSI3 SPACE#<space arn>       SK=<kind>#<arn>
finding by id                               PK=FINDING#<id>, SK=#STATE
a finding's audit trail                     PK=FINDING#<id>, SK=AUDIT#<at>
findings of a status, by its time           GSI1 FINDINGS#<status>       SK=<status time>#<id>
findings of an owner, by detection          GSI2 OWNER#<owner>           SK=FINDING#<detected>#<id>
findings of a week (report.py)              GSI1, each status but        resolved: SK >= <week start>
                                            resolved, and resolved
a week's totals (weekly.py)                 PK=REPORT#<week>, SK=#SUMMARY
a delivered message (notify.py)             PK=DELIVERY, SK=notify#<hash>  TTL 90 days
an owner's email subscription               PK=SUBSCRIPTION#<owner>, SK=<address>
==========================================  ===========================  ==============================

A status partition is ordered by the time that matters for it: open by detection, notified by when the
owner was told (remediation asks "told before T?"), snoozed by when the snooze ends, resolved by when.
"""

from datetime import datetime, timedelta

RESOURCE_PREFIX = "RES#"
FINDING_PREFIX = "FINDING#"
STATE_SK = "#STATE"
HISTORY_PREFIX = "HIST#"
AUDIT_PREFIX = "AUDIT#"
INDEXES = ("GSI1", "GSI2", "GSI3")

# Gone resources and old history stay queryable for reports, then expire by TTL.
GONE_RETENTION = timedelta(days=90)
HISTORY_RETENTION = timedelta(days=180)


def epoch(value: datetime) -> int:
    return int(value.timestamp())
