"""The single DynamoDB table: its keys and the access patterns they serve.

Every item has ``PK``/``SK`` and up to three overloaded index keys. A record's full content is one
JSON attribute (``doc``): readers never depend on DynamoDB's number types, and the stream consumer
(notify) sees the same JSON the writer stored.

====================================  ==================================  ==========================  ================
access pattern                        key                                 sort key / example          made by
====================================  ==================================  ==========================  ================
resource by ARN                       PK=RES#<arn>, SK=#STATE                                         resource_key
resource history (state transitions)  PK=RES#<arn>, SK=HIST#<ver>
resources of a kind / by name         GSI1 KIND#<kind>                    SK=<account>#<region>#      kind_partition
(in one account and region, or all)                                       <name>#<arn>                located
resources (and findings) of an owner  GSI2 OWNER#<owner>                  SK=RES#<kind>               owner_partition
resources and apps of a space         GSI3 SPACE#<space arn>              SK=<kind>                   space_partition
finding by id                         PK=FINDING#<id>, SK=#STATE                                      finding_key
a finding's audit trail               PK=FINDING#<id>, SK=AUDIT#<at>
findings of a status, by its time     GSI1 FINDINGS#<status>              SK=<status time>#<id>       status_partition
findings of an owner, by detection    GSI2 OWNER#<owner>                  SK=FINDING#<detected>#<id>  owner_partition
findings of a week (report.py)        GSI1, each status but resolved,     resolved: SK >= <week
                                      and resolved                        start>
a week's totals (weekly.py)           PK=REPORT#<week>, SK=#SUMMARY                                   report_key
a delivered message (delivery.py)     PK=DELIVERY, SK=notify#<hash>       TTL 90 days                 delivery_key
a stream record's failed attempts     PK=DELIVERY,                        TTL 1 day                   delivery_key
(notify.py)                           SK=attempts#<sequence number>
an owner's email subscription         PK=SUBSCRIPTION#<owner>,            its ARN, once subscribed    subscription_key
                                      SK=<address>
a message held for an owner           PK=HELD, SK=<audience>#<item key>   until they can be reached   held_key
(delivery.py; held.py sends it)
a check due at a moment (scheduling)  PK=CHECK#<name>, SK=#STATE          TTL 30 days after due       check_key
checks not yet done, by due time      GSI1 CHECKS#open                    SK=<due>#<name>             CHECKS_OPEN
when an endpoint variant was last     PK=INVOKED, SK=<arn>|<variant>      TTL 14 days after the hour  invoked_key
invoked (guardian.invocations)
where an unfinished sweep resumes     PK=SWEEP, SK=#CHECKPOINT#<account>  one item per account and    sweep_checkpoint
                                      #<region>                           region (guardian.resume)    _key
====================================  ==================================  ==========================  ================

What each index carries (template.yaml): GSI1 the records themselves (``type`` and ``doc``), since its readers
want every record of a partition; GSI2 and GSI3 only keys, since theirs want a few records (:func:`batch_get`),
or only which they are, and an update that keeps an item's owner and space then writes nothing to them.

The partition keys, and every item key, are made here (by what the last column names), so this list
is the whole of what the table holds. The sort keys of the indexes are composed by the stores
(guardian.dynamo_inventory, guardian.findings_store), beside the queries that rely on their order.

A status partition is ordered by the time that matters for it: open by detection, notified by when the
owner was told (remediation asks "told before T?"), snoozed by when the snooze ends, resolved by when.
"""

from collections.abc import Iterator
from datetime import datetime, timedelta
from typing import Any

# A key or index key value, as the low-level DynamoDB client spells it.
Key = dict[str, dict[str, str]]

RESOURCE_PREFIX = "RES#"
FINDING_PREFIX = "FINDING#"
STATE_SK = "#STATE"
HISTORY_PREFIX = "HIST#"
AUDIT_PREFIX = "AUDIT#"
SUMMARY_SK = "#SUMMARY"
# The partition of the delivery log (delivery.py; a delivery's SK is notify#<hash>, Powertools idempotency's format).
DELIVERY_PK = "DELIVERY"
# The partition of messages held until their owner can be reached (delivery.py holds them, held.py sends them).
HELD_PK = "HELD"
# The GSI1 partition of the checks not yet done (guardian.scheduling): the sweep reads it whole.
CHECKS_OPEN = "CHECKS#open"
# The partition of the latest hour each endpoint variant had invocations (guardian.invocations): read whole.
INVOKED_PK = "INVOKED"

# Gone resources and old history stay queryable for reports, then expire by TTL.
GONE_RETENTION = timedelta(days=90)
HISTORY_RETENTION = timedelta(days=180)


def item_key(pk: str, sk: str) -> Key:
    return {"PK": {"S": pk}, "SK": {"S": sk}}


def resource_key(arn: str) -> Key:
    return item_key(RESOURCE_PREFIX + arn, STATE_SK)


def finding_key(finding_id: str) -> Key:
    return item_key(FINDING_PREFIX + finding_id, STATE_SK)


def report_key(week: str) -> Key:
    """A week's totals; ``week`` is the period's label (2026-W47)."""
    return item_key(f"REPORT#{week}", SUMMARY_SK)


def check_key(name: str) -> Key:
    """A one-time check (an evaluation at a moment), by its schedule's name."""
    return item_key(f"CHECK#{name}", STATE_SK)


def sweep_checkpoint_key(account: str, region: str) -> Key:
    """The sweep's pass in progress in an account and region: the kinds done, the kind and page to resume
    from (guardian.resume)."""
    return item_key("SWEEP", f"#CHECKPOINT#{account}#{region}")


def invoked_key(query_key: str) -> Key:
    """The latest hour an endpoint variant had invocations, by the idle-endpoint rule's query key."""
    return item_key(INVOKED_PK, query_key)


def delivery_key(sk: str) -> Key:
    """The delivery log: a delivery (SK notify#<hash>, delivery.py) or a stream record's failed attempts
    (SK attempts#<sequence number>, notify.py)."""
    return item_key(DELIVERY_PK, sk)


def subscription_key(owner: str, address: str) -> Key:
    """An owner's email subscription: one item per address, so a changed address subscribes again."""
    return item_key(f"SUBSCRIPTION#{owner}", address)


def held_key(audience: str, item: str) -> Key:
    """A message held for an owner (``audience``: owner:<name>) until a channel reaches them: an email
    subscription confirmed, or an address or Slack channel where there was none. One partition: the notify
    function reads it whole on its schedule."""
    return item_key(HELD_PK, f"{audience}#{item}")


# BatchGetItem's limit of keys per request.
BATCH_GET_KEYS = 100


def batch_get(client: Any, table: str, keys: list[Key]) -> Iterator[dict[str, Any]]:
    """The items of ``keys`` (those that exist), in no particular order: what a KEYS_ONLY index query named.
    Eventually consistent, as the index the keys came from is."""
    unique = list({(k["PK"]["S"], k["SK"]["S"]): k for k in keys}.values())
    for start in range(0, len(unique), BATCH_GET_KEYS):
        request: dict[str, Any] = {table: {"Keys": unique[start : start + BATCH_GET_KEYS]}}
        while request:
            response = client.batch_get_item(RequestItems=request)
            yield from response.get("Responses", {}).get(table, [])
            request = response.get("UnprocessedKeys") or {}


def keys_of(items: list[dict[str, Any]]) -> list[Key]:
    """The table keys of items an index query returned."""
    return [item_key(item["PK"]["S"], item["SK"]["S"]) for item in items]


# Index partitions (the GSI<n>PK values).


def kind_partition(kind: str) -> str:
    return f"KIND#{kind}"


def located(account: str, region: str) -> str:
    """The sort key prefix of a kind partition's records in one account and region: a sweep reads its own."""
    return f"{account}#{region}#"


def owner_partition(owner_key: str) -> str:
    return f"OWNER#{owner_key}"


def space_partition(space_arn: str) -> str:
    return f"SPACE#{space_arn}"


def status_partition(status: str) -> str:
    return f"FINDINGS#{status}"


def epoch(value: datetime) -> int:
    """A TTL attribute's value: whole seconds since the epoch."""
    return int(value.timestamp())
