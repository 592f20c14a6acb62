"""Writes to one item wait their turn: many clients at once updating, conditionally replacing and deleting
the same items through boto3 lose no update and never judge a condition against a state about to change
(the per-item locks of conveyor.services.dynamodb.catalog, taken without a lock object until a key is
contended, queue the rest in order)."""

from __future__ import annotations

import threading
import uuid
from typing import Any

from botocore.exceptions import ClientError

CLIENTS = 8
ROUNDS = 15


def run_all(target: Any) -> list[BaseException]:
    failures: list[BaseException] = []

    def guarded(i: int) -> None:
        try:
            target(i)
        except BaseException as error:  # reported by the test
            failures.append(error)

    threads = [threading.Thread(target=guarded, args=(i,)) for i in range(CLIENTS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    return failures


def test_concurrent_updates_of_one_item_lose_nothing(client: Any) -> None:
    table = f"locks-{uuid.uuid4().hex[:8]}"
    ddb = client("dynamodb")
    ddb.create_table(TableName=table, KeySchema=[{"AttributeName": "id", "KeyType": "HASH"}],
                     AttributeDefinitions=[{"AttributeName": "id", "AttributeType": "S"}], BillingMode="PAY_PER_REQUEST")
    ddb.put_item(TableName=table, Item={"id": {"S": "hot"}, "n": {"N": "0"}, "version": {"N": "0"}})

    def bump(i: int) -> None:
        own = client("dynamodb")
        for _ in range(ROUNDS):
            own.update_item(TableName=table, Key={"id": {"S": "hot"}}, UpdateExpression="ADD n :one",
                            ExpressionAttributeValues={":one": {"N": "1"}})

    assert run_all(bump) == []
    item = ddb.get_item(TableName=table, Key={"id": {"S": "hot"}}, ConsistentRead=True)["Item"]
    assert item["n"] == {"N": str(CLIENTS * ROUNDS)}

    # Optimistic locking: each client replaces the item only if the version it read is still there. Every
    # success moves the version by exactly one, so the final version counts the successes: no two
    # clients can both win on one version.
    wins = [0] * CLIENTS

    def replace(i: int) -> None:
        own = client("dynamodb")
        for _ in range(ROUNDS):
            seen = own.get_item(TableName=table, Key={"id": {"S": "hot"}}, ConsistentRead=True)["Item"]["version"]["N"]
            try:
                own.put_item(TableName=table, Item={"id": {"S": "hot"}, "n": {"N": "0"},
                                                    "version": {"N": str(int(seen) + 1)}, "by": {"N": str(i)}},
                             ConditionExpression="version = :seen", ExpressionAttributeValues={":seen": {"N": seen}})
                wins[i] += 1
            except ClientError as error:
                assert error.response["Error"]["Code"] == "ConditionalCheckFailedException"

    assert run_all(replace) == []
    item = ddb.get_item(TableName=table, Key={"id": {"S": "hot"}}, ConsistentRead=True)["Item"]
    assert int(item["version"]["N"]) == sum(wins) > 0

    # Deletes of one item racing: exactly one finds it (ReturnValues ALL_OLD), the others find nothing.
    found: list[int] = []

    def delete(i: int) -> None:
        own = client("dynamodb")
        old = own.delete_item(TableName=table, Key={"id": {"S": "hot"}}, ReturnValues="ALL_OLD")
        if "Attributes" in old:
            found.append(i)

    assert run_all(delete) == []
    assert len(found) == 1
    assert "Item" not in ddb.get_item(TableName=table, Key={"id": {"S": "hot"}}, ConsistentRead=True)
