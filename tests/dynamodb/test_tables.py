"""DynamoDB's control plane through boto3 and the AWS CLI: tables, indexes, TTL, tags, limits, errors."""

from __future__ import annotations

from typing import Any

import pytest
from botocore.exceptions import ClientError


def error(call: Any, code: str, **kwargs: Any) -> str:
    with pytest.raises(ClientError) as caught:
        call(**kwargs)
    assert caught.value.response["Error"]["Code"] == code, caught.value.response
    assert caught.value.response["ResponseMetadata"]["HTTPStatusCode"] == 400
    return str(caught.value.response["Error"]["Message"])


def make_table(ddb: Any, name: str = "t", *, range_key: bool = True, **extra: Any) -> dict[str, Any]:
    attrs = [{"AttributeName": "pk", "AttributeType": "S"}]
    schema = [{"AttributeName": "pk", "KeyType": "HASH"}]
    if range_key:
        attrs.append({"AttributeName": "sk", "AttributeType": "N"})
        schema.append({"AttributeName": "sk", "KeyType": "RANGE"})
    attrs += extra.pop("more_attributes", [])
    result: dict[str, Any] = ddb.create_table(TableName=name, AttributeDefinitions=attrs, KeySchema=schema,
                                              BillingMode="PAY_PER_REQUEST", **extra)
    return result["TableDescription"]


def test_create_describe_list_delete(ddb: Any) -> None:
    created = make_table(ddb, "orders", Tags=[{"Key": "team", "Value": "a"}], DeletionProtectionEnabled=False,
                         SSESpecification={"Enabled": True})
    assert created["TableStatus"] == "ACTIVE"
    assert created["TableArn"] == "arn:aws:dynamodb:us-east-1:000000000000:table/orders"
    assert created["KeySchema"] == [{"AttributeName": "pk", "KeyType": "HASH"},
                                    {"AttributeName": "sk", "KeyType": "RANGE"}]
    assert created["BillingModeSummary"]["BillingMode"] == "PAY_PER_REQUEST"
    assert created["SSEDescription"]["Status"] == "ENABLED"
    table = ddb.describe_table(TableName="orders")["Table"]
    assert table["ItemCount"] == 0 and table["TableSizeBytes"] == 0
    assert table["ProvisionedThroughput"]["ReadCapacityUnits"] == 0
    ddb.get_waiter("table_exists").wait(TableName="orders", WaiterConfig={"Delay": 1, "MaxAttempts": 2})
    assert ddb.describe_table(TableName=created["TableArn"])["Table"]["TableName"] == "orders"
    for name in ("b-table", "a-table", "c-table"):
        make_table(ddb, name)
    assert ddb.list_tables()["TableNames"] == ["a-table", "b-table", "c-table", "orders"]
    page = ddb.list_tables(Limit=2)
    assert page == {"TableNames": ["a-table", "b-table"], "LastEvaluatedTableName": "b-table",
                    "ResponseMetadata": page["ResponseMetadata"]}
    assert ddb.list_tables(ExclusiveStartTableName="b-table")["TableNames"] == ["c-table", "orders"]
    names = [n for p in ddb.get_paginator("list_tables").paginate(PaginationConfig={"PageSize": 1})
             for n in p["TableNames"]]
    assert names == ["a-table", "b-table", "c-table", "orders"]
    deleted = ddb.delete_table(TableName="orders")["TableDescription"]
    assert deleted["TableStatus"] == "DELETING"
    assert error(ddb.describe_table, "ResourceNotFoundException", TableName="orders") == \
        "Requested resource not found: Table: orders not found"


def test_create_errors(ddb: Any) -> None:
    make_table(ddb, "dup")
    assert error(make_table, "ResourceInUseException", ddb=ddb, name="dup") == "Table already exists: dup"
    assert "Member must have length greater than or equal to 3" in error(make_table, "ValidationException",
                                                                          ddb=ddb, name="ab")
    assert "Member must satisfy regular expression pattern: [a-zA-Z0-9_.-]+" in error(
        make_table, "ValidationException", ddb=ddb, name="bad name")
    assert error(ddb.create_table, "ValidationException", TableName="x12",
                 AttributeDefinitions=[{"AttributeName": "a", "AttributeType": "S"}],
                 KeySchema=[{"AttributeName": "b", "KeyType": "HASH"}], BillingMode="PAY_PER_REQUEST") == \
        ("One or more parameter values were invalid: Some index key attributes are not defined in "
         "AttributeDefinitions. Keys: [b], AttributeDefinitions: [a]")
    assert error(ddb.create_table, "ValidationException", TableName="x12",
                 AttributeDefinitions=[{"AttributeName": "a", "AttributeType": "S"}],
                 KeySchema=[{"AttributeName": "a", "KeyType": "HASH"}]) == \
        ("One or more parameter values were invalid: ReadCapacityUnits and WriteCapacityUnits must both be "
         "specified when BillingMode is PROVISIONED")
    assert error(ddb.create_table, "ValidationException", TableName="x12",
                 AttributeDefinitions=[{"AttributeName": "a", "AttributeType": "S"},
                                       {"AttributeName": "b", "AttributeType": "S"}],
                 KeySchema=[{"AttributeName": "a", "KeyType": "HASH"}], BillingMode="PAY_PER_REQUEST") == \
        ("One or more parameter values were invalid: Number of attributes in KeySchema does not exactly match "
         "number of attributes defined in AttributeDefinitions")
    assert error(ddb.create_table, "ValidationException", TableName="x12",
                 AttributeDefinitions=[{"AttributeName": "a", "AttributeType": "S"},
                                       {"AttributeName": "b", "AttributeType": "S"}],
                 KeySchema=[{"AttributeName": "a", "KeyType": "RANGE"}, {"AttributeName": "b", "KeyType": "HASH"}],
                 BillingMode="PAY_PER_REQUEST") == \
        "Invalid KeySchema: The first KeySchemaElement is not a HASH key type"
    assert error(ddb.create_table, "ValidationException", TableName="x12",
                 AttributeDefinitions=[{"AttributeName": "a", "AttributeType": "X"}],
                 KeySchema=[{"AttributeName": "a", "KeyType": "HASH"}], BillingMode="PAY_PER_REQUEST") == \
        ("1 validation error detected: Value 'X' at 'attributeDefinitions.1.member.attributeType' failed to "
         "satisfy constraint: Member must satisfy enum value set: [B, N, S]")
    assert error(make_table, "ValidationException", ddb=ddb, name="lsi", range_key=False,
                 LocalSecondaryIndexes=[{"IndexName": "by-x", "KeySchema": [
                     {"AttributeName": "pk", "KeyType": "HASH"}, {"AttributeName": "x", "KeyType": "RANGE"}],
                     "Projection": {"ProjectionType": "ALL"}}],
                 more_attributes=[{"AttributeName": "x", "AttributeType": "S"}]) == \
        ("One or more parameter values were invalid: Table KeySchema does not have a range key, which is "
         "required when specifying a LocalSecondaryIndex")


def gsi(name: str, key: str, projection: dict[str, Any] | None = None) -> dict[str, Any]:
    return {"IndexName": name, "KeySchema": [{"AttributeName": key, "KeyType": "HASH"}],
            "Projection": projection or {"ProjectionType": "ALL"}}


def test_indexes_described_created_and_deleted(ddb: Any) -> None:
    make_table(ddb, "idx", GlobalSecondaryIndexes=[gsi("by-g", "g", {"ProjectionType": "INCLUDE",
                                                                    "NonKeyAttributes": ["x"]})],
               LocalSecondaryIndexes=[{"IndexName": "by-l", "KeySchema": [
                   {"AttributeName": "pk", "KeyType": "HASH"}, {"AttributeName": "l", "KeyType": "RANGE"}],
                   "Projection": {"ProjectionType": "KEYS_ONLY"}}],
               more_attributes=[{"AttributeName": "g", "AttributeType": "S"},
                                {"AttributeName": "l", "AttributeType": "S"}])
    table = ddb.describe_table(TableName="idx")["Table"]
    [global_index] = table["GlobalSecondaryIndexes"]
    assert global_index["IndexStatus"] == "ACTIVE"
    assert global_index["Projection"] == {"ProjectionType": "INCLUDE", "NonKeyAttributes": ["x"]}
    assert global_index["IndexArn"].endswith(":table/idx/index/by-g")
    assert table["LocalSecondaryIndexes"][0]["Projection"] == {"ProjectionType": "KEYS_ONLY"}
    ddb.update_table(TableName="idx", AttributeDefinitions=[{"AttributeName": "h", "AttributeType": "N"}],
                     GlobalSecondaryIndexUpdates=[{"Create": gsi("by-h", "h")}])
    ddb.update_table(TableName="idx", GlobalSecondaryIndexUpdates=[{"Delete": {"IndexName": "by-g"}}])
    table = ddb.describe_table(TableName="idx")["Table"]
    assert [i["IndexName"] for i in table["GlobalSecondaryIndexes"]] == ["by-h"]
    assert {a["AttributeName"] for a in table["AttributeDefinitions"]} == {"pk", "sk", "l", "h"}
    many = [gsi(f"g{i:02d}", "g") for i in range(21)]
    assert error(make_table, "ValidationException", ddb=ddb, name="many", GlobalSecondaryIndexes=many,
                 more_attributes=[{"AttributeName": "g", "AttributeType": "S"}]) == \
        "One or more parameter values were invalid: GlobalSecondaryIndex count exceeds the per-table limit of 20"


def test_update_table_settings_and_streams(ddb: Any) -> None:
    make_table(ddb, "upd")
    # deletion protection changes alone (so do encryption and the table class)
    assert error(ddb.update_table, "ValidationException", TableName="upd", BillingMode="PROVISIONED",
                 ProvisionedThroughput={"ReadCapacityUnits": 5, "WriteCapacityUnits": 7},
                 DeletionProtectionEnabled=True) == ("One or more parameter values were invalid: DeletionProtection "
                                                     "modification must be the only operation in the request")
    assert error(ddb.update_table, "ValidationException", TableName="upd", DeletionProtectionEnabled=True,
                 SSESpecification={"Enabled": True}) == ("One or more parameter values were invalid: Server-Side "
                                                         "Encryption modification must be the only operation in the "
                                                         "request")
    ddb.update_table(TableName="upd", BillingMode="PROVISIONED",
                     ProvisionedThroughput={"ReadCapacityUnits": 5, "WriteCapacityUnits": 7})
    ddb.update_table(TableName="upd", DeletionProtectionEnabled=True)
    table = ddb.describe_table(TableName="upd")["Table"]
    assert table["ProvisionedThroughput"]["WriteCapacityUnits"] == 7
    # a table that was on-demand keeps saying since when it was
    assert table["BillingModeSummary"] == {"BillingMode": "PROVISIONED",
                                           "LastUpdateToPayPerRequestDateTime": table["CreationDateTime"]}
    assert table["DeletionProtectionEnabled"] is True
    assert "protected against deletion" in error(ddb.delete_table, "ValidationException", TableName="upd")
    described = ddb.update_table(TableName="upd", StreamSpecification={
        "StreamEnabled": True, "StreamViewType": "NEW_AND_OLD_IMAGES"})["TableDescription"]
    assert described["StreamSpecification"] == {"StreamEnabled": True, "StreamViewType": "NEW_AND_OLD_IMAGES"}
    assert described["LatestStreamArn"] == f"{described['TableArn']}/stream/{described['LatestStreamLabel']}"
    assert error(ddb.update_table, "ValidationException", TableName="upd", StreamSpecification={
        "StreamEnabled": True, "StreamViewType": "KEYS_ONLY"}) == "Table already has an enabled stream: TableName: upd"
    ddb.update_table(TableName="upd", StreamSpecification={"StreamEnabled": False})
    assert error(ddb.update_table, "ValidationException", TableName="upd", StreamSpecification={
        "StreamEnabled": False}) == "Table has no stream to disable: TableName: upd"
    ddb.update_table(TableName="upd", DeletionProtectionEnabled=False)
    ddb.delete_table(TableName="upd")


def test_ttl_tags_limits_endpoints_backups(ddb: Any, aws: Any) -> None:
    arn = make_table(ddb, "misc")["TableArn"]
    assert ddb.describe_time_to_live(TableName="misc")["TimeToLiveDescription"] == {"TimeToLiveStatus": "DISABLED"}
    ddb.update_time_to_live(TableName="misc", TimeToLiveSpecification={"Enabled": True, "AttributeName": "exp"})
    assert ddb.describe_time_to_live(TableName="misc")["TimeToLiveDescription"] == {
        "TimeToLiveStatus": "ENABLED", "AttributeName": "exp"}
    assert error(ddb.update_time_to_live, "ValidationException", TableName="misc",
                 TimeToLiveSpecification={"Enabled": True, "AttributeName": "exp"}) == "TimeToLive is already enabled"
    ddb.tag_resource(ResourceArn=arn, Tags=[{"Key": f"k{i:02d}", "Value": "v"} for i in range(11)])
    first = ddb.list_tags_of_resource(ResourceArn=arn)
    assert len(first["Tags"]) == 10  # a page of 10, then the rest
    assert len(ddb.list_tags_of_resource(ResourceArn=arn, NextToken=first["NextToken"])["Tags"]) == 1
    ddb.untag_resource(ResourceArn=arn, TagKeys=[f"k{i:02d}" for i in range(11)])
    ddb.tag_resource(ResourceArn=arn, Tags=[{"Key": "a", "Value": "1"}, {"Key": "b", "Value": "2"}])
    ddb.untag_resource(ResourceArn=arn, TagKeys=["a"])
    assert ddb.list_tags_of_resource(ResourceArn=arn)["Tags"] == [{"Key": "b", "Value": "2"}]
    assert error(ddb.list_tags_of_resource, "ResourceNotFoundException", ResourceArn=arn + "x").startswith(
        "Requested resource not found")
    limits = ddb.describe_limits()
    assert limits["TableMaxWriteCapacityUnits"] == 40000
    assert ddb.describe_endpoints()["Endpoints"][0]["Address"] == "dynamodb.us-east-1.amazonaws.com"
    backups = ddb.describe_continuous_backups(TableName="misc")["ContinuousBackupsDescription"]
    assert backups["ContinuousBackupsStatus"] == "ENABLED"
    assert error(ddb.describe_continuous_backups, "TableNotFoundException", TableName="nope") == \
        "Table not found: nope"
    listed = aws("dynamodb", "list-tables")
    assert listed["TableNames"] == ["misc"]
    described = aws("dynamodb", "describe-table", "--table-name", "misc")
    assert described["Table"]["TableArn"] == arn


def test_tables_survive_restart(start_server: Any, tmp_path: Any) -> None:
    server = start_server(tmp_path / "data")
    ddb = server.client("dynamodb")
    make_table(ddb, "kept", GlobalSecondaryIndexes=[gsi("by-g", "g")],
               more_attributes=[{"AttributeName": "g", "AttributeType": "S"}])
    server.kill()
    server.start()
    ddb = server.client("dynamodb")
    table = ddb.describe_table(TableName="kept")["Table"]
    assert table["GlobalSecondaryIndexes"][0]["IndexName"] == "by-g"


def test_conveyor_status_lists_tables_with_item_counts(ddb: Any, endpoint: str) -> None:
    import subprocess
    import sys

    make_table(ddb, "counted", range_key=False, StreamSpecification={"StreamEnabled": True,
                                                                      "StreamViewType": "KEYS_ONLY"})
    for i in range(3):
        ddb.put_item(TableName="counted", Item={"pk": {"S": f"k{i}"}})
    shown = subprocess.run([sys.executable, "-m", "conveyor.cli", "status", "--endpoint", endpoint],
                           capture_output=True, text=True, timeout=60)
    assert shown.returncode == 0, shown.stderr
    assert "TABLES" in shown.stdout
    assert "counted: 3 items, 12 bytes (PAY_PER_REQUEST), stream KEYS_ONLY" in shown.stdout


def test_resource_policies_with_revisions(ddb: Any) -> None:
    import json

    arn = make_table(ddb, "guarded")["TableArn"]
    document = json.dumps({"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Principal": {"AWS": "000000000000"}, "Action": ["dynamodb:GetItem"], "Resource": "*"}]})
    assert error(ddb.get_resource_policy, "PolicyNotFoundException", ResourceArn=arn) == \
        f"Resource-based policy not found for the provided ResourceArn: {arn}"
    first = ddb.put_resource_policy(ResourceArn=arn, Policy=document)["RevisionId"]
    assert ddb.put_resource_policy(ResourceArn=arn, Policy=document)["RevisionId"] == first  # the same: no change
    got = ddb.get_resource_policy(ResourceArn=arn)
    assert (got["Policy"], got["RevisionId"]) == (document, first)
    second = ddb.put_resource_policy(ResourceArn=arn, Policy=document.replace("GetItem", "Query"),
                                     ExpectedRevisionId=first)["RevisionId"]
    assert second > first
    assert error(ddb.put_resource_policy, "PolicyNotFoundException", ResourceArn=arn, Policy=document,
                 ExpectedRevisionId=first) == (
        "Resource-based policy not found for the provided ResourceArn: Requested update for policy with revision "
        f"id {first}, but the policy associated to target table guarded has revision id {second}.")
    assert "expecting none to be present" in error(ddb.put_resource_policy, "PolicyNotFoundException",
                                                   ResourceArn=arn, Policy=document, ExpectedRevisionId="NO_POLICY")
    assert ddb.delete_resource_policy(ResourceArn=arn, ExpectedRevisionId=second)["RevisionId"] == second
    error(ddb.get_resource_policy, "PolicyNotFoundException", ResourceArn=arn)
    assert error(ddb.get_resource_policy, "ResourceNotFoundException", ResourceArn=arn + "x") == \
        "Requested resource not found: Table: guardedx not found"
