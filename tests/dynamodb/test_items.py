"""DynamoDB's items through boto3 and the AWS CLI: PutItem, GetItem, UpdateItem, DeleteItem, their
conditions, ReturnValues and capacity, and AWS's errors for bad keys and items."""

from __future__ import annotations

from typing import Any

import pytest

from tests.dynamodb.test_tables import error, make_table


def test_put_get_delete_round_trip(ddb: Any, aws: Any) -> None:
    make_table(ddb, "items")
    item = {"pk": {"S": "a"}, "sk": {"N": "1.50"}, "name": {"S": "widget"}, "tags": {"SS": ["x", "y"]},
            "blob": {"B": b"\x00\xff"}, "nested": {"M": {"list": {"L": [{"N": "1"}, {"NULL": True}, {"BOOL": False}]}}},
            "empty": {"S": ""}}
    assert "Attributes" not in ddb.put_item(TableName="items", Item=item)
    got = ddb.get_item(TableName="items", Key={"pk": {"S": "a"}, "sk": {"N": "1.5"}}, ConsistentRead=True)["Item"]
    assert got == {**item, "sk": {"N": "1.5"}}  # numbers come back canonical
    assert "Item" not in ddb.get_item(TableName="items", Key={"pk": {"S": "b"}, "sk": {"N": "1"}})
    replaced = ddb.put_item(TableName="items", Item={"pk": {"S": "a"}, "sk": {"N": "1.5"}}, ReturnValues="ALL_OLD")
    assert replaced["Attributes"]["name"] == {"S": "widget"}
    projected = ddb.get_item(TableName="items", Key={"pk": {"S": "a"}, "sk": {"N": "1.5"}},
                             ProjectionExpression="#p", ExpressionAttributeNames={"#p": "pk"})["Item"]
    assert projected == {"pk": {"S": "a"}}
    deleted = ddb.delete_item(TableName="items", Key={"pk": {"S": "a"}, "sk": {"N": "1.5"}}, ReturnValues="ALL_OLD")
    assert deleted["Attributes"] == {"pk": {"S": "a"}, "sk": {"N": "1.5"}}
    assert "Item" not in ddb.get_item(TableName="items", Key={"pk": {"S": "a"}, "sk": {"N": "1.5"}})
    aws("dynamodb", "put-item", "--table-name", "items", "--item", '{"pk": {"S": "cli"}, "sk": {"N": "7"}}')
    assert aws("dynamodb", "get-item", "--table-name", "items", "--key",
               '{"pk": {"S": "cli"}, "sk": {"N": "7"}}')["Item"] == {"pk": {"S": "cli"}, "sk": {"N": "7"}}


def test_conditions_and_return_values(ddb: Any) -> None:
    make_table(ddb, "cond", range_key=False)
    key = {"pk": {"S": "k"}}
    ddb.put_item(TableName="cond", Item={**key, "n": {"N": "1"}}, ConditionExpression="attribute_not_exists(pk)")
    assert error(ddb.put_item, "ConditionalCheckFailedException", TableName="cond", Item={**key},
                 ConditionExpression="attribute_not_exists(pk)") == "The conditional request failed"
    import botocore.exceptions

    with pytest.raises(botocore.exceptions.ClientError) as failed:
        ddb.delete_item(TableName="cond", Key=key, ConditionExpression="n = :two",
                        ExpressionAttributeValues={":two": {"N": "2"}}, ReturnValuesOnConditionCheckFailure="ALL_OLD")
    assert failed.value.response["Item"] == {**key, "n": {"N": "1"}}
    updated = ddb.update_item(TableName="cond", Key=key, UpdateExpression="SET n = n + :one, s = :s",
                              ExpressionAttributeValues={":one": {"N": "1"}, ":s": {"S": "v"}},
                              ReturnValues="UPDATED_NEW")
    assert updated["Attributes"] == {"n": {"N": "2"}, "s": {"S": "v"}}
    old = ddb.update_item(TableName="cond", Key=key, UpdateExpression="REMOVE s", ReturnValues="UPDATED_OLD")
    assert old["Attributes"] == {"s": {"S": "v"}}
    everything = ddb.update_item(TableName="cond", Key=key, UpdateExpression="ADD c :one",
                                 ExpressionAttributeValues={":one": {"N": "1"}}, ReturnValues="ALL_NEW")
    assert everything["Attributes"] == {**key, "n": {"N": "2"}, "c": {"N": "1"}}
    created = ddb.update_item(TableName="cond", Key={"pk": {"S": "new"}}, UpdateExpression="SET a = :a",
                              ExpressionAttributeValues={":a": {"S": "x"}}, ReturnValues="ALL_OLD")
    assert "Attributes" not in created
    assert ddb.get_item(TableName="cond", Key={"pk": {"S": "new"}})["Item"] == {"pk": {"S": "new"}, "a": {"S": "x"}}
    assert error(ddb.update_item, "ValidationException", TableName="cond", Key=key, UpdateExpression="SET pk = :a",
                 ExpressionAttributeValues={":a": {"S": "x"}}) == \
        "One or more parameter values were invalid: Cannot update attribute pk. This attribute is part of the key"
    assert error(ddb.put_item, "ValidationException", TableName="cond", Item=key, ReturnValues="ALL_NEW") == \
        "Return values set to invalid value"
    consumed = ddb.put_item(TableName="cond", Item=key, ReturnConsumedCapacity="TOTAL")["ConsumedCapacity"]
    assert consumed == {"TableName": "cond", "CapacityUnits": 1.0}
    read = ddb.get_item(TableName="cond", Key=key, ReturnConsumedCapacity="INDEXES")["ConsumedCapacity"]
    assert read == {"TableName": "cond", "CapacityUnits": 0.5, "Table": {"CapacityUnits": 0.5}}


def test_key_and_item_errors(ddb: Any) -> None:
    make_table(ddb, "errs")
    assert error(ddb.get_item, "ResourceNotFoundException", TableName="missing", Key={"pk": {"S": "a"}}) == \
        "Requested resource not found"
    assert error(ddb.get_item, "ValidationException", TableName="errs", Key={"pk": {"S": "a"}}) == \
        "The provided key element does not match the schema"
    assert error(ddb.get_item, "ValidationException", TableName="errs",
                 Key={"pk": {"N": "1"}, "sk": {"N": "1"}}) == "The provided key element does not match the schema"
    assert error(ddb.put_item, "ValidationException", TableName="errs", Item={"pk": {"S": "a"}}) == \
        "One or more parameter values were invalid: Missing the key sk in the item"
    assert error(ddb.put_item, "ValidationException", TableName="errs", Item={"pk": {"S": "a"}, "sk": {"S": "1"}}) == \
        "One or more parameter values were invalid: Type mismatch for key sk expected: N actual: S"
    assert "cannot contain an empty string value. Key: pk" in error(
        ddb.put_item, "ValidationException", TableName="errs", Item={"pk": {"S": ""}, "sk": {"N": "1"}})
    assert error(ddb.put_item, "ValidationException", TableName="errs",
                 Item={"pk": {"S": "a"}, "sk": {"N": "1"}, "big": {"S": "x" * (400 * 1024)}}) == \
        "Item size has exceeded the maximum allowed size"
    assert error(ddb.put_item, "ValidationException", TableName="errs",
                 Item={"pk": {"S": "a" * 2049}, "sk": {"N": "1"}}) == \
        "One or more parameter values were invalid: Size of hashkey has exceeded the maximum size limit of2048 bytes"
    error(ddb.put_item, "ValidationException", TableName="errs",
          Item={"pk": {"S": "a"}, "sk": {"N": "1"}, "s": {"SS": ["x", "x"]}})
    assert ddb.scan(TableName="errs")["Count"] == 0  # nothing refused was written


def test_legacy_parameters_older_sdks_send(ddb: Any) -> None:
    make_table(ddb, "legacy")
    ddb.put_item(TableName="legacy", Item={"pk": {"S": "a"}, "sk": {"N": "1"}, "n": {"N": "5"}},
                 Expected={"pk": {"Exists": False}})
    assert error(ddb.put_item, "ConditionalCheckFailedException", TableName="legacy",
                 Item={"pk": {"S": "a"}, "sk": {"N": "1"}}, Expected={"pk": {"Exists": False}}) == \
        "The conditional request failed"
    ddb.update_item(TableName="legacy", Key={"pk": {"S": "a"}, "sk": {"N": "1"}},
                    AttributeUpdates={"n": {"Action": "ADD", "Value": {"N": "2"}}})
    got = ddb.get_item(TableName="legacy", Key={"pk": {"S": "a"}, "sk": {"N": "1"}}, AttributesToGet=["n"])
    assert got["Item"] == {"n": {"N": "7"}}
    ddb.put_item(TableName="legacy", Item={"pk": {"S": "a"}, "sk": {"N": "2"}, "n": {"N": "1"}})
    queried = ddb.query(TableName="legacy", KeyConditions={
        "pk": {"ComparisonOperator": "EQ", "AttributeValueList": [{"S": "a"}]},
        "sk": {"ComparisonOperator": "GT", "AttributeValueList": [{"N": "1"}]}})
    assert [i["sk"]["N"] for i in queried["Items"]] == ["2"]
    scanned = ddb.scan(TableName="legacy", ScanFilter={"n": {"ComparisonOperator": "GT",
                                                             "AttributeValueList": [{"N": "3"}]}})
    assert [i["n"]["N"] for i in scanned["Items"]] == ["7"]
    assert error(ddb.get_item, "ValidationException", TableName="legacy", Key={"pk": {"S": "a"}, "sk": {"N": "1"}},
                 AttributesToGet=["n"], ProjectionExpression="n").startswith("Can not use both expression and "
                                                                              "non-expression parameters")


def test_failed_condition_returns_binary_items_and_bad_return_values(ddb: Any) -> None:
    import botocore.exceptions

    make_table(ddb, "binary", range_key=False)
    item = {"pk": {"S": "b"}, "data": {"B": b"\x00\x01\xfe"}, "set": {"BS": [b"\x01", b"\x02"]}}
    ddb.put_item(TableName="binary", Item=item)
    with pytest.raises(botocore.exceptions.ClientError) as failed:
        ddb.put_item(TableName="binary", Item=item, ConditionExpression="attribute_not_exists(pk)",
                     ReturnValuesOnConditionCheckFailure="ALL_OLD")
    assert failed.value.response["Item"] == item
    assert failed.value.response["Error"]["Message"] == "The conditional request failed"
    assert "message" not in failed.value.response  # beside the item AWS says "Message"
    with pytest.raises(botocore.exceptions.ClientError) as cancelled:
        ddb.transact_write_items(TransactItems=[{"ConditionCheck": {
            "TableName": "binary", "Key": {"pk": {"S": "b"}}, "ConditionExpression": "attribute_not_exists(pk)",
            "ReturnValuesOnConditionCheckFailure": "ALL_OLD"}}])
    assert cancelled.value.response["CancellationReasons"][0]["Item"] == item
    assert error(ddb.update_item, "ValidationException", TableName="binary", Key={"pk": {"S": "b"}},
                 ReturnValues="EVERYTHING") == "Return values set to invalid value"
