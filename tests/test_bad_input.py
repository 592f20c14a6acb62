"""Malformed requests get AWS's error codes, never a 500, and the server stays up."""

from __future__ import annotations

import json
from typing import Any

import pytest
import requests
from botocore.exceptions import ClientError

JSON_HEADERS = {"Content-Type": "application/x-amz-json-1.0"}
FORM = {"Content-Type": "application/x-www-form-urlencoded"}


def sqs_json(endpoint: str, operation: str, body: bytes | str) -> requests.Response:
    headers = {**JSON_HEADERS, "X-Amz-Target": f"AmazonSQS.{operation}"}
    return requests.post(endpoint + "/", data=body, headers=headers, timeout=10)


def test_malformed_json_body(endpoint: str) -> None:
    response = sqs_json(endpoint, "ListQueues", b"{not json")
    assert response.status_code == 400
    assert response.json()["__type"].endswith("#SerializationException")


def test_json_body_must_be_an_object(endpoint: str) -> None:
    response = sqs_json(endpoint, "ListQueues", b"[1, 2]")
    assert response.status_code == 400
    assert response.json()["__type"].endswith("#SerializationException")


def test_wrong_member_type(endpoint: str) -> None:
    response = sqs_json(endpoint, "CreateQueue", json.dumps({"QueueName": 42}))
    assert response.status_code == 400
    assert "SerializationException" in response.json()["__type"]


def test_unknown_json_operation(endpoint: str) -> None:
    response = sqs_json(endpoint, "StealQueue", b"{}")
    assert response.status_code == 400
    assert response.json()["__type"].endswith("#UnknownOperationException")


def test_missing_required_member_json(endpoint: str) -> None:
    response = sqs_json(endpoint, "CreateQueue", b"{}")
    assert response.status_code == 400
    assert response.json()["__type"].endswith("#MissingParameter")
    assert response.headers["x-amzn-query-error"] == "MissingParameter;Sender"


def test_unknown_query_action(endpoint: str) -> None:
    response = requests.post(endpoint + "/000000000000/q", data="Action=StealQueue&Version=2012-11-05",
                             headers=FORM, timeout=10)
    assert response.status_code == 400
    assert "<Code>InvalidAction</Code>" in response.text
    assert "<ErrorResponse" in response.text


def test_malformed_form_body(endpoint: str) -> None:
    response = requests.post(endpoint + "/000000000000/q", data=b"Action=ListQueues&\xff\xfe=%zz",
                             headers=FORM, timeout=10)
    assert response.status_code == 400
    assert "<ErrorResponse" in response.text


def test_query_missing_parameter(endpoint: str) -> None:
    response = requests.post(endpoint + "/", data="Action=CreateQueue&Version=2012-11-05", headers=FORM, timeout=10)
    assert response.status_code == 400
    assert "<Code>MissingParameter</Code>" in response.text


def test_query_bad_integer(endpoint: str) -> None:
    body = "Action=ReceiveMessage&QueueUrl=http://x/000000000000/q&MaxNumberOfMessages=ten"
    response = requests.post(endpoint + "/", data=body, headers=FORM, timeout=10)
    assert response.status_code == 400
    assert "<Code>InvalidParameterValue</Code>" in response.text


def test_server_survives_garbage(endpoint: str) -> None:
    for body in (b"\x00" * 1000, b"{" * 5000, b"[" * 200_000, "é".encode() * 100):
        sqs_json(endpoint, "SendMessage", body)
    assert requests.get(endpoint + "/_conveyor/health", timeout=10).status_code == 200


def test_unparsable_queue_url_is_invalid_address(endpoint: str) -> None:
    """`http://[` (an unclosed IPv6 host) is not a queue address: AWS's 404 InvalidAddress, in both protocols."""
    response = sqs_json(endpoint, "SendMessage", json.dumps({"QueueUrl": "http://[", "MessageBody": "x"}))
    assert response.status_code == 404
    assert response.json()["__type"].endswith("#InvalidAddress")
    assert response.json()["message"] == "The address http://[ is not valid for this endpoint."
    response = requests.post(endpoint + "/", data="Action=SendMessage&QueueUrl=http%3A%2F%2F%5B&MessageBody=x",
                             headers=FORM, timeout=10)
    assert response.status_code == 404
    assert "<Code>InvalidAddress</Code>" in response.text


def test_unparsable_http_subscription_endpoint(endpoint: str, client: Any) -> None:
    sns = client("sns")
    topic = sns.create_topic(Name="t")["TopicArn"]
    for bad in ("http://[", "http://host:99999/"):
        with pytest.raises(ClientError) as caught:
            sns.subscribe(TopicArn=topic, Protocol="http", Endpoint=bad)
        assert caught.value.response["Error"]["Code"] == "InvalidParameter"


def test_names_with_a_trailing_newline_are_refused(endpoint: str, client: Any) -> None:
    """Patterns are matched whole: `$` alone would let "name\\n" through."""
    sqs, sns = client("sqs"), client("sns")
    url = sqs.create_queue(QueueName="q")["QueueUrl"]
    checks = [
        (lambda: sqs.send_message(QueueUrl=url, MessageBody="x", MessageAttributes={
            "attr\n": {"DataType": "String", "StringValue": "v"}}), "InvalidParameterValue"),
        (lambda: sqs.send_message(QueueUrl=url, MessageBody="x", MessageAttributes={
            "attr": {"DataType": "String\n", "StringValue": "v"}}), "InvalidParameterValue"),
        (lambda: sqs.set_queue_attributes(QueueUrl=url, Attributes={"RedrivePolicy": json.dumps({
            "deadLetterTargetArn": "arn:aws:sqs:us-east-1:000000000000:q\n", "maxReceiveCount": 1})}),
         "InvalidAttributeValue"),
        (lambda: sns.create_topic(Name="topic\n"), "InvalidParameter"),
        (lambda: client("s3").create_bucket(Bucket="bucket\n"), "InvalidBucketName"),
    ]
    for call, code in checks:
        with pytest.raises(ClientError) as caught:
            call()
        assert caught.value.response["Error"]["Code"] == code
        assert "Dead-letter target ARN" in caught.value.response["Error"]["Message"] or code != "InvalidAttributeValue"
    assert sns.list_topics()["Topics"] == []
    assert client("s3").list_buckets()["Buckets"] == []
