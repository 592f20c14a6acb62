"""An event source mapping's MetricsConfig (EventCount): the mapping counts the events it polls, filters out,
hands over, fails on, deletes and drops in CloudWatch, AWS/Lambda by EventSourceMappingUUID
(https://docs.aws.amazon.com/lambda/latest/dg/monitoring-metrics-types.html, "Event source mapping metrics");
read back with boto3 once the manual clock has ended the minute."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from botocore.exceptions import ClientError

from tests.helpers import wait_for
from tests.lambda_.conftest import ROLE

# Appends each body it gets to OUT/bodies, then fails on the body "fail".
RECORDER = """
import json, os
def lambda_handler(event, context):
    with open(os.path.join(os.environ["OUT"], "bodies"), "a") as f:
        f.write("".join(json.dumps(r["body"]) + "\\n" for r in event["Records"]))
    if any(r["body"] == "fail" for r in event["Records"]):
        raise RuntimeError("failing on purpose")
"""
KINESIS_RECORDER = """
import os
def lambda_handler(event, context):
    with open(os.path.join(os.environ["OUT"], "records"), "a") as f:
        f.write("".join(r["kinesis"]["sequenceNumber"] + "\\n" for r in event["Records"]))
"""
EVENT_COUNT = {"Metrics": ["EventCount"]}


def _lines(path: Path) -> list[str]:
    return [line for line in path.read_text().splitlines(keepends=True) if line.endswith("\n")] \
        if path.exists() else []


def _sums(client: Callable[..., Any], uuid: str, since: float, until: float) -> dict[str, float]:
    cloudwatch = client("cloudwatch")
    out = {}
    for metric in cloudwatch.list_metrics(Namespace="AWS/Lambda", Dimensions=[
            {"Name": "EventSourceMappingUUID", "Value": uuid}])["Metrics"]:
        points = cloudwatch.get_metric_statistics(
            Namespace="AWS/Lambda", MetricName=metric["MetricName"], Dimensions=metric["Dimensions"],
            StartTime=since, EndTime=until, Period=3600, Statistics=["Sum"])["Datapoints"]
        out[metric["MetricName"]] = sum(p["Sum"] for p in points)
    return out


def test_an_sqs_mapping_counts_its_events(client: Callable[..., Any], make_function: Any, tmp_path: Path,
                                          advance: Callable[[float], float]) -> None:
    sqs, lam = client("sqs"), client("lambda")
    # A failed message stays in flight for the hour: the minute's counts are final when it ends.
    url = sqs.create_queue(QueueName="metered", Attributes={"VisibilityTimeout": "3600"})["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    make_function("recorder", RECORDER, Environment={"Variables": {"OUT": str(tmp_path)}})
    started = advance(0)
    mapping = lam.create_event_source_mapping(
        FunctionName="recorder", EventSourceArn=arn, BatchSize=1, MetricsConfig=EVENT_COUNT,
        FilterCriteria={"Filters": [{"Pattern": json.dumps({"body": [{"anything-but": "skip"}]})}]})
    assert mapping["MetricsConfig"] == EVENT_COUNT
    for body in ["a", "b", "skip", "fail"]:
        sqs.send_message(QueueUrl=url, MessageBody=body)

    def settled() -> bool:
        attrs = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["All"])["Attributes"]
        left = int(attrs["ApproximateNumberOfMessages"]) + int(attrs["ApproximateNumberOfMessagesNotVisible"])
        return len(_lines(tmp_path / "bodies")) == 3 and left == 1

    wait_for(settled, timeout=30)
    now = advance(60)  # the minute ends: its counts are stored (on the server's loop, just after)
    expected = {"PolledEventCount": 4.0, "FilteredOutEventCount": 1.0, "InvokedEventCount": 3.0,
                "FailedInvokeEventCount": 1.0, "DeletedEventCount": 3.0}
    wait_for(lambda: _sums(client, mapping["UUID"], started - 600, now + 60) != {}, timeout=10)
    assert _sums(client, mapping["UUID"], started - 600, now + 60) == expected
    # Turned off: shown no more.
    updated = lam.update_event_source_mapping(UUID=mapping["UUID"], MetricsConfig={})
    assert "MetricsConfig" not in updated


def test_a_kinesis_mapping_counts_its_events(client: Callable[..., Any], make_function: Any, tmp_path: Path,
                                             advance: Callable[[float], float]) -> None:
    kinesis, lam = client("kinesis"), client("lambda")
    kinesis.create_stream(StreamName="metered", ShardCount=1)
    arn = kinesis.describe_stream_summary(StreamName="metered")["StreamDescriptionSummary"]["StreamARN"]
    make_function("recorder", KINESIS_RECORDER, Environment={"Variables": {"OUT": str(tmp_path)}})
    started = advance(0)
    kinesis.put_records(StreamName="metered", Records=[
        {"PartitionKey": "k", "Data": json.dumps({"keep": flag}).encode()} for flag in (True, False, True)])
    mapping = lam.create_event_source_mapping(
        FunctionName="recorder", EventSourceArn=arn, StartingPosition="TRIM_HORIZON", MetricsConfig=EVENT_COUNT,
        FilterCriteria={"Filters": [{"Pattern": json.dumps({"data": {"keep": [True]}})}]})
    assert lam.get_event_source_mapping(UUID=mapping["UUID"])["MetricsConfig"] == EVENT_COUNT
    wait_for(lambda: len(_lines(tmp_path / "records")) == 2, timeout=30)
    now = advance(60)
    wait_for(lambda: _sums(client, mapping["UUID"], started - 600, now + 60) != {}, timeout=10)
    sums = _sums(client, mapping["UUID"], started - 600, now + 60)
    assert sums == {"PolledEventCount": 3.0, "FilteredOutEventCount": 1.0, "InvokedEventCount": 2.0}


def test_only_event_counts_are_produced(client: Callable[..., Any], make_function: Any) -> None:
    sqs, lam = client("sqs"), client("lambda")
    url = sqs.create_queue(QueueName="kafkaless")["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    make_function("fn", "def lambda_handler(e, c):\n    pass\n")
    with pytest.raises(ClientError) as caught:  # ErrorCount and KafkaMetrics are for Kafka sources
        lam.create_event_source_mapping(FunctionName="fn", EventSourceArn=arn, MetricsConfig={"Metrics": ["ErrorCount"]})
    assert caught.value.response["Error"]["Code"] == "InvalidParameterValueException"


def test_a_template_sets_filters_metrics_and_the_log_group(client: Callable[..., Any]) -> None:
    # AWS::Lambda::EventSourceMapping's FilterCriteria and MetricsConfig reach the mapping as the API's, and
    # AWS::Lambda::Function's LoggingConfig the function.
    criteria = {"Filters": [{"Pattern": json.dumps({"body": {"kind": ["keep"]}})}]}
    template = {"Resources": {
        "Queue": {"Type": "AWS::SQS::Queue"},
        "Fn": {"Type": "AWS::Lambda::Function", "Properties": {
            "Runtime": "python3.12", "Handler": "index.handler", "Role": ROLE,
            "LoggingConfig": {"LogGroup": "/orders/metered"},
            "Code": {"ZipFile": "def handler(event, context):\n    return None\n"}}},
        "Mapping": {"Type": "AWS::Lambda::EventSourceMapping", "Properties": {
            "FunctionName": {"Ref": "Fn"}, "EventSourceArn": {"Fn::GetAtt": ["Queue", "Arn"]},
            "FilterCriteria": criteria, "MetricsConfig": EVENT_COUNT}}}}
    cf, lam = client("cloudformation"), client("lambda")
    cf.create_stack(StackName="metered", TemplateBody=json.dumps(template))
    cf.get_waiter("stack_create_complete").wait(StackName="metered", WaiterConfig={"Delay": 1})
    uuid = cf.describe_stack_resource(StackName="metered", LogicalResourceId="Mapping")[
        "StackResourceDetail"]["PhysicalResourceId"]
    mapping = lam.get_event_source_mapping(UUID=uuid)
    assert (mapping["FilterCriteria"], mapping["MetricsConfig"]) == (criteria, EVENT_COUNT)
    function = lam.get_function_configuration(FunctionName=mapping["FunctionArn"])
    assert function["LoggingConfig"] == {"LogFormat": "Text", "LogGroup": "/orders/metered"}
    cf.delete_stack(StackName="metered")
    cf.get_waiter("stack_delete_complete").wait(StackName="metered", WaiterConfig={"Delay": 1})
