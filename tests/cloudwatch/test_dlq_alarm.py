"""The architecture's alarm: a poison message lands in the DLQ, the alarm goes to ALARM at the next minute
(manual clock) and its notification, AWS's alarm message, arrives in a queue subscribed to the alarm topic;
emptying the DLQ brings it back to OK. The alarm comes from a pipeline file's `alarms:` section."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from conveyor.pipeline.spec import PipelineError, load, parse

PIPELINE = """
queues:
  - name: jobs
    dead_letter: {queue: jobs-dlq, max_receive_count: 1}
  - name: jobs-dlq
  - name: alarm-inbox
topics:
  - name: ops-alarms
    subscriptions:
      - {queue: alarm-inbox, raw: true}
alarms:
  - name: jobs-dlq-not-empty
    queue: jobs-dlq
    topic: ops-alarms
"""


def _notifications(sqs: Any, url: str, wait: int = 5) -> list[dict[str, Any]]:
    """What the inbox holds; `wait`: a long poll (woken by a delivery), 0 to look without waiting (the
    manual clock does not move while a long poll waits for nothing)."""
    got = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, WaitTimeSeconds=wait).get("Messages", [])
    for m in got:
        sqs.delete_message(QueueUrl=url, ReceiptHandle=m["ReceiptHandle"])
    return [json.loads(m["Body"]) for m in got]


def test_poison_message_raises_the_dlq_alarm(endpoint: str, client: Callable[..., Any], aws: Callable[..., Any],
                                             advance: Callable[[float], float], tmp_path: Path) -> None:
    (tmp_path / "conveyor.yaml").write_text(PIPELINE)
    applied = subprocess.run([sys.executable, "-m", "conveyor.cli", "apply", "--pipeline",
                              str(tmp_path / "conveyor.yaml"), "--endpoint", endpoint], capture_output=True, text=True)
    assert "created alarm jobs-dlq-not-empty" in applied.stdout, applied.stdout + applied.stderr
    [alarm] = aws("cloudwatch", "describe-alarms", "--alarm-names", "jobs-dlq-not-empty")["MetricAlarms"]
    assert alarm["StateValue"] == "INSUFFICIENT_DATA" and alarm["MetricName"] == "ApproximateNumberOfMessagesVisible"
    assert alarm["Dimensions"] == [{"Name": "QueueName", "Value": "jobs-dlq"}]
    assert alarm["AlarmActions"] == alarm["OKActions"] == ["arn:aws:sns:us-east-1:000000000000:ops-alarms"]

    sqs = client("sqs")
    jobs, dlq, inbox = (sqs.get_queue_url(QueueName=n)["QueueUrl"] for n in ("jobs", "jobs-dlq", "alarm-inbox"))
    advance(60)  # an empty DLQ: OK (missing data would not breach either)
    assert [n["NewStateValue"] for n in _notifications(sqs, inbox)] == ["OK"]

    sqs.send_message(QueueUrl=jobs, MessageBody="poison")
    assert sqs.receive_message(QueueUrl=jobs, VisibilityTimeout=0)["Messages"]  # the worker fails on it...
    assert "Messages" not in sqs.receive_message(QueueUrl=jobs)  # ...and its next receive moves it to the DLQ
    advance(60)
    [note] = _notifications(sqs, inbox)
    assert note["AlarmName"] == "jobs-dlq-not-empty" and note["NewStateValue"] == "ALARM"
    assert note["OldStateValue"] == "OK" and note["AWSAccountId"] == "000000000000"
    assert note["Region"] == "US East (N. Virginia)"
    assert note["AlarmArn"] == "arn:aws:cloudwatch:us-east-1:000000000000:alarm:jobs-dlq-not-empty"
    assert note["NewStateReason"].startswith("Threshold Crossed: 1 out of the last 1 datapoints [1 (")
    assert note["NewStateReason"].endswith("was greater than the threshold (0) (minimum 1 datapoint for "
                                           "OK -> ALARM transition).")
    assert note["StateChangeTime"].endswith("+0000")
    assert note["Trigger"] == {
        "MetricName": "ApproximateNumberOfMessagesVisible", "Namespace": "AWS/SQS", "StatisticType": "Statistic",
        "Statistic": "MAXIMUM", "Unit": None, "Dimensions": [{"value": "jobs-dlq", "name": "QueueName"}],
        "Period": 60, "EvaluationPeriods": 1, "DatapointsToAlarm": 1, "ComparisonOperator": "GreaterThanThreshold",
        "Threshold": 0.0, "TreatMissingData": "notBreaching", "EvaluateLowSampleCountPercentile": ""}
    [alarm] = aws("cloudwatch", "describe-alarms", "--state-value", "ALARM")["MetricAlarms"]
    assert alarm["AlarmName"] == "jobs-dlq-not-empty"
    history = aws("cloudwatch", "describe-alarm-history", "--alarm-name", "jobs-dlq-not-empty")["AlarmHistoryItems"]
    summaries = [h["HistorySummary"] for h in history]
    assert summaries[:3] == ["Successfully executed action arn:aws:sns:us-east-1:000000000000:ops-alarms",
                             "Alarm updated from OK to ALARM",
                             "Successfully executed action arn:aws:sns:us-east-1:000000000000:ops-alarms"]
    assert summaries[-1] == 'Alarm "jobs-dlq-not-empty" created'

    advance(60)  # still in the DLQ: still ALARM, no second notification
    assert _notifications(sqs, inbox, wait=0) == []
    sqs.purge_queue(QueueUrl=dlq)
    advance(60)
    assert [n["NewStateValue"] for n in _notifications(sqs, inbox)] == ["OK"]

    aws("cloudwatch", "disable-alarm-actions", "--alarm-names", "jobs-dlq-not-empty")
    aws("cloudwatch", "set-alarm-state", "--alarm-name", "jobs-dlq-not-empty", "--state-value", "ALARM",
        "--state-reason", "testing the pager")
    assert _notifications(sqs, inbox, wait=0) == []  # actions disabled
    assert aws("cloudwatch", "describe-alarms")["MetricAlarms"][0]["StateReason"] == "testing the pager"
    advance(60)  # the next evaluation puts it back
    assert aws("cloudwatch", "describe-alarms")["MetricAlarms"][0]["StateValue"] == "OK"
    aws("cloudwatch", "delete-alarms", "--alarm-names", "jobs-dlq-not-empty")
    assert aws("cloudwatch", "describe-alarms")["MetricAlarms"] == []


def test_the_default_pipeline_has_the_dlq_alarm() -> None:
    [alarm] = load().alarms
    assert (alarm.queue, alarm.topic, alarm.metric, alarm.comparison, alarm.threshold) == (
        "upload-jobs-dlq", "upload-alarms", "ApproximateNumberOfMessagesVisible", ">", 0.0)


@pytest.mark.parametrize(("text", "line", "words"), [
    ("alarms:\n  - name: a\n    topic: t\n    queue: q\n", 2, "queue 'q' is not defined"),
    ("queues:\n  - name: q\nalarms:\n  - name: a\n    queue: q\n    topic: nope\n", 4, "topic 'nope' is not defined"),
    ("alarms:\n  - name: a\n    topic: t\n    comparsion: '>'\n", 4, "unknown setting 'comparsion'"),
    ("topics:\n  - name: t\nalarms:\n  - name: a\n    topic: t\n    namespace: App\n    metric: M\n"
     "    period: 45\n", 8, "period must be 10, 30 or a multiple of 60"),
    ("topics:\n  - name: t\nalarms:\n  - name: a\n    topic: t\n    namespace: App\n    metric: M\n"
     "    comparison: '!='\n", 8, "comparison must be one of"),
])
def test_alarm_errors_name_the_line(text: str, line: int, words: str) -> None:
    with pytest.raises(PipelineError) as info:
        parse(text, "conveyor.yaml")
    assert str(info.value).startswith(f"conveyor.yaml:{line}: ") and words in str(info.value), str(info.value)
