"""The inventory in DynamoDB (see :mod:`guardian.table` for the keys)."""

import json
from collections.abc import Iterator
from typing import Any

from botocore.exceptions import ClientError

from guardian.inventory import Conflict, HistoryEntry
from guardian.kinds import Kind, is_gone
from guardian.resource import Resource
from guardian.table import (
    GONE_RETENTION,
    HISTORY_PREFIX,
    HISTORY_RETENTION,
    RESOURCE_PREFIX,
    epoch,
    item_key,
    kind_partition,
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

    def by_kind(self, kind: Kind) -> Iterator[Resource]:
        yield from self._query("GSI1", kind_partition(kind.value))

    def by_name(self, kind: Kind, name: str) -> list[Resource]:
        return list(self._query("GSI1", kind_partition(kind.value), sk_prefix=f"{name.lower()}#"))

    def by_space(self, space_arn: str) -> list[Resource]:
        return list(self._query("GSI3", space_partition(space_arn)))

    def by_owner(self, owner_key: str) -> list[Resource]:
        return list(self._query("GSI2", owner_partition(owner_key), sk_prefix=RESOURCE_PREFIX))

    def history(self, arn: str) -> list[dict[str, Any]]:
        pages = self._client.get_paginator("query").paginate(
            TableName=self._table,
            KeyConditionExpression="PK = :pk AND begins_with(SK, :sk)",
            ExpressionAttributeValues={":pk": {"S": RESOURCE_PREFIX + arn}, ":sk": {"S": HISTORY_PREFIX}},
        )
        return [json.loads(item["doc"]["S"]) for page in pages for item in page["Items"]]

    def _query(self, index: str, pk: str, sk_prefix: str | None = None) -> Iterator[Resource]:
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
            for item in page["Items"]:
                yield _record(item)


def _record(item: dict[str, Any]) -> Resource:
    return Resource.model_validate_json(item["doc"]["S"])


def _item(record: Resource) -> dict[str, Any]:
    item: dict[str, Any] = resource_key(record.arn) | {
        "type": {"S": "resource"},
        "kind": {"S": record.kind.value},
        "revision": {"N": str(record.revision)},
        "doc": {"S": record.model_dump_json()},
        "GSI1PK": {"S": kind_partition(record.kind.value)},
        "GSI1SK": {"S": f"{record.name.lower()}#{record.arn}"},
    }
    if record.state:
        item["state"] = {"S": record.state}
    owner_key = record.owner_arn or record.owner
    if owner_key:
        item["owner"] = {"S": record.owner or owner_key}
        item["GSI2PK"] = {"S": owner_partition(owner_key)}
        item["GSI2SK"] = {"S": f"{RESOURCE_PREFIX}{record.kind.value}#{record.arn}"}
    if record.space_arn:
        item["GSI3PK"] = {"S": space_partition(record.space_arn)}
        item["GSI3SK"] = {"S": f"{record.kind.value}#{record.arn}"}
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
