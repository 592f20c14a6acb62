"""DynamoDB Streams through boto3: each view type's records, written with their item changes, read by
shard iterator; 24-hour retention on the manual clock; TTL deletions in the stream as the service."""

from __future__ import annotations

from typing import Any

import pytest

from tests.dynamodb.test_tables import error, make_table
from tests.helpers import wait_for


@pytest.fixture
def streams(client: Any) -> Any:
    return client("dynamodbstreams")


def read_all(streams: Any, arn: str, kind: str = "TRIM_HORIZON") -> list[dict[str, Any]]:
    shard = streams.describe_stream(StreamArn=arn)["StreamDescription"]["Shards"][0]["ShardId"]
    iterator = streams.get_shard_iterator(StreamArn=arn, ShardId=shard, ShardIteratorType=kind)["ShardIterator"]
    records: list[dict[str, Any]] = []
    while iterator:
        page = streams.get_records(ShardIterator=iterator)
        records += page["Records"]
        if not page["Records"]:
            break
        iterator = page.get("NextShardIterator")
    return records


@pytest.mark.parametrize("view", ["KEYS_ONLY", "NEW_IMAGE", "OLD_IMAGE", "NEW_AND_OLD_IMAGES"])
def test_each_view_type_records_every_change_in_order(ddb: Any, streams: Any, view: str) -> None:
    table = make_table(ddb, "streamed", range_key=False,
                       StreamSpecification={"StreamEnabled": True, "StreamViewType": view})
    arn = table["LatestStreamArn"]
    key = {"pk": {"S": "a"}}
    ddb.put_item(TableName="streamed", Item={**key, "n": {"N": "1"}})
    ddb.put_item(TableName="streamed", Item={**key, "n": {"N": "1"}})  # no change: no record
    ddb.update_item(TableName="streamed", Key=key, UpdateExpression="SET n = :two",
                    ExpressionAttributeValues={":two": {"N": "2"}})
    ddb.delete_item(TableName="streamed", Key=key)
    ddb.delete_item(TableName="streamed", Key=key)  # nothing to delete: no record
    records = read_all(streams, arn)
    assert [r["eventName"] for r in records] == ["INSERT", "MODIFY", "REMOVE"]
    numbers = [r["dynamodb"]["SequenceNumber"] for r in records]
    assert numbers == sorted(numbers) and len(set(numbers)) == 3
    for record in records:
        assert record["eventSource"] == "aws:dynamodb" and record["awsRegion"] == "us-east-1"
        assert record["dynamodb"]["Keys"] == key and record["dynamodb"]["StreamViewType"] == view
        assert "userIdentity" not in record
    new = [r["dynamodb"].get("NewImage") for r in records]
    old = [r["dynamodb"].get("OldImage") for r in records]
    with_new = view in ("NEW_IMAGE", "NEW_AND_OLD_IMAGES")
    with_old = view in ("OLD_IMAGE", "NEW_AND_OLD_IMAGES")
    assert new == ([{**key, "n": {"N": "1"}}, {**key, "n": {"N": "2"}}, None] if with_new else [None] * 3)
    assert old == ([None, {**key, "n": {"N": "1"}}, {**key, "n": {"N": "2"}}] if with_old else [None] * 3)


def test_list_describe_latest_and_retention(ddb: Any, streams: Any, advance: Any) -> None:
    arn = make_table(ddb, "listed", range_key=False, StreamSpecification={
        "StreamEnabled": True, "StreamViewType": "NEW_IMAGE"})["LatestStreamArn"]
    make_table(ddb, "unstreamed", range_key=False)
    listed = streams.list_streams()["Streams"]
    assert [(s["StreamArn"], s["TableName"]) for s in listed] == [(arn, "listed")]
    description = streams.describe_stream(StreamArn=arn)["StreamDescription"]
    assert description["StreamStatus"] == "ENABLED" and description["TableName"] == "listed"
    assert description["KeySchema"] == [{"AttributeName": "pk", "KeyType": "HASH"}]
    shard = description["Shards"][0]
    ddb.put_item(TableName="listed", Item={"pk": {"S": "before"}})
    latest = streams.get_shard_iterator(StreamArn=arn, ShardId=shard["ShardId"],
                                        ShardIteratorType="LATEST")["ShardIterator"]
    ddb.put_item(TableName="listed", Item={"pk": {"S": "after"}})
    page = streams.get_records(ShardIterator=latest)
    assert [r["dynamodb"]["Keys"]["pk"]["S"] for r in page["Records"]] == ["after"]
    first = read_all(streams, arn)[0]["dynamodb"]["SequenceNumber"]
    after_first = streams.get_shard_iterator(StreamArn=arn, ShardId=shard["ShardId"], SequenceNumber=first,
                                             ShardIteratorType="AFTER_SEQUENCE_NUMBER")["ShardIterator"]
    assert [r["dynamodb"]["Keys"]["pk"]["S"] for r in streams.get_records(ShardIterator=after_first)["Records"]] == \
        ["after"]
    advance(25 * 3600)  # past the 24 hours: the records are gone
    ddb.put_item(TableName="listed", Item={"pk": {"S": "fresh"}})
    assert [r["dynamodb"]["Keys"]["pk"]["S"] for r in read_all(streams, arn)] == ["fresh"]
    assert error(streams.describe_stream, "ResourceNotFoundException", StreamArn=arn + "x").startswith(
        "Requested resource not found")
    ddb.update_table(TableName="listed", StreamSpecification={"StreamEnabled": False})
    closed = streams.describe_stream(StreamArn=arn)["StreamDescription"]
    assert closed["StreamStatus"] == "DISABLED"
    assert "EndingSequenceNumber" in closed["Shards"][0]["SequenceNumberRange"]


def test_ttl_deletes_expired_items_into_the_stream_as_the_service(ddb: Any, streams: Any, advance: Any) -> None:
    arn = make_table(ddb, "expiring", range_key=False, StreamSpecification={
        "StreamEnabled": True, "StreamViewType": "OLD_IMAGE"})["LatestStreamArn"]
    now = advance(0)
    ddb.put_item(TableName="expiring", Item={"pk": {"S": "soon"}, "exp": {"N": str(int(now) + 30)}})
    ddb.put_item(TableName="expiring", Item={"pk": {"S": "later"}, "exp": {"N": str(int(now) + 3600)}})
    ddb.put_item(TableName="expiring", Item={"pk": {"S": "text"}, "exp": {"S": str(int(now))}})  # not a number
    ddb.put_item(TableName="expiring", Item={"pk": {"S": "ancient"}, "exp": {"N": str(int(now) - 6 * 365 * 86400)}})
    ddb.put_item(TableName="expiring", Item={"pk": {"S": "past"}, "exp": {"N": str(int(now) - 5)}})
    ddb.update_time_to_live(TableName="expiring", TimeToLiveSpecification={"Enabled": True, "AttributeName": "exp"})

    def keys() -> list[str]:
        return sorted(i["pk"]["S"] for i in ddb.scan(TableName="expiring")["Items"])

    advance(11)  # one sweep: the item already past goes
    wait_for(lambda: "past" not in keys(), 10, what="the sweep's commit")  # the sweep ran; its commit lands
    assert keys() == ["ancient", "later", "soon", "text"]
    advance(30)
    wait_for(lambda: "soon" not in keys(), 10, what="the sweep's commit")  # the sweep ran; its commit lands
    assert keys() == ["ancient", "later", "text"]
    removed = [r for r in read_all(streams, arn) if r["eventName"] == "REMOVE"]
    assert [r["dynamodb"]["Keys"]["pk"]["S"] for r in removed] == ["past", "soon"]
    for record in removed:
        assert record["userIdentity"] == {"PrincipalId": "dynamodb.amazonaws.com", "Type": "Service"}
        assert "exp" in record["dynamodb"]["OldImage"]
    ddb.update_item(TableName="expiring", Key={"pk": {"S": "later"}}, UpdateExpression="SET exp = :e",
                    ExpressionAttributeValues={":e": {"N": str(int(now))}})  # an update moves the expiry
    advance(11)
    wait_for(lambda: "later" not in keys(), 10, what="the sweep's commit")  # the sweep ran; its commit lands
    assert keys() == ["ancient", "text"]


def test_an_update_deep_inside_an_item_leaves_its_old_image_whole(ddb: Any, streams: Any) -> None:
    """An update copies only the attributes it reaches into: the old image it returns (ALL_OLD) and the
    stream's OldImage are the item as it was, nested members included, while the new one has the change."""
    arn = ddb.create_table(TableName="deep-old", KeySchema=[{"AttributeName": "id", "KeyType": "HASH"}],
                           AttributeDefinitions=[{"AttributeName": "id", "AttributeType": "S"}],
                           BillingMode="PAY_PER_REQUEST",
                           StreamSpecification={"StreamEnabled": True, "StreamViewType": "NEW_AND_OLD_IMAGES"},
                           )["TableDescription"]["LatestStreamArn"]
    original = {"id": {"S": "a"}, "m": {"M": {"n": {"N": "1"}, "l": {"L": [{"S": "x"}, {"S": "y"}]}}},
                "extra": {"M": {"k": {"S": "v"}}}, "s": {"SS": ["p"]}}
    ddb.put_item(TableName="deep-old", Item=original)
    old = ddb.update_item(TableName="deep-old", Key={"id": {"S": "a"}},
                          UpdateExpression="SET m.n = m.n + :one, m.l[1] = :z ADD s :q REMOVE extra.k",
                          ExpressionAttributeValues={":one": {"N": "1"}, ":z": {"S": "z"}, ":q": {"SS": ["q"]}},
                          ReturnValues="ALL_OLD")["Attributes"]
    assert old == original
    new = ddb.get_item(TableName="deep-old", Key={"id": {"S": "a"}}, ConsistentRead=True)["Item"]
    assert new["m"] == {"M": {"n": {"N": "2"}, "l": {"L": [{"S": "x"}, {"S": "z"}]}}}
    assert new["extra"] == {"M": {}} and sorted(new["s"]["SS"]) == ["p", "q"]
    change = read_all(streams, arn)[-1]["dynamodb"]
    assert change["OldImage"] == original and change["NewImage"] == new
