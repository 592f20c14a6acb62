"""GetItem's answer on the wire: a whole item is sent as the store keeps it, and must be byte for byte what
the codec writes for the same item (the answer of a GetItem that reports its capacity, which goes through
the codec), with the codec's headers; an item with characters outside ASCII is written by the codec.
"""

from __future__ import annotations

import json
from typing import Any

import requests
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

TABLE = "answers"

ITEM: dict[str, Any] = {
    "pk": {"S": "p"}, "sk": {"N": "-12.5"},
    "text": {"S": 'quote " backslash \\ newline \n tab \t bell \x07 slash /'},
    "blob": {"B": "AAEC/w=="}, "blobs": {"BS": ["AQ==", "Ag=="]},
    "count": {"N": "1E+3"}, "numbers": {"NS": ["1", "2.50"]}, "names": {"SS": ["x", "y"]},
    "flag": {"BOOL": False}, "nothing": {"NULL": True}, "empty": {"S": ""},
    "nested": {"M": {"list": {"L": [{"N": "0.10"}, {"B": "/w=="}, {"M": {}}, {"L": []}]}, "s": {"S": "in"}}},
}


def call(endpoint: str, operation: str, payload: dict[str, Any]) -> requests.Response:
    request = AWSRequest("POST", endpoint + "/", data=json.dumps(payload).encode(),
                         headers={"Content-Type": "application/x-amz-json-1.0",
                                  "X-Amz-Target": f"DynamoDB_20120810.{operation}"})
    SigV4Auth(Credentials("test", "test"), "dynamodb", "us-east-1").add_auth(request)
    answer = requests.post(request.url, data=request.body, headers=dict(request.headers), timeout=30)
    assert answer.status_code == 200, answer.text
    return answer


def codec_body(endpoint: str, key: dict[str, Any]) -> bytes:
    """What the codec writes for the item: the answer with its capacity, without the capacity."""
    answer = call(endpoint, "GetItem", {"TableName": TABLE, "Key": key, "ReturnConsumedCapacity": "TOTAL"}).json()
    del answer["ConsumedCapacity"]
    return json.dumps(answer, separators=(",", ":")).encode()


def setup(endpoint: str) -> None:
    call(endpoint, "CreateTable", {
        "TableName": TABLE, "BillingMode": "PAY_PER_REQUEST",
        "AttributeDefinitions": [{"AttributeName": "pk", "AttributeType": "S"}, {"AttributeName": "sk", "AttributeType": "N"}],
        "KeySchema": [{"AttributeName": "pk", "KeyType": "HASH"}, {"AttributeName": "sk", "KeyType": "RANGE"}]})


def test_a_whole_item_is_answered_as_the_codec_writes_it(endpoint: str, ddb: Any) -> None:
    setup(endpoint)
    call(endpoint, "PutItem", {"TableName": TABLE, "Item": ITEM})
    key = {"pk": {"S": "p"}, "sk": {"N": "-12.50"}}  # the key as the client writes it, not as it is stored
    for extra in ({}, {"ConsistentRead": True}, {"ReturnConsumedCapacity": "NONE"}):
        answer = call(endpoint, "GetItem", {"TableName": TABLE, "Key": key, **extra})
        assert answer.content == codec_body(endpoint, key)
        assert answer.headers["Content-Type"] == "application/x-amz-json-1.0"
        assert answer.headers["x-amzn-RequestId"]
    got = ddb.get_item(TableName=TABLE, Key={"pk": {"S": "p"}, "sk": {"N": "-12.5"}})["Item"]
    assert got["blob"] == {"B": b"\x00\x01\x02\xff"} and got["count"] == {"N": "1000"}
    assert got["nested"]["M"]["list"]["L"][0] == {"N": "0.1"} and got["numbers"] == {"NS": ["1", "2.5"]}
    assert set(got) == set(ITEM)


def test_an_item_beyond_ascii_and_a_missing_one(endpoint: str, ddb: Any) -> None:
    setup(endpoint)
    ddb.put_item(TableName=TABLE, Item={"pk": {"S": "ü"}, "sk": {"N": "1"}, "v": {"S": "\u2028 \x7f é 😀"}})
    key = {"pk": {"S": "ü"}, "sk": {"N": "1"}}
    answer = call(endpoint, "GetItem", {"TableName": TABLE, "Key": key})
    assert answer.content == codec_body(endpoint, key)
    assert answer.json()["Item"]["v"] == {"S": "\u2028 \x7f é 😀"}
    missing = call(endpoint, "GetItem", {"TableName": TABLE, "Key": {"pk": {"S": "none"}, "sk": {"N": "1"}}})
    assert missing.content == b"{}" and missing.headers["Content-Type"] == "application/x-amz-json-1.0"
    assert ddb.get_item(TableName=TABLE, Key={"pk": {"S": "none"}, "sk": {"N": "1"}}).keys() == {"ResponseMetadata"}
