"""DescribeTable's throughput and mode fields through boto3: warm throughput of tables and global indexes
(defaults, CreateTable's and UpdateTable's WarmThroughput, never falling), OnDemandThroughput, the
BillingModeSummary of a table that changed mode, TableClassSummary, DescribeTable by table ARN, and
UpdateTable's rules for its index updates; all kept across a restart."""

from __future__ import annotations

from typing import Any

from tests.dynamodb.test_tables import error


def attrs(*names: str) -> list[dict[str, str]]:
    return [{"AttributeName": n, "AttributeType": "S"} for n in names]


def gsi(name: str, key: str, **extra: Any) -> dict[str, Any]:
    return {"IndexName": name, "KeySchema": [{"AttributeName": key, "KeyType": "HASH"}],
            "Projection": {"ProjectionType": "KEYS_ONLY"}, **extra}


def on_demand_table(ddb: Any, name: str, **extra: Any) -> dict[str, Any]:
    result: dict[str, Any] = ddb.create_table(
        TableName=name, KeySchema=[{"AttributeName": "id", "KeyType": "HASH"}], BillingMode="PAY_PER_REQUEST",
        AttributeDefinitions=attrs("id", *extra.pop("more", [])), **extra)
    return result["TableDescription"]


def warm(read: int, write: int) -> dict[str, Any]:
    return {"ReadUnitsPerSecond": read, "WriteUnitsPerSecond": write, "Status": "ACTIVE"}


def test_warm_throughput_defaults_and_requests_on_create(ddb: Any) -> None:
    created = on_demand_table(ddb, "wt_default", more=["g"], GlobalSecondaryIndexes=[gsi("by-g", "g")])
    assert created["WarmThroughput"] == warm(12000, 4000)
    assert created["GlobalSecondaryIndexes"][0]["WarmThroughput"] == warm(12000, 4000)
    ddb.create_table(TableName="wt_provisioned", KeySchema=[{"AttributeName": "id", "KeyType": "HASH"}],
                     AttributeDefinitions=attrs("id", "g"),
                     ProvisionedThroughput={"ReadCapacityUnits": 3, "WriteCapacityUnits": 5},
                     GlobalSecondaryIndexes=[gsi("by-g", "g", ProvisionedThroughput={
                         "ReadCapacityUnits": 7, "WriteCapacityUnits": 2})])
    described = ddb.describe_table(TableName="wt_provisioned")["Table"]
    assert described["WarmThroughput"] == warm(3, 5)
    assert described["GlobalSecondaryIndexes"][0]["WarmThroughput"] == warm(7, 2)
    asked = on_demand_table(ddb, "wt_asked", more=["g"], WarmThroughput={"ReadUnitsPerSecond": 15000,
                                                                         "WriteUnitsPerSecond": 5000},
                            GlobalSecondaryIndexes=[gsi("by-g", "g", WarmThroughput={"ReadUnitsPerSecond": 20000})])
    assert asked["WarmThroughput"] == warm(15000, 5000)
    assert asked["GlobalSecondaryIndexes"][0]["WarmThroughput"] == warm(20000, 4000)


def test_warm_throughput_below_the_base_is_refused(ddb: Any) -> None:
    assert error(on_demand_table, "ValidationException", ddb=ddb, name="wt_low",
                 WarmThroughput={"ReadUnitsPerSecond": 12000, "WriteUnitsPerSecond": 3000}) == (
        "One or more parameter values were invalid: Requested WriteUnitsPerSecond for WarmThroughput for table is "
        "lower than initial throughput for OnDemand")
    assert error(on_demand_table, "ValidationException", ddb=ddb, name="wt_low", more=["g"],
                 GlobalSecondaryIndexes=[gsi("low", "g", WarmThroughput={"ReadUnitsPerSecond": 10000})]) == (
        "One or more parameter values were invalid: Requested ReadUnitsPerSecond for WarmThroughput for index low is "
        "lower than initial throughput for OnDemand")
    message = error(ddb.create_table, "ValidationException", TableName="wt_low",
                    KeySchema=[{"AttributeName": "id", "KeyType": "HASH"}], AttributeDefinitions=attrs("id"),
                    ProvisionedThroughput={"ReadCapacityUnits": 50, "WriteCapacityUnits": 5},
                    WarmThroughput={"ReadUnitsPerSecond": 40})
    assert message == ("One or more parameter values were invalid: Requested ReadUnitsPerSecond for WarmThroughput "
                       "for table is lower than ReadCapacityUnits of ProvisionedThroughput")
    assert "wt_low" not in ddb.list_tables()["TableNames"]


def test_update_table_raises_warm_throughput_which_never_falls(ddb: Any) -> None:
    on_demand_table(ddb, "wt_update", more=["g"], GlobalSecondaryIndexes=[gsi("by-g", "g")])
    updated = ddb.update_table(TableName="wt_update", WarmThroughput={"ReadUnitsPerSecond": 15000,
                                                                      "WriteUnitsPerSecond": 5000})
    assert updated["TableDescription"]["WarmThroughput"] == warm(15000, 5000)
    ddb.update_table(TableName="wt_update", GlobalSecondaryIndexUpdates=[{"Update": {
        "IndexName": "by-g", "WarmThroughput": {"WriteUnitsPerSecond": 9000}}}])
    # switching to provisioned capacity below the warm values keeps them
    ddb.update_table(TableName="wt_update", BillingMode="PROVISIONED",
                     ProvisionedThroughput={"ReadCapacityUnits": 5, "WriteCapacityUnits": 5},
                     GlobalSecondaryIndexUpdates=[{"Update": {"IndexName": "by-g", "ProvisionedThroughput": {
                         "ReadCapacityUnits": 1, "WriteCapacityUnits": 1}}}])
    table = ddb.describe_table(TableName="wt_update")["Table"]
    assert table["WarmThroughput"] == warm(15000, 5000)
    assert table["GlobalSecondaryIndexes"][0]["WarmThroughput"] == warm(12000, 9000)
    assert error(ddb.update_table, "ValidationException", TableName="wt_update",
                 WarmThroughput={"ReadUnitsPerSecond": 100}) == (
        "One or more parameter values were invalid: Requested ReadUnitsPerSecond for WarmThroughput for table is "
        "lower than current WarmThroughput, decreasing WarmThroughput is not supported")
    assert error(ddb.update_table, "ValidationException", TableName="wt_update", GlobalSecondaryIndexUpdates=[
        {"Update": {"IndexName": "by-g", "WarmThroughput": {"WriteUnitsPerSecond": 8000}}}]) == (
        "One or more parameter values were invalid: Requested WriteUnitsPerSecond for WarmThroughput for index by-g "
        "is lower than current WarmThroughput, decreasing WarmThroughput is not supported")
    assert error(ddb.update_table, "ValidationException", TableName="wt_update",
                 StreamSpecification={"StreamEnabled": True, "StreamViewType": "KEYS_ONLY"},
                 WarmThroughput={"ReadUnitsPerSecond": 16000}) == (
        "One or more parameter values were invalid: WarmThroughput must be the only operation in the request")
    ddb.update_table(TableName="wt_update", ProvisionedThroughput={"ReadCapacityUnits": 20000,
                                                                   "WriteCapacityUnits": 5})
    assert ddb.describe_table(TableName="wt_update")["Table"]["WarmThroughput"] == warm(20000, 5000)


def test_on_demand_throughput_billing_summary_and_table_class(ddb: Any) -> None:
    created = on_demand_table(ddb, "odt", more=["g"],
                              OnDemandThroughput={"MaxReadRequestUnits": 100, "MaxWriteRequestUnits": 50},
                              GlobalSecondaryIndexes=[gsi("by-g", "g", OnDemandThroughput={"MaxReadRequestUnits": 10})])
    assert created["OnDemandThroughput"] == {"MaxReadRequestUnits": 100, "MaxWriteRequestUnits": 50}
    assert created["GlobalSecondaryIndexes"][0]["OnDemandThroughput"] == {"MaxReadRequestUnits": 10}
    assert created["BillingModeSummary"] == {"BillingMode": "PAY_PER_REQUEST",
                                             "LastUpdateToPayPerRequestDateTime": created["CreationDateTime"]}
    assert "TableClassSummary" not in created
    ddb.update_table(TableName="odt", OnDemandThroughput={"MaxWriteRequestUnits": -1})
    ddb.update_table(TableName="odt", TableClass="STANDARD_INFREQUENT_ACCESS")
    table = ddb.describe_table(TableName="odt")["Table"]
    assert table["OnDemandThroughput"] == {"MaxReadRequestUnits": 100, "MaxWriteRequestUnits": -1}
    assert table["TableClassSummary"]["TableClass"] == "STANDARD_INFREQUENT_ACCESS"
    assert table["TableClassSummary"]["LastUpdateDateTime"] >= table["CreationDateTime"]
    assert error(ddb.update_table, "ValidationException", TableName="odt",
                 OnDemandThroughput={"MaxReadRequestUnits": 0}) == (
        "One or more parameter values were invalid: Requested MaxReadRequestUnits for OnDemandThroughput for table "
        "is outside of valid range")
    assert error(ddb.update_table, "ValidationException", TableName="odt",
                 StreamSpecification={"StreamEnabled": True, "StreamViewType": "KEYS_ONLY"},
                 OnDemandThroughput={"MaxReadRequestUnits": 5}) == (
        "One or more parameter values were invalid: OnDemandThroughput can only be combined with BillingMode in an "
        "UpdateTable request")
    assert error(ddb.update_table, "ValidationException", TableName="odt", GlobalSecondaryIndexUpdates=[
        {"Update": {"IndexName": "by-g", "ProvisionedThroughput": {"ReadCapacityUnits": 1,
                                                                   "WriteCapacityUnits": 1}}}]) == (
        "One or more parameter values were invalid: The only Updates for index: by-g when TableThroughputMode is "
        "PAY_PER_REQUEST can be to OnDemandThroughput, WarmThroughput")
    ddb.create_table(TableName="prov", KeySchema=[{"AttributeName": "id", "KeyType": "HASH"}],
                     AttributeDefinitions=attrs("id"),
                     ProvisionedThroughput={"ReadCapacityUnits": 1, "WriteCapacityUnits": 1})
    assert "BillingModeSummary" not in ddb.describe_table(TableName="prov")["Table"]
    assert error(ddb.update_table, "ValidationException", TableName="prov",
                 OnDemandThroughput={"MaxWriteRequestUnits": 5}) == (
        "One or more parameter values were invalid: MaxWriteRequestUnits for OnDemandThroughput cannot be specified "
        "when the table BillingMode is PROVISIONED")
    ddb.update_table(TableName="prov", BillingMode="PAY_PER_REQUEST")
    summary = ddb.describe_table(TableName="prov")["Table"]["BillingModeSummary"]
    assert summary["BillingMode"] == "PAY_PER_REQUEST"
    ddb.update_table(TableName="prov", BillingMode="PROVISIONED",
                     ProvisionedThroughput={"ReadCapacityUnits": 1, "WriteCapacityUnits": 1})
    assert ddb.describe_table(TableName="prov")["Table"]["BillingModeSummary"] == {
        "BillingMode": "PROVISIONED", "LastUpdateToPayPerRequestDateTime": summary["LastUpdateToPayPerRequestDateTime"]}


def test_describe_table_by_arn_and_one_index_change_at_a_time(ddb: Any) -> None:
    arn = on_demand_table(ddb, "by_arn", more=["g"], GlobalSecondaryIndexes=[gsi("by-g", "g")])["TableArn"]
    assert ddb.describe_table(TableName=arn)["Table"]["TableName"] == "by_arn"
    message = error(ddb.update_table, "LimitExceededException", TableName="by_arn",
                    AttributeDefinitions=attrs("h"),
                    GlobalSecondaryIndexUpdates=[{"Create": gsi("by-h", "h")}, {"Delete": {"IndexName": "by-g"}}])
    assert message == "Subscriber limit exceeded: Only 1 online index can be created or deleted simultaneously per table"
    assert error(ddb.update_table, "ValidationException", TableName="by_arn", AttributeDefinitions=attrs("g"),
                 GlobalSecondaryIndexUpdates=[{"Create": gsi("by-g", "g")}]) == (
        "Attempting to create an index which already exists")
    assert error(ddb.update_table, "ValidationException", TableName="by_arn",
                 GlobalSecondaryIndexUpdates=[{"Delete": {"IndexName": "by-g"}, "Create": gsi("by-h", "h")}]) == (
        "One or more parameter values were invalid: Only one global secondary index action is allowed per "
        "GlobalSecondaryIndexUpdate object")
    assert error(ddb.update_table, "ValidationException", TableName="by_arn", AttributeDefinitions=attrs("h"),
                 GlobalSecondaryIndexUpdates=[{"Create": gsi("by-h", "h", ProvisionedThroughput={
                     "ReadCapacityUnits": 1, "WriteCapacityUnits": 1})}]) == (
        "One or more parameter values were invalid: Neither ReadCapacityUnits nor WriteCapacityUnits can be "
        "specified for index: by-h when BillingMode is PAY_PER_REQUEST")
    assert error(ddb.update_table, "ValidationException", TableName="by_arn", AttributeDefinitions=attrs("id")) == (
        "At least one of ProvisionedThroughput, BillingMode, UpdateStreamEnabled, GlobalSecondaryIndexUpdates, "
        "SSESpecification, ReplicaUpdates, MultiAccountReplicaReady, ReplicaTransitRoleArn, MultiRegionConsistency, "
        "DeletionProtectionEnabled, OnDemandThroughput, WarmThroughput or TableClass is required")
    assert [i["IndexName"] for i in ddb.describe_table(TableName=arn)["Table"]["GlobalSecondaryIndexes"]] == ["by-g"]
    assert error(ddb.update_table, "ValidationException", TableName="by_arn", GlobalSecondaryIndexUpdates=[{}]) == (
        "One or more parameter values were invalid: One of GlobalSecondaryIndexUpdate.Update, "
        "GlobalSecondaryIndexUpdate.Create, GlobalSecondaryIndexUpdate.Delete must not be null")
    warm_up = {"Update": {"IndexName": "by-g", "WarmThroughput": {"ReadUnitsPerSecond": 13000}}}
    assert error(ddb.update_table, "ValidationException", TableName="by_arn",
                 GlobalSecondaryIndexUpdates=[warm_up, {"Delete": {"IndexName": "by-g"}}]) == (
        "One or more parameter values were invalid: Only one global secondary index update per index is allowed "
        "simultaneously. Index: by-g")


def test_throughput_settings_survive_a_restart(start_server: Any) -> None:
    server = start_server()
    ddb = server.client("dynamodb")
    on_demand_table(ddb, "kept", more=["g"], WarmThroughput={"ReadUnitsPerSecond": 13000},
                    OnDemandThroughput={"MaxReadRequestUnits": 7},
                    GlobalSecondaryIndexes=[gsi("by-g", "g", WarmThroughput={"WriteUnitsPerSecond": 4500})])
    before = ddb.describe_table(TableName="kept")["Table"]
    server.kill()
    server = start_server(server.data_dir)
    after = server.client("dynamodb").describe_table(TableName="kept")["Table"]
    for field in ("WarmThroughput", "OnDemandThroughput", "BillingModeSummary"):
        assert after[field] == before[field]
    assert after["GlobalSecondaryIndexes"][0]["WarmThroughput"] == warm(12000, 4500)


def test_update_table_refuses_a_throughput_that_would_not_change(ddb: Any) -> None:
    ddb.create_table(TableName="same", KeySchema=[{"AttributeName": "id", "KeyType": "HASH"}],
                     AttributeDefinitions=attrs("id", "g"),
                     ProvisionedThroughput={"ReadCapacityUnits": 3, "WriteCapacityUnits": 4},
                     GlobalSecondaryIndexes=[gsi("by-g", "g", ProvisionedThroughput={
                         "ReadCapacityUnits": 1, "WriteCapacityUnits": 2})])
    assert error(ddb.update_table, "ValidationException", TableName="same",
                 ProvisionedThroughput={"ReadCapacityUnits": 3, "WriteCapacityUnits": 4}) == (
        "The provisioned throughput for the table will not change. The requested value equals the current value. "
        "Current ReadCapacityUnits provisioned for the table: 3. Requested ReadCapacityUnits: 3. Current "
        "WriteCapacityUnits provisioned for the table: 4. Requested WriteCapacityUnits: 4. Refer to the Amazon "
        "DynamoDB Developer Guide for current limits and how to request higher limits.")
    assert error(ddb.update_table, "ValidationException", TableName="same", GlobalSecondaryIndexUpdates=[
        {"Update": {"IndexName": "by-g", "ProvisionedThroughput": {"ReadCapacityUnits": 1,
                                                                   "WriteCapacityUnits": 2}}}]).startswith(
        "The provisioned throughput for the index by-g will not change.")
    ddb.update_table(TableName="same", ProvisionedThroughput={"ReadCapacityUnits": 3, "WriteCapacityUnits": 5})
    ddb.update_table(TableName="same", BillingMode="PAY_PER_REQUEST")
    assert error(ddb.update_table, "ValidationException", TableName="same", BillingMode="PROVISIONED") == (
        "One or more parameter values were invalid: ProvisionedThroughput must be specified when BillingMode is "
        "PROVISIONED")
