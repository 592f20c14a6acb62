"""GET /_conveyor/metrics in Prometheus's exposition format: the built-in CloudWatch series (SQS, Lambda, SNS,
pools) and request counts and latency histograms per service and operation, read by the official parser;
OpenMetrics when asked for; signed under --auth sigv4."""

from __future__ import annotations

import json
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from typing import Any

import boto3
import pytest
import requests
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials
from prometheus_client.parser import text_string_to_metric_families

from tests.conftest import lambda_role


def scrape(endpoint: str, accept: str | None = None) -> tuple[str, str]:
    headers = {"Accept": accept} if accept else {}
    request = urllib.request.Request(f"{endpoint}/_conveyor/metrics", headers=headers)
    with urllib.request.urlopen(request, timeout=10) as response:
        return response.read().decode(), response.headers["Content-Type"]


def samples(text: str) -> dict[tuple[str, frozenset[tuple[str, str]]], float]:
    """(sample name, labels) -> value, parsed by prometheus_client's own parser."""
    out = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            out[(sample.name, frozenset(sample.labels.items()))] = sample.value
    return out


def value(found: dict[tuple[str, frozenset[tuple[str, str]]], float], name: str, **labels: str) -> float:
    return found[(name, frozenset(labels.items()))]


def test_sqs_series_and_request_histograms(endpoint: str, client: Callable[..., Any]) -> None:
    sqs = client("sqs")
    url = sqs.create_queue(QueueName="scraped")["QueueUrl"]
    for i in range(30):
        sqs.send_message(QueueUrl=url, MessageBody=f"m{i}")
    got = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10)["Messages"]
    sqs.delete_message(QueueUrl=url, ReceiptHandle=got[0]["ReceiptHandle"])
    text, content_type = scrape(endpoint)
    assert content_type == "text/plain; version=0.0.4; charset=utf-8"
    found = samples(text)
    q = {"region": "us-east-1", "queue_name": "scraped"}
    assert value(found, "aws_sqs_number_of_messages_sent_total", **q) == 30
    assert value(found, "aws_sqs_number_of_messages_received_total", **q) == 10
    assert value(found, "aws_sqs_number_of_messages_deleted_total", **q) == 1
    assert value(found, "aws_sqs_sent_message_size_bytes_count", **q) == 30
    assert value(found, "aws_sqs_sent_message_size_bytes_sum", **q) == sum(len(f"m{i}") for i in range(30))
    # Depths are read at the scrape, not a minute old.
    assert value(found, "aws_sqs_approximate_number_of_messages_visible", **q) == 20
    assert value(found, "aws_sqs_approximate_number_of_messages_not_visible", **q) == 9
    send = {"service": "sqs", "operation": "SendMessage"}
    assert value(found, "conveyor_requests_total", status="200", **send) == 30
    assert value(found, "conveyor_request_duration_seconds_count", **send) == 30
    assert value(found, "conveyor_request_duration_seconds_bucket", le="+Inf", **send) == 30
    assert 0 < value(found, "conveyor_request_duration_seconds_sum", **send) < 30
    buckets = sorted((float(dict(labels)["le"]), v) for (name, labels), v in found.items()
                     if name == "conveyor_request_duration_seconds_bucket" and dict(labels).get("operation")
                     == "SendMessage")
    assert [v for _, v in buckets] == sorted(v for _, v in buckets)  # cumulative
    empty = sqs.create_queue(QueueName="scraped-empty")["QueueUrl"]
    sqs.receive_message(QueueUrl=empty)
    with pytest.raises(sqs.exceptions.QueueDoesNotExist):
        sqs.get_queue_url(QueueName="missing")
    found = samples(scrape(endpoint)[0])
    assert value(found, "conveyor_requests_total", service="sqs", operation="GetQueueUrl", status="400") == 1
    assert value(found, "aws_sqs_number_of_empty_receives_total", region="us-east-1", queue_name="scraped-empty") == 1


def test_lambda_and_sns_series(endpoint: str, client: Callable[..., Any]) -> None:
    from tests.lambda_.conftest import make_zip

    role = lambda_role(client("iam"), "prom-role")
    lam = client("lambda")
    code = make_zip("""
        def handler(event, context):
            if event.get("fail"):
                raise ValueError("asked to fail")
            return {"ok": True}
    """)
    lam.create_function(FunctionName="prom-fn", Runtime=f"python3.{sys.version_info.minor}", Role=role,
                        Handler="lambda_function.handler", Code={"ZipFile": code})
    lam.invoke(FunctionName="prom-fn", Payload=json.dumps({}).encode())
    lam.invoke(FunctionName="prom-fn", Payload=json.dumps({"fail": True}).encode())
    sns, sqs = client("sns"), client("sqs")
    topic = sns.create_topic(Name="prom-topic")["TopicArn"]
    url = sqs.create_queue(QueueName="prom-sub")["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    sns.subscribe(TopicArn=topic, Protocol="sqs", Endpoint=arn)
    sns.publish(TopicArn=topic, Message="hello")
    deadline = time.monotonic() + 10
    while not sqs.receive_message(QueueUrl=url, WaitTimeSeconds=0).get("Messages") and time.monotonic() < deadline:
        time.sleep(0.05)
    found = samples(scrape(endpoint)[0])
    fn = {"region": "us-east-1", "function_name": "prom-fn"}
    assert value(found, "aws_lambda_invocations_total", **fn) == 2
    assert value(found, "aws_lambda_errors_total", **fn) == 1
    assert value(found, "aws_lambda_duration_seconds_count", **fn) == 2
    assert value(found, "aws_lambda_concurrent_executions", **fn) >= 0  # a level: the last one sampled
    assert 0 < value(found, "aws_lambda_duration_seconds_sum", **fn) < 60
    topic_labels = {"region": "us-east-1", "topic_name": "prom-topic"}
    assert value(found, "aws_sns_number_of_messages_published_total", **topic_labels) == 1
    assert value(found, "aws_sns_number_of_notifications_delivered_total", **topic_labels) == 1


def test_pool_levels(endpoint: str, client: Callable[..., Any], advance: Callable[[float], float]) -> None:
    sqs = client("sqs")
    url = sqs.create_queue(QueueName="pool-work")["QueueUrl"]
    for i in range(6):
        sqs.send_message(QueueUrl=url, MessageBody=str(i))
    pool = {"name": "sleepers", "queue": url, "command": [sys.executable, "-c", "import time; time.sleep(60)"],
            "min": 2, "max": 2, "warmup": 0}
    request = urllib.request.Request(f"{endpoint}/_conveyor/pools", data=json.dumps(pool).encode(), method="POST")
    urllib.request.urlopen(request, timeout=30).close()
    deadline = time.monotonic() + 20
    while True:
        found = samples(scrape(endpoint)[0])
        labels = {"region": "us-east-1", "pool_name": "sleepers"}
        if value(found, "conveyor_pools_in_service_workers", **labels) == 2 or time.monotonic() > deadline:
            break
        advance(1)  # the pool's health checks run on the (manual) clock
        time.sleep(0.05)
    assert value(found, "conveyor_pools_in_service_workers", **labels) == 2
    assert value(found, "conveyor_pools_desired_workers", **labels) == 2
    assert value(found, "conveyor_pools_backlog_per_worker", **labels) == 3


def test_openmetrics_when_asked(endpoint: str, client: Callable[..., Any]) -> None:
    client("sts").get_caller_identity()
    text, content_type = scrape(endpoint, "application/openmetrics-text; version=1.0.0")
    assert content_type.startswith("application/openmetrics-text; version=1.0.0")
    assert text.rstrip().endswith("# EOF")
    assert 'conveyor_requests_total{operation="GetCallerIdentity",service="sts",status="200"} 1.0' in text


def test_signed_scrapes_under_sigv4(start_server) -> None:
    server = start_server(None, "--auth", "sigv4", "--access-key", "AKIDPROM", "--secret-key", "prom-secret")
    unsigned = requests.get(f"{server.endpoint}/_conveyor/metrics", timeout=10)
    assert unsigned.status_code == 403 and unsigned.json()["__type"] == "MissingAuthenticationToken"
    request = AWSRequest("GET", f"{server.endpoint}/_conveyor/metrics")
    SigV4Auth(Credentials("AKIDPROM", "prom-secret"), "conveyor", "us-east-1").add_auth(request)
    signed = requests.get(request.url, headers=dict(request.headers), timeout=10)
    assert signed.status_code == 200 and "# TYPE conveyor_requests_total counter" in signed.text
    sts = boto3.client("sts", endpoint_url=server.endpoint, region_name="us-east-1", aws_access_key_id="AKIDPROM",
                       aws_secret_access_key="prom-secret")
    sts.get_caller_identity()
    with pytest.raises(urllib.error.HTTPError):
        urllib.request.urlopen(f"{server.endpoint}/_conveyor/metrics", timeout=10)
