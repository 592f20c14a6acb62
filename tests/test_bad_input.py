"""Malformed requests get AWS's error codes, never a 500, and the server stays up."""

from __future__ import annotations

import json

import requests

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


def test_values_echoed_in_response_headers_cannot_split_or_stall_the_response(endpoint: str, client: Any) -> None:
    """A response-* override or a version id with CR/LF would inject headers; one outside ISO-8859-1 could not
    be written at all (the client waited forever). S3 refuses both with InvalidArgument."""
    s3 = client("s3")
    s3.create_bucket(Bucket="echo")
    s3.put_object(Bucket="echo", Key="k", Body=b"x")
    for query, argument in [("response-content-type=a%0D%0ASet-Cookie:%20x=1", "response-content-type"),
                            ("response-content-disposition=%C5%81", "response-content-disposition"),
                            ("versionId=%C5%81", "versionId"), ("versionId=a%0D%0AX-Evil:%201", "versionId")]:
        for method in ("GET", "DELETE") if argument == "versionId" else ("GET",):
            response = requests.request(method, f"{endpoint}/echo/k?{query}", headers=signed("s3"), timeout=10)
            assert response.status_code == 400, (method, query)
            assert "<Code>InvalidArgument</Code>" in response.text
            assert f"<ArgumentName>{argument}</ArgumentName>" in response.text
            assert "set-cookie" not in response.headers and "x-evil" not in response.headers
    assert s3.get_object(Bucket="echo", Key="k", ResponseContentType="text/plain")["ContentType"] == "text/plain"
