"""The photo app's DLQ alarm, end to end on the app itself (examples/photo-app/conveyor.yaml under --iam
enforce, on the manual clock): a text file uploaded as a picture fails in the thumbnail function, its message
reaches photo-thumbnails-dlq after its retries, the next minute's evaluation moves the alarm
photo-thumbnails-dlq-not-empty to ALARM, and a queue subscribed to the alarm topic photo-alerts receives
CloudWatch's alarm notification."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import requests

from tests.conftest import post_json
from tests.helpers import wait_for
from tests.photo_app.images import APP

ALARM = "photo-thumbnails-dlq-not-empty"


def _notifications(sqs: Any, url: str) -> list[dict[str, Any]]:
    """The alarm notifications the inbox holds (each an SNS envelope around CloudWatch's message), taken out."""
    got = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, WaitTimeSeconds=0).get("Messages", [])
    for message in got:
        sqs.delete_message(QueueUrl=url, ReceiptHandle=message["ReceiptHandle"])
    return [json.loads(json.loads(m["Body"])["Message"]) for m in got]


def test_a_failed_upload_in_the_dlq_raises_the_alarm_and_notifies_the_topic(start_server: Any, tmp_path: Path) -> None:
    console = tmp_path / "console.txt"
    server = start_server(tmp_path / "data", "--pipeline", str(APP / "conveyor.yaml"), "--iam", "enforce",
                          "--clock", "manual", console=console)
    api = wait_for(lambda: re.search(r"endpoint: POST http://([a-z0-9]+\.execute-api\.localhost:\d+)/uploads",
                                     console.read_text()), timeout=120, what="the API's endpoint")[1]
    wait_for(lambda: "site: http" in console.read_text(), timeout=120, what="the app is up")

    def advance(seconds: float) -> None:
        post_json(f"{server.endpoint}/_conveyor/clock", {"advance": seconds})

    # Whoever is on call subscribes a queue to the alarm topic (the queue lets the topic send to it).
    sqs, sns, cloudwatch = server.client("sqs"), server.client("sns"), server.client("cloudwatch")
    inbox = sqs.create_queue(QueueName="on-call")["QueueUrl"]
    inbox_arn = sqs.get_queue_attributes(QueueUrl=inbox, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    topic = next(t["TopicArn"] for t in sns.list_topics()["Topics"] if t["TopicArn"].endswith(":photo-alerts"))
    sqs.set_queue_attributes(QueueUrl=inbox, Attributes={"Policy": json.dumps({"Version": "2012-10-17", "Statement": [{
        "Effect": "Allow", "Principal": {"Service": "sns.amazonaws.com"}, "Action": "sqs:SendMessage",
        "Resource": inbox_arn, "Condition": {"ArnEquals": {"aws:SourceArn": topic}}}]})})
    sns.subscribe(TopicArn=topic, Protocol="sqs", Endpoint=inbox_arn)

    [alarm] = cloudwatch.describe_alarms(AlarmNames=[ALARM])["MetricAlarms"]
    assert (alarm["Namespace"], alarm["MetricName"], alarm["Dimensions"]) == (
        "AWS/SQS", "ApproximateNumberOfMessagesVisible", [{"Name": "QueueName", "Value": "photo-thumbnails-dlq"}])
    assert alarm["AlarmActions"] == [topic]
    advance(60)  # the first evaluation: an empty DLQ is OK
    assert [n["NewStateValue"] for n in wait_for(lambda: _notifications(sqs, inbox), timeout=30,
                                                 what="the OK notification")] == ["OK"]

    # A text file named .jpg: the API and S3 take it, the thumbnail function refuses it, twice.
    text = b"Shopping list: film, batteries, a better camera.\n"
    answer = requests.post(f"{server.endpoint}/uploads", headers={"Host": api}, timeout=60,
                           json={"filename": "notes.jpg", "contentType": "image/jpeg", "size": len(text)})
    assert answer.status_code == 201, answer.text
    doc = answer.json()
    posted = requests.post(doc["upload"]["url"], data=doc["upload"]["fields"], files={"file": ("notes.jpg", text)},
                           timeout=60)
    assert posted.status_code == 204, posted.text
    dlq = sqs.get_queue_url(QueueName="photo-thumbnails-dlq")["QueueUrl"]
    wait_for(lambda: sqs.get_queue_attributes(QueueUrl=dlq, AttributeNames=["ApproximateNumberOfMessages"])
             ["Attributes"]["ApproximateNumberOfMessages"] == "1", timeout=90, what="the refused upload in the DLQ")
    assert cloudwatch.describe_alarms(AlarmNames=[ALARM])["MetricAlarms"][0]["StateValue"] == "OK"  # not yet

    advance(60)  # the next minute's evaluation sees the DLQ's message
    [note] = wait_for(lambda: _notifications(sqs, inbox), timeout=30, what="the ALARM notification")
    assert (note["AlarmName"], note["OldStateValue"], note["NewStateValue"]) == (ALARM, "OK", "ALARM")
    assert note["Trigger"]["Dimensions"] == [{"value": "photo-thumbnails-dlq", "name": "QueueName"}]
    assert note["NewStateReason"].startswith("Threshold Crossed: 1 out of the last 1 datapoints [1 (")
    assert cloudwatch.describe_alarms(AlarmNames=[ALARM])["MetricAlarms"][0]["StateValue"] == "ALARM"
    # The job says why; the message in the DLQ is the upload's S3 event.
    job = requests.get(f"{server.endpoint}/uploads/{doc['job']['id']}", headers={"Host": api}, timeout=60).json()["job"]
    assert job["status"] == "failed" and job["reason"].startswith("not an image")
    [message] = sqs.receive_message(QueueUrl=dlq)["Messages"]
    event = json.loads(json.loads(message["Body"])["Message"])
    assert event["Records"][0]["s3"]["object"]["key"] == f"uploads/{doc['job']['id']}"
