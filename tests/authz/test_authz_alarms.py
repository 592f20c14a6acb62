"""CloudWatch alarm actions under `--iam enforce`: CloudWatch publishes to the alarm's topic as the service
principal cloudwatch.amazonaws.com, judged by the topic's policy at each action. A topic's default policy
lets it (it allows the account by AWS:SourceOwner); a policy that replaced the default must allow the
service, else the action fails and the alarm's history says so in CloudWatch's words."""

from __future__ import annotations

import json
from typing import Any

from tests.authz.conftest import ACCOUNT, Server, policy

QUEUE_ARN = f"arn:aws:sqs:us-east-1:{ACCOUNT}:alarms"
ALARM_ARN = f"arn:aws:cloudwatch:us-east-1:{ACCOUNT}:alarm:dlq-not-empty"


def _notified(sqs: Any, url: str, wait: int = 5) -> list[str]:
    """What the queue got (a long poll: the server's manual clock ends an empty one never, so 0 for none)."""
    found = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, WaitTimeSeconds=wait).get("Messages", [])
    for message in found:
        sqs.delete_message(QueueUrl=url, ReceiptHandle=message["ReceiptHandle"])
    return [json.loads(m["Body"])["NewStateValue"] for m in found]


def _flip(cloudwatch: Any) -> None:
    cloudwatch.set_alarm_state(AlarmName="dlq-not-empty", StateValue="OK", StateReason="test")
    cloudwatch.set_alarm_state(AlarmName="dlq-not-empty", StateValue="ALARM", StateReason="test")


def test_alarm_actions_publish_as_the_topics_policy_allows(server: Server) -> None:
    sns, sqs, cloudwatch = server.root("sns"), server.root("sqs"), server.root("cloudwatch")
    topic = sns.create_topic(Name="alarms")["TopicArn"]
    url = sqs.create_queue(QueueName="alarms")["QueueUrl"]
    sqs.set_queue_attributes(QueueUrl=url, Attributes={"Policy": policy(
        {"Effect": "Allow", "Principal": {"Service": "sns.amazonaws.com"}, "Action": "sqs:SendMessage",
         "Resource": QUEUE_ARN, "Condition": {"ArnEquals": {"aws:SourceArn": topic}}})})
    sns.subscribe(TopicArn=topic, Protocol="sqs", Endpoint=QUEUE_ARN, Attributes={"RawMessageDelivery": "true"})
    cloudwatch.put_metric_alarm(AlarmName="dlq-not-empty", Namespace="AWS/SQS", MetricName="X", Statistic="Sum",
                                Period=60, EvaluationPeriods=1, Threshold=0, ComparisonOperator="GreaterThanThreshold",
                                AlarmActions=[topic])
    # The default topic policy: the account's own alarms publish.
    cloudwatch.set_alarm_state(AlarmName="dlq-not-empty", StateValue="ALARM", StateReason="test")
    assert _notified(sqs, url) == ["ALARM"]

    # A policy that replaced the default and names only the account's users: CloudWatch is refused.
    sns.set_topic_attributes(TopicArn=topic, AttributeName="Policy", AttributeValue=policy(
        {"Effect": "Allow", "Principal": {"AWS": f"arn:aws:iam::{ACCOUNT}:root"}, "Action": "SNS:Publish",
         "Resource": topic}))
    _flip(cloudwatch)
    assert _notified(sqs, url, wait=0) == []
    history = cloudwatch.describe_alarm_history(AlarmName="dlq-not-empty", HistoryItemType="Action")
    latest = history["AlarmHistoryItems"][0]
    assert latest["HistorySummary"] == (f'Failed to execute action {topic}. Received error: "CloudWatch Alarms is not '
                                        f'authorized to perform: SNS:Publish on resource:{topic}"')
    assert json.loads(latest["HistoryData"])["actionState"] == "Failed"
    denial = server.denials()["recent"][-1]
    assert (denial["principal"], denial["action"], denial["resource"]) == ("cloudwatch.amazonaws.com", "sns:Publish",
                                                                          topic)

    # Allowed for this alarm: published again.
    sns.set_topic_attributes(TopicArn=topic, AttributeName="Policy", AttributeValue=policy(
        {"Effect": "Allow", "Principal": {"Service": "cloudwatch.amazonaws.com"}, "Action": "SNS:Publish",
         "Resource": topic, "Condition": {"ArnEquals": {"aws:SourceArn": ALARM_ARN}}}))
    _flip(cloudwatch)
    assert _notified(sqs, url) == ["ALARM"]  # (no OKActions: the OK of the flip notifies nobody)
