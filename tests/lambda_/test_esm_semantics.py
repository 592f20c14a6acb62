"""SQS event source mappings: record shape, batching windows, timeouts and retries, FIFO order, enable."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

from tests.helpers import wait_for
from tests.lambda_.conftest import health
from tests.lambda_.test_esm import _counts, _queue

RECORDER = """
import json, os
def lambda_handler(event, context):
    with open(os.environ["OUT"], "a") as fh:
        fh.write(json.dumps(event["Records"]) + "\\n")
"""


def _batches(path: Path) -> list[list[dict[str, Any]]]:
    return [json.loads(line) for line in path.read_text().splitlines()] if path.exists() else []


def test_record_shape(lam: Any, make_function: Any, client: Any, tmp_path: Path) -> None:
    sqs = client("sqs")
    url, arn = _queue(sqs, "shape")
    fifo_url, fifo_arn = _queue(sqs, "shape.fifo", FifoQueue="true")
    out = tmp_path / "out"
    make_function("shape", RECORDER, Environment={"Variables": {"OUT": str(out)}})
    sent = sqs.send_message(QueueUrl=url, MessageBody="plain", MessageAttributes={
        "n": {"DataType": "Number", "StringValue": "7"}, "b": {"DataType": "Binary", "BinaryValue": b"\x00\x01"}})
    sqs.send_message(QueueUrl=fifo_url, MessageBody="ordered", MessageGroupId="g", MessageDeduplicationId="d")
    lam.create_event_source_mapping(FunctionName="shape", EventSourceArn=arn)
    lam.create_event_source_mapping(FunctionName="shape", EventSourceArn=fifo_arn)
    wait_for(lambda: len(_batches(out)) == 2)
    records = {b[0]["body"]: b[0] for b in _batches(out)}
    plain = records["plain"]
    assert set(plain) == {"messageId", "receiptHandle", "body", "attributes", "messageAttributes", "md5OfBody",
                          "md5OfMessageAttributes", "eventSource", "eventSourceARN", "awsRegion"}
    assert plain["messageId"] == sent["MessageId"] and plain["md5OfBody"] == sent["MD5OfMessageBody"]
    assert plain["md5OfMessageAttributes"] == sent["MD5OfMessageAttributes"]
    assert plain["eventSource"] == "aws:sqs" and plain["eventSourceARN"] == arn and plain["awsRegion"] == "us-east-1"
    assert set(plain["attributes"]) == {"ApproximateReceiveCount", "SentTimestamp", "SenderId",
                                        "ApproximateFirstReceiveTimestamp"}
    assert plain["attributes"]["ApproximateReceiveCount"] == "1"
    assert plain["messageAttributes"] == {
        "n": {"stringValue": "7", "stringListValues": [], "binaryListValues": [], "dataType": "Number"},
        "b": {"binaryValue": "AAE=", "stringListValues": [], "binaryListValues": [], "dataType": "Binary"}}
    ordered = records["ordered"]
    assert ordered["attributes"]["MessageGroupId"] == "g"
    assert ordered["attributes"]["MessageDeduplicationId"] == "d" and ordered["attributes"]["SequenceNumber"]
    assert "md5OfMessageAttributes" not in ordered and ordered["messageAttributes"] == {}
    wait_for(lambda: _counts(sqs, url) == (0, 0) and _counts(sqs, fifo_url) == (0, 0))


def test_batching_window_gathers_until_it_ends_or_the_batch_is_full(lam: Any, make_function: Any, client: Any,
                                                                    advance: Any, tmp_path: Path) -> None:
    sqs = client("sqs")
    url, arn = _queue(sqs, "windowed", VisibilityTimeout="120")  # AWS: at least the window + the timeout
    out = tmp_path / "out"
    make_function("windowed", RECORDER, Environment={"Variables": {"OUT": str(out)}})
    uuid = lam.create_event_source_mapping(FunctionName="windowed", EventSourceArn=arn, BatchSize=25,
                                           MaximumBatchingWindowInSeconds=30)["UUID"]
    assert lam.get_event_source_mapping(UUID=uuid)["MaximumBatchingWindowInSeconds"] == 30
    for i in range(3):
        sqs.send_message(QueueUrl=url, MessageBody=f"w{i}")
    wait_for(lambda: _counts(sqs, url) == (0, 3))  # received and held while the window is open
    time.sleep(0.5)
    assert _batches(out) == []
    advance(30)  # the window ends on the server's clock: one invocation with everything gathered
    wait_for(lambda: _batches(out))
    assert sorted(r["body"] for r in _batches(out)[0]) == ["w0", "w1", "w2"]
    wait_for(lambda: _counts(sqs, url) == (0, 0))

    for start in range(0, 25, 10):  # a full batch does not wait for the window
        sqs.send_message_batch(QueueUrl=url, Entries=[{"Id": str(i), "MessageBody": f"f{start + i}"}
                                                      for i in range(min(10, 25 - start))])
    wait_for(lambda: len(_batches(out)) >= 2)
    assert sum(len(b) for b in _batches(out)[1:]) == 25 and max(len(b) for b in _batches(out)[1:]) <= 25


def test_timeout_kills_the_environment_and_the_message_is_retried(lam: Any, make_function: Any, client: Any,
                                                                  advance: Any, tmp_path: Path) -> None:
    sqs = client("sqs")
    url, arn = _queue(sqs, "slow-jobs", VisibilityTimeout="10")
    out = tmp_path / "out"
    make_function("sometimes-slow", """
        import json, os, time
        def lambda_handler(event, context):
            record = event["Records"][0]
            with open(os.environ["OUT"], "a") as fh:
                fh.write(json.dumps([{"pid": os.getpid(), "count": record["attributes"]["ApproximateReceiveCount"]}])
                         + "\\n")
            if record["attributes"]["ApproximateReceiveCount"] == "1":
                time.sleep(60)  # far past the 1 s timeout: killed
    """, Timeout=1, Environment={"Variables": {"OUT": str(out)}})
    uuid = lam.create_event_source_mapping(FunctionName="sometimes-slow", EventSourceArn=arn, BatchSize=1)["UUID"]
    sqs.send_message(QueueUrl=url, MessageBody="job")
    wait_for(lambda: any(m["failed_batches"] for m in health(_endpoint(sqs))["mappings"].values()))
    (first,) = _batches(out)
    assert _counts(sqs, url) == (0, 1)  # still in flight: it comes back after the visibility timeout
    advance(11)
    wait_for(lambda: _counts(sqs, url) == (0, 0))
    second = _batches(out)[1]
    assert second[0]["count"] == "2" and second[0]["pid"] != first[0]["pid"]  # a fresh environment
    state = health(_endpoint(sqs))["mappings"][uuid]
    assert state["batches"] == 2 and state["failed_batches"] == 1


def test_fifo_groups_stay_in_order(lam: Any, make_function: Any, client: Any, advance: Any,
                                   tmp_path: Path) -> None:
    sqs = client("sqs")
    url, arn = _queue(sqs, "orders.fifo", FifoQueue="true", VisibilityTimeout="10")
    out = tmp_path / "out"
    failed_once = tmp_path / "failed-once"
    make_function("in-order", """
        import json, os, pathlib
        def lambda_handler(event, context):
            bodies = [r["body"] for r in event["Records"]]
            flag = pathlib.Path(os.environ["FLAG"])
            if "a-3" in bodies and not flag.exists():
                flag.touch()
                raise RuntimeError("first try of a batch holding a-3 fails")
            with open(os.environ["OUT"], "a") as fh:
                fh.write(json.dumps([{"group": r["attributes"]["MessageGroupId"], "body": r["body"]}
                                     for r in event["Records"]]) + "\\n")
    """, Environment={"Variables": {"OUT": str(out), "FLAG": str(failed_once)}})
    for i in range(12):
        for group in ("a", "b", "c"):
            sqs.send_message(QueueUrl=url, MessageBody=f"{group}-{i}", MessageGroupId=group,
                             MessageDeduplicationId=f"{group}-{i}")
    lam.create_event_source_mapping(FunctionName="in-order", EventSourceArn=arn, BatchSize=4)
    wait_for(failed_once.exists)
    wait_for(lambda: sum(1 for b in _batches(out) for r in b if r["group"] != "a") == 24)
    assert not [r for b in _batches(out) for r in b if r["group"] == "a"]  # blocked behind its failed batch
    # The function writes a batch before the mapping deletes it: move the clock past the visibility
    # timeout only once no batch is being handled, or a written batch not yet deleted comes back twice.
    wait_for(lambda: all(m["concurrency"] == 0 for m in health(_endpoint(sqs))["mappings"].values()))
    advance(11)  # the failed batch comes back, then the rest of group a
    wait_for(lambda: _counts(sqs, url) == (0, 0))
    seen: dict[str, list[int]] = {}
    for batch in _batches(out):
        for record in batch:
            seen.setdefault(record["group"], []).append(int(record["body"].split("-")[1]))
    assert seen == {g: list(range(12)) for g in ("a", "b", "c")}


def test_disabled_mapping_does_not_poll_until_enabled(lam: Any, make_function: Any, client: Any,
                                                      tmp_path: Path, aws: Any) -> None:
    sqs = client("sqs")
    url, arn = _queue(sqs, "paused")
    out = tmp_path / "out"
    make_function("paused", RECORDER, Environment={"Variables": {"OUT": str(out)}})
    mapping = aws("lambda", "create-event-source-mapping", "--function-name", "paused", "--event-source-arn", arn,
                  "--no-enabled")
    sqs.send_message(QueueUrl=url, MessageBody="waiting")
    time.sleep(0.5)
    assert _counts(sqs, url) == (1, 0) and aws("lambda", "get-event-source-mapping", "--uuid",
                                               mapping["UUID"])["State"] == "Disabled"
    aws("lambda", "update-event-source-mapping", "--uuid", mapping["UUID"], "--enabled")
    wait_for(lambda: _counts(sqs, url) == (0, 0))
    assert [r["body"] for b in _batches(out) for r in b] == ["waiting"]


def _endpoint(sqs: Any) -> str:
    return sqs.meta.endpoint_url


def test_batches_are_split_at_the_6_mb_payload_limit(lam: Any, make_function: Any, client: Any,
                                                     tmp_path: Path) -> None:
    sqs = client("sqs")
    url, arn = _queue(sqs, "big")
    out = tmp_path / "out"
    make_function("sizes", """
        import json, os
        def lambda_handler(event, context):
            with open(os.environ["OUT"], "a") as fh:
                fh.write(json.dumps([len(json.dumps(event)), [r["body"][:3] for r in event["Records"]]]) + "\\n")
    """, Environment={"Variables": {"OUT": str(out)}}, MemorySize=512)
    uuid = lam.create_event_source_mapping(FunctionName="sizes", EventSourceArn=arn, BatchSize=10,
                                           Enabled=False)["UUID"]
    for i in range(8):  # 8 x 900 KB: more than one 6 MB invocation holds
        sqs.send_message(QueueUrl=url, MessageBody=f"{i:03d}" + "x" * 900_000)
    lam.update_event_source_mapping(UUID=uuid, Enabled=True)
    wait_for(lambda: _counts(sqs, url) == (0, 0))
    calls = [json.loads(line) for line in out.read_text().splitlines()]
    assert len(calls) >= 2 and all(size <= 6 * 1024 * 1024 for size, _ in calls)
    assert sorted(b for _, bodies in calls for b in bodies) == [f"{i:03d}" for i in range(8)]
