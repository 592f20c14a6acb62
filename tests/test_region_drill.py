"""`conveyor drill region-down REGION`: every regional API of that region answers 503 ServiceUnavailable in
its own protocol (SQS's JSON, S3's XML, SNS's query XML) and its HTTP APIs refuse, while other regions
and the global services (IAM, CloudFront, Route 53) answer on; `region-up` brings it back with nothing lost."""

from __future__ import annotations

import json
import subprocess
import sys
import urllib.error
import urllib.request
from typing import Any

import boto3
import pytest
from botocore.config import Config as BotoConfig
from botocore.exceptions import ClientError

from tests.conftest import CLI_ENV


def drill(endpoint: str, *args: str) -> str:
    result = subprocess.run([sys.executable, "-m", "conveyor.cli", "drill", *args, "--endpoint", endpoint],
                            capture_output=True, text=True, timeout=60, env={**CLI_ENV, "PATH": "/usr/bin:/bin",
                                                                              **_pythonpath()})
    assert result.returncode == 0, result.stderr
    return result.stdout


def _pythonpath() -> dict[str, str]:
    import os

    return {"PYTHONPATH": os.environ["PYTHONPATH"]} if os.environ.get("PYTHONPATH") else {}


def client(endpoint: str, service: str, region: str) -> Any:
    return boto3.client(service, endpoint_url=endpoint, region_name=region, aws_access_key_id="test",
                        aws_secret_access_key="test", config=BotoConfig(retries={"max_attempts": 1}))


def refused(call: Any) -> tuple[str, int]:
    with pytest.raises(ClientError) as caught:
        call()
    return caught.value.response["Error"]["Code"], caught.value.response["ResponseMetadata"]["HTTPStatusCode"]


def test_region_down_then_up(start_server: Any) -> None:
    server = start_server(None, "--bare")
    sqs_east, sqs_west = client(server.endpoint, "sqs", "us-east-1"), client(server.endpoint, "sqs", "us-west-2")
    url = sqs_east.create_queue(QueueName="jobs")["QueueUrl"]
    sqs_east.send_message(QueueUrl=url, MessageBody="kept")
    west_url = sqs_west.create_queue(QueueName="jobs")["QueueUrl"]
    client(server.endpoint, "s3", "us-east-1").create_bucket(Bucket="east-bucket")
    topic = client(server.endpoint, "sns", "us-east-1").create_topic(Name="t")["TopicArn"]

    out = drill(server.endpoint, "region-down", "us-east-1")
    assert "region us-east-1 is down" in out
    assert refused(lambda: sqs_east.get_queue_attributes(QueueUrl=url)) == ("ServiceUnavailable", 503)
    assert refused(lambda: client(server.endpoint, "s3", "us-east-1").list_objects_v2(Bucket="east-bucket"))[1] == 503
    assert refused(lambda: client(server.endpoint, "sns", "us-east-1").get_topic_attributes(TopicArn=topic))[1] == 503
    sqs_west.send_message(QueueUrl=west_url, MessageBody="other region")  # another region answers on
    assert client(server.endpoint, "iam", "us-east-1").list_roles()["Roles"] == []  # and IAM, a global service
    assert "us-east-1: down for" in drill(server.endpoint, "regions")

    out = drill(server.endpoint, "region-up", "us-east-1")
    assert "region us-east-1 is up again" in out
    got = sqs_east.receive_message(QueueUrl=url, WaitTimeSeconds=1)["Messages"]
    assert [m["Body"] for m in got] == ["kept"]  # nothing lost
    assert "every region is up" in drill(server.endpoint, "regions")


def test_http_apis_of_a_down_region_refuse(start_server: Any) -> None:
    server = start_server(None, "--bare")
    api = client(server.endpoint, "apigatewayv2", "us-east-1").create_api(
        Name="web", ProtocolType="HTTP", Target="http://127.0.0.1:9/never")
    invoke = f"{server.endpoint}/_aws/execute-api/{api['ApiId']}/"
    drill(server.endpoint, "region-down", "us-east-1")
    with pytest.raises(urllib.error.HTTPError) as caught:
        urllib.request.urlopen(invoke, timeout=10)
    with caught.value:
        assert caught.value.code == 503
        assert json.loads(caught.value.read()) == {"message": "Service Unavailable"}
    drill(server.endpoint, "region-up", "us-east-1")
    with pytest.raises(urllib.error.HTTPError) as caught:  # up again: the integration's own failure
        urllib.request.urlopen(invoke, timeout=10)
    with caught.value:
        assert caught.value.code != 503


def test_bad_region_names_are_refused(start_server: Any) -> None:
    server = start_server(None, "--bare")
    result = subprocess.run([sys.executable, "-m", "conveyor.cli", "drill", "region-down", "nowhere",
                             "--endpoint", server.endpoint], capture_output=True, text=True, timeout=60,
                            env={**CLI_ENV, "PATH": "/usr/bin:/bin", **_pythonpath()})
    assert result.returncode != 0 and "is not a region name" in result.stderr
