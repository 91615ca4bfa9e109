"""moto's TransactWriteItems, made affordable at scale. moto deep-copies every table a transaction names
(stream records included) so it can roll a failed one back: a sweep that writes a finding with its
audit trail into a 15,000-item table copies the table each time. Here the same all-or-nothing outcome
keeps only what the transaction can change: the items it names, and the length of the table's stream."""

import copy
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from moto.dynamodb.models import DynamoDBBackend
from moto.dynamodb.models.dynamo_type import DynamoType
from moto.dynamodb.models.table import Table

_lock = threading.Lock()


def install() -> None:
    if getattr(DynamoDBBackend.transact_write_items, "_sandbox", False):
        return
    original = DynamoDBBackend.transact_write_items

    def transact_write_items(self: DynamoDBBackend, transact_items: list[dict[str, Any]]) -> None:
        with _lock:
            saved = _named_items(self, transact_items)
            streams = {t.name: len(t.stream_shard.items) for t, _, _, _ in saved if t.stream_shard is not None}
            try:
                with _tables_not_copied():
                    return original(self, transact_items)
            except Exception:
                for table, hash_key, range_key, before in saved:
                    _restore(table, hash_key, range_key, before)
                for table, _, _, _ in saved:
                    if table.name in streams:
                        del table.stream_shard.items[streams[table.name] :]
                raise

    transact_write_items._sandbox = True  # type: ignore[attr-defined]
    DynamoDBBackend.transact_write_items = transact_write_items  # type: ignore[method-assign]


def _named_items(backend: DynamoDBBackend, transact_items: list[dict[str, Any]]) -> list[tuple]:
    saved = []
    for entry in transact_items:
        try:
            _, op = next(iter(entry.items()))
            table = backend.tables[op["TableName"]]
            key = op.get("Item") or op["Key"]
            hash_key = DynamoType(key[table.hash_key_attr])
            range_key = DynamoType(key[table.range_key_attr]) if table.range_key_attr else None
        except (KeyError, StopIteration, AttributeError):
            continue  # moto rejects it, and nothing is written
        saved.append((table, hash_key, range_key, copy.deepcopy(table.get_item(hash_key, range_key))))
    return saved


def _restore(table: Table, hash_key: DynamoType, range_key: DynamoType | None, before: Any) -> None:
    if range_key is None:
        if before is None:
            table.items.pop(hash_key, None)
        else:
            table.items[hash_key] = before
        return
    if before is None:
        table.items.get(hash_key, {}).pop(range_key, None)
    else:
        table.items[hash_key][range_key] = before


@contextmanager
def _tables_not_copied() -> Iterator[None]:
    """moto's own backup of each table becomes the table itself; the items named are restored above."""
    Table.__deepcopy__ = lambda self, memo: self  # type: ignore[attr-defined]
    try:
        yield
    finally:
        del Table.__deepcopy__  # type: ignore[attr-defined]
