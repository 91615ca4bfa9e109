"""moto's Query, made affordable for a table that keeps growing. moto answers every Query by sorting the
whole table (``Table.all_items``) and comparing each item's key with the one asked for; a simulated week
of hourly sweeps queries a table of thousands of items thousands of times. Here a Query sees only the
items it could match: the partition asked for (the table's key), or the items whose index key attributes
hold the very strings asked for (a GSI's). moto then does exactly what it did, on fewer items, in the
same order, so the answer is the same."""

import contextlib
import inspect
from collections.abc import Iterator
from typing import Any

from moto.dynamodb.models.dynamo_type import DynamoType
from moto.dynamodb.models.table import Table

_KEY_TYPES = ("S", "B")  # keys compared as they are stored; a number (N) compares by value, so is left to moto


@contextlib.contextmanager
def installed() -> Iterator[None]:
    """moto's Query sees only the items it could match, for the length of the block."""
    original = Table.query
    if getattr(original, "_sandbox", False):  # already, by an enclosing block
        yield
        return
    signature = inspect.signature(original)

    def query(self: Table, *args: Any, **kwargs: Any) -> Any:
        bound = signature.bind(self, *args, **kwargs)
        candidates = _candidates(self, bound.arguments)
        if candidates is None:
            return original(self, *args, **kwargs)
        ordered = sorted(candidates, key=lambda x: (x.hash_key, x.range_key) if x.range_key else x.hash_key)
        self.all_items = lambda: ordered  # type: ignore[method-assign]  # this Query's view of the table
        try:
            return original(self, *args, **kwargs)
        finally:
            del self.all_items

    query._sandbox = True  # type: ignore[attr-defined]
    Table.query = query  # type: ignore[method-assign]
    try:
        yield
    finally:
        Table.query = original  # type: ignore[method-assign]


def _candidates(table: Table, arguments: dict[str, Any]) -> list[Any] | None:
    """The items the Query can match (a superset of its answer), or None to let moto look at all."""
    if arguments.get("index_name"):
        conditions = arguments.get("hash_key_conditions") or []
        if not conditions or any(value.type not in _KEY_TYPES for _, value in conditions):
            return None
        wanted = [(name, value.type, value.value) for name, value in conditions]
        return [item for item in _every_item(table) if all(_holds(item, *condition) for condition in wanted)]
    hash_key = arguments.get("hash_key")
    if not isinstance(hash_key, DynamoType):
        return None
    partition = table.items.get(hash_key)
    if partition is None:
        return []
    return list(partition.values()) if table.range_key_attr else [partition]


def _every_item(table: Table) -> list[Any]:
    if table.range_key_attr:
        return [item for partition in table.items.values() for item in partition.values()]
    return list(table.items.values())


def _holds(item: Any, name: str, kind: str, value: Any) -> bool:
    held = item.attrs.get(name)
    return held is not None and held.type == kind and held.value == value
