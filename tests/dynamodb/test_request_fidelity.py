"""DynamoDB answers that moto's suite found differing from AWS's, each through boto3: the nested paths
UPDATED_OLD / UPDATED_NEW return, the expressions named when ExpressionAttributeValues come alone, and
key conditions whose values have another type than the key's."""

from __future__ import annotations

from typing import Any

from tests.dynamodb.test_tables import error, make_table


def test_updated_values_hold_only_the_nested_paths_touched(ddb: Any) -> None:
    make_table(ddb, "nested", range_key=False)
    key = {"pk": {"S": "k"}}
    ddb.put_item(TableName="nested", Item={**key, "a": {"M": {"b": {"L": [{"S": "bar1"}]}, "c": {"L": [{"S": "car1"}]}}},
                                           "other": {"S": "untouched"}})
    new = ddb.update_item(TableName="nested", Key=key, UpdateExpression="SET a.#c = list_append(a.#b, :i)",
                          ExpressionAttributeValues={":i": {"L": [{"S": "bar2"}]}},
                          ExpressionAttributeNames={"#b": "b", "#c": "c"}, ReturnValues="UPDATED_NEW")
    assert new["Attributes"] == {"a": {"M": {"c": {"L": [{"S": "bar1"}, {"S": "bar2"}]}}}}
    old = ddb.update_item(TableName="nested", Key=key, UpdateExpression="SET a.c[1] = :x",
                          ExpressionAttributeValues={":x": {"S": "x"}}, ReturnValues="UPDATED_OLD")
    assert old["Attributes"] == {"a": {"M": {"c": {"L": [{"S": "bar2"}]}}}}
    gone = ddb.update_item(TableName="nested", Key=key, UpdateExpression="REMOVE a.b", ReturnValues="UPDATED_OLD")
    assert gone["Attributes"] == {"a": {"M": {"b": {"L": [{"S": "bar1"}]}}}}
    # A path the old item lacked returns nothing for UPDATED_OLD.
    added = ddb.update_item(TableName="nested", Key=key, UpdateExpression="SET fresh = :x",
                            ExpressionAttributeValues={":x": {"S": "x"}}, ReturnValues="UPDATED_OLD")
    assert "Attributes" not in added


def test_values_without_expressions_name_the_operations_expressions(ddb: Any) -> None:
    make_table(ddb, "alone")
    values = {":v": {"S": "x"}}
    assert error(ddb.query, "ValidationException", TableName="alone", ExpressionAttributeValues=values,
                 KeyConditions={"pk": {"AttributeValueList": [{"S": "a"}], "ComparisonOperator": "EQ"}}) == \
        "ExpressionAttributeValues can only be specified when using expressions: " \
        "FilterExpression and KeyConditionExpression are null"
    assert error(ddb.scan, "ValidationException", TableName="alone", ExpressionAttributeValues=values) == \
        "ExpressionAttributeValues can only be specified when using expressions: FilterExpression is null"
    assert error(ddb.update_item, "ValidationException", TableName="alone", ExpressionAttributeValues=values,
                 Key={"pk": {"S": "a"}, "sk": {"N": "1"}}) == \
        "ExpressionAttributeValues can only be specified when using expressions: " \
        "UpdateExpression and ConditionExpression are null"
    assert error(ddb.put_item, "ValidationException", TableName="alone", ExpressionAttributeValues=values,
                 Item={"pk": {"S": "a"}, "sk": {"N": "1"}}) == \
        "ExpressionAttributeValues can only be specified when using expressions: ConditionExpression is null"


def test_key_condition_values_must_have_the_keys_type(ddb: Any) -> None:
    make_table(ddb, "typed")
    assert error(ddb.query, "ValidationException", TableName="typed", KeyConditionExpression="pk = :n",
                 ExpressionAttributeValues={":n": {"N": "1"}}) == \
        "One or more parameter values were invalid: Condition parameter type does not match schema type"
    assert error(ddb.query, "ValidationException", TableName="typed",
                 KeyConditionExpression="pk = :s AND sk > :s", ExpressionAttributeValues={":s": {"S": "a"}}) == \
        "One or more parameter values were invalid: Condition parameter type does not match schema type"


def test_key_condition_values_may_not_be_empty(ddb: Any) -> None:
    ddb.create_table(TableName="empty", BillingMode="PAY_PER_REQUEST",
                     AttributeDefinitions=[{"AttributeName": "hk", "AttributeType": "S"},
                                           {"AttributeName": "rk", "AttributeType": "S"}],
                     KeySchema=[{"AttributeName": "hk", "KeyType": "HASH"}, {"AttributeName": "rk", "KeyType": "RANGE"}])
    assert error(ddb.query, "ValidationException", TableName="empty", KeyConditionExpression="hk = :e",
                 ExpressionAttributeValues={":e": {"S": ""}}) == \
        "One or more parameter values are not valid. The AttributeValue for a key attribute cannot contain an " \
        "empty string value. Key: hk"
    assert error(ddb.query, "ValidationException", TableName="empty", KeyConditionExpression="hk = :h AND rk = :e",
                 ExpressionAttributeValues={":h": {"S": "h"}, ":e": {"S": ""}}) == \
        "One or more parameter values are not valid. The AttributeValue for a key attribute cannot contain an " \
        "empty string value. Key: rk"
    ddb.put_item(TableName="empty", Item={"hk": {"S": "h"}, "rk": {"S": "r"}})
    found = ddb.query(TableName="empty", KeyConditionExpression="hk = :h AND begins_with(rk, :e)",
                      ExpressionAttributeValues={":h": {"S": "h"}, ":e": {"S": ""}})
    assert found["Count"] == 1


def test_update_emptying_an_index_key_is_refused(ddb: Any) -> None:
    ddb.create_table(TableName="gsi", BillingMode="PAY_PER_REQUEST",
                     AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"},
                                           {"AttributeName": "ik", "AttributeType": "S"}],
                     KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
                     GlobalSecondaryIndexes=[{"IndexName": "by_ik", "KeySchema": [{"AttributeName": "ik", "KeyType": "HASH"}],
                                              "Projection": {"ProjectionType": "ALL"}}])
    key = {"pk": {"S": "a"}}
    ddb.put_item(TableName="gsi", Item={**key, "ik": {"S": "x"}})
    assert error(ddb.update_item, "ValidationException", TableName="gsi", Key=key, UpdateExpression="SET ik = :e",
                 ExpressionAttributeValues={":e": {"S": ""}}) == \
        "One or more parameter values are not valid. The update expression attempted to update a secondary index " \
        "key to a value that is not supported. The AttributeValue for a key attribute cannot contain an empty " \
        "string value."
    assert ddb.get_item(TableName="gsi", Key=key)["Item"]["ik"] == {"S": "x"}  # nothing written
    ddb.update_item(TableName="gsi", Key=key, UpdateExpression="REMOVE ik")  # leaving the index is fine
    assert "ik" not in ddb.get_item(TableName="gsi", Key=key)["Item"]


def test_index_keys_have_the_key_size_limits(ddb: Any) -> None:
    ddb.create_table(TableName="long", BillingMode="PAY_PER_REQUEST",
                     AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"},
                                           {"AttributeName": "sk", "AttributeType": "S"}],
                     KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}, {"AttributeName": "sk", "KeyType": "RANGE"}])
    ddb.put_item(TableName="long", Item={"pk": {"S": "x" * 1025}, "sk": {"S": "a"}})  # a partition key: 2048
    ddb.update_table(TableName="long", AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"},
                                                             {"AttributeName": "sk", "AttributeType": "S"}],
                     GlobalSecondaryIndexUpdates=[{"Create": {
                         "IndexName": "flipped", "Projection": {"ProjectionType": "KEYS_ONLY"},
                         "KeySchema": [{"AttributeName": "sk", "KeyType": "HASH"},
                                       {"AttributeName": "pk", "KeyType": "RANGE"}]}}])
    assert error(ddb.put_item, "ValidationException", TableName="long",
                 Item={"pk": {"S": "y" * 1025}, "sk": {"S": "b"}}) == \
        "One or more parameter values were invalid: Aggregated size of all range keys has exceeded the size " \
        "limit of 1024 bytes"
    assert "Item" not in ddb.get_item(TableName="long", Key={"pk": {"S": "y" * 1025}, "sk": {"S": "b"}})
    ddb.put_item(TableName="long", Item={"pk": {"S": "y" * 1024}, "sk": {"S": "b"}})  # at the limit


def test_enum_values_are_listed_in_dynamodbs_order(ddb: Any) -> None:
    """DynamoDB lists an enum's values in its own order, neither the model's nor sorted."""
    make_table(ddb, "enums")
    prefix = "1 validation error detected: Value 'Garbage' at '{}' failed to satisfy constraint: "
    assert error(ddb.put_item, "ValidationException", TableName="enums", ReturnConsumedCapacity="Garbage",
                 Item={"pk": {"S": "a"}, "sk": {"N": "1"}}) == (
        prefix.format("returnConsumedCapacity") + "Member must satisfy enum value set: [INDEXES, TOTAL, NONE]")
    assert error(ddb.query, "ValidationException", TableName="enums", Select="Garbage",
                 KeyConditionExpression="pk = :p", ExpressionAttributeValues={":p": {"S": "a"}}) == (
        prefix.format("select") + "Member must satisfy enum value set: [SPECIFIC_ATTRIBUTES, COUNT, ALL_ATTRIBUTES, "
                                  "ALL_PROJECTED_ATTRIBUTES]")
    assert error(ddb.scan, "ValidationException", TableName="enums", ConditionalOperator="Garbage",
                 ScanFilter={"x": {"ComparisonOperator": "NULL"}}) == (
        prefix.format("conditionalOperator") + "Member must satisfy enum value set: [OR, AND]")
