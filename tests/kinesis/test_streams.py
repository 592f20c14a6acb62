"""Kinesis through boto3 and the AWS CLI: streams, records, iterators, shards, retention, tags, errors."""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from typing import Any

import pytest
import requests
from botocore.exceptions import ClientError

from tests.helpers import signed


@pytest.fixture
def kinesis(client: Any) -> Any:
    return client("kinesis")


def _error(call: Any, code: str, **kwargs: Any) -> str:
    with pytest.raises(ClientError) as caught:
        call(**kwargs)
    assert caught.value.response["Error"]["Code"] == code, caught.value.response
    assert caught.value.response["ResponseMetadata"]["HTTPStatusCode"] == 400
    return str(caught.value.response["Error"]["Message"])


def _read_all(kinesis: Any, stream: str, shard: str, kind: str = "TRIM_HORIZON", **extra: Any) -> list[dict[str, Any]]:
    iterator = kinesis.get_shard_iterator(StreamName=stream, ShardId=shard, ShardIteratorType=kind,
                                          **extra)["ShardIterator"]
    out: list[dict[str, Any]] = []
    while iterator:
        page = kinesis.get_records(ShardIterator=iterator, Limit=1000)
        out += page["Records"]
        if not page["Records"] and page.get("MillisBehindLatest") == 0:
            break
        iterator = page.get("NextShardIterator")
    return out


def test_stream_lifecycle_and_descriptions(kinesis: Any) -> None:
    kinesis.create_stream(StreamName="orders", ShardCount=3, Tags={"team": "a"})
    kinesis.get_waiter("stream_exists").wait(StreamName="orders", WaiterConfig={"Delay": 0.1})
    d = kinesis.describe_stream(StreamName="orders")["StreamDescription"]
    assert d["StreamStatus"] == "ACTIVE" and d["RetentionPeriodHours"] == 24 and d["HasMoreShards"] is False
    assert d["StreamARN"] == "arn:aws:kinesis:us-east-1:000000000000:stream/orders"
    assert d["StreamModeDetails"] == {"StreamMode": "PROVISIONED"} and d["EncryptionType"] == "NONE"
    ranges = [(int(s["HashKeyRange"]["StartingHashKey"]), int(s["HashKeyRange"]["EndingHashKey"])) for s in d["Shards"]]
    assert ranges[0][0] == 0 and ranges[-1][1] == 2**128 - 1
    assert all(a[1] + 1 == b[0] for a, b in zip(ranges, ranges[1:], strict=False))
    assert [s["ShardId"] for s in d["Shards"]] == [f"shardId-00000000000{i}" for i in range(3)]
    page = kinesis.describe_stream(StreamName="orders", Limit=2)["StreamDescription"]
    assert len(page["Shards"]) == 2 and page["HasMoreShards"] is True
    summary = kinesis.describe_stream_summary(StreamARN=d["StreamARN"])["StreamDescriptionSummary"]
    assert summary["OpenShardCount"] == 3 and summary["ConsumerCount"] == 0
    assert _error(kinesis.create_stream, "ResourceInUseException", StreamName="orders", ShardCount=1) == \
        "Stream orders under account 000000000000 already exists."
    kinesis.create_stream(StreamName="events", StreamModeDetails={"StreamMode": "ON_DEMAND"})
    on_demand = kinesis.describe_stream_summary(StreamName="events")["StreamDescriptionSummary"]
    assert on_demand["StreamModeDetails"] == {"StreamMode": "ON_DEMAND"} and on_demand["OpenShardCount"] == 4
    listed = kinesis.list_streams()
    assert listed["StreamNames"] == ["events", "orders"] and listed["HasMoreStreams"] is False
    assert kinesis.list_streams(Limit=1)["HasMoreStreams"] is True
    limits = kinesis.describe_limits()
    assert limits["OpenShardCount"] == 7 and limits["OnDemandStreamCount"] == 1
    kinesis.delete_stream(StreamName="orders")
    assert _error(kinesis.describe_stream, "ResourceNotFoundException", StreamName="orders") == \
        "Stream orders under account 000000000000 not found."


def test_records_go_to_the_shard_of_their_hash_key_in_order(kinesis: Any) -> None:
    kinesis.create_stream(StreamName="s", ShardCount=4)
    shards = kinesis.list_shards(StreamName="s")["Shards"]

    def owner(key: int) -> str:
        return next(s["ShardId"] for s in shards if int(s["HashKeyRange"]["StartingHashKey"]) <= key
                    <= int(s["HashKeyRange"]["EndingHashKey"]))

    put = kinesis.put_record(StreamName="s", PartitionKey="alpha", Data=b"one")
    assert put["ShardId"] == owner(int(hashlib.md5(b"alpha").hexdigest(), 16)) and put["EncryptionType"] == "NONE"
    assert len(put["SequenceNumber"]) == 56
    explicit = kinesis.put_record(StreamName="s", PartitionKey="x", Data=b"two", ExplicitHashKey=str(2**128 - 1))
    assert explicit["ShardId"] == "shardId-000000000003"
    batch = kinesis.put_records(StreamName="s", Records=[{"PartitionKey": "alpha", "Data": f"{i}".encode()}
                                                         for i in range(5)])
    assert batch["FailedRecordCount"] == 0
    sequence = [put["SequenceNumber"]] + [r["SequenceNumber"] for r in batch["Records"]]
    assert sequence == sorted(sequence) and len(set(sequence)) == 6
    records = _read_all(kinesis, "s", put["ShardId"])
    assert [r["Data"] for r in records] == [b"one", b"0", b"1", b"2", b"3", b"4"]
    assert [r["SequenceNumber"] for r in records] == sequence
    assert all(r["PartitionKey"] == "alpha" and isinstance(r["ApproximateArrivalTimestamp"], dt.datetime)
               for r in records)


def test_every_iterator_type_and_millis_behind(kinesis: Any, advance: Any) -> None:
    kinesis.create_stream(StreamName="it", ShardCount=1)
    shard = "shardId-000000000000"
    first = kinesis.put_records(StreamName="it", Records=[{"PartitionKey": "k", "Data": f"{i}".encode()}
                                                          for i in range(3)])["Records"]
    advance(60)
    middle = advance(0)
    later = kinesis.put_record(StreamName="it", PartitionKey="k", Data=b"3")
    data = lambda records: [r["Data"] for r in records]  # noqa: E731
    assert data(_read_all(kinesis, "it", shard, "AT_SEQUENCE_NUMBER",
                          StartingSequenceNumber=first[1]["SequenceNumber"])) == [b"1", b"2", b"3"]
    assert data(_read_all(kinesis, "it", shard, "AFTER_SEQUENCE_NUMBER",
                          StartingSequenceNumber=first[1]["SequenceNumber"])) == [b"2", b"3"]
    assert data(_read_all(kinesis, "it", shard, "AT_TIMESTAMP",
                          Timestamp=dt.datetime.fromtimestamp(middle, dt.UTC))) == [b"3"]
    latest = kinesis.get_shard_iterator(StreamName="it", ShardId=shard, ShardIteratorType="LATEST")["ShardIterator"]
    assert kinesis.get_records(ShardIterator=latest)["Records"] == []
    kinesis.put_record(StreamName="it", PartitionKey="k", Data=b"4")
    assert data(kinesis.get_records(ShardIterator=latest)["Records"]) == [b"4"]
    horizon = kinesis.get_shard_iterator(StreamName="it", ShardId=shard,
                                         ShardIteratorType="TRIM_HORIZON")["ShardIterator"]
    advance(10)
    page = kinesis.get_records(ShardIterator=horizon, Limit=2)
    assert data(page["Records"]) == [b"0", b"1"] and page["MillisBehindLatest"] >= 70_000
    rest = kinesis.get_records(ShardIterator=page["NextShardIterator"])
    assert data(rest["Records"]) == [b"2", b"3", b"4"] and rest["MillisBehindLatest"] == 0
    assert later["SequenceNumber"] == rest["Records"][1]["SequenceNumber"]
    # Iterators expire five minutes after they were handed out.
    advance(301)
    message = _error(kinesis.get_records, "ExpiredIteratorException", ShardIterator=rest["NextShardIterator"])
    assert message.startswith("Iterator expired. The iterator was created at time ")
    assert message.endswith("which is further in the future than the tolerated delay of 300000 milliseconds.")
    _error(kinesis.get_records, "InvalidArgumentException", ShardIterator="not-an-iterator")
    message = _error(kinesis.get_shard_iterator, "InvalidArgumentException", StreamName="it", ShardId=shard,
                     ShardIteratorType="AT_SEQUENCE_NUMBER")
    assert "StartingSequenceNumber" in message
    assert "timestamp" in _error(kinesis.get_shard_iterator, "InvalidArgumentException", StreamName="it",
                                 ShardId=shard, ShardIteratorType="AT_TIMESTAMP")
    assert _error(kinesis.get_shard_iterator, "ResourceNotFoundException", StreamName="it",
                  ShardId="shardId-000000000009", ShardIteratorType="LATEST") == \
        "Could not find shard shardId-000000000009 in stream it under account 000000000000."


def test_sequence_numbers_name_their_shard(kinesis: Any) -> None:
    kinesis.create_stream(StreamName="two", ShardCount=2)
    put = kinesis.put_record(StreamName="two", PartitionKey="k", Data=b"x", ExplicitHashKey="0")
    message = _error(kinesis.get_shard_iterator, "InvalidArgumentException", StreamName="two",
                     ShardId="shardId-000000000001", ShardIteratorType="AT_SEQUENCE_NUMBER",
                     StartingSequenceNumber=put["SequenceNumber"])
    assert "It encodes shardId-000000000000, while it was used in a call to a shard with shardId-000000000001" in message


def test_record_and_request_sizes(kinesis: Any) -> None:
    kinesis.create_stream(StreamName="big", ShardCount=1)
    message = _error(kinesis.put_record, "ValidationException", StreamName="big", PartitionKey="k",
                     Data=b"x" * (1024 * 1024))
    assert "Member must have length less than or equal to 1048576" in message
    kinesis.put_record(StreamName="big", PartitionKey="k", Data=b"x" * (1024 * 1024 - 1))
    records = [{"PartitionKey": "k", "Data": b"y" * (1024 * 1024 - 1)}] * 6
    assert _error(kinesis.put_records, "InvalidArgumentException", StreamName="big", Records=records) == \
        "Records size exceeds 5 MB limit"
    message = _error(kinesis.put_records, "ValidationException", StreamName="big",
                     Records=[{"PartitionKey": "k", "Data": b"z"}] * 501)
    assert message.startswith("1 validation error detected") and "'records'" in message
    kinesis.update_max_record_size(StreamARN=kinesis.describe_stream_summary(StreamName="big")[
        "StreamDescriptionSummary"]["StreamARN"], MaxRecordSizeInKiB=2048)
    kinesis.put_record(StreamName="big", PartitionKey="k", Data=b"x" * (2 * 1024 * 1024 - 1))
    _error(kinesis.put_record, "ValidationException", StreamName="bad name", PartitionKey="k", Data=b"x")


def test_list_shards_filters_and_tokens(kinesis: Any, advance: Any) -> None:
    kinesis.create_stream(StreamName="ls", ShardCount=3)
    created = advance(0)
    advance(10)
    kinesis.split_shard(StreamName="ls", ShardToSplit="shardId-000000000000", NewStartingHashKey=str(2**120))
    ids = lambda out: [s["ShardId"] for s in out["Shards"]]  # noqa: E731
    assert ids(kinesis.list_shards(StreamName="ls")) == [f"shardId-00000000000{i}" for i in range(5)]
    latest = kinesis.list_shards(StreamName="ls", ShardFilter={"Type": "AT_LATEST"})
    assert ids(latest) == ["shardId-000000000001", "shardId-000000000002", "shardId-000000000003",
                           "shardId-000000000004"]
    assert ids(kinesis.list_shards(StreamName="ls", ShardFilter={"Type": "AFTER_SHARD_ID",
                                                                  "ShardId": "shardId-000000000002"})) == \
        ["shardId-000000000003", "shardId-000000000004"]
    at = kinesis.list_shards(StreamName="ls", ShardFilter={"Type": "AT_TIMESTAMP",
                                                           "Timestamp": dt.datetime.fromtimestamp(created + 1, dt.UTC)})
    assert ids(at) == ["shardId-000000000000", "shardId-000000000001", "shardId-000000000002"]
    assert ids(kinesis.list_shards(StreamName="ls", ShardFilter={"Type": "FROM_TRIM_HORIZON"})) == ids(
        kinesis.list_shards(StreamName="ls"))
    # The stream is younger than its retention: the shards open at the trim horizon are its first ones.
    assert ids(kinesis.list_shards(StreamName="ls", ShardFilter={"Type": "AT_TRIM_HORIZON"})) == \
        ["shardId-000000000000", "shardId-000000000001", "shardId-000000000002"]
    since = kinesis.list_shards(StreamName="ls", ShardFilter={
        "Type": "FROM_TIMESTAMP", "Timestamp": dt.datetime.fromtimestamp(created + 11, dt.UTC)})
    assert ids(since) == ["shardId-000000000001", "shardId-000000000002", "shardId-000000000003",
                          "shardId-000000000004"]
    page = kinesis.list_shards(StreamName="ls", MaxResults=2)
    assert ids(page) == ["shardId-000000000000", "shardId-000000000001"] and page["NextToken"]
    second = kinesis.list_shards(NextToken=page["NextToken"])
    assert ids(second) == ["shardId-000000000002", "shardId-000000000003"]
    assert ids(kinesis.list_shards(NextToken=second["NextToken"])) == ["shardId-000000000004"]
    _error(kinesis.list_shards, "InvalidArgumentException", StreamName="ls", NextToken=page["NextToken"])
    advance(301)
    _error(kinesis.list_shards, "ExpiredNextTokenException", NextToken=second["NextToken"])
    split = kinesis.list_shards(StreamName="ls")["Shards"]
    assert split[0]["SequenceNumberRange"].get("EndingSequenceNumber")
    assert split[3]["ParentShardId"] == split[4]["ParentShardId"] == "shardId-000000000000"


def test_retention_trims_records_on_the_clock(kinesis: Any, advance: Any) -> None:
    kinesis.create_stream(StreamName="keep", ShardCount=1)
    shard = "shardId-000000000000"
    kinesis.put_record(StreamName="keep", PartitionKey="k", Data=b"old")
    message = _error(kinesis.decrease_stream_retention_period, "InvalidArgumentException", StreamName="keep",
                     RetentionPeriodHours=12)
    assert message == ("Minimum allowed retention period is 24 hours. Requested retention period (12 hours) is too "
                       "short.")
    kinesis.increase_stream_retention_period(StreamName="keep", RetentionPeriodHours=48)
    assert "can not be shorter than existing retention period (48 hours)" in _error(
        kinesis.increase_stream_retention_period, "InvalidArgumentException", StreamName="keep",
        RetentionPeriodHours=30)
    advance(30 * 3600)
    kinesis.put_record(StreamName="keep", PartitionKey="k", Data=b"new")
    assert [r["Data"] for r in _read_all(kinesis, "keep", shard)] == [b"old", b"new"]
    kinesis.decrease_stream_retention_period(StreamName="keep", RetentionPeriodHours=24)
    assert [r["Data"] for r in _read_all(kinesis, "keep", shard)] == [b"new"]
    assert kinesis.describe_stream_summary(StreamName="keep")["StreamDescriptionSummary"]["RetentionPeriodHours"] == 24
    advance(25 * 3600)
    assert _read_all(kinesis, "keep", shard) == []


def test_resharding_keeps_order_across_parents_and_children(kinesis: Any) -> None:
    kinesis.create_stream(StreamName="rs", ShardCount=2)
    keys = [f"key-{i}" for i in range(40)]
    sent: dict[str, list[bytes]] = {k: [] for k in keys}

    def burst(tag: str) -> None:
        records = [{"PartitionKey": k, "Data": f"{tag}-{k}".encode()} for k in keys]
        for r in records:
            sent[r["PartitionKey"]].append(r["Data"])
        kinesis.put_records(StreamName="rs", Records=records)

    burst("a")
    kinesis.split_shard(StreamName="rs", ShardToSplit="shardId-000000000001", NewStartingHashKey=str(2**127 + 2**126))
    burst("b")
    kinesis.merge_shards(StreamName="rs", ShardToMerge="shardId-000000000000", AdjacentShardToMerge="shardId-000000000002")
    burst("c")
    out = kinesis.update_shard_count(StreamName="rs", TargetShardCount=4, ScalingType="UNIFORM_SCALING")
    assert out["CurrentShardCount"] == 2 and out["TargetShardCount"] == 4
    burst("d")
    shards = kinesis.list_shards(StreamName="rs")["Shards"]
    assert len([s for s in shards if "EndingSequenceNumber" not in s["SequenceNumberRange"]]) == 4
    assert all(len([p for p in (s.get("ParentShardId"), s.get("AdjacentParentShardId")) if p]) <= 2 for s in shards)
    # A reader that finishes each parent before its children sees every key in order.
    done: set[str] = set()
    got: dict[str, list[bytes]] = {k: [] for k in keys}
    pending = [s["ShardId"] for s in shards]
    parents = {s["ShardId"]: {s.get("ParentShardId"), s.get("AdjacentParentShardId")} - {None} for s in shards}
    while pending:
        ready = next(sid for sid in pending if parents[sid] <= done)
        iterator = kinesis.get_shard_iterator(StreamName="rs", ShardId=ready,
                                              ShardIteratorType="TRIM_HORIZON")["ShardIterator"]
        while iterator:
            page = kinesis.get_records(ShardIterator=iterator)
            for r in page["Records"]:
                got[r["PartitionKey"]].append(r["Data"])
            if "NextShardIterator" not in page:
                assert page["ChildShards"]  # the end of a closed shard names its children
            elif not page["Records"]:
                break
            iterator = page.get("NextShardIterator")
        done.add(ready)
        pending.remove(ready)
    assert got == sent
    open_shard = kinesis.list_shards(StreamName="rs", ShardFilter={"Type": "AT_LATEST"})["Shards"][-1]
    assert "not both greater than one plus" in _error(kinesis.split_shard, "InvalidArgumentException",
                                                       StreamName="rs", ShardToSplit=open_shard["ShardId"],
                                                       NewStartingHashKey="0")
    assert "has already been merged or split" in _error(kinesis.split_shard, "InvalidArgumentException",
                                                        StreamName="rs", ShardToSplit="shardId-000000000000",
                                                        NewStartingHashKey="5")
    message = _error(kinesis.update_shard_count, "InvalidArgumentException", StreamName="rs", TargetShardCount=9,
                     ScalingType="UNIFORM_SCALING")
    assert "cannot scale up over double" in message


def test_on_demand_streams_refuse_shard_operations(kinesis: Any) -> None:
    kinesis.create_stream(StreamName="od", StreamModeDetails={"StreamMode": "ON_DEMAND"})
    message = _error(kinesis.split_shard, "ValidationException", StreamName="od", ShardToSplit="shardId-000000000000",
                     NewStartingHashKey="5")
    assert message == "Request is invalid. Stream od under account 000000000000 is in On-Demand mode."
    arn = kinesis.describe_stream_summary(StreamName="od")["StreamDescriptionSummary"]["StreamARN"]
    kinesis.update_stream_mode(StreamARN=arn, StreamModeDetails={"StreamMode": "PROVISIONED"})
    kinesis.update_shard_count(StreamName="od", TargetShardCount=2, ScalingType="UNIFORM_SCALING")
    assert kinesis.describe_stream_summary(StreamName="od")["StreamDescriptionSummary"]["OpenShardCount"] == 2
    assert "ShardCount" in _error(kinesis.create_stream, "InvalidArgumentException", StreamName="p")


def test_tags(kinesis: Any) -> None:
    kinesis.create_stream(StreamName="t", ShardCount=1, Tags={"a": "1"})
    kinesis.add_tags_to_stream(StreamName="t", Tags={"b": "2", "c": "3"})
    assert kinesis.list_tags_for_stream(StreamName="t")["Tags"] == [
        {"Key": "a", "Value": "1"}, {"Key": "b", "Value": "2"}, {"Key": "c", "Value": "3"}]
    page = kinesis.list_tags_for_stream(StreamName="t", Limit=1, ExclusiveStartTagKey="a")
    assert page["Tags"] == [{"Key": "b", "Value": "2"}] and page["HasMoreTags"] is True
    kinesis.remove_tags_from_stream(StreamName="t", TagKeys=["a"])
    arn = kinesis.describe_stream_summary(StreamName="t")["StreamDescriptionSummary"]["StreamARN"]
    kinesis.tag_resource(ResourceARN=arn, Tags={"d": "4"})
    kinesis.untag_resource(ResourceARN=arn, TagKeys=["b"])
    assert kinesis.list_tags_for_resource(ResourceARN=arn)["Tags"] == [{"Key": "c", "Value": "3"},
                                                                       {"Key": "d", "Value": "4"}]
    _error(kinesis.add_tags_to_stream, "InvalidArgumentException", StreamName="t",
           Tags={f"k{i}": "v" for i in range(11)})


def test_the_aws_cli(aws: Any, tmp_path: Any) -> None:
    aws("kinesis", "create-stream", "--stream-name", "cli", "--shard-count", "2")
    aws("kinesis", "wait", "stream-exists", "--stream-name", "cli")
    (tmp_path / "record").write_bytes(b"hello")  # fileb:// reads raw bytes in CLI v1 and v2 alike
    put = aws("kinesis", "put-record", "--stream-name", "cli", "--partition-key", "k", "--data",
              f"fileb://{tmp_path / 'record'}")
    iterator = aws("kinesis", "get-shard-iterator", "--stream-name", "cli", "--shard-id", put["ShardId"],
                   "--shard-iterator-type", "TRIM_HORIZON")["ShardIterator"]
    got = aws("kinesis", "get-records", "--shard-iterator", iterator)
    assert got["Records"][0]["Data"] == "aGVsbG8=" and got["Records"][0]["SequenceNumber"] == put["SequenceNumber"]
    assert [s["ShardId"] for s in aws("kinesis", "list-shards", "--stream-name", "cli")["Shards"]] == \
        ["shardId-000000000000", "shardId-000000000001"]
    aws("kinesis", "delete-stream", "--stream-name", "cli")
    assert aws("kinesis", "list-streams")["StreamNames"] == []


def test_what_is_not_offered_is_refused(kinesis: Any) -> None:
    kinesis.create_stream(StreamName="plain", ShardCount=1)
    for call, kwargs in ((kinesis.start_stream_encryption, {"StreamName": "plain", "EncryptionType": "KMS",
                                                            "KeyId": "alias/aws/kinesis"}),
                         (kinesis.register_stream_consumer, {"StreamARN": "arn:aws:kinesis:us-east-1:000000000000:"
                                                             "stream/plain", "ConsumerName": "c"}),
                         (kinesis.enable_enhanced_monitoring, {"StreamName": "plain", "ShardLevelMetrics": ["ALL"]})):
        with pytest.raises(ClientError) as caught:
            call(**kwargs)
        assert caught.value.response["Error"]["Code"] == "NotImplemented"
        assert caught.value.response["ResponseMetadata"]["HTTPStatusCode"] == 501


def test_a_record_without_a_partition_key_is_refused(kinesis: Any, endpoint: str) -> None:
    """Newer models make PartitionKey optional (for streams not distributed by the user's key); streams here
    are, so a record without one is a ValidationException, whichever model the client has. Sent raw, since an
    older botocore refuses to send it."""
    kinesis.create_stream(StreamName="keyed", ShardCount=1)
    for target, document, where in [
        ("PutRecord", {"StreamName": "keyed", "Data": "YQ=="}, "partitionKey"),
        ("PutRecords", {"StreamName": "keyed", "Records": [{"Data": "YQ==", "PartitionKey": "k"}, {"Data": "Yg=="}]},
         "records.2.member.partitionKey"),
    ]:
        response = requests.post(endpoint + "/", data=json.dumps(document), timeout=10, headers={
            **signed("kinesis"), "X-Amz-Target": f"Kinesis_20131202.{target}",
            "Content-Type": "application/x-amz-json-1.1"})
        assert response.status_code == 400, response.text
        assert response.json()["__type"].endswith("ValidationException")
        assert response.json()["message"] == (f"1 validation error detected: Value null at '{where}' failed to "
                                              "satisfy constraint: Member must not be null")
    assert kinesis.describe_stream_summary(StreamName="keyed")["StreamDescriptionSummary"]["StreamName"] == "keyed"
