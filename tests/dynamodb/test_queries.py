"""Query and Scan through boto3: key conditions, order, Limit and pages, filters, Select, indexes (GSI
pagination carrying the index's and the table's keys), parallel Scan segments."""

from __future__ import annotations

from typing import Any

from tests.dynamodb.test_tables import error, gsi, make_table


def fill(ddb: Any, name: str, count: int, **extra: Any) -> None:
    for i in range(count):
        ddb.put_item(TableName=name, Item={"pk": {"S": "p"}, "sk": {"N": str(i - 5)}, "g": {"S": f"g{i % 2}"},
                                           "v": {"S": f"value-{i}"}, **extra})


def query_all(ddb: Any, **kwargs: Any) -> list[dict[str, Any]]:
    items: list[dict[str, Any]] = []
    for page in ddb.get_paginator("query").paginate(**kwargs):
        items += page["Items"]
    return items


def test_query_key_conditions_order_and_pages(ddb: Any) -> None:
    make_table(ddb, "qry")
    fill(ddb, "qry", 12)  # sk from -5 to 6: numbers order by value, negatives first
    ddb.put_item(TableName="qry", Item={"pk": {"S": "other"}, "sk": {"N": "0"}})
    values = {":p": {"S": "p"}}
    every = ddb.query(TableName="qry", KeyConditionExpression="pk = :p", ExpressionAttributeValues=values)
    assert [i["sk"]["N"] for i in every["Items"]] == [str(n) for n in range(-5, 7)]
    assert every["Count"] == every["ScannedCount"] == 12 and "LastEvaluatedKey" not in every
    backwards = ddb.query(TableName="qry", KeyConditionExpression="pk = :p", ExpressionAttributeValues=values,
                          ScanIndexForward=False, Limit=3)
    assert [i["sk"]["N"] for i in backwards["Items"]] == ["6", "5", "4"]
    assert backwards["LastEvaluatedKey"] == {"pk": {"S": "p"}, "sk": {"N": "4"}}
    rest = ddb.query(TableName="qry", KeyConditionExpression="pk = :p", ExpressionAttributeValues=values,
                     ScanIndexForward=False, ExclusiveStartKey=backwards["LastEvaluatedKey"], Limit=2)
    assert [i["sk"]["N"] for i in rest["Items"]] == ["3", "2"]
    for expression, extra, expected in [
        ("pk = :p AND sk < :a", {":a": {"N": "-3"}}, ["-5", "-4"]),
        ("pk = :p AND sk <= :a", {":a": {"N": "-3"}}, ["-5", "-4", "-3"]),
        ("pk = :p AND sk > :a", {":a": {"N": "4"}}, ["5", "6"]),
        ("pk = :p AND sk >= :a", {":a": {"N": "4.5"}}, ["5", "6"]),
        ("pk = :p AND sk BETWEEN :a AND :b", {":a": {"N": "-1"}, ":b": {"N": "1"}}, ["-1", "0", "1"]),
        ("pk = :p AND sk = :a", {":a": {"N": "2"}}, ["2"]),
    ]:
        got = query_all(ddb, TableName="qry", KeyConditionExpression=expression,
                        ExpressionAttributeValues={**values, **extra}, PaginationConfig={"PageSize": 2})
        assert [i["sk"]["N"] for i in got] == expected, expression
    filtered = ddb.query(TableName="qry", KeyConditionExpression="pk = :p", FilterExpression="g = :g",
                         ExpressionAttributeValues={**values, ":g": {"S": "g0"}}, Limit=4)
    assert filtered["Count"] == 2 and filtered["ScannedCount"] == 4
    counted = ddb.query(TableName="qry", KeyConditionExpression="pk = :p", ExpressionAttributeValues=values,
                        Select="COUNT")
    assert counted["Count"] == 12 and "Items" not in counted
    specific = ddb.query(TableName="qry", KeyConditionExpression="pk = :p", ExpressionAttributeValues=values,
                         ProjectionExpression="v", Limit=1)
    assert specific["Items"] == [{"v": {"S": "value-0"}}]
    assert error(ddb.query, "ValidationException", TableName="qry", KeyConditionExpression="pk = :p",
                 ExpressionAttributeValues={":p": {"N": "1"}}) == \
        "One or more parameter values were invalid: Condition parameter type does not match schema type"
    assert error(ddb.query, "ValidationException", TableName="qry") == \
        "Either the KeyConditions or KeyConditionExpression parameter must be specified in the request."
    assert error(ddb.query, "ValidationException", TableName="qry", IndexName="nope", KeyConditionExpression="pk = :p",
                 ExpressionAttributeValues=values) == "The table does not have the specified index: nope"


def test_begins_with_on_strings(ddb: Any) -> None:
    ddb.create_table(TableName="str", BillingMode="PAY_PER_REQUEST",
                     AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"},
                                           {"AttributeName": "sk", "AttributeType": "S"}],
                     KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}, {"AttributeName": "sk", "KeyType": "RANGE"}])
    for sk in ["a", "ab", "abc", "abd", "b", "Z", "é"]:
        ddb.put_item(TableName="str", Item={"pk": {"S": "p"}, "sk": {"S": sk}})
    got = ddb.query(TableName="str", KeyConditionExpression="pk = :p AND begins_with(sk, :b)",
                    ExpressionAttributeValues={":p": {"S": "p"}, ":b": {"S": "ab"}}, ScanIndexForward=False)
    assert [i["sk"]["S"] for i in got["Items"]] == ["abd", "abc", "ab"]
    every = ddb.query(TableName="str", KeyConditionExpression="pk = :p", ExpressionAttributeValues={":p": {"S": "p"}})
    assert [i["sk"]["S"] for i in every["Items"]] == ["Z", "a", "ab", "abc", "abd", "b", "é"]  # UTF-8 byte order


def test_gsi_and_lsi_queries_page_with_both_keys(ddb: Any) -> None:
    make_table(ddb, "idx", GlobalSecondaryIndexes=[gsi("by-g", "g", {"ProjectionType": "KEYS_ONLY"})],
               LocalSecondaryIndexes=[{"IndexName": "by-v", "KeySchema": [
                   {"AttributeName": "pk", "KeyType": "HASH"}, {"AttributeName": "v", "KeyType": "RANGE"}],
                   "Projection": {"ProjectionType": "ALL"}}],
               more_attributes=[{"AttributeName": "g", "AttributeType": "S"},
                                {"AttributeName": "v", "AttributeType": "S"}])
    fill(ddb, "idx", 10)
    ddb.put_item(TableName="idx", Item={"pk": {"S": "sparse"}, "sk": {"N": "0"}})  # in no index
    page = ddb.query(TableName="idx", IndexName="by-g", KeyConditionExpression="g = :g",
                     ExpressionAttributeValues={":g": {"S": "g1"}}, Limit=2)
    assert page["LastEvaluatedKey"] == {"g": {"S": "g1"}, "pk": {"S": "p"}, "sk": {"N": "-2"}}
    assert page["Items"][0] == {"g": {"S": "g1"}, "pk": {"S": "p"}, "sk": {"N": "-4"}}  # KEYS_ONLY
    every = query_all(ddb, TableName="idx", IndexName="by-g", KeyConditionExpression="g = :g",
                      ExpressionAttributeValues={":g": {"S": "g1"}}, PaginationConfig={"PageSize": 2})
    assert [i["sk"]["N"] for i in every] == ["-4", "-2", "0", "2", "4"]
    assert error(ddb.query, "ValidationException", TableName="idx", IndexName="by-g", KeyConditionExpression="g = :g",
                 ExpressionAttributeValues={":g": {"S": "g1"}}, ConsistentRead=True) == \
        "Consistent reads are not supported on global secondary indexes"
    local = ddb.query(TableName="idx", IndexName="by-v", KeyConditionExpression="pk = :p AND v > :v",
                      ExpressionAttributeValues={":p": {"S": "p"}, ":v": {"S": "value-7"}})
    assert [i["v"]["S"] for i in local["Items"]] == ["value-8", "value-9"]
    assert local["Items"][0]["g"] == {"S": "g0"}  # ALL projection
    scanned = ddb.scan(TableName="idx", IndexName="by-g")
    assert scanned["Count"] == 10
    ddb.update_table(TableName="idx", AttributeDefinitions=[{"AttributeName": "v", "AttributeType": "S"}],
                     GlobalSecondaryIndexUpdates=[{"Create": gsi("by-v2", "v")}])
    backfilled = ddb.query(TableName="idx", IndexName="by-v2", KeyConditionExpression="v = :v",
                           ExpressionAttributeValues={":v": {"S": "value-3"}})
    assert [i["sk"]["N"] for i in backfilled["Items"]] == ["-2"]
    assert ddb.describe_table(TableName="idx")["Table"]["GlobalSecondaryIndexes"][0]["ItemCount"] in (10, 10)


def test_scan_segments_cover_the_table_once(ddb: Any) -> None:
    make_table(ddb, "scn", range_key=False)
    for i in range(60):
        ddb.put_item(TableName="scn", Item={"pk": {"S": f"k{i}"}, "n": {"N": str(i)}})
    seen: list[str] = []
    for segment in range(4):
        for page in ddb.get_paginator("scan").paginate(TableName="scn", Segment=segment, TotalSegments=4,
                                                       PaginationConfig={"PageSize": 7}):
            seen += [i["pk"]["S"] for i in page["Items"]]
    assert sorted(seen) == sorted(f"k{i}" for i in range(60))
    big = ddb.scan(TableName="scn", FilterExpression="n >= :n", ExpressionAttributeValues={":n": {"N": "50"}})
    assert big["Count"] == 10 and big["ScannedCount"] == 60
    assert error(ddb.scan, "ValidationException", TableName="scn", Segment=4, TotalSegments=4).startswith(
        "The Segment parameter is zero-based and must be less than parameter TotalSegments")


def test_one_megabyte_pages(ddb: Any) -> None:
    make_table(ddb, "meg", range_key=False)
    for i in range(6):
        ddb.put_item(TableName="meg", Item={"pk": {"S": f"k{i}"}, "data": {"S": "x" * 300_000}})
    first = ddb.scan(TableName="meg")
    assert first["Count"] == 4 and "LastEvaluatedKey" in first  # 4 x 300 KB crosses 1 MB
    second = ddb.scan(TableName="meg", ExclusiveStartKey=first["LastEvaluatedKey"])
    assert second["Count"] == 2 and "LastEvaluatedKey" not in second
