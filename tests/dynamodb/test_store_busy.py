"""A commit that waits past the store's busy timeout (another process holds the SQLite write lock).

DynamoDB answers a request it could not serve for now with a retryable 500 InternalServerError in its own
JSON shape (not an error of Conveyor's own), and nothing of the request is written: no item, no index
entry, no transaction token, no table change, here or after a restart.
"""

from __future__ import annotations

import functools
import json
from typing import Any

import requests
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.config import Config as BotoConfig
from botocore.credentials import Credentials

from tests.dynamodb.test_index_backfill import answer_in_thread
from tests.dynamodb.test_transaction_conflicts import write_lock

TABLE = "busy"
GSI = {"IndexName": "by_g", "KeySchema": [{"AttributeName": "g", "KeyType": "HASH"}],
       "Projection": {"ProjectionType": "KEYS_ONLY"}}
G_DEFINITION = [{"AttributeName": "g", "AttributeType": "S"}]


def bump(token: str) -> dict[str, Any]:
    return {"TransactItems": [{"Update": {"TableName": TABLE, "Key": {"id": {"S": "a"}},
                                          "UpdateExpression": "ADD n :one",
                                          "ExpressionAttributeValues": {":one": {"N": "1"}}}}],
            "ClientRequestToken": token}


def state(ddb: Any) -> tuple[Any, ...]:
    items = sorted(ddb.scan(TableName=TABLE, ConsistentRead=True)["Items"], key=lambda i: i["id"]["S"])
    table = ddb.describe_table(TableName=TABLE)["Table"]
    return items, table["ItemCount"], [i["IndexName"] for i in table.get("GlobalSecondaryIndexes", [])]


def test_a_commit_that_outwaits_the_busy_timeout_answers_internal_server_error_and_writes_nothing(
        start_server: Any) -> None:
    server = start_server()
    ddb = server.client("dynamodb", config=BotoConfig(retries={"total_max_attempts": 1}))
    ddb.create_table(TableName=TABLE, KeySchema=[{"AttributeName": "id", "KeyType": "HASH"}],
                     AttributeDefinitions=[{"AttributeName": "id", "AttributeType": "S"}],
                     BillingMode="PAY_PER_REQUEST")
    ddb.put_item(TableName=TABLE, Item={"id": {"S": "a"}, "n": {"N": "0"}, "g": {"S": "x"}})
    before = state(ddb)

    answers: dict[str, Any] = {}

    run = functools.partial(answer_in_thread, answers)

    with write_lock(server.data_dir):  # held past the 5 s busy timeout of each commit that waits for it
        threads = [run("put", ddb.put_item, TableName=TABLE, Item={"id": {"S": "b"}, "g": {"S": "y"}}),
                   run("transaction", ddb.transact_write_items, **bump("t1")),
                   run("index", ddb.update_table, TableName=TABLE, AttributeDefinitions=G_DEFINITION,
                       GlobalSecondaryIndexUpdates=[{"Create": GSI}])]
        for thread in threads:
            thread.join(timeout=30)
    for name in ("put", "transaction", "index"):
        response = answers[name]
        assert response.get("Error") == {"Code": "InternalServerError", "Message": "Internal server error"}, name
        assert response["ResponseMetadata"]["HTTPStatusCode"] == 500

    # Nothing of them was written, and the server's own state says the same as its disk.
    assert state(ddb) == before
    assert "Item" not in ddb.get_item(TableName=TABLE, Key={"id": {"S": "b"}}, ConsistentRead=True)
    # The token was never recorded nor left in flight: the same transaction runs now, once.
    ddb.transact_write_items(**bump("t1"))
    ddb.transact_write_items(**bump("t1"))
    assert ddb.get_item(TableName=TABLE, Key={"id": {"S": "a"}})["Item"]["n"] == {"N": "1"}
    # The index was not half made: asked again, it is made whole.
    ddb.update_table(TableName=TABLE, AttributeDefinitions=G_DEFINITION, GlobalSecondaryIndexUpdates=[{"Create": GSI}])
    ddb.put_item(TableName=TABLE, Item={"id": {"S": "b"}, "g": {"S": "y"}})
    keys = {i["id"]["S"] for i in ddb.scan(TableName=TABLE, IndexName="by_g")["Items"]}
    assert keys == {"a", "b"}
    after = state(ddb)

    server.stop()
    server.start()
    assert state(server.client("dynamodb")) == after


def test_the_raw_answer_is_dynamodbs_json_error(start_server: Any) -> None:
    """The wire shape a client without an SDK reads: JSON 1.0 with DynamoDB's __type, status 500."""
    server = start_server()
    ddb = server.client("dynamodb")
    ddb.create_table(TableName=TABLE, KeySchema=[{"AttributeName": "id", "KeyType": "HASH"}],
                     AttributeDefinitions=[{"AttributeName": "id", "AttributeType": "S"}],
                     BillingMode="PAY_PER_REQUEST")
    request = AWSRequest("POST", server.endpoint + "/",
                         data=json.dumps({"TableName": TABLE, "Item": {"id": {"S": "raw"}}}).encode(),
                         headers={"Content-Type": "application/x-amz-json-1.0",
                                  "X-Amz-Target": "DynamoDB_20120810.PutItem"})
    SigV4Auth(Credentials("test", "test"), "dynamodb", "us-east-1").add_auth(request)
    with write_lock(server.data_dir):
        answer = requests.post(request.url, data=request.body, headers=dict(request.headers), timeout=30)
    assert answer.status_code == 500
    assert answer.headers["Content-Type"] == "application/x-amz-json-1.0"
    assert answer.json() == {"__type": "com.amazonaws.dynamodb.v20120810#InternalServerError",
                             "message": "Internal server error"}
    assert "Item" not in ddb.get_item(TableName=TABLE, Key={"id": {"S": "raw"}}, ConsistentRead=True)
