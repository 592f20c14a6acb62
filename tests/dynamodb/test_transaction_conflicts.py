"""Transaction conflicts through boto3, on a real overlap: a TransactWriteItems is held in flight (its commit
waits while this test holds the database's write lock from another connection, as a slow disk would make
it wait), and meanwhile single-item writes of its items fail with TransactionConflictException, a second
transaction on one of its items is cancelled with a TransactionConflict reason, and a TransactGetItems of
its items is cancelled too, while plain reads still see the committed items. Once the lock goes, the first
transaction commits whole and the items take writes again.
https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/transaction-apis.html#transaction-conflict-handling
"""

from __future__ import annotations

import threading
import time
from contextlib import AbstractContextManager
from pathlib import Path
from typing import Any

import pytest
from botocore.exceptions import ClientError

from tests import helpers

CONFLICT = "Transaction is ongoing for the item"


def cancelled(call: Any, **kwargs: Any) -> list[dict[str, Any]]:
    with pytest.raises(ClientError) as caught:
        call(**kwargs)
    response = caught.value.response
    assert response["Error"]["Code"] == "TransactionCanceledException", response
    return list(response["CancellationReasons"])


def write_lock(data_dir: Path) -> AbstractContextManager[None]:
    """Hold the DynamoDB store's write lock from another connection, so a write stays in flight until it goes."""
    [path] = list(data_dir.rglob("dynamodb.db"))
    return helpers.write_lock(path)


def test_a_transaction_in_flight_conflicts_with_writes_and_transactions_on_its_items(start_server: Any) -> None:
    server = start_server()
    ddb = server.client("dynamodb")
    ddb.create_table(TableName="conflicts", KeySchema=[{"AttributeName": "id", "KeyType": "HASH"}],
                     AttributeDefinitions=[{"AttributeName": "id", "AttributeType": "S"}],
                     BillingMode="PAY_PER_REQUEST")
    for name in ("a", "b"):
        ddb.put_item(TableName="conflicts", Item={"id": {"S": name}, "n": {"N": "0"}})

    def bump(name: str) -> dict[str, Any]:
        return {"Update": {"TableName": "conflicts", "Key": {"id": {"S": name}}, "UpdateExpression": "ADD n :one",
                           "ExpressionAttributeValues": {":one": {"N": "1"}}}}

    outcome: dict[str, Any] = {}

    def first_transaction() -> None:
        try:
            outcome["answer"] = ddb.transact_write_items(TransactItems=[bump("a"), bump("b")], ClientRequestToken="t1")
        except Exception as error:  # reported below
            outcome["error"] = error

    get_a = {"Get": {"TableName": "conflicts", "Key": {"id": {"S": "a"}}}}
    with write_lock(server.data_dir):
        runner = threading.Thread(target=first_transaction)
        runner.start()
        # The first transaction is in flight once a TransactGetItems of its item is cancelled.
        deadline = time.monotonic() + 3
        while True:
            try:
                ddb.transact_get_items(TransactItems=[get_a])
            except ClientError as error:
                assert error.response["CancellationReasons"] == [{"Code": "TransactionConflict", "Message": CONFLICT}]
                break
            assert time.monotonic() < deadline, "the transaction never came in flight"
            time.sleep(0.01)
        for call, kwargs in [
            (ddb.put_item, {"Item": {"id": {"S": "a"}, "n": {"N": "9"}}}),
            (ddb.update_item, {"Key": {"id": {"S": "b"}}, "UpdateExpression": "SET n = :n",
                               "ExpressionAttributeValues": {":n": {"N": "9"}}}),
            (ddb.delete_item, {"Key": {"id": {"S": "a"}}}),
        ]:
            with pytest.raises(ClientError) as caught:
                call(TableName="conflicts", **kwargs)
            assert caught.value.response["Error"] == {"Code": "TransactionConflictException", "Message": CONFLICT}
        # the same request again (an SDK's retry) is told the first is still in flight
        with pytest.raises(ClientError) as caught:
            ddb.transact_write_items(TransactItems=[bump("a"), bump("b")], ClientRequestToken="t1")
        assert caught.value.response["Error"] == {
            "Code": "TransactionInProgressException",
            "Message": "The transaction with the given request token is already in progress"}
        reasons = cancelled(ddb.transact_write_items, TransactItems=[
            {"Put": {"TableName": "conflicts", "Item": {"id": {"S": "c"}}}}, bump("b")])
        assert reasons == [{"Code": "None"}, {"Code": "TransactionConflict", "Message": CONFLICT}]
        # plain reads see the committed items meanwhile
        assert ddb.get_item(TableName="conflicts", Key={"id": {"S": "a"}})["Item"]["n"] == {"N": "0"}
        assert "error" not in outcome and "answer" not in outcome
    runner.join(timeout=30)
    assert "error" not in outcome, outcome.get("error")
    items = {i["id"]["S"]: i["n"]["N"] for i in ddb.scan(TableName="conflicts", ConsistentRead=True)["Items"]}
    assert items == {"a": "1", "b": "1"}  # the first transaction whole; nothing of the refused requests
    ddb.transact_write_items(TransactItems=[bump("a"), bump("b")], ClientRequestToken="t1")  # done: idempotent
    assert ddb.get_item(TableName="conflicts", Key={"id": {"S": "b"}}, ConsistentRead=True)["Item"]["n"] == {"N": "1"}
    ddb.put_item(TableName="conflicts", Item={"id": {"S": "a"}, "n": {"N": "5"}})
    ddb.transact_write_items(TransactItems=[bump("a"), bump("b")])
    assert ddb.transact_get_items(TransactItems=[get_a])["Responses"][0]["Item"]["n"] == {"N": "6"}


def test_a_transactional_read_conflicts_with_a_single_write_in_flight(start_server: Any) -> None:
    server = start_server()
    ddb = server.client("dynamodb")
    ddb.create_table(TableName="reads", KeySchema=[{"AttributeName": "id", "KeyType": "HASH"}],
                     AttributeDefinitions=[{"AttributeName": "id", "AttributeType": "S"}],
                     BillingMode="PAY_PER_REQUEST")
    ddb.put_item(TableName="reads", Item={"id": {"S": "a"}, "v": {"S": "old"}})
    gets = [{"Get": {"TableName": "reads", "Key": {"id": {"S": name}}}} for name in ("b", "a")]
    errors: list[Exception] = []

    def write() -> None:
        try:
            ddb.put_item(TableName="reads", Item={"id": {"S": "a"}, "v": {"S": "new"}})
        except Exception as error:  # reported below
            errors.append(error)

    with write_lock(server.data_dir):
        runner = threading.Thread(target=write)
        runner.start()
        deadline = time.monotonic() + 3
        while True:
            try:
                answer = ddb.transact_get_items(TransactItems=gets)
                assert answer["Responses"][1]["Item"]["v"] == {"S": "old"}  # not in flight yet
            except ClientError as error:
                assert error.response["Error"]["Code"] == "TransactionCanceledException"
                assert error.response["CancellationReasons"] == [
                    {"Code": "None"}, {"Code": "TransactionConflict", "Message": CONFLICT}]
                break
            assert time.monotonic() < deadline, "the write never came in flight"
            time.sleep(0.01)
    runner.join(timeout=30)
    assert not errors
    assert ddb.transact_get_items(TransactItems=gets)["Responses"][1]["Item"]["v"] == {"S": "new"}


def test_a_batch_write_hands_back_the_items_of_a_transaction_in_flight(start_server: Any) -> None:
    """Each put and delete of a BatchWriteItem is a write of its own: one on an item of a transaction in
    flight is refused, and the batch (which has no TransactionConflictException) returns it in
    UnprocessedItems at once, without waiting for the transaction, and writes the rest."""
    server = start_server()
    ddb = server.client("dynamodb")
    ddb.create_table(TableName="batched", KeySchema=[{"AttributeName": "id", "KeyType": "HASH"}],
                     AttributeDefinitions=[{"AttributeName": "id", "AttributeType": "S"}],
                     BillingMode="PAY_PER_REQUEST")
    for name in ("a", "b"):
        ddb.put_item(TableName="batched", Item={"id": {"S": name}, "n": {"N": "0"}})

    def bump(name: str) -> dict[str, Any]:
        return {"Update": {"TableName": "batched", "Key": {"id": {"S": name}}, "UpdateExpression": "ADD n :one",
                           "ExpressionAttributeValues": {":one": {"N": "1"}}}}

    outcome: dict[str, Any] = {}

    def in_thread(name: str, call: Any, **kwargs: Any) -> threading.Thread:
        def run() -> None:
            try:
                outcome[name] = call(**kwargs)
            except Exception as error:  # reported below
                outcome[name + " error"] = error

        runner = threading.Thread(target=run)
        runner.start()
        return runner

    def wait_busy(name: str) -> None:
        """Until a TransactGetItems of the item is cancelled: a write of it is in flight."""
        deadline = time.monotonic() + 3
        while True:
            try:
                ddb.transact_get_items(TransactItems=[{"Get": {"TableName": "batched", "Key": {"id": {"S": name}}}}])
            except ClientError as error:
                assert error.response["CancellationReasons"] == [{"Code": "TransactionConflict", "Message": CONFLICT}]
                return
            assert time.monotonic() < deadline, f"no write of {name} came in flight"
            time.sleep(0.01)

    put_a = {"PutRequest": {"Item": {"id": {"S": "a"}, "n": {"N": "9"}}}}
    delete_b = {"DeleteRequest": {"Key": {"id": {"S": "b"}}}}
    put_c = {"PutRequest": {"Item": {"id": {"S": "c"}, "n": {"N": "1.50"}}}}
    with write_lock(server.data_dir):
        transaction = in_thread("transaction", ddb.transact_write_items, TransactItems=[bump("a"), bump("b")])
        wait_busy("a")
        # Only the transaction's items: all handed back at once (the commit it would wait for cannot
        # happen while the lock is held).
        answer = ddb.batch_write_item(RequestItems={"batched": [put_a, delete_b]})
        assert answer["UnprocessedItems"] == {"batched": [put_a, delete_b]}
        # Mixed: c is written (its commit waits for the lock like any write), a and b come back.
        batch = in_thread("batch", ddb.batch_write_item, RequestItems={"batched": [put_a, put_c, delete_b]},
                          ReturnConsumedCapacity="TOTAL")
        wait_busy("c")
        assert "transaction" not in outcome and "batch" not in outcome
    for runner in (transaction, batch):
        runner.join(timeout=30)
    assert "transaction error" not in outcome and "batch error" not in outcome, outcome
    assert outcome["batch"]["UnprocessedItems"] == {"batched": [put_a, delete_b]}  # as the request put them
    # the capacity of the one item written
    assert outcome["batch"]["ConsumedCapacity"] == [{"TableName": "batched", "CapacityUnits": 1.0}]
    items = {i["id"]["S"]: i["n"]["N"] for i in ddb.scan(TableName="batched", ConsistentRead=True)["Items"]}
    assert items == {"a": "1", "b": "1", "c": "1.5"}  # the transaction whole, the batch's free item
    # retried once the transaction is done, the handed-back writes go through
    assert ddb.batch_write_item(RequestItems=outcome["batch"]["UnprocessedItems"])["UnprocessedItems"] == {}
    items = {i["id"]["S"]: i["n"]["N"] for i in ddb.scan(TableName="batched", ConsistentRead=True)["Items"]}
    assert items == {"a": "9", "c": "1.5"}
