"""The simulation's faster moto Query (guardian_sandbox.dynamodb_queries) answers exactly as moto does: the
same items, in the same order, page by page, on the table's key and on its indexes."""

from hypothesis import given, settings
from hypothesis import strategies as st

from guardian_sandbox import dynamodb_queries, embedded
from guardian_sandbox.stack import SandboxStack

PARTITIONS = ["FINDINGS#open", "FINDINGS#notified", "KIND#endpoint", "HELD"]
items = st.lists(
    st.fixed_dictionaries(
        {
            "PK": st.sampled_from(PARTITIONS),
            "SK": st.text("abc#0123", min_size=1, max_size=6),
            "GSI1PK": st.sampled_from(PARTITIONS),
            "GSI1SK": st.text("xyz#789", min_size=1, max_size=6),
        }
    ),
    max_size=25,
)
queries = st.fixed_dictionaries(
    {
        "index": st.sampled_from([None, "GSI1"]),
        "partition": st.sampled_from(PARTITIONS),
        "after": st.none() | st.text("abcxyz#", min_size=1, max_size=3),
        "forward": st.booleans(),
        "limit": st.integers(1, 7),
    }
)


def _pages(client, table: str, query: dict) -> list[list[dict]]:
    key, sort = ("GSI1PK", "GSI1SK") if query["index"] else ("PK", "SK")
    request = {
        "TableName": table,
        "KeyConditionExpression": f"{key} = :pk" + (f" AND {sort} >= :after" if query["after"] else ""),
        "ExpressionAttributeValues": {":pk": {"S": query["partition"]}}
        | ({":after": {"S": query["after"]}} if query["after"] else {}),
        "ScanIndexForward": query["forward"],
        "Limit": query["limit"],
    }
    if query["index"]:
        request["IndexName"] = query["index"]
    pages = []
    while True:
        page = client.query(**request)
        pages.append(page["Items"])
        if "LastEvaluatedKey" not in page:
            return pages
        request["ExclusiveStartKey"] = page["LastEvaluatedKey"]


@settings(max_examples=15, deadline=None)
@given(written=items, asked=st.lists(queries, min_size=1, max_size=4))
def test_the_faster_query_answers_as_moto_does(written, asked):
    with embedded() as clients:
        stack = SandboxStack(clients).deploy()
        dynamodb = clients("dynamodb")
        for item in written:
            dynamodb.put_item(TableName=stack.table_name, Item={name: {"S": value} for name, value in item.items()})
        for query in asked:
            expected = _pages(dynamodb, stack.table_name, query)
            with dynamodb_queries.installed():
                assert _pages(dynamodb, stack.table_name, query) == expected
