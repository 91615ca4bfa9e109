"""The sandbox's TransactWriteItems (moto's, without its whole-table copy): still all or nothing. A
transaction whose condition fails leaves no item it named written, and nothing in the table's stream."""

import pytest
from botocore.exceptions import ClientError


def test_a_cancelled_transaction_writes_nothing_and_streams_nothing(stack):
    dynamodb, table = stack.clients("dynamodb"), stack.table_name
    dynamodb.put_item(TableName=table, Item={"PK": {"S": "A"}, "SK": {"S": "1"}, "v": {"N": "1"}})
    before = stack.stream_batch()  # the stream up to now, read (and skipped)
    assert before == []  # items without type=finding are filtered out for notify, as the template says
    with pytest.raises(ClientError) as failure:
        dynamodb.transact_write_items(
            TransactItems=[
                {"Put": {"TableName": table, "Item": {"PK": {"S": "B"}, "SK": {"S": "1"}}}},
                {
                    "Put": {
                        "TableName": table,
                        "Item": {"PK": {"S": "A"}, "SK": {"S": "1"}, "v": {"N": "2"}},
                        "ConditionExpression": "v = :expected",
                        "ExpressionAttributeValues": {":expected": {"N": "7"}},
                    }
                },
            ]
        )
    assert failure.value.response["Error"]["Code"] == "TransactionCanceledException"
    assert "Item" not in dynamodb.get_item(TableName=table, Key={"PK": {"S": "B"}, "SK": {"S": "1"}})
    kept = dynamodb.get_item(TableName=table, Key={"PK": {"S": "A"}, "SK": {"S": "1"}})["Item"]
    assert kept["v"] == {"N": "1"}
    streams = stack.clients("dynamodbstreams")
    arn = dynamodb.describe_table(TableName=table)["Table"]["LatestStreamArn"]
    shard = streams.describe_stream(StreamArn=arn)["StreamDescription"]["Shards"][0]["ShardId"]
    iterator = streams.get_shard_iterator(StreamArn=arn, ShardId=shard, ShardIteratorType="TRIM_HORIZON")
    records = streams.get_records(ShardIterator=iterator["ShardIterator"])["Records"]
    assert [r["dynamodb"]["Keys"]["PK"]["S"] for r in records] == ["A"]  # the first put only


def test_a_transaction_that_succeeds_writes_every_item(stack):
    dynamodb, table = stack.clients("dynamodb"), stack.table_name
    dynamodb.transact_write_items(
        TransactItems=[
            {"Put": {"TableName": table, "Item": {"PK": {"S": key}, "SK": {"S": "1"}}}} for key in ("C", "D")
        ]
    )
    for key in ("C", "D"):
        assert "Item" in dynamodb.get_item(TableName=table, Key={"PK": {"S": key}, "SK": {"S": "1"}})
