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
==========================================  ===========================  ==============================
"""

from datetime import datetime, timedelta

RESOURCE_PREFIX = "RES#"
STATE_SK = "#STATE"
HISTORY_PREFIX = "HIST#"
INDEXES = ("GSI1", "GSI2", "GSI3")

# Gone resources and old history stay queryable for reports, then expire by TTL.
GONE_RETENTION = timedelta(days=90)
HISTORY_RETENTION = timedelta(days=180)


def epoch(value: datetime) -> int:
    return int(value.timestamp())
