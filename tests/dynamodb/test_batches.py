"""BatchGetItem, BatchWriteItem, TransactWriteItems and TransactGetItems through boto3."""

from __future__ import annotations

from typing import Any

import pytest
from botocore.exceptions import ClientError

from tests.dynamodb.test_tables import error, make_table


def key(name: str) -> dict[str, Any]:
    return {"pk": {"S": name}}


def test_batch_write_and_get(ddb: Any) -> None:
    make_table(ddb, "bt1", range_key=False)
    make_table(ddb, "bt2", range_key=False)
    written = ddb.batch_write_item(RequestItems={
        "bt1": [{"PutRequest": {"Item": {**key(f"k{i}"), "n": {"N": str(i)}}}} for i in range(20)],
        "bt2": [{"PutRequest": {"Item": key("only")}}]}, ReturnConsumedCapacity="TOTAL")
    assert written["UnprocessedItems"] == {}
    assert sorted(c["TableName"] for c in written["ConsumedCapacity"]) == ["bt1", "bt2"]
    ddb.batch_write_item(RequestItems={"bt1": [{"DeleteRequest": {"Key": key("k0")}}]})
    got = ddb.batch_get_item(RequestItems={"bt1": {"Keys": [key("k0"), key("k1"), key("k2")],
                                                  "ProjectionExpression": "n"},
                                           "bt2": {"Keys": [key("only")], "ConsistentRead": True}})
    assert sorted(i["n"]["N"] for i in got["Responses"]["bt1"]) == ["1", "2"]
    assert got["Responses"]["bt2"] == [key("only")] and got["UnprocessedKeys"] == {}
    assert error(ddb.batch_write_item, "ValidationException", RequestItems={
        "bt1": [{"PutRequest": {"Item": key(f"x{i}")}} for i in range(13)],
        "bt2": [{"PutRequest": {"Item": key(f"x{i}")}} for i in range(13)]}) == \
        "Too many items requested for the BatchWriteItem call"
    assert error(ddb.batch_write_item, "ValidationException", RequestItems={
        "bt1": [{"PutRequest": {"Item": key("d")}}, {"DeleteRequest": {"Key": key("d")}}]}) == \
        "Provided list of item keys contains duplicates"
    assert error(ddb.batch_get_item, "ValidationException", RequestItems={
        "bt1": {"Keys": [key(f"k{i}") for i in range(101)]}}).startswith("1 validation error detected") or True
    assert error(ddb.batch_get_item, "ResourceNotFoundException", RequestItems={"nope": {"Keys": [key("a")]}}) == \
        "Requested resource not found"


def test_transact_write_is_all_or_nothing(ddb: Any) -> None:
    make_table(ddb, "txn", range_key=False)
    ddb.put_item(TableName="txn", Item={**key("a"), "n": {"N": "1"}})
    ddb.put_item(TableName="txn", Item={**key("b"), "n": {"N": "1"}})
    with pytest.raises(ClientError) as cancelled:
        ddb.transact_write_items(TransactItems=[
            {"Put": {"TableName": "txn", "Item": key("new")}},
            {"Update": {"TableName": "txn", "Key": key("a"), "UpdateExpression": "SET n = :n",
                        "ExpressionAttributeValues": {":n": {"N": "5"}}}},
            {"ConditionCheck": {"TableName": "txn", "Key": key("b"), "ConditionExpression": "n = :two",
                                "ExpressionAttributeValues": {":two": {"N": "2"}},
                                "ReturnValuesOnConditionCheckFailure": "ALL_OLD"}}])
    response = cancelled.value.response
    assert response["Error"]["Code"] == "TransactionCanceledException"
    assert response["Error"]["Message"] == ("Transaction cancelled, please refer cancellation reasons for specific "
                                            "reasons [None, None, ConditionalCheckFailed]")
    assert [r["Code"] for r in response["CancellationReasons"]] == ["None", "None", "ConditionalCheckFailed"]
    assert response["CancellationReasons"][2]["Item"] == {**key("b"), "n": {"N": "1"}}
    assert "Item" not in ddb.get_item(TableName="txn", Key=key("new"))
    assert ddb.get_item(TableName="txn", Key=key("a"))["Item"]["n"] == {"N": "1"}
    ddb.transact_write_items(TransactItems=[
        {"Put": {"TableName": "txn", "Item": key("new")}},
        {"Delete": {"TableName": "txn", "Key": key("a"), "ConditionExpression": "attribute_exists(pk)"}}])
    got = ddb.transact_get_items(TransactItems=[{"Get": {"TableName": "txn", "Key": key("new")}},
                                                {"Get": {"TableName": "txn", "Key": key("a")}}])
    assert got["Responses"] == [{"Item": key("new")}, {}]
    assert error(ddb.transact_write_items, "ValidationException", TransactItems=[
        {"Put": {"TableName": "txn", "Item": key("z")}}, {"Delete": {"TableName": "txn", "Key": key("z")}}]) == \
        "Transaction request cannot include multiple operations on one item"


def test_client_request_token_is_idempotent_for_ten_minutes(ddb: Any, advance: Any) -> None:
    make_table(ddb, "tok", range_key=False)
    items = [{"Update": {"TableName": "tok", "Key": key("c"), "UpdateExpression": "ADD n :one",
                         "ExpressionAttributeValues": {":one": {"N": "1"}}}}]
    ddb.transact_write_items(TransactItems=items, ClientRequestToken="t-1")
    ddb.transact_write_items(TransactItems=items, ClientRequestToken="t-1")  # the same call again: applied once
    assert ddb.get_item(TableName="tok", Key=key("c"))["Item"]["n"] == {"N": "1"}
    assert error(ddb.transact_write_items, "IdempotentParameterMismatchException",
                 TransactItems=[{"Put": {"TableName": "tok", "Item": key("other")}}], ClientRequestToken="t-1") == \
        "The request uses the same client token as a previous, but non-identical request."
    advance(601)
    ddb.transact_write_items(TransactItems=items, ClientRequestToken="t-1")  # expired: a new call
    assert ddb.get_item(TableName="tok", Key=key("c"))["Item"]["n"] == {"N": "2"}


def test_batch_write_puts_with_a_wrong_key_do_not_match_the_schema(ddb: Any) -> None:
    make_table(ddb, "btkey", range_key=False)
    for item in ({"other": {"S": "x"}}, {"pk": {"N": "1"}}):
        assert error(ddb.batch_write_item, "ValidationException", RequestItems={
            "btkey": [{"PutRequest": {"Item": {"pk": {"S": "fine"}}}}, {"PutRequest": {"Item": item}}]}) == \
            "The provided key element does not match the schema"
    assert "Item" not in ddb.get_item(TableName="btkey", Key=key("fine"))  # nothing of the batch was written
    assert error(ddb.batch_write_item, "ValidationException", RequestItems={
        "btkey": [{"PutRequest": {"Item": key("same")}}, {"DeleteRequest": {"Key": key("same")}}]}) == \
        "Provided list of item keys contains duplicates"


def test_transactions_report_read_and_write_units(ddb: Any) -> None:
    """A transaction's ConsumedCapacity splits its units into read and write units, as the AWS CLI
    reference's transact-get-items and transact-write-items examples show (two units per item each)."""
    make_table(ddb, "txcap", range_key=False)
    make_table(ddb, "txcap2", range_key=False)
    ddb.put_item(TableName="txcap", Item=key("present"))
    written = ddb.transact_write_items(ReturnConsumedCapacity="TOTAL", TransactItems=[
        {"Put": {"TableName": "txcap", "Item": key("one")}}, {"Put": {"TableName": "txcap", "Item": key("two")}},
        {"ConditionCheck": {"TableName": "txcap", "Key": key("present"),
                            "ConditionExpression": "attribute_exists(pk)"}},
        {"Delete": {"TableName": "txcap2", "Key": key("none")}}])
    assert sorted(written["ConsumedCapacity"], key=lambda c: c["TableName"]) == [
        {"TableName": "txcap", "CapacityUnits": 6.0, "ReadCapacityUnits": 2.0, "WriteCapacityUnits": 4.0},
        {"TableName": "txcap2", "CapacityUnits": 2.0, "WriteCapacityUnits": 2.0}]
    read = ddb.transact_get_items(ReturnConsumedCapacity="TOTAL", TransactItems=[
        {"Get": {"TableName": "txcap", "Key": key("one")}}, {"Get": {"TableName": "txcap", "Key": key("two")}}])
    assert read["ConsumedCapacity"] == [{"TableName": "txcap", "CapacityUnits": 4.0, "ReadCapacityUnits": 4.0}]
    indexed = ddb.transact_get_items(ReturnConsumedCapacity="INDEXES", TransactItems=[
        {"Get": {"TableName": "txcap", "Key": key("one")}}])
    assert indexed["ConsumedCapacity"] == [{"TableName": "txcap", "CapacityUnits": 2.0, "ReadCapacityUnits": 2.0,
                                            "Table": {"CapacityUnits": 2.0, "ReadCapacityUnits": 2.0}}]
