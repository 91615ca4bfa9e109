"""The inventory in DynamoDB (see :mod:`guardian.table` for the keys)."""

import json
from collections.abc import Callable, Iterator
from typing import Any

from botocore.exceptions import ClientError

from guardian.arns import Location
from guardian.inventory import Conflict, HistoryEntry
from guardian.kinds import Kind, is_gone
from guardian.resource import Resource
from guardian.table import (
    GONE_RETENTION,
    HISTORY_PREFIX,
    HISTORY_RETENTION,
    RESOURCE_PREFIX,
    batch_get,
    epoch,
    item_key,
    keys_of,
    kind_partition,
    located,
    owner_partition,
    resource_key,
    space_partition,
)

_CONDITION_FAILED = {"ConditionalCheckFailedException", "TransactionCanceledException"}


class DynamoInventory:
    def __init__(self, client: Any, table_name: str) -> None:
        self._client = client
        self._table = table_name

    def get(self, arn: str) -> Resource | None:
        item = self._client.get_item(
            TableName=self._table,
            Key=resource_key(arn),
            ConsistentRead=True,
        ).get("Item")
        return _record(item) if item else None

    def put(self, record: Resource, expected_revision: int, history: HistoryEntry | None) -> None:
        put = {
            "TableName": self._table,
            "Item": _item(record),
            "ConditionExpression": "attribute_not_exists(PK) OR revision = :expected",
            "ExpressionAttributeValues": {":expected": {"N": str(expected_revision)}},
        }
        if expected_revision == 0:
            put["ConditionExpression"] = "attribute_not_exists(PK)"
            del put["ExpressionAttributeValues"]
        try:
            if history is None:
                self._client.put_item(**put)
            else:
                # The record and its history entry land together or not at all.
                self._client.transact_write_items(
                    TransactItems=[{"Put": put}, {"Put": _history_put(self._table, record, history)}]
                )
        except ClientError as error:
            if error.response["Error"]["Code"] in _CONDITION_FAILED:
                raise Conflict(record.arn) from error
            raise

    def by_kind(self, kind: Kind, at: Location | None = None) -> Iterator[Resource]:
        yield from self._query("GSI1", kind_partition(kind.value), sk_prefix=_where(at))

    def by_name(self, kind: Kind, name: str, at: Location | None = None) -> list[Resource]:
        if at is None:  # a name in any account and region: the partition, filtered
            return [r for r in self.by_kind(kind) if r.name.lower() == name.lower()]
        return list(self._query("GSI1", kind_partition(kind.value), sk_prefix=f"{_where(at)}{name.lower()}#"))

    def by_space(self, space_arn: str) -> list[Resource]:
        return self._named("GSI3", space_partition(space_arn))

    def by_owner(self, owner_key: str, outside_spaces: bool = False) -> list[Resource]:
        # GSI2 projects IN_SPACE: what belongs to another space is left unread.
        def wanted(item: dict[str, Any]) -> bool:
            kind = item["GSI2SK"]["S"].split("#")[1]  # RES#<kind> (RES#<kind>#<arn> as first written)
            return not outside_spaces or IN_SPACE not in item or kind == Kind.SPACE.value

        return self._named("GSI2", owner_partition(owner_key), sk_prefix=RESOURCE_PREFIX, wanted=wanted)

    def _named(
        self, index: str, pk: str, sk_prefix: str | None = None, wanted: Callable[[dict[str, Any]], bool] = bool
    ) -> list[Resource]:
        """The records an index's partition names (it carries their keys), read from the table, in its order."""
        keys = keys_of([item for item in self._items(index, pk, sk_prefix) if wanted(item)])
        held = {item["PK"]["S"]: _record(item) for item in batch_get(self._client, self._table, keys)}
        return [held[key["PK"]["S"]] for key in keys if key["PK"]["S"] in held]

    def history(self, arn: str) -> list[dict[str, Any]]:
        pages = self._client.get_paginator("query").paginate(
            TableName=self._table,
            KeyConditionExpression="PK = :pk AND begins_with(SK, :sk)",
            ExpressionAttributeValues={":pk": {"S": RESOURCE_PREFIX + arn}, ":sk": {"S": HISTORY_PREFIX}},
        )
        return [json.loads(item["doc"]["S"]) for page in pages for item in page["Items"]]

    def _query(self, index: str, pk: str, sk_prefix: str | None = None) -> Iterator[Resource]:
        for item in self._items(index, pk, sk_prefix):
            yield _record(item)

    def _items(self, index: str, pk: str, sk_prefix: str | None = None) -> Iterator[dict[str, Any]]:
        condition = f"{index}PK = :pk"
        values = {":pk": {"S": pk}}
        if sk_prefix:
            condition += f" AND begins_with({index}SK, :sk)"
            values[":sk"] = {"S": sk_prefix}
        pages = self._client.get_paginator("query").paginate(
            TableName=self._table,
            IndexName=index,
            KeyConditionExpression=condition,
            ExpressionAttributeValues=values,
        )
        for page in pages:
            yield from page["Items"]


# A record that belongs to a space says so on its item (GSI2 projects it: an owner's records outside their
# spaces are read without the rest).
IN_SPACE = "in_space"


def _record(item: dict[str, Any]) -> Resource:
    doc = json.loads(item["doc"]["S"])
    doc.setdefault("arn", item["PK"]["S"].removeprefix(RESOURCE_PREFIX))  # the key says it once
    if VERSIONS_BY_SOURCE in doc:
        grouped: dict[str, list[str]] = doc.pop(VERSIONS_BY_SOURCE)
        doc["versions"] = {slot: version for version, slots in grouped.items() for slot in slots}
    return Resource.model_validate(doc)


# How a stored record keeps its versions: each observation's version once, with the fields (slots) it set. A
# sweep sets most fields of a record at once, so this is about as large as the slots' names, where one version
# per slot was half the item. Records stored with one version per slot ("versions") read as they always did.
VERSIONS_BY_SOURCE = "versions_by_source"


def _doc(record: Resource) -> str:
    """A record as its item's ``doc``: what differs from the defaults (absent reads back as the default; the
    ARN is the item's key), and its versions grouped by the observation that set them."""
    doc = record.model_dump(mode="json", exclude_defaults=True, exclude={"arn"})
    grouped: dict[str, list[str]] = {}
    for slot, version in sorted(doc.pop("versions", {}).items()):
        grouped.setdefault(version, []).append(slot)
    if grouped:
        doc[VERSIONS_BY_SOURCE] = grouped
    return json.dumps(doc, separators=(",", ":"))


def _where(at: Location | None) -> str | None:
    return located(at.account, at.region) if at else None


def _item(record: Resource) -> dict[str, Any]:
    item: dict[str, Any] = resource_key(record.arn) | {
        "type": {"S": "resource"},
        "kind": {"S": record.kind.value},
        "revision": {"N": str(record.revision)},
        "doc": {"S": _doc(record)},
        "GSI1PK": {"S": kind_partition(record.kind.value)},
        "GSI1SK": {"S": f"{located(record.account, record.region)}{record.name.lower()}#{record.arn}"},
    }
    if record.state:
        item["state"] = {"S": record.state}
    owner_key = record.owner_arn or record.owner
    if owner_key:
        item["owner"] = {"S": record.owner or owner_key}
        item["GSI2PK"] = {"S": owner_partition(owner_key)}
        # Not unique, and need not be: the index's readers want the keys (PK), by kind at most.
        item["GSI2SK"] = {"S": f"{RESOURCE_PREFIX}{record.kind.value}"}
    if record.space_arn:
        item[IN_SPACE] = {"BOOL": True}
        item["GSI3PK"] = {"S": space_partition(record.space_arn)}
        item["GSI3SK"] = {"S": record.kind.value}
    if is_gone(record.state) and record.deleted_at:
        item["expires_at"] = {"N": str(epoch(record.deleted_at + GONE_RETENTION))}
    return item


def _history_put(table: str, record: Resource, entry: HistoryEntry) -> dict[str, Any]:
    doc = {
        "arn": record.arn,
        "at": entry.at.isoformat(),
        "origin": entry.origin,
        "state_before": entry.state_before,
        "state_after": entry.state_after,
        "owner": record.owner,
    }
    item = item_key(RESOURCE_PREFIX + record.arn, HISTORY_PREFIX + entry.version) | {
        "type": {"S": "history"},
        "doc": {"S": json.dumps(doc)},
        "expires_at": {"N": str(epoch(entry.at + HISTORY_RETENTION))},
    }
    return {"TableName": table, "Item": item}
