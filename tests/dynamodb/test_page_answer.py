"""Query's and Scan's answers on the wire: a page of whole items is sent with the items as the store keeps
them, and must be byte for byte what the codec writes for the same page. The codec's answer is the same
request with a filter that keeps every item (a filtered page is decoded and written by the codec), which
changes nothing else: Count, ScannedCount, LastEvaluatedKey and the capacity are the same.
"""

from __future__ import annotations

import base64
from typing import Any

from tests.dynamodb.test_get_item_answer import ITEM, call

KEEP_ALL = {"FilterExpression": "attribute_exists(#keep)", "ExpressionAttributeNames": {"#keep": "pk"}}


def table(endpoint: str, name: str, key_type: str = "S", **extra: Any) -> None:
    indexed = [{"AttributeName": "g", "AttributeType": "S"}] if extra else []
    call(endpoint, "CreateTable", {
        "TableName": name, "BillingMode": "PAY_PER_REQUEST",
        "AttributeDefinitions": [{"AttributeName": "pk", "AttributeType": key_type},
                                 {"AttributeName": "sk", "AttributeType": "N"}, *indexed],
        "KeySchema": [{"AttributeName": "pk", "KeyType": "HASH"}, {"AttributeName": "sk", "KeyType": "RANGE"}],
        **extra})


def same_as_codec(endpoint: str, operation: str, request: dict[str, Any]) -> dict[str, Any]:
    """The answer, checked against the codec's for the same page; its JSON."""
    answer = call(endpoint, operation, request)
    names = {**request.get("ExpressionAttributeNames", {}), **KEEP_ALL["ExpressionAttributeNames"]}
    codec = call(endpoint, operation, {**request, **KEEP_ALL, "ExpressionAttributeNames": names})
    assert answer.content == codec.content
    assert answer.headers["Content-Type"] == "application/x-amz-json-1.0"
    assert answer.headers["x-amzn-RequestId"]
    page: dict[str, Any] = answer.json()
    return page


def test_pages_of_whole_items_are_answered_as_the_codec_writes_them(endpoint: str) -> None:
    table(endpoint, "pages")
    for sk in range(5):
        call(endpoint, "PutItem", {"TableName": "pages", "Item": {**ITEM, "sk": {"N": f"{sk}.50"}}})
    query = {"TableName": "pages", "KeyConditionExpression": "pk = :p",
             "ExpressionAttributeValues": {":p": {"S": "p"}}}
    page = same_as_codec(endpoint, "Query", query)
    assert list(page) == ["Count", "ScannedCount", "Items"] and page["Count"] == page["ScannedCount"] == 5
    assert [i["sk"]["N"] for i in page["Items"]] == ["0.5", "1.5", "2.5", "3.5", "4.5"]
    assert page["Items"][0]["nested"]["M"]["list"]["L"][1] == {"B": "/w=="}
    limited = same_as_codec(endpoint, "Query", {**query, "Limit": 2, "ReturnConsumedCapacity": "TOTAL",
                                                "ScanIndexForward": False})
    assert list(limited) == ["Count", "ScannedCount", "Items", "LastEvaluatedKey", "ConsumedCapacity"]
    assert limited["LastEvaluatedKey"] == {"pk": {"S": "p"}, "sk": {"N": "3.5"}}
    following = same_as_codec(endpoint, "Query", {**query, "Limit": 2, "ScanIndexForward": False,
                                                  "ExclusiveStartKey": limited["LastEvaluatedKey"]})
    assert [i["sk"]["N"] for i in following["Items"]] == ["2.5", "1.5"]
    scanned = same_as_codec(endpoint, "Scan", {"TableName": "pages", "Limit": 3, "ReturnConsumedCapacity": "INDEXES",
                                               "ConsistentRead": True})
    assert scanned["Count"] == 3 and scanned["ConsumedCapacity"]["Table"] == {"CapacityUnits": 1.0}
    empty = same_as_codec(endpoint, "Query", {**query, "ExpressionAttributeValues": {":p": {"S": "none"}}})
    assert empty == {"Count": 0, "ScannedCount": 0, "Items": []}


def test_a_binary_key_in_the_last_evaluated_key(endpoint: str) -> None:
    table(endpoint, "binary_pages", "B")
    for sk in range(3):
        call(endpoint, "PutItem", {"TableName": "binary_pages", "Item": {"pk": {"B": "AP8="}, "sk": {"N": str(sk)}}})
    page = same_as_codec(endpoint, "Scan", {"TableName": "binary_pages", "Limit": 2})
    assert page["LastEvaluatedKey"] == {"pk": {"B": "AP8="}, "sk": {"N": "1"}}
    rest = same_as_codec(endpoint, "Scan", {"TableName": "binary_pages", "ExclusiveStartKey": page["LastEvaluatedKey"]})
    assert [base64.b64decode(i["pk"]["B"]) for i in rest["Items"]] == [b"\x00\xff"]


def test_items_beyond_ascii_counts_and_projections_are_written_by_the_codec(endpoint: str) -> None:
    table(endpoint, "codec_pages", GlobalSecondaryIndexes=[{
        "IndexName": "by_g", "KeySchema": [{"AttributeName": "g", "KeyType": "HASH"}],
        "Projection": {"ProjectionType": "KEYS_ONLY"}}])
    text = "\u2028 \x7f é 😀"
    call(endpoint, "PutItem", {"TableName": "codec_pages", "Item": {"pk": {"S": "p"}, "sk": {"N": "1"}, "g": {"S": "x"},
                                                                    "v": {"S": "plain"}}})
    call(endpoint, "PutItem", {"TableName": "codec_pages", "Item": {"pk": {"S": "p"}, "sk": {"N": "2"}, "g": {"S": "x"},
                                                                    "v": {"S": text}}})
    query = {"TableName": "codec_pages", "KeyConditionExpression": "pk = :p",
             "ExpressionAttributeValues": {":p": {"S": "p"}}}
    page = same_as_codec(endpoint, "Query", query)
    assert [i["v"]["S"] for i in page["Items"]] == ["plain", text]
    assert same_as_codec(endpoint, "Query", {**query, "Select": "COUNT"}) == {"Count": 2, "ScannedCount": 2}
    projected = same_as_codec(endpoint, "Query", {**query, "ProjectionExpression": "v"})
    assert projected["Items"] == [{"v": {"S": "plain"}}, {"v": {"S": text}}]
    index = same_as_codec(endpoint, "Query", {"TableName": "codec_pages", "IndexName": "by_g",
                                              "KeyConditionExpression": "g = :g",
                                              "ExpressionAttributeValues": {":g": {"S": "x"}}})
    assert [sorted(i) for i in index["Items"]] == [["g", "pk", "sk"], ["g", "pk", "sk"]]


def test_an_index_page_with_the_index_keys_in_its_last_evaluated_key(endpoint: str) -> None:
    table(endpoint, "index_pages", GlobalSecondaryIndexes=[{
        "IndexName": "by_g", "KeySchema": [{"AttributeName": "g", "KeyType": "HASH"}],
        "Projection": {"ProjectionType": "ALL"}}])
    for sk in range(3):
        call(endpoint, "PutItem", {"TableName": "index_pages",
                                   "Item": {"pk": {"S": f"p{sk}"}, "sk": {"N": str(sk)}, "g": {"S": "x"}}})
    query = {"TableName": "index_pages", "IndexName": "by_g", "KeyConditionExpression": "g = :g",
             "ExpressionAttributeValues": {":g": {"S": "x"}}, "Limit": 2}
    page = same_as_codec(endpoint, "Query", query)
    assert page["Count"] == 2 and set(page["LastEvaluatedKey"]) == {"g", "pk", "sk"}
    rest = same_as_codec(endpoint, "Query", {**query, "ExclusiveStartKey": page["LastEvaluatedKey"]})
    assert rest["Count"] == 1 and "LastEvaluatedKey" not in rest
    scanned = same_as_codec(endpoint, "Scan", {"TableName": "index_pages", "IndexName": "by_g", "Limit": 1})
    assert set(scanned["LastEvaluatedKey"]) == {"g", "pk", "sk"}
