"""The built-in AWS/SQS metrics, read back with the AWS CLI and boto3 (manual clock: a minute passes when
the test says so)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Any


def _iso(ts: float) -> str:
    return dt.datetime.fromtimestamp(ts, dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def test_thirty_sends_sum_to_thirty(client: Callable[..., Any], aws: Callable[..., Any],
                                    advance: Callable[[float], float]) -> None:
    sqs = client("sqs")
    url = sqs.create_queue(QueueName="metered")["QueueUrl"]
    started = advance(0)
    for i in range(25):
        sqs.send_message(QueueUrl=url, MessageBody=f"message {i}")
    # A batch's sizes are sampled in one call: each still counts as a sample of its own.
    sqs.send_message_batch(QueueUrl=url, Entries=[{"Id": str(i), "MessageBody": "x" * (11 + i)} for i in range(5)])
    got = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, VisibilityTimeout=300)["Messages"]
    sqs.delete_message_batch(QueueUrl=url, Entries=[{"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]}
                                                     for i, m in enumerate(got[:4])])
    now = advance(60)  # the minute ends: its counts are stored, the queue's depths sampled
    stats = aws("cloudwatch", "get-metric-statistics", "--namespace", "AWS/SQS", "--metric-name",
                "NumberOfMessagesSent", "--dimensions", "Name=QueueName,Value=metered",
                "--start-time", _iso(started - 600), "--end-time", _iso(now + 60), "--period", "3600",
                "--statistics", "Sum")
    assert [p["Sum"] for p in stats["Datapoints"]] == [30.0]
    assert stats["Label"] == "NumberOfMessagesSent" and stats["Datapoints"][0]["Unit"] == "Count"

    cloudwatch = client("cloudwatch")

    def total(name: str, stat: str = "Sum") -> list[float]:
        points = cloudwatch.get_metric_statistics(
            Namespace="AWS/SQS", MetricName=name, Dimensions=[{"Name": "QueueName", "Value": "metered"}],
            StartTime=started - 600, EndTime=now + 60, Period=60, Statistics=[stat])["Datapoints"]
        return [p[stat] for p in points]

    assert total("NumberOfMessagesReceived") == [10.0]
    assert total("NumberOfMessagesDeleted") == [4.0]
    assert total("ApproximateNumberOfMessagesVisible", "Maximum") == [20.0]
    assert total("ApproximateNumberOfMessagesNotVisible", "Maximum") == [6.0]
    assert total("SentMessageSize", "Maximum") == [15.0]
    assert total("SentMessageSize", "Minimum") == [9.0]
    assert total("SentMessageSize", "SampleCount") == [30.0]
    assert total("SentMessageSize") == [sum(len(f"message {i}") for i in range(25)) + sum(range(11, 16))]
    p90 = cloudwatch.get_metric_statistics(
        Namespace="AWS/SQS", MetricName="SentMessageSize", Dimensions=[{"Name": "QueueName", "Value": "metered"}],
        StartTime=started - 600, EndTime=now + 60, Period=60, ExtendedStatistics=["p90"])["Datapoints"]
    assert [p["ExtendedStatistics"]["p90"] for p in p90] == [12.0]  # (the 27th of the 30 sizes, in order)
    sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, VisibilityTimeout=0)  # some still there
    names = {m["MetricName"] for m in cloudwatch.list_metrics(Namespace="AWS/SQS")["Metrics"]}
    assert {"NumberOfMessagesSent", "NumberOfMessagesReceived", "NumberOfMessagesDeleted",
            "ApproximateNumberOfMessagesVisible", "ApproximateNumberOfMessagesNotVisible",
            "ApproximateNumberOfMessagesDelayed", "ApproximateAgeOfOldestMessage", "SentMessageSize"} <= names


def test_pool_workers_write_their_own_streams(endpoint: str, client: Callable[..., Any]) -> None:
    import subprocess
    import sys

    from tests.conftest import post_json
    from tests.helpers import wait_for

    script = "import sys; print('hello from', sys.argv[0], flush=True); import time; time.sleep(30)"
    post_json(f"{endpoint}/_conveyor/pools", {"name": "talkers", "command": [sys.executable, "-c", script],
                                              "min": 2, "max": 2})
    logs = client("logs")

    def streams() -> list[str]:
        try:
            found = logs.describe_log_streams(logGroupName="/conveyor/pools/talkers")["logStreams"]
        except logs.exceptions.ResourceNotFoundException:
            return []
        return [s["logStreamName"] for s in found]

    import json
    import urllib.request

    with urllib.request.urlopen(f"{endpoint}/_conveyor/workers", timeout=10) as response:
        ids = sorted(w["id"] for w in json.load(response) if w["pool"] == "talkers")  # ids count per process
    assert len(ids) == 2
    assert wait_for(lambda: streams() == ids and streams())
    events = logs.get_log_events(logGroupName="/conveyor/pools/talkers", logStreamName=ids[0])["events"]
    assert [e["message"] for e in events] == ["hello from -c"]
    printed = subprocess.run([sys.executable, "-m", "conveyor.cli", "logs", "--pool", "talkers", "--endpoint",
                              endpoint], capture_output=True, text=True, timeout=60).stdout
    assert printed.splitlines() == ["hello from -c", "hello from -c"]
