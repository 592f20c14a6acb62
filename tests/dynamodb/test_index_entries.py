"""An item's index entries follow it through replacements, whatever indexes its table had before.

A put into a table without secondary indexes skips deleting index entries (none of its items has any);
these tests catch an entry left behind by a replacement: the index would list the item under a key it no
longer has, or twice.
"""

from __future__ import annotations

from typing import Any

TABLE = "entries"
INDEX = "by_g"


def create(ddb: Any, *, indexed: bool) -> None:
    extra: dict[str, Any] = {}
    attributes = [{"AttributeName": "id", "AttributeType": "S"}]
    if indexed:
        attributes.append({"AttributeName": "g", "AttributeType": "S"})
        extra["GlobalSecondaryIndexes"] = [{"IndexName": INDEX, "KeySchema": [{"AttributeName": "g", "KeyType": "HASH"}],
                                            "Projection": {"ProjectionType": "ALL"}}]
    ddb.create_table(TableName=TABLE, BillingMode="PAY_PER_REQUEST",
                     AttributeDefinitions=attributes, KeySchema=[{"AttributeName": "id", "KeyType": "HASH"}], **extra)


def index_pairs(ddb: Any) -> list[tuple[str, str]]:
    """(id, g) of every item the index lists, as many times as it lists it."""
    pages = ddb.get_paginator("scan").paginate(TableName=TABLE, IndexName=INDEX)
    return sorted((i["id"]["S"], i["g"]["S"]) for page in pages for i in page["Items"])


def listed_under(ddb: Any, g: str) -> list[str]:
    found = ddb.query(TableName=TABLE, IndexName=INDEX, KeyConditionExpression="g = :g",
                      ExpressionAttributeValues={":g": {"S": g}})["Items"]
    return [i["id"]["S"] for i in found]


def add_index(ddb: Any) -> None:
    ddb.update_table(TableName=TABLE, AttributeDefinitions=[{"AttributeName": "g", "AttributeType": "S"}],
                     GlobalSecondaryIndexUpdates=[{"Create": {
                         "IndexName": INDEX, "KeySchema": [{"AttributeName": "g", "KeyType": "HASH"}],
                         "Projection": {"ProjectionType": "ALL"}}}])


def test_a_replaced_item_leaves_its_old_index_key(ddb: Any) -> None:
    create(ddb, indexed=True)
    ddb.put_item(TableName=TABLE, Item={"id": {"S": "a"}, "g": {"S": "old"}})
    ddb.put_item(TableName=TABLE, Item={"id": {"S": "a"}, "g": {"S": "new"}})
    ddb.put_item(TableName=TABLE, Item={"id": {"S": "b"}, "g": {"S": "old"}})
    ddb.put_item(TableName=TABLE, Item={"id": {"S": "b"}, "other": {"S": "no index key"}})  # out of the index
    assert listed_under(ddb, "old") == []
    assert index_pairs(ddb) == [("a", "new")]


def test_items_put_before_an_index_existed_are_replaced_in_it_whole(ddb: Any) -> None:
    create(ddb, indexed=False)
    for n in range(3):
        ddb.put_item(TableName=TABLE, Item={"id": {"S": f"item-{n}"}, "g": {"S": "before"}})
    add_index(ddb)
    assert index_pairs(ddb) == [(f"item-{n}", "before") for n in range(3)]
    ddb.put_item(TableName=TABLE, Item={"id": {"S": "item-0"}, "g": {"S": "after"}})
    ddb.batch_write_item(RequestItems={TABLE: [{"PutRequest": {"Item": {"id": {"S": "item-1"}, "g": {"S": "after"}}}}]})
    ddb.transact_write_items(TransactItems=[{"Put": {"TableName": TABLE,
                                                     "Item": {"id": {"S": "item-2"}, "g": {"S": "after"}}}}])
    assert listed_under(ddb, "before") == []
    assert index_pairs(ddb) == [(f"item-{n}", "after") for n in range(3)]


def test_an_index_dropped_and_made_again_lists_each_item_once(ddb: Any) -> None:
    create(ddb, indexed=True)
    ddb.put_item(TableName=TABLE, Item={"id": {"S": "a"}, "g": {"S": "first"}})
    ddb.update_table(TableName=TABLE, GlobalSecondaryIndexUpdates=[{"Delete": {"IndexName": INDEX}}])
    ddb.put_item(TableName=TABLE, Item={"id": {"S": "a"}, "g": {"S": "second"}})  # a table without indexes now
    add_index(ddb)
    ddb.put_item(TableName=TABLE, Item={"id": {"S": "a"}, "g": {"S": "third"}})
    assert index_pairs(ddb) == [("a", "third")]
    ddb.delete_item(TableName=TABLE, Key={"id": {"S": "a"}})
    assert index_pairs(ddb) == []
