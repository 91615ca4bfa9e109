"""The table's DynamoDB stream, read by a second consumer with a position of its own (a stream has room for
two readers: the notify function's event source mapping, and this). The embedded sandbox's stream is read
where moto keeps it, in this process: the simulation reads it after every invocation, and GetRecords would
serialize the whole of every new record each time only for this side to parse it back."""

from typing import Any

from moto.dynamodb.models import dynamodb_backends


class TableStream:
    def __init__(self, account: str, region: str, table_name: str) -> None:
        shard = dynamodb_backends[account][region].get_table(table_name).stream_shard
        if shard is None:
            raise ValueError(f"table {table_name} has no stream")
        self._shard = shard
        self._read = 0  # records read so far (a shard's records are only ever appended)

    def skip_to_end(self) -> None:
        """From now on, only what is written after this (what deploying wrote is nobody's story)."""
        self.new_images()

    def new_images(self) -> list[dict[str, Any]]:
        """The new image of every item written since last asked, in the order written, as GetRecords gives it."""
        fresh = self._shard.items[self._read :]
        self._read += len(fresh)
        return [r.record["dynamodb"]["NewImage"] for r in fresh if "NewImage" in r.record["dynamodb"]]
