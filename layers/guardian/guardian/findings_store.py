"""Where findings live: DynamoDB when deployed (with their audit trail, written in the same transaction),
memory for read-only scans. See guardian.table for the keys.

:func:`write_finding` is the one way a stored finding changes: every path that moves a finding along
its lifecycle (evaluation, notify, the digest, remediation) goes through it, so each gets the same
retry on a concurrent write and the same "nothing changed, nothing written"."""

from collections.abc import Callable, Iterator
from datetime import datetime
from typing import Any, Protocol

from botocore.exceptions import ClientError

from guardian.findings import ACTIVE, AuditEntry, Finding, Status
from guardian.inventory import MAX_WRITE_ATTEMPTS, UNREAD, Conflict, Unread
from guardian.notices import notice_for
from guardian.table import (
    AUDIT_PREFIX,
    BATCH_GET_KEYS,
    FINDING_PREFIX,
    batch_get,
    finding_key,
    item_key,
    keys_of,
    owner_partition,
    status_partition,
)

# Which time orders each status partition of GSI1 (so "notified before T" is one range query).
_STATUS_TIME = {
    Status.NOTIFIED: "notified_at",
    Status.SNOOZED: "snoozed_until",
    Status.REMEDIATION_SCHEDULED: "remediation_due_at",
    Status.RESOLVED: "resolved_at",
}


class FindingsStore(Protocol):
    def get(self, finding_id: str) -> Finding | None: ...

    def put(self, finding: Finding, audit: list[AuditEntry], before: "Finding | None | Unread" = UNREAD) -> Finding:
        """Store ``finding`` if its stored revision is still ``finding.revision``; returns it as stored.
        ``before``: the finding as stored (None: there was none), which tells whether the write is news."""

    def with_status(
        self, status: Status, before: datetime | None = None, after: datetime | None = None
    ) -> Iterator[Finding]: ...

    def many(self, finding_ids: list[str]) -> list[Finding]:
        """The findings of these ids that exist, read as they are now (a scoped evaluation's)."""

    def of_owner(self, owner_key: str, since: datetime | None = None) -> list[Finding]: ...

    def audit(self, finding_id: str) -> list[AuditEntry]: ...


class HoldsFindings(Protocol):
    """Anything that holds the findings store: the Guardian (named so, not imported: runtime imports this)."""

    @property
    def findings(self) -> FindingsStore: ...


# A lifecycle step (guardian.findings): the finding as it should become, and the audit entries saying why.
FindingChange = Callable[[Finding], tuple[Finding, list[AuditEntry]]]


def write_finding(guardian: HoldsFindings, finding: Finding, change: FindingChange, now: datetime) -> bool:
    """Apply a lifecycle change and store it, re-reading on a concurrent write; False if nothing changed."""
    store = guardian.findings
    for _ in range(MAX_WRITE_ATTEMPTS):
        updated, audit = change(finding)
        if not audit and _content(updated) == _content(finding):
            return False
        try:
            store.put(updated.model_copy(update={"updated_at": now}), audit, before=finding)
            return True
        except Conflict:
            reread = store.get(finding.id)
            if reread is None:  # findings are never deleted: a write raced with nothing we can retry on
                raise
            finding = reread
    raise Conflict(f"gave up on finding {finding.id}")


def _content(finding: Finding) -> dict[str, Any]:
    """What a finding says, without the bookkeeping a write changes anyway."""
    return finding.model_dump(exclude={"revision", "updated_at"})


def same_content(one: Finding, other: Finding) -> bool:
    """Whether two findings say the same (a write that committed, then timed out, is found so on retry)."""
    return _content(one) == _content(other)


def active(store: FindingsStore) -> dict[str, Finding]:
    return {f.id: f for status in ACTIVE for f in store.with_status(status)}


def status_time(finding: Finding) -> datetime:
    return getattr(finding, _STATUS_TIME.get(finding.status, "detected_at")) or finding.detected_at


class DynamoFindings:
    def __init__(self, client: Any, table_name: str) -> None:
        self._client = client
        self._table = table_name

    def get(self, finding_id: str) -> Finding | None:
        item = self._client.get_item(
            TableName=self._table,
            Key=finding_key(finding_id),
            ConsistentRead=True,
        ).get("Item")
        return Finding.model_validate_json(item["doc"]["S"]) if item else None

    def many(self, finding_ids: list[str]) -> list[Finding]:
        found: list[Finding] = []
        keys = [finding_key(finding_id) for finding_id in dict.fromkeys(finding_ids)]
        for start in range(0, len(keys), BATCH_GET_KEYS):
            request: dict[str, Any] = {
                self._table: {"Keys": keys[start : start + BATCH_GET_KEYS], "ConsistentRead": True}
            }
            while request:
                response = self._client.batch_get_item(RequestItems=request)
                found += [
                    Finding.model_validate_json(i["doc"]["S"]) for i in response["Responses"].get(self._table, [])
                ]
                request = response.get("UnprocessedKeys") or {}
        return found

    def put(self, finding: Finding, audit: list[AuditEntry], before: "Finding | None | Unread" = UNREAD) -> Finding:
        stored, writes = finding_writes(self._table, finding, audit, before)
        try:
            if len(writes) > 1:
                self._client.transact_write_items(TransactItems=writes)
            else:
                self._client.put_item(**writes[0]["Put"])
        except ClientError as error:
            if error.response["Error"]["Code"] in ("ConditionalCheckFailedException", "TransactionCanceledException"):
                raise Conflict(finding.id) from error
            raise
        return stored

    def with_status(
        self, status: Status, before: datetime | None = None, after: datetime | None = None
    ) -> Iterator[Finding]:
        condition, values = "GSI1PK = :pk", {":pk": {"S": status_partition(status.value)}}
        if before and after:
            condition += " AND GSI1SK BETWEEN :after AND :before"
            values |= {":after": {"S": after.isoformat()}, ":before": {"S": before.isoformat() + "~"}}
        elif before:
            condition += " AND GSI1SK <= :before"
            values[":before"] = {"S": before.isoformat() + "~"}
        elif after:
            condition += " AND GSI1SK >= :after"
            values[":after"] = {"S": after.isoformat()}
        yield from self._query("GSI1", condition, values)

    def of_owner(self, owner_key: str, since: datetime | None = None) -> list[Finding]:
        condition = "GSI2PK = :pk AND begins_with(GSI2SK, :sk)"
        values = {":pk": {"S": owner_partition(owner_key)}, ":sk": {"S": FINDING_PREFIX}}
        if since:
            condition = "GSI2PK = :pk AND GSI2SK >= :sk"
            values[":sk"] = {"S": f"{FINDING_PREFIX}{since.isoformat()}"}
        # GSI2 carries keys only: the findings it names are read from the table.
        pages = self._client.get_paginator("query").paginate(
            TableName=self._table, IndexName="GSI2", KeyConditionExpression=condition, ExpressionAttributeValues=values
        )
        keys = keys_of([item for page in pages for item in page["Items"]])
        found = [
            Finding.model_validate_json(item["doc"]["S"])
            for item in batch_get(self._client, self._table, keys)
            if item.get("type", {}).get("S") == "finding"
        ]
        return sorted(
            (f for f in found if since is None or f.detected_at >= since), key=lambda f: (f.detected_at, f.id)
        )

    def audit(self, finding_id: str) -> list[AuditEntry]:
        pages = self._client.get_paginator("query").paginate(
            TableName=self._table,
            KeyConditionExpression="PK = :pk AND begins_with(SK, :sk)",
            ExpressionAttributeValues={":pk": {"S": FINDING_PREFIX + finding_id}, ":sk": {"S": AUDIT_PREFIX}},
        )
        return [AuditEntry.model_validate_json(i["doc"]["S"]) for page in pages for i in page["Items"]]

    def _query(self, index: str, condition: str, values: dict[str, Any]) -> Iterator[Finding]:
        pages = self._client.get_paginator("query").paginate(
            TableName=self._table, IndexName=index, KeyConditionExpression=condition, ExpressionAttributeValues=values
        )
        for page in pages:
            for item in page["Items"]:
                if item.get("type", {}).get("S") == "finding":
                    yield Finding.model_validate_json(item["doc"]["S"])


def finding_writes(
    table: str, finding: Finding, audit: list[AuditEntry], before: "Finding | None | Unread" = UNREAD
) -> tuple[Finding, list[dict[str, Any]]]:
    """The finding as it will be stored, and the TransactWriteItems entries that store it (if its stored revision
    is still ``finding.revision``) with its audit entries: for a caller that writes them in one transaction with
    something of its own (delivery.py: the record that a message about the finding was sent). ``before``: the
    finding as stored, when the caller has it: a write that is no news is marked so (see _item)."""
    stored = finding.model_copy(update={"revision": finding.revision + 1})
    news = isinstance(before, Unread) or notice_for(before, stored) is not None
    put: dict[str, Any] = {"TableName": table, "Item": _item(stored, news)}
    if finding.revision == 0:
        put["ConditionExpression"] = "attribute_not_exists(PK)"
    else:
        put["ConditionExpression"] = "revision = :expected"
        put["ExpressionAttributeValues"] = {":expected": {"N": str(finding.revision)}}
    entries = [{"Put": _audit_put(table, stored, entry, n)} for n, entry in enumerate(audit)]
    return stored, [{"Put": put}, *entries]


def _item(finding: Finding, news: bool = True) -> dict[str, Any]:
    """The finding's item. ``news``: the change is one notify acts on (guardian.notices.notice_for); only such
    writes pass the notify function's stream filter (template.yaml), so a finding marked notified, reached or
    refreshed with nothing to tell (notify's own writes among them) does not invoke it again."""
    owner_key = finding.owner_arn or finding.owner or "unattributed"
    news_attribute = {"news": {"BOOL": True}} if news else {}
    return (
        news_attribute
        | finding_key(finding.id)
        | {
            "type": {"S": "finding"},
            "status": {"S": finding.status.value},
            "rule": {"S": finding.rule},
            "version": {"N": str(finding.version)},
            "revision": {"N": str(finding.revision)},
            "doc": {"S": finding.model_dump_json()},
            "GSI1PK": {"S": status_partition(finding.status.value)},
            "GSI1SK": {"S": f"{status_time(finding).isoformat()}#{finding.id}"},
            "GSI2PK": {"S": owner_partition(owner_key)},
            "GSI2SK": {"S": f"{FINDING_PREFIX}{finding.detected_at.isoformat()}#{finding.id}"},
        }
    )


def _audit_put(table: str, finding: Finding, entry: AuditEntry, n: int) -> dict[str, Any]:
    sk = f"{AUDIT_PREFIX}{entry.at.isoformat()}#{finding.revision:06d}#{n}"
    item = item_key(FINDING_PREFIX + finding.id, sk) | {"type": {"S": "audit"}, "doc": {"S": entry.model_dump_json()}}
    return {"TableName": table, "Item": item, "ConditionExpression": "attribute_not_exists(PK)"}


class MemoryFindings:
    """Findings of a read-only scan: nothing leaves the process."""

    def __init__(self) -> None:
        self._findings: dict[str, Finding] = {}
        self._audit: dict[str, list[AuditEntry]] = {}

    def get(self, finding_id: str) -> Finding | None:
        return self._findings.get(finding_id)

    def many(self, finding_ids: list[str]) -> list[Finding]:
        return [self._findings[i] for i in dict.fromkeys(finding_ids) if i in self._findings]

    def put(self, finding: Finding, audit: list[AuditEntry], before: "Finding | None | Unread" = UNREAD) -> Finding:
        held = self._findings.get(finding.id)
        if (held.revision if held else 0) != finding.revision:
            raise Conflict(finding.id)
        stored = finding.model_copy(update={"revision": finding.revision + 1})
        self._findings[finding.id] = stored
        self._audit.setdefault(finding.id, []).extend(audit)
        return stored

    def with_status(
        self, status: Status, before: datetime | None = None, after: datetime | None = None
    ) -> Iterator[Finding]:
        for finding in sorted(self._findings.values(), key=status_time):
            at = status_time(finding)
            if finding.status is status and (before is None or at <= before) and (after is None or at >= after):
                yield finding

    def of_owner(self, owner_key: str, since: datetime | None = None) -> list[Finding]:
        return [
            f
            for f in self._findings.values()
            if (f.owner_arn or f.owner or "unattributed") == owner_key and (since is None or f.detected_at >= since)
        ]

    def audit(self, finding_id: str) -> list[AuditEntry]:
        return list(self._audit.get(finding_id, []))
