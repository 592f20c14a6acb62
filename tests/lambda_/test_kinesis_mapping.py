"""Kinesis event source mappings: records reach the function in order per shard (and across a reshard),
with batch size, batching window, starting positions, parallelization, retries, bisection and the
on-failure destination."""

from __future__ import annotations

import json
from collections import defaultdict
from pathlib import Path
from typing import Any

import pytest
from botocore.exceptions import ClientError

from tests.helpers import wait_for

# Each invocation appends its records, one line each, to a file per partition key and one per shard: a
# shard's batches run one after another, so each file's order is the order of delivery.
RECORDER = """
import base64, json, os
def lambda_handler(event, context):
    out = os.environ["OUT"]
    lines = {}
    for r in event["Records"]:
        k = r["kinesis"]
        shard = r["eventID"].split(":")[0]
        line = json.dumps({"shard": shard, "seq": k["sequenceNumber"], "key": k["partitionKey"],
                           "data": base64.b64decode(k["data"]).decode(), "n": len(event["Records"])}) + "\\n"
        lines.setdefault("key-" + k["partitionKey"], []).append(line)
        lines.setdefault(shard, []).append(line)
    for name, chunk in lines.items():
        with open(os.path.join(out, name), "a") as f:
            f.write("".join(chunk))
    fail = os.environ.get("FAIL_ON")
    if fail and any(base64.b64decode(r["kinesis"]["data"]).decode() == fail for r in event["Records"]):
        raise RuntimeError("poison record")
"""


def _stream(kinesis: Any, name: str, shards: int) -> str:
    kinesis.create_stream(StreamName=name, ShardCount=shards)
    return str(kinesis.describe_stream_summary(StreamName=name)["StreamDescriptionSummary"]["StreamARN"])


def _lines(out: Path, name: str) -> list[dict[str, Any]]:
    path = out / name
    if not path.exists():
        return []
    # A line the function is still writing has no newline yet: read it next time.
    return [json.loads(line) for line in path.read_text().splitlines(keepends=True) if line.endswith("\n")]


def _all(out: Path) -> list[dict[str, Any]]:
    return [line for p in out.glob("shardId-*") for line in _lines(out, p.name)]


def _put(kinesis: Any, stream: str, items: list[tuple[str, str]]) -> None:
    for start in range(0, len(items), 500):
        kinesis.put_records(StreamName=stream, Records=[{"PartitionKey": k, "Data": d.encode()}
                                                        for k, d in items[start:start + 500]])


def test_ten_thousand_records_reach_the_function_in_order_per_shard(client: Any, make_function: Any,
                                                                     tmp_path: Path) -> None:
    kinesis, lam = client("kinesis"), client("lambda")
    arn = _stream(kinesis, "clicks", 4)
    make_function("recorder", RECORDER, Environment={"Variables": {"OUT": str(tmp_path)}}, Timeout=30)
    items = [(f"user-{i % 37}", f"{i}") for i in range(10_000)]
    _put(kinesis, "clicks", items)
    mapping = lam.create_event_source_mapping(FunctionName="recorder", EventSourceArn=arn, StartingPosition="TRIM_HORIZON",
                                              BatchSize=500)
    assert mapping["State"] == "Creating" and mapping["StartingPosition"] == "TRIM_HORIZON"
    assert mapping["BatchSize"] == 500 and mapping["ParallelizationFactor"] == 1
    wait_for(lambda: len(_all(tmp_path)) >= 10_000, timeout=120)
    delivered = _all(tmp_path)
    assert len(delivered) == 10_000
    assert {line["shard"] for line in delivered} == {f"shardId-00000000000{i}" for i in range(4)}
    for shard in range(4):
        lines = _lines(tmp_path, f"shardId-00000000000{shard}")
        assert [line["seq"] for line in lines] == sorted(line["seq"] for line in lines)
        assert all(line["n"] <= 500 for line in lines)
    for key in {k for k, _ in items}:
        assert [line["data"] for line in _lines(tmp_path, f"key-{key}")] == [d for k, d in items if k == key]
    got = lam.get_event_source_mapping(UUID=mapping["UUID"])
    assert got["State"] == "Enabled" and got["LastProcessingResult"] == "OK"


def test_order_holds_across_a_split_and_a_merge(client: Any, make_function: Any, tmp_path: Path) -> None:
    kinesis, lam = client("kinesis"), client("lambda")
    arn = _stream(kinesis, "reshard", 2)
    make_function("recorder", RECORDER, Environment={"Variables": {"OUT": str(tmp_path)}})
    lam.create_event_source_mapping(FunctionName="recorder", EventSourceArn=arn, StartingPosition="LATEST",
                                    BatchSize=50)
    keys = [f"k{i}" for i in range(20)]
    sent: dict[str, list[str]] = defaultdict(list)

    def burst(tag: str) -> None:
        items = [(k, f"{tag}-{i}") for i in range(30) for k in keys]
        for k, d in items:
            sent[k].append(d)
        _put(kinesis, "reshard", items)

    burst("a")
    shards = kinesis.list_shards(StreamName="reshard")["Shards"]
    first = shards[0]
    middle = (int(first["HashKeyRange"]["StartingHashKey"]) + int(first["HashKeyRange"]["EndingHashKey"])) // 2
    kinesis.split_shard(StreamName="reshard", ShardToSplit=first["ShardId"], NewStartingHashKey=str(middle))
    burst("b")
    kinesis.update_shard_count(StreamName="reshard", TargetShardCount=2, ScalingType="UNIFORM_SCALING")
    burst("c")
    wait_for(lambda: sum(len(v) for v in sent.values()) == len(_all(tmp_path)), timeout=60)
    for k in keys:
        assert [line["data"] for line in _lines(tmp_path, f"key-{k}")] == sent[k]
    assert len({line["shard"] for line in _all(tmp_path)}) > 2  # parents and children were read


def test_latest_skips_what_was_there_and_a_window_gathers_a_batch(client: Any, make_function: Any, advance: Any,
                                                                  tmp_path: Path) -> None:
    kinesis, lam = client("kinesis"), client("lambda")
    arn = _stream(kinesis, "late", 1)
    make_function("recorder", RECORDER, Environment={"Variables": {"OUT": str(tmp_path)}})
    _put(kinesis, "late", [("k", "old")])
    lam.create_event_source_mapping(FunctionName="recorder", EventSourceArn=arn, StartingPosition="LATEST",
                                    BatchSize=10, MaximumBatchingWindowInSeconds=30)
    for i in range(3):
        _put(kinesis, "late", [("k", f"new-{i}")])
    import time

    time.sleep(1.0)  # the window is on the server's clock: nothing is handed over before it ends
    assert _all(tmp_path) == []
    advance(31)
    wait_for(lambda: len(_all(tmp_path)) == 3)
    assert [line["data"] for line in _all(tmp_path)] == ["new-0", "new-1", "new-2"]
    assert {line["n"] for line in _all(tmp_path)} == {3}


def test_bisect_and_retries_send_the_poison_record_to_the_on_failure_queue(client: Any, make_function: Any,
                                                                           tmp_path: Path) -> None:
    kinesis, lam, sqs = client("kinesis"), client("lambda"), client("sqs")
    arn = _stream(kinesis, "poison", 1)
    url = sqs.create_queue(QueueName="discarded")["QueueUrl"]
    queue_arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    make_function("recorder", RECORDER, Environment={"Variables": {"OUT": str(tmp_path), "FAIL_ON": "5"}})
    _put(kinesis, "poison", [("k", str(i)) for i in range(8)])
    lam.create_event_source_mapping(FunctionName="recorder", EventSourceArn=arn, StartingPosition="TRIM_HORIZON",
                                    BatchSize=8, BisectBatchOnFunctionError=True, MaximumRetryAttempts=1,
                                    DestinationConfig={"OnFailure": {"Destination": queue_arn}})
    messages = wait_for(lambda: sqs.receive_message(QueueUrl=url).get("Messages"), timeout=30)
    record = json.loads(messages[0]["Body"])
    info = record["KinesisBatchInfo"]
    assert record["requestContext"]["condition"] == "RetryAttemptsExhausted"
    assert record["requestContext"]["approximateInvokeCount"] == 2  # the first try and one retry
    assert record["responseContext"]["functionError"] == "Unhandled"
    assert info["batchSize"] == 1 and info["shardId"] == "shardId-000000000000" and info["streamArn"] == arn
    assert info["startSequenceNumber"] == info["endSequenceNumber"]
    # The split halves that held no poison went through; the records after the poison did too.
    seen = [line["data"] for line in _lines(tmp_path, "key-k")]
    assert seen.count("5") == 5  # in the batch of 8, its half of 4, its quarter of 2, alone, and once retried
    wait_for(lambda: "7" in [line["data"] for line in _lines(tmp_path, "key-k")])


def test_partial_batch_responses_and_record_age(client: Any, make_function: Any, advance: Any,
                                               tmp_path: Path) -> None:
    kinesis, lam, sqs = client("kinesis"), client("lambda"), client("sqs")
    arn = _stream(kinesis, "partial", 1)
    url = sqs.create_queue(QueueName="too-old")["QueueUrl"]
    queue_arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    # Reports the record "bad" (and those after it) failed until it has seen it three times.
    make_function("partial", """
import base64, os
def lambda_handler(event, context):
    out = os.path.join(os.environ["OUT"], "seen")
    data = [base64.b64decode(r["kinesis"]["data"]).decode() for r in event["Records"]]
    with open(out, "a") as f:
        f.write(",".join(data) + "\\n")
    seen = open(out).read().count("bad")
    if "bad" in data and seen < 3:
        return {"batchItemFailures": [{"itemIdentifier": event["Records"][data.index("bad")]["kinesis"]["sequenceNumber"]}]}
    return {"batchItemFailures": []}
""", Environment={"Variables": {"OUT": str(tmp_path)}})
    _put(kinesis, "partial", [("k", "a"), ("k", "bad"), ("k", "c")])
    m = lam.create_event_source_mapping(FunctionName="partial", EventSourceArn=arn, StartingPosition="TRIM_HORIZON",
                                        BatchSize=10, FunctionResponseTypes=["ReportBatchItemFailures"],
                                        DestinationConfig={"OnFailure": {"Destination": queue_arn}},
                                        MaximumRecordAgeInSeconds=60)
    seen = tmp_path / "seen"
    wait_for(lambda: seen.exists() and seen.read_text().count("bad") == 3)
    # The batch is retried from the failed record on: "a" is handed over once.
    assert seen.read_text().splitlines() == ["a,bad,c", "bad,c", "bad,c"]
    # A record older than MaximumRecordAgeInSeconds goes to the on-failure destination instead.
    lam.update_event_source_mapping(UUID=m["UUID"], Enabled=False)
    _put(kinesis, "partial", [("k", "stale")])
    advance(61)
    lam.update_event_source_mapping(UUID=m["UUID"], Enabled=True)
    messages = wait_for(lambda: sqs.receive_message(QueueUrl=url).get("Messages"), timeout=30)
    record = json.loads(messages[0]["Body"])
    assert record["requestContext"]["condition"] == "RecordAgeExceeded"
    assert record["KinesisBatchInfo"]["batchSize"] == 1
    assert "stale" not in seen.read_text()


def test_parallelization_keeps_each_key_in_order(client: Any, make_function: Any, tmp_path: Path) -> None:
    kinesis, lam = client("kinesis"), client("lambda")
    arn = _stream(kinesis, "parallel", 1)
    make_function("recorder", RECORDER, Environment={"Variables": {"OUT": str(tmp_path)}})
    items = [(f"k{i % 9}", str(i)) for i in range(900)]
    _put(kinesis, "parallel", items)
    m = lam.create_event_source_mapping(FunctionName="recorder", EventSourceArn=arn, StartingPosition="TRIM_HORIZON",
                                        BatchSize=20, ParallelizationFactor=5)
    assert m["ParallelizationFactor"] == 5
    wait_for(lambda: sum(len(_lines(tmp_path, f"key-k{i}")) for i in range(9)) == 900, timeout=60)
    for i in range(9):
        assert [line["data"] for line in _lines(tmp_path, f"key-k{i}")] == [d for k, d in items if k == f"k{i}"]


def test_mapping_settings_are_checked(client: Any, make_function: Any) -> None:
    kinesis, lam = client("kinesis"), client("lambda")
    arn = _stream(kinesis, "checked", 1)
    make_function("fn", "def lambda_handler(event, context):\n    return None\n")
    invalid = "InvalidParameterValueException"
    cases = [
        # Lambda's words for a missing position (a recorded answer: winglang/wing#7178)
        ({}, invalid, "1 validation error detected: Value null at 'startingPosition' failed to satisfy constraint: "
                      "Member must not be null."),
        # the model's own range: "1 validation error detected: ... at 'parallelizationFactor' ..."
        ({"StartingPosition": "LATEST", "ParallelizationFactor": 11}, "ValidationException", "parallelizationFactor"),
        ({"StartingPosition": "LATEST", "MaximumRecordAgeInSeconds": 30}, invalid, "MaximumRecordAgeInSeconds"),
        ({"StartingPosition": "LATEST", "TumblingWindowInSeconds": 60}, invalid, "TumblingWindowInSeconds"),
        ({"StartingPosition": "LATEST", "DestinationConfig": {"OnFailure": {"Destination": "arn:aws:s3:::b"}}},
         invalid, "arn:aws:s3:::b"),
    ]
    for extra, code, words in cases:
        with pytest.raises(ClientError) as caught:
            lam.create_event_source_mapping(FunctionName="fn", EventSourceArn=arn, **extra)
        assert caught.value.response["Error"]["Code"] == code, extra
        assert words in caught.value.response["Error"]["Message"]
    with pytest.raises(ClientError) as caught:
        lam.create_event_source_mapping(FunctionName="fn", StartingPosition="LATEST",
                                        EventSourceArn=arn.replace("checked", "missing"))
    assert "Stream not found" in caught.value.response["Error"]["Message"]
    m = lam.create_event_source_mapping(FunctionName="fn", EventSourceArn=arn, StartingPosition="LATEST",
                                        MaximumRetryAttempts=3, MaximumRecordAgeInSeconds=120)
    listed = lam.list_event_source_mappings(EventSourceArn=arn)["EventSourceMappings"]
    assert [x["UUID"] for x in listed] == [m["UUID"]] and listed[0]["MaximumRetryAttempts"] == 3
    updated = lam.update_event_source_mapping(UUID=m["UUID"], BatchSize=7, Enabled=False)
    assert updated["BatchSize"] == 7 and updated["State"] == "Updating"
    assert lam.get_event_source_mapping(UUID=m["UUID"])["State"] == "Disabled"
    assert lam.delete_event_source_mapping(UUID=m["UUID"])["State"] == "Deleting"
    assert lam.list_event_source_mappings(FunctionName="fn")["EventSourceMappings"] == []


def test_filters_hand_over_only_the_matching_records(client: Any, make_function: Any, tmp_path: Path) -> None:
    # https://docs.aws.amazon.com/lambda/latest/dg/with-kinesis-filtering.html: a pattern on `data` that is an
    # object matches the record's data read as JSON (data that is not JSON never matches it); the others are
    # skipped, and the shard moves on past them.
    kinesis, lam = client("kinesis"), client("lambda")
    arn = _stream(kinesis, "filtered", 1)
    make_function("recorder", RECORDER, Environment={"Variables": {"OUT": str(tmp_path)}})
    criteria = {"Filters": [{"Pattern": json.dumps({"data": {"order": {"type": ["buy"]}}})},
                            {"Pattern": json.dumps({"data": [{"prefix": "urgent:"}]})}]}
    mapping = lam.create_event_source_mapping(FunctionName="recorder", EventSourceArn=arn,
                                              StartingPosition="TRIM_HORIZON", FilterCriteria=criteria)
    assert mapping["FilterCriteria"] == criteria
    items = [("a", json.dumps({"order": {"type": "sell"}})), ("a", json.dumps({"order": {"type": "buy"}})),
             ("a", "not json"), ("a", "urgent: restock"), ("a", json.dumps({"type": "buy"}))]
    _put(kinesis, "filtered", items)
    wait_for(lambda: len(_all(tmp_path)) >= 2, timeout=30)
    _put(kinesis, "filtered", [("a", json.dumps({"order": {"type": "buy", "n": 2}}))])
    wait_for(lambda: len(_all(tmp_path)) >= 3, timeout=30)
    assert [line["data"] for line in _lines(tmp_path, "key-a")] == [
        json.dumps({"order": {"type": "buy"}}), "urgent: restock", json.dumps({"order": {"type": "buy", "n": 2}})]
    updated = lam.update_event_source_mapping(UUID=mapping["UUID"], FilterCriteria={})
    assert "FilterCriteria" not in updated
