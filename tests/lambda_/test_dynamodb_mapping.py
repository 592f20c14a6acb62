"""Event source mappings on a DynamoDB stream: the table's changes reach the function in order, in the
event shape Lambda sends; a failing batch is bisected and the poison record's batch goes to the on-failure
queue; a TTL deletion reaches the function as the service's; filters; the place in the stream survives
kill -9."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from botocore.exceptions import ClientError

from tests.conftest import LAMBDA_TRUST
from tests.dynamodb.test_tables import make_table
from tests.helpers import wait_for
from tests.lambda_.conftest import make_zip

# Each invocation appends its records, one line each, to OUT/records; FAIL_ON names a pk that fails a batch.
RECORDER = """
import json, os
def lambda_handler(event, context):
    with open(os.path.join(os.environ["OUT"], "records"), "a") as f:
        f.write("".join(json.dumps(dict(r, n=len(event["Records"]))) + "\\n" for r in event["Records"]))
    fail = os.environ.get("FAIL_ON")
    if fail and any(r["dynamodb"]["Keys"]["pk"]["S"] == fail for r in event["Records"]):
        raise RuntimeError("poison record")
"""


def _records(out: Path) -> list[dict[str, Any]]:
    path = out / "records"
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text().splitlines(keepends=True) if line.endswith("\n")]


def _table(ddb: Any, name: str, view: str) -> str:
    return str(make_table(ddb, name, range_key=False, StreamSpecification={
        "StreamEnabled": True, "StreamViewType": view})["LatestStreamArn"])


def test_puts_updates_and_deletes_reach_the_function_in_order(client: Any, make_function: Any,
                                                              tmp_path: Path) -> None:
    ddb, lam = client("dynamodb"), client("lambda")
    arn = _table(ddb, "orders", "NEW_AND_OLD_IMAGES")
    make_function("recorder", RECORDER, Environment={"Variables": {"OUT": str(tmp_path)}})
    ddb.put_item(TableName="orders", Item={"pk": {"S": "before"}})  # LATEST starts after it
    mapping = lam.create_event_source_mapping(FunctionName="recorder", EventSourceArn=arn, StartingPosition="LATEST",
                                              BatchSize=7)
    assert mapping["EventSourceArn"] == arn and mapping["StartingPosition"] == "LATEST"
    assert mapping["BatchSize"] == 7 and mapping["State"] == "Creating"
    expected = []
    for i in range(10):
        ddb.put_item(TableName="orders", Item={"pk": {"S": f"o{i}"}, "v": {"N": "1"}, "b": {"B": b"\x00\x01"}})
        expected.append(("INSERT", f"o{i}"))
    for i in range(0, 10, 2):
        ddb.update_item(TableName="orders", Key={"pk": {"S": f"o{i}"}}, UpdateExpression="SET v = v + :one",
                        ExpressionAttributeValues={":one": {"N": "1"}})
        expected.append(("MODIFY", f"o{i}"))
    ddb.delete_item(TableName="orders", Key={"pk": {"S": "o3"}})
    expected.append(("REMOVE", "o3"))
    wait_for(lambda: len(_records(tmp_path)) >= len(expected), timeout=30)
    got = _records(tmp_path)
    assert [(r["eventName"], r["dynamodb"]["Keys"]["pk"]["S"]) for r in got] == expected
    sequence = [r["dynamodb"]["SequenceNumber"] for r in got]
    assert sequence == sorted(sequence) and all(len(s) == 21 for s in sequence)
    # No batch above BatchSize (how full each is depends on how fast the writes come: no batching window).
    assert 1 <= max(r["n"] for r in got) <= 7
    first, modify, remove = got[0], got[10], got[-1]
    assert set(first) - {"n"} == {"eventID", "eventName", "eventVersion", "eventSource", "awsRegion", "dynamodb",
                                  "eventSourceARN"}
    assert first["eventVersion"] == "1.1" and first["eventSource"] == "aws:dynamodb"
    assert first["awsRegion"] == "us-east-1" and first["eventSourceARN"] == arn
    stream = first["dynamodb"]
    assert isinstance(stream["ApproximateCreationDateTime"], int)
    assert stream["Keys"] == {"pk": {"S": "o0"}} and stream["StreamViewType"] == "NEW_AND_OLD_IMAGES"
    assert stream["NewImage"] == {"pk": {"S": "o0"}, "v": {"N": "1"}, "b": {"B": "AAE="}}
    assert "OldImage" not in stream and stream["SizeBytes"] > 0
    assert modify["dynamodb"]["OldImage"]["v"] == {"N": "1"} and modify["dynamodb"]["NewImage"]["v"] == {"N": "2"}
    assert "NewImage" not in remove["dynamodb"] and remove["dynamodb"]["OldImage"]["pk"] == {"S": "o3"}
    assert "userIdentity" not in remove
    got_mapping = lam.get_event_source_mapping(UUID=mapping["UUID"])
    assert got_mapping["State"] == "Enabled" and got_mapping["LastProcessingResult"] == "OK"
    listed = lam.list_event_source_mappings(EventSourceArn=arn)["EventSourceMappings"]
    assert [m["UUID"] for m in listed] == [mapping["UUID"]]
    lam.delete_event_source_mapping(UUID=mapping["UUID"])


def test_bisect_sends_the_poison_record_to_the_on_failure_queue(client: Any, make_function: Any,
                                                                tmp_path: Path) -> None:
    ddb, lam, sqs = client("dynamodb"), client("lambda"), client("sqs")
    arn = _table(ddb, "poison", "KEYS_ONLY")
    url = sqs.create_queue(QueueName="discarded")["QueueUrl"]
    queue_arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    make_function("recorder", RECORDER, Environment={"Variables": {"OUT": str(tmp_path), "FAIL_ON": "k5"}})
    for i in range(8):
        ddb.put_item(TableName="poison", Item={"pk": {"S": f"k{i}"}})
    lam.create_event_source_mapping(FunctionName="recorder", EventSourceArn=arn, StartingPosition="TRIM_HORIZON",
                                    BatchSize=8, BisectBatchOnFunctionError=True, MaximumRetryAttempts=1,
                                    DestinationConfig={"OnFailure": {"Destination": queue_arn}})
    messages = wait_for(lambda: sqs.receive_message(QueueUrl=url).get("Messages"), timeout=30)
    record = json.loads(messages[0]["Body"])
    assert "KinesisBatchInfo" not in record
    info = record["DDBStreamBatchInfo"]
    assert record["requestContext"]["condition"] == "RetryAttemptsExhausted"
    assert record["requestContext"]["approximateInvokeCount"] == 2
    assert record["responseContext"]["functionError"] == "Unhandled"
    assert info["batchSize"] == 1 and info["streamArn"] == arn and info["shardId"].startswith("shardId-")
    assert info["startSequenceNumber"] == info["endSequenceNumber"]
    wait_for(lambda: "k7" in [r["dynamodb"]["Keys"]["pk"]["S"] for r in _records(tmp_path)])
    keys = [r["dynamodb"]["Keys"]["pk"]["S"] for r in _records(tmp_path)]
    assert keys.count("k5") == 5  # in the batch of 8, its half, its quarter, alone, and once retried
    assert all("NewImage" not in r["dynamodb"] and "OldImage" not in r["dynamodb"] for r in _records(tmp_path))


def test_a_ttl_deletion_reaches_the_function_as_the_service(client: Any, make_function: Any, advance: Any,
                                                            tmp_path: Path) -> None:
    ddb, lam = client("dynamodb"), client("lambda")
    arn = _table(ddb, "sessions", "OLD_IMAGE")
    ddb.update_time_to_live(TableName="sessions", TimeToLiveSpecification={"Enabled": True, "AttributeName": "exp"})
    make_function("recorder", RECORDER, Environment={"Variables": {"OUT": str(tmp_path)}})
    lam.create_event_source_mapping(FunctionName="recorder", EventSourceArn=arn, StartingPosition="TRIM_HORIZON")
    now = advance(0)
    ddb.put_item(TableName="sessions", Item={"pk": {"S": "s1"}, "exp": {"N": str(int(now) + 5)}})
    ddb.delete_item(TableName="sessions", Key={"pk": {"S": "gone"}})  # nothing there: no record
    ddb.put_item(TableName="sessions", Item={"pk": {"S": "s2"}})
    ddb.delete_item(TableName="sessions", Key={"pk": {"S": "s2"}})  # a user's deletion: no userIdentity
    wait_for(lambda: len(_records(tmp_path)) == 3, timeout=30)
    advance(20)  # past the expiry and a sweep
    wait_for(lambda: len(_records(tmp_path)) == 4, timeout=30)
    got = _records(tmp_path)
    assert [(r["eventName"], r["dynamodb"]["Keys"]["pk"]["S"]) for r in got] == [
        ("INSERT", "s1"), ("INSERT", "s2"), ("REMOVE", "s2"), ("REMOVE", "s1")]
    assert "userIdentity" not in got[2]
    assert got[3]["userIdentity"] == {"type": "Service", "principalId": "dynamodb.amazonaws.com"}
    assert got[3]["dynamodb"]["OldImage"]["exp"] == {"N": str(int(now) + 5)}


def test_bad_mappings_are_refused(client: Any, make_function: Any, tmp_path: Path) -> None:
    ddb, lam = client("dynamodb"), client("lambda")
    arn = _table(ddb, "refusals", "NEW_IMAGE")
    make_function("recorder", RECORDER, Environment={"Variables": {"OUT": str(tmp_path)}})
    for extra, message in [  # as Lambda words them (see stream_esm.py)
        ({"StartingPosition": "AT_TIMESTAMP", "StartingPositionTimestamp": 0},
         f"Unsupported starting position for arn type: {arn}"),
        ({}, "1 validation error detected: Value null at 'startingPosition' failed to satisfy constraint: "
             "Member must not be null."),
    ]:
        with pytest.raises(ClientError) as caught:
            lam.create_event_source_mapping(FunctionName="recorder", EventSourceArn=arn, **extra)
        assert caught.value.response["Error"]["Code"] == "InvalidParameterValueException"
        assert caught.value.response["Error"]["Message"] == message
    missing = arn.replace("table/refusals/", "table/nothing/")
    with pytest.raises(ClientError) as caught:
        lam.create_event_source_mapping(FunctionName="recorder", EventSourceArn=missing, StartingPosition="LATEST")
    assert caught.value.response["Error"]["Message"] == f"Stream not found: {missing}"
    lam.create_event_source_mapping(FunctionName="recorder", EventSourceArn=arn, StartingPosition="LATEST")
    with pytest.raises(ClientError) as caught:
        lam.create_event_source_mapping(FunctionName="recorder", EventSourceArn=arn, StartingPosition="LATEST")
    assert caught.value.response["Error"]["Code"] == "ResourceConflictException"


def test_filters_hand_over_only_the_matching_records(client: Any, make_function: Any, tmp_path: Path) -> None:
    ddb, lam = client("dynamodb"), client("lambda")
    arn = _table(ddb, "filtered", "NEW_IMAGE")
    make_function("recorder", RECORDER, Environment={"Variables": {"OUT": str(tmp_path)}})
    # https://docs.aws.amazon.com/lambda/latest/dg/with-ddb-filtering.html: inserts of urgent orders, or
    # removals (a Number attribute is a string in the record, so it is matched as one).
    urgent = {"eventName": ["INSERT"], "dynamodb": {"NewImage": {"tag": {"S": [{"prefix": "urgent"}]}}}}
    criteria = {"Filters": [
        {"Pattern": json.dumps(urgent)},
        {"Pattern": json.dumps({"eventName": ["REMOVE"]})}]}
    with pytest.raises(ClientError) as caught:
        lam.create_event_source_mapping(FunctionName="recorder", EventSourceArn=arn, StartingPosition="TRIM_HORIZON",
                                        FilterCriteria={"Filters": [{"Pattern": "{\"eventName\": \"INSERT\"}"}]})
    assert caught.value.response["Error"] == {"Code": "InvalidParameterValueException",
                                              "Message": "Invalid filter pattern definition."}
    mapping = lam.create_event_source_mapping(FunctionName="recorder", EventSourceArn=arn,
                                              StartingPosition="TRIM_HORIZON", FilterCriteria=criteria)
    assert mapping["FilterCriteria"] == criteria
    for pk, tag in [("small", "later"), ("big", "urgent"), ("bigger", "urgent-most")]:
        ddb.put_item(TableName="filtered", Item={"pk": {"S": pk}, "tag": {"S": tag}, "total": {"N": "5"}})
    ddb.update_item(TableName="filtered", Key={"pk": {"S": "big"}}, UpdateExpression="SET #t = :t", ExpressionAttributeNames={"#t": "total"},
                    ExpressionAttributeValues={":t": {"N": "600"}})  # a MODIFY: dropped
    ddb.delete_item(TableName="filtered", Key={"pk": {"S": "small"}})
    ddb.put_item(TableName="filtered", Item={"pk": {"S": "last"}, "tag": {"S": "urgent!"}})
    wait_for(lambda: len(_records(tmp_path)) >= 4, timeout=30)
    got = [(r["eventName"], r["dynamodb"]["Keys"]["pk"]["S"]) for r in _records(tmp_path)]
    assert got == [("INSERT", "big"), ("INSERT", "bigger"), ("REMOVE", "small"), ("INSERT", "last")]
    assert lam.get_event_source_mapping(UUID=mapping["UUID"])["FilterCriteria"] == criteria
    updated = lam.update_event_source_mapping(UUID=mapping["UUID"], FilterCriteria={})
    assert "FilterCriteria" not in updated


KEY_RECORDER = """
import json, os
def lambda_handler(event, context):
    with open(os.path.join(os.environ["OUT"], "delivered"), "a") as f:
        f.write("".join(json.dumps(r["dynamodb"]["Keys"]["pk"]["S"]) + "\\n" for r in event["Records"]))
"""


def test_a_mapping_resumes_where_it_was_after_kill_9(start_server: Any, tmp_path: Path) -> None:
    out = tmp_path / "out"
    out.mkdir()
    server = start_server(tmp_path / "data")
    ddb, lam, iam = server.client("dynamodb"), server.client("lambda"), server.client("iam")
    role = iam.create_role(RoleName="r", AssumeRolePolicyDocument=LAMBDA_TRUST)["Role"]["Arn"]
    lam.create_function(FunctionName="rec", Runtime="python3.12", Role=role, Handler="lambda_function.lambda_handler",
                        Code={"ZipFile": make_zip(KEY_RECORDER)}, Environment={"Variables": {"OUT": str(out)}})
    arn = _table(ddb, "durable", "KEYS_ONLY")
    lam.create_event_source_mapping(FunctionName="rec", EventSourceArn=arn, StartingPosition="LATEST", BatchSize=10)
    first = [f"first-{i}" for i in range(50)]
    for pk in first:
        ddb.put_item(TableName="durable", Item={"pk": {"S": pk}})

    def delivered() -> list[str]:
        path = out / "delivered"
        return [json.loads(line) for line in path.read_text().splitlines()] if path.exists() else []

    wait_for(lambda: len(delivered()) == 50, timeout=60)
    server.kill()
    server.start()
    ddb = server.client("dynamodb")
    second = [f"second-{i}" for i in range(50)]
    for pk in second:
        ddb.put_item(TableName="durable", Item={"pk": {"S": pk}})
    wait_for(lambda: set(delivered()) >= set(second), timeout=60)
    got = delivered()
    # At least once, as on AWS: only the last batch before the kill (at most BatchSize) may come again.
    again = got[50:len(got) - 50]
    assert got[:50] == first and got[len(got) - 50:] == second
    assert len(again) <= 10 and again == first[50 - len(again):]


def test_partial_batch_responses_name_records_by_sequence_number(client: Any, make_function: Any,
                                                                  tmp_path: Path) -> None:
    ddb, lam = client("dynamodb"), client("lambda")
    arn = _table(ddb, "partial", "KEYS_ONLY")
    # Reports "bad" failed (by its SequenceNumber, as with-ddb.html says) until it has seen it three times.
    make_function("partial", """
import os
def lambda_handler(event, context):
    out = os.path.join(os.environ["OUT"], "seen")
    keys = [r["dynamodb"]["Keys"]["pk"]["S"] for r in event["Records"]]
    with open(out, "a") as f:
        f.write(",".join(keys) + "\\n")
    if "bad" in keys and open(out).read().count("bad") < 3:
        return {"batchItemFailures": [{"itemIdentifier": event["Records"][keys.index("bad")]["dynamodb"]["SequenceNumber"]}]}
    return {"batchItemFailures": []}
""", Environment={"Variables": {"OUT": str(tmp_path)}})
    for pk in ("a", "bad", "c"):
        ddb.put_item(TableName="partial", Item={"pk": {"S": pk}})
    lam.create_event_source_mapping(FunctionName="partial", EventSourceArn=arn, StartingPosition="TRIM_HORIZON",
                                    BatchSize=10, FunctionResponseTypes=["ReportBatchItemFailures"])
    seen = tmp_path / "seen"
    wait_for(lambda: seen.exists() and seen.read_text().count("bad") == 3)
    # The batch is retried from the failed record on: "a" is handed over once.
    assert seen.read_text().splitlines() == ["a,bad,c", "bad,c", "bad,c"]
