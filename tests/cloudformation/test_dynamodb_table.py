"""AWS::DynamoDB::Table through stacks, checked through DynamoDB's API with boto3: keys, billing, global and
local secondary indexes, the stream, TTL, tags, point-in-time recovery and deletion protection as made;
global indexes swapped and billing changed in place (the items stay, and a new index holds them); a new
key schema replaces the table; deletion protection keeps the table (and fails the stack's deletion) until
it is lifted. https://docs.aws.amazon.com/AWSCloudFormation/latest/TemplateReference/aws-resource-dynamodb-table.html
"""

from __future__ import annotations

from typing import Any

import pytest
from botocore.exceptions import ClientError

from tests.cloudformation.test_deploy import settled

TEMPLATE = """
Parameters:
  SortKey: {Type: String, Default: sk}
  Billing: {Type: String, Default: PAY_PER_REQUEST}
  Index: {Type: String, Default: status}
  Protect: {Type: String, Default: "false"}
  Team: {Type: String, Default: orders}
Conditions:
  ByStatus: !Equals [!Ref Index, status]
  Provisioned: !Equals [!Ref Billing, PROVISIONED]
Resources:
  Orders:
    Type: AWS::DynamoDB::Table
    Properties:
      KeySchema: [{AttributeName: pk, KeyType: HASH}, {AttributeName: !Ref SortKey, KeyType: RANGE}]
      AttributeDefinitions:
        - {AttributeName: pk, AttributeType: S}
        - {AttributeName: !Ref SortKey, AttributeType: S}
        - {AttributeName: created, AttributeType: N}
        - !If [ByStatus, {AttributeName: status, AttributeType: S}, {AttributeName: customer, AttributeType: S}]
      BillingMode: !Ref Billing
      ProvisionedThroughput: !If [Provisioned, {ReadCapacityUnits: 5, WriteCapacityUnits: 5}, !Ref AWS::NoValue]
      GlobalSecondaryIndexes:
        - !If
          - ByStatus
          - {IndexName: ByStatus, KeySchema: [{AttributeName: status, KeyType: HASH}],
             Projection: {ProjectionType: ALL}}
          - IndexName: ByCustomer
            KeySchema: [{AttributeName: customer, KeyType: HASH}]
            Projection: {ProjectionType: KEYS_ONLY}
            ProvisionedThroughput: {ReadCapacityUnits: 2, WriteCapacityUnits: 2}
      LocalSecondaryIndexes:
        - {IndexName: ByCreated, KeySchema: [{AttributeName: pk, KeyType: HASH}, {AttributeName: created, KeyType: RANGE}],
           Projection: {ProjectionType: KEYS_ONLY}}
      StreamSpecification: {StreamViewType: NEW_AND_OLD_IMAGES}
      TimeToLiveSpecification: {AttributeName: expires, Enabled: true}
      PointInTimeRecoverySpecification: {PointInTimeRecoveryEnabled: true}
      DeletionProtectionEnabled: !Ref Protect
      Tags: [{Key: team, Value: !Ref Team}]
Outputs:
  Name: {Value: !Ref Orders}
  Arn: {Value: !GetAtt Orders.Arn}
  StreamArn: {Value: !GetAtt Orders.StreamArn}
"""


def params(**values: str) -> list[dict[str, str]]:
    return [{"ParameterKey": k, "ParameterValue": v} for k, v in values.items()]


def outputs(stack: dict[str, Any]) -> dict[str, str]:
    return {o["OutputKey"]: o["OutputValue"] for o in stack["Outputs"]}


def update(cf: Any, **values: str) -> dict[str, Any]:
    cf.update_stack(StackName="tables", UsePreviousTemplate=True, Parameters=params(**values))
    stack = settled(cf, "tables")
    assert stack["StackStatus"] == "UPDATE_COMPLETE", [
        (e["LogicalResourceId"], e["ResourceStatus"], e.get("ResourceStatusReason"))
        for e in cf.describe_stack_events(StackName="tables")["StackEvents"][:4]]
    return stack


def test_a_table_is_made_changed_in_place_replaced_and_protected(client) -> None:  # type: ignore[no-untyped-def]
    cf, ddb = client("cloudformation"), client("dynamodb")
    cf.create_stack(StackName="tables", TemplateBody=TEMPLATE)
    stack = settled(cf, "tables")
    assert stack["StackStatus"] == "CREATE_COMPLETE", cf.describe_stack_events(StackName="tables")["StackEvents"][:3]
    out = outputs(stack)
    name = out["Name"]
    assert name.startswith("tables-Orders-")
    table = ddb.describe_table(TableName=name)["Table"]
    assert table["TableArn"] == out["Arn"] and table["LatestStreamArn"] == out["StreamArn"]
    assert table["KeySchema"] == [{"AttributeName": "pk", "KeyType": "HASH"}, {"AttributeName": "sk", "KeyType": "RANGE"}]
    assert table["BillingModeSummary"]["BillingMode"] == "PAY_PER_REQUEST"
    assert [i["IndexName"] for i in table["GlobalSecondaryIndexes"]] == ["ByStatus"]
    assert [i["IndexName"] for i in table["LocalSecondaryIndexes"]] == ["ByCreated"]
    assert table["StreamSpecification"] == {"StreamEnabled": True, "StreamViewType": "NEW_AND_OLD_IMAGES"}
    assert table["DeletionProtectionEnabled"] is False
    assert ddb.describe_time_to_live(TableName=name)["TimeToLiveDescription"] == {
        "TimeToLiveStatus": "ENABLED", "AttributeName": "expires"}
    assert ddb.list_tags_of_resource(ResourceArn=out["Arn"])["Tags"] == [{"Key": "team", "Value": "orders"}]
    assert ddb.describe_continuous_backups(TableName=name)["ContinuousBackupsDescription"][
        "PointInTimeRecoveryDescription"]["PointInTimeRecoveryStatus"] == "ENABLED"
    item = {"pk": {"S": "o1"}, "sk": {"S": "a"}, "created": {"N": "1"}, "status": {"S": "new"},
            "customer": {"S": "c7"}}
    ddb.put_item(TableName=name, Item=item)
    assert ddb.query(TableName=name, IndexName="ByStatus", KeyConditionExpression="#s = :s",
                     ExpressionAttributeNames={"#s": "status"},
                     ExpressionAttributeValues={":s": {"S": "new"}})["Count"] == 1

    # In place: one global index removed and another added, provisioned billing, a tag's value.
    stack = update(cf, Index="customer", Billing="PROVISIONED", Team="fulfilment")
    assert outputs(stack)["Name"] == name and outputs(stack)["StreamArn"] == out["StreamArn"]
    table = ddb.describe_table(TableName=name)["Table"]
    assert [i["IndexName"] for i in table["GlobalSecondaryIndexes"]] == ["ByCustomer"]
    assert table["GlobalSecondaryIndexes"][0]["ProvisionedThroughput"]["ReadCapacityUnits"] == 2
    assert (table["ProvisionedThroughput"]["ReadCapacityUnits"],
            table["ProvisionedThroughput"]["WriteCapacityUnits"]) == (5, 5)
    assert ddb.list_tags_of_resource(ResourceArn=out["Arn"])["Tags"] == [{"Key": "team", "Value": "fulfilment"}]
    found = ddb.query(TableName=name, IndexName="ByCustomer", KeyConditionExpression="customer = :c",
                      ExpressionAttributeValues={":c": {"S": "c7"}})
    assert found["Items"] == [{"pk": {"S": "o1"}, "sk": {"S": "a"}, "customer": {"S": "c7"}}]

    # A new sort key replaces the table: a new one under a new name, the old one deleted.
    stack = update(cf, Index="customer", Billing="PROVISIONED", Team="fulfilment", SortKey="line")
    replaced = outputs(stack)["Name"]
    assert replaced != name and name not in ddb.list_tables()["TableNames"]
    assert ddb.describe_table(TableName=replaced)["Table"]["KeySchema"][1] == {"AttributeName": "line",
                                                                                "KeyType": "RANGE"}

    # Protected, the table stays and the stack's deletion fails with DynamoDB's reason, until it is lifted.
    update(cf, Index="customer", Billing="PROVISIONED", Team="fulfilment", SortKey="line", Protect="true")
    assert ddb.describe_table(TableName=replaced)["Table"]["DeletionProtectionEnabled"] is True
    cf.delete_stack(StackName="tables")
    assert settled(cf, "tables")["StackStatus"] == "DELETE_FAILED"
    [failed] = [e for e in cf.describe_stack_events(StackName="tables")["StackEvents"]
                if e["ResourceStatus"] == "DELETE_FAILED" and e["LogicalResourceId"] == "Orders"][:1]
    assert "protected against deletion" in failed["ResourceStatusReason"]
    assert replaced in ddb.list_tables()["TableNames"]
    ddb.update_table(TableName=replaced, DeletionProtectionEnabled=False)
    cf.delete_stack(StackName="tables")
    cf.get_waiter("stack_delete_complete").wait(StackName="tables", WaiterConfig={"Delay": 1})
    assert ddb.list_tables()["TableNames"] == []


def test_a_local_index_cannot_change_and_the_update_rolls_back(client) -> None:  # type: ignore[no-untyped-def]
    cf, ddb = client("cloudformation"), client("dynamodb")
    body = """
Parameters:
  Projection: {Type: String, Default: KEYS_ONLY}
Resources:
  Events:
    Type: AWS::DynamoDB::Table
    Properties:
      TableName: events
      BillingMode: PAY_PER_REQUEST
      KeySchema: [{AttributeName: pk, KeyType: HASH}, {AttributeName: at, KeyType: RANGE}]
      AttributeDefinitions: [{AttributeName: pk, AttributeType: S}, {AttributeName: at, AttributeType: N},
                             {AttributeName: kind, AttributeType: S}]
      LocalSecondaryIndexes:
        - {IndexName: ByKind, KeySchema: [{AttributeName: pk, KeyType: HASH}, {AttributeName: kind, KeyType: RANGE}],
           Projection: {ProjectionType: !Ref Projection}}
"""
    cf.create_stack(StackName="events", TemplateBody=body)
    assert settled(cf, "events")["StackStatus"] == "CREATE_COMPLETE"
    cf.update_stack(StackName="events", UsePreviousTemplate=True, Parameters=params(Projection="ALL"))
    assert settled(cf, "events")["StackStatus"] == "UPDATE_ROLLBACK_COMPLETE"
    [failed] = [e for e in cf.describe_stack_events(StackName="events")["StackEvents"]
                if e["ResourceStatus"] == "UPDATE_FAILED"]
    assert "Local secondary indexes cannot be changed" in failed["ResourceStatusReason"]
    index = ddb.describe_table(TableName="events")["Table"]["LocalSecondaryIndexes"][0]
    assert index["Projection"] == {"ProjectionType": "KEYS_ONLY"}
    cf.delete_stack(StackName="events")
    cf.get_waiter("stack_delete_complete").wait(StackName="events", WaiterConfig={"Delay": 1})
    with pytest.raises(ClientError, match="ResourceNotFoundException"):
        ddb.describe_table(TableName="events")
